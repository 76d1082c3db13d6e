//! csamctl: a declarative reconciler for the CSAM access management of mammography units.
//!
//! Data flows one way (see `ARCHITECTURE.md`):
//! `config` (YAML with spans → validated [`model::DesiredState`]) → [`diff`] → [`plan`]
//! → [`safety`] → [`execute`] / registry → [`render`], with the workflow that every
//! command runs in [`reconcile`].

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
