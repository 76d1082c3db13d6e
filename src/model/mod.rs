//! The domain's values: identifiers, vocabularies and the desired-state tree.
//!
//! Pure data: no I/O, no async. May use serde and schemars only.

mod desired;
mod ids;
mod live;
mod text;
mod values;

pub use desired::*;
pub use ids::*;
pub use live::*;
pub use values::*;
