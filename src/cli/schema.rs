//! `csamctl schema`: print the JSON Schema of the desired-state format.

use super::{CommandResult, Outcome};

/// Prints the schema (equal to the committed `schemas/desired-state.schema.json`).
pub(super) fn run() -> CommandResult {
    print!("{}", crate::config::schema::json_schema());
    Ok(Outcome::Ok)
}
