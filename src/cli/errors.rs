//! The one error handler: every error a command returns is printed here, the same way
//! for every command (`error: ...`, one `caused by: ...` line per source, then the
//! diagnostic's `help: ...` when it has one). Diagnostics of the desired state are not
//! errors of a command: `config::diagnostic` draws them with their source snippets.

use std::fmt;

use miette::{Diagnostic, ReportHandler};

/// Prints an error and its chain of causes as plain lines.
struct PlainErrors;

impl ReportHandler for PlainErrors {
    fn debug(&self, error: &dyn Diagnostic, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {error}")?;
        let mut source = error.source();
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        if let Some(help) = error.help() {
            write!(f, "\nhelp: {help}")?;
        }
        Ok(())
    }
}

/// Installs the handler for every `miette::Report` printed with `{:?}`. A second call
/// (tests run many commands in one process) keeps the first.
pub(super) fn install() {
    let _ = miette::set_hook(Box::new(|_| Box::new(PlainErrors)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error, Diagnostic)]
    #[error("cannot read the plan")]
    #[diagnostic(help("run csamctl plan --out again"))]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn prints_the_error_its_causes_and_its_help() {
        install();
        let report = miette::Report::new(Outer(std::io::Error::other("disk on fire")));
        assert_eq!(
            format!("{report:?}"),
            "error: cannot read the plan\n  caused by: disk on fire\nhelp: run csamctl plan --out again"
        );
    }
}
