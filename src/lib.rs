//! csamctl: a declarative reconciler for the CSAM access management of mammography units.
//!
//! Data flows one way (see `shared/spec/architecture.md`):
//! `config` (YAML with spans → validated [`model::DesiredState`]) → diff → plan → execute.

pub mod cli;
pub mod config;
pub mod execute;
pub mod model;
pub mod registry;
