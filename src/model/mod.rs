//! The domain's values: identifiers, vocabularies, the desired and live trees, and the
//! changes and plans computed from them.
//!
//! Pure data: no I/O, no async. May use serde and schemars only.

mod change;
mod desired;
mod ids;
mod live;
mod plan;
mod procedure;
mod text;
mod user;
mod values;

pub use change::*;
pub use desired::*;
pub use ids::*;
pub use live::*;
pub use plan::*;
pub use procedure::*;
pub use user::*;
pub use values::*;
