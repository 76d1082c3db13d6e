//! Adoption: turning what the CSAM web application already knows into desired state.
//!
//! - [`listing`] reads the user list a site administrator exports from the web
//!   application ("De gebruikers exporteren (.csv)"), in whatever encoding and separator
//!   it comes, and says which rows it cannot use and why;
//! - `entries` writes the users as desired-state `people` entries;
//! - [`merge()`] puts them into an existing desired-state file as text edits, keeping its
//!   comments and layout byte for byte, and checks the result with the validator.
//!
//! Pure (no file or terminal I/O; `cli::import_csv` does that). May use `model` and
//! `config`.

pub(crate) mod entries;
pub mod listing;
mod merge;

pub(crate) use entries::{Indentation, InszShown};
pub use listing::{ListedUser, Listing, ListingError, SkippedRow};
pub use merge::{MergeError, MergeOutcome, Merged, UserOutcome, merge};
