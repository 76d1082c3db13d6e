//! `csamctl validate`: parse and check the desired state, report every problem.

use super::{CommandResult, Format, Outcome, ValidateArgs, fancy};
use crate::config::{self, DiagnosticOptions, InputLimits, diagnostic};

/// Runs `validate`; exit 0 when clean or warnings only, 1 on any error.
pub(super) fn run(args: &ValidateArgs) -> CommandResult {
    let loaded = config::load(&args.paths, &InputLimits::default());
    match args.format {
        Format::Json => {
            println!(
                "{}",
                diagnostic::render_json(&loaded.diagnostics, &loaded.sources)
            );
        }
        Format::Text => {
            let opts = DiagnosticOptions {
                graphical: fancy(&std::io::stderr()),
                show_personal_data: args.show_personal_data,
            };
            eprint!(
                "{}",
                diagnostic::render_human(&loaded.diagnostics, &loaded.sources, opts)
            );
            let files = loaded.sources.files.len() - loaded.skipped.len();
            let state = &loaded.state;
            let summary = format!(
                "{} {}, {} {}, {} {}: {} {}, {} {}",
                files,
                plural(files, "file", "files"),
                state.enterprises.len(),
                plural(state.enterprises.len(), "enterprise", "enterprises"),
                state.people_count(),
                plural(state.people_count(), "person", "people"),
                loaded.errors(),
                plural(loaded.errors(), "error", "errors"),
                loaded.warnings(),
                plural(loaded.warnings(), "warning", "warnings"),
            );
            println!("{summary}");
            for path in &loaded.skipped {
                println!(
                    "skipped {} (not a desired-state file: no `version`)",
                    path.display()
                );
            }
        }
    }
    let outcome = Outcome::ok_if(loaded.errors() == 0);
    // The process ends right after this: freeing a large fleet's model and sources
    // node by node would cost several percent of the run for nothing, so they are left
    // to the operating system (top level only; library code frees as usual).
    std::mem::forget(loaded);
    Ok(outcome)
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}
