//! `csamctl schema`: print the JSON Schema of the desired-state format.

use super::exit;

/// Prints the schema (equal to the committed `schemas/desired-state.schema.json`).
pub fn run() -> i32 {
    print!("{}", crate::config::schema::json_schema());
    exit::OK
}
