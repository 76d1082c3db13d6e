//! Carrying out a plan against a registry (being built): for now the retry machinery,
//! a backoff iterator and a pure retry policy.
//!
//! May use `model`, the `registry` trait and tokio.

pub mod retry;
pub mod steps;
