//! csamctl: a declarative reconciler for the CSAM access management of mammography units.
//!
//! Data flows one way (see `ARCHITECTURE.md`):
//! [`config`] (YAML with spans → validated [`model::DesiredState`]) → [`diff`] → [`plan`]
//! → [`safety`] → [`execute`] / [`registry`] → [`render`], with the workflow that every
//! command runs in [`reconcile`].
//!
//! # Public API
//!
//! Everything is crate-private unless a caller outside the crate needs it; the lints
//! `unreachable_pub`, `unnameable_types` and `missing_docs` keep it so. What is public,
//! and for whom:
//!
//! - **The workflow** ([`reconcile`]): read the live registry, plan with the safety
//!   refusals, apply (leases, stale sessions, plan again, execute, release), check
//!   access. Every command calls it; so can any other driver (a forge workflow, a
//!   daemon).
//! - **Its steps**, for callers that need one of them alone (tests, benchmarks,
//!   fuzzing): [`config::load`] / [`config::load_bytes`] with their diagnostics,
//!   [`diff::diff`], [`plan::plan`] and [`plan::session_lower_bound`],
//!   [`safety::check`], [`execute::execute`] with its options, events, password source
//!   and report, and one renderer per output ([`render::text`], [`render::json`],
//!   [`render::markdown`], [`render::runbook`], [`render::export`], [`render::summary`]).
//! - **The data** ([`model`]): identifiers, vocabularies, the desired and live trees,
//!   changes, plans. All of it is public: it is the language of every other item.
//! - **The registry contract** ([`registry`]): the [`registry::Registry`] and
//!   [`registry::RegistryOperator`] traits, [`registry::RegistryError`] with its stable
//!   codes, the wire types and the OpenAPI table ([`registry::openapi`]): what a
//!   gateway to the real CSAM implements. And the two registries of this crate: the
//!   embedded one on SQLite ([`registry::SqliteRegistry`]) and the HTTP client
//!   ([`registry::http`]).
//! - **Adoption** ([`import`]): the web application's CSV user list read and merged
//!   into a desired-state file.
//! - **The command line** ([`cli`]): [`cli::main`] for `src/main.rs`; [`cli::Cli`] (its
//!   clap definition, so the tests can check every documented command line against
//!   it); [`cli::ProgressModel`], the counts behind `apply`'s progress bars.
//!
//! Crate-private: the YAML walk and the validator, the rules (`rules`), the engine,
//! storage, server and clock behind the registries, the planner's and executor's
//! internals (fingerprints, leases, retries, the by-hand walk), the renderers' building
//! blocks and every command. Test-only hooks (the crash trigger of `apply`) are compiled
//! only with the cargo feature `test-hooks`, which the tests turn on.

#![warn(unreachable_pub, missing_docs, unnameable_types)]

pub mod cli;
pub mod config;
pub mod diff;
pub mod execute;
pub mod import;
pub mod model;
mod parallel;
pub mod plan;
pub mod reconcile;
pub mod registry;
pub mod render;
pub(crate) mod rules;
pub mod safety;
