//! Diagnostics: one problem in the desired state, located in its file.
//!
//! A [`Diagnostic`] is plain data (code, severity, place, message, label, help); it is
//! rendered either through miette (graphical on a terminal, plain text otherwise) or as
//! JSON for CI annotations. Rendering never shows a full INSZ or a written password,
//! unless personal data was explicitly asked for.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use miette::{LabeledSpan, MietteDiagnostic, NamedSource, Report, SourceSpan};
use serde::Serialize;

use super::node::Pos;

/// Index of a source file within [`Sources`].
pub(crate) type FileId = usize;

/// A file that was read, kept for rendering diagnostics.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user named it (or as found in a directory).
    pub path: PathBuf,
    /// The text (empty when the file could not be read or decoded).
    pub text: Arc<str>,
    /// Byte ranges holding secrets written in the file (literal passwords); never shown.
    pub secret_spans: Vec<(usize, usize)>,
    /// Byte ranges of values written where an INSZ belongs (valid or not); masked unless
    /// personal data is asked for.
    pub personal_spans: Vec<(usize, usize)>,
}

/// Every file read in one run.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Files by `FileId` (its index).
    pub files: Vec<SourceFile>,
}

impl Sources {
    /// Registers a file and returns its id.
    pub fn add(&mut self, path: PathBuf, text: Arc<str>) -> FileId {
        self.files.push(SourceFile {
            path,
            text,
            secret_spans: Vec::new(),
            personal_spans: Vec::new(),
        });
        self.files.len() - 1
    }

    /// The path of a file, for messages.
    pub fn path(&self, file: FileId) -> String {
        self.files
            .get(file)
            .map(|f| f.path.display().to_string())
            .unwrap_or_default()
    }
}

/// How bad a problem is: errors make `validate` fail, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiagnosticSeverity {
    /// The desired state cannot be used.
    Error,
    /// Probably a mistake; the desired state is still usable.
    Warning,
}

impl fmt::Display for DiagnosticSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DiagnosticSeverity::Error => "error",
            DiagnosticSeverity::Warning => "warning",
        })
    }
}

/// A place in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The file.
    pub file: FileId,
    /// The position in it.
    pub pos: Pos,
}

/// A secondary place a diagnostic points at (the other declaration of a duplicate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Where.
    pub place: Place,
    /// What is there.
    pub label: String,
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code, e.g. `csam::insz::checksum`.
    pub code: &'static str,
    /// Error or warning.
    pub severity: DiagnosticSeverity,
    /// Where the offending value is written.
    pub place: Place,
    /// One-line message.
    pub message: String,
    /// A short label under the offending value.
    pub label: Option<String>,
    /// What to do about it.
    pub help: String,
    /// Other places involved (e.g. the first declaration of a duplicate).
    pub related: Vec<Related>,
    /// The path a problem with no place in any file's text is about (a file that does
    /// not exist or cannot be read, a directory without desired-state files).
    pub path: Option<std::path::PathBuf>,
}

impl Diagnostic {
    /// An error at `place`.
    pub fn error(code: &'static str, place: Place, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: DiagnosticSeverity::Error,
            place,
            message: message.into(),
            label: None,
            help: String::new(),
            related: Vec::new(),
            path: None,
        }
    }

    /// A warning at `place`.
    pub fn warning(code: &'static str, place: Place, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: DiagnosticSeverity::Warning,
            ..Diagnostic::error(code, place, message)
        }
    }

    /// Sets the label under the value.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = help.into();
        self
    }

    /// Names the path a problem outside any file's text is about.
    pub fn at_path(mut self, path: &std::path::Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }

    /// Adds a related place.
    pub fn related(mut self, place: Place, label: impl Into<String>) -> Self {
        self.related.push(Related {
            place,
            label: label.into(),
        });
        self
    }
}

/// Options for showing diagnostics to a person.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DiagnosticOptions {
    /// Graphical output with colour and Unicode (on a terminal).
    pub graphical: bool,
    /// Show full INSZ numbers in source snippets.
    pub show_personal_data: bool,
}

/// Renders diagnostics for a person, in file order.
pub(crate) fn render_human(
    diagnostics: &[Diagnostic],
    sources: &Sources,
    opts: DiagnosticOptions,
) -> String {
    let handler = if opts.graphical {
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode())
    } else {
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::none())
    }
    .with_width(100)
    .with_links(false);
    let shown: Vec<Arc<str>> = sources
        .files
        .iter()
        .map(|f| {
            let personal: &[(usize, usize)] = if opts.show_personal_data {
                &[]
            } else {
                &f.personal_spans
            };
            Arc::from(redact_source(
                &f.text,
                &f.secret_spans,
                personal,
                opts.show_personal_data,
            ))
        })
        .collect();
    let mut out = String::new();
    for d in diagnostics {
        let report = to_report(d, sources, &shown);
        if handler.render_report(&mut out, report.as_ref()).is_err() {
            out.push_str(&format!("{}: {}\n", d.code, d.message));
        }
        out.push('\n');
    }
    out
}

fn to_report(d: &Diagnostic, sources: &Sources, shown: &[Arc<str>]) -> Report {
    let severity = match d.severity {
        DiagnosticSeverity::Error => miette::Severity::Error,
        DiagnosticSeverity::Warning => miette::Severity::Warning,
    };
    let span = |pos: Pos| SourceSpan::new(pos.offset.into(), pos.len);
    let mut labels = vec![LabeledSpan::new_primary_with_span(
        d.label.clone(),
        span(d.place.pos),
    )];
    // miette draws one snippet per report: related places in the same file become
    // extra labels; places in other files are named in the help text instead.
    let mut help = d.help.clone();
    for r in &d.related {
        if r.place.file == d.place.file {
            labels.push(LabeledSpan::new_with_span(
                Some(r.label.clone()),
                span(r.place.pos),
            ));
        } else {
            let note = format!(
                "{} at {}:{}:{}",
                r.label,
                sources.path(r.place.file),
                r.place.pos.line,
                r.place.pos.column
            );
            help = if help.is_empty() {
                note
            } else {
                format!("{help}; {note}")
            };
        }
    }
    // The code leads the message, as in `× csam::insz::checksum: ...`.
    let mut diag =
        MietteDiagnostic::new(format!("{}: {}", d.code, d.message)).with_severity(severity);
    let known_file = d.place.file < sources.files.len();
    if known_file {
        diag = diag.with_labels(labels);
    }
    if !help.is_empty() {
        diag = diag.with_help(help);
    }
    if !known_file {
        return Report::new(diag);
    }
    let text = shown
        .get(d.place.file)
        .cloned()
        .unwrap_or_else(|| Arc::from(""));
    Report::new(diag).with_source_code(
        NamedSource::new(sources.path(d.place.file), text.to_string()).with_language("yaml"),
    )
}

/// One diagnostic in the machine-readable form.
#[derive(Debug, Serialize)]
pub(crate) struct JsonDiagnostic<'a> {
    /// Stable code.
    pub code: &'a str,
    /// `error` or `warning`.
    pub severity: DiagnosticSeverity,
    /// File path.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Message.
    pub message: &'a str,
    /// Help line.
    pub help: &'a str,
    /// Other places involved, e.g. the first declaration of a duplicate.
    pub related: Vec<JsonRelated<'a>>,
}

/// A related place in the machine-readable form.
#[derive(Debug, Serialize)]
pub(crate) struct JsonRelated<'a> {
    /// File path.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is there.
    pub label: &'a str,
}

/// The `validate --format json` document.
#[derive(Debug, Serialize)]
pub(crate) struct JsonReport<'a> {
    /// Format version of this document.
    pub version: u32,
    /// Number of errors.
    pub errors: usize,
    /// Number of warnings.
    pub warnings: usize,
    /// Every diagnostic.
    pub diagnostics: Vec<JsonDiagnostic<'a>>,
}

/// Renders diagnostics as the versioned JSON document.
pub(crate) fn render_json(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let report = JsonReport {
        version: 1,
        errors: diagnostics
            .iter()
            .filter(|d| d.severity == DiagnosticSeverity::Error)
            .count(),
        warnings: diagnostics
            .iter()
            .filter(|d| d.severity == DiagnosticSeverity::Warning)
            .count(),
        diagnostics: diagnostics
            .iter()
            .map(|d| JsonDiagnostic {
                code: d.code,
                severity: d.severity,
                file: d
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| sources.path(d.place.file)),
                line: d.place.pos.line,
                column: d.place.pos.column,
                message: &d.message,
                help: &d.help,
                related: d
                    .related
                    .iter()
                    .map(|r| JsonRelated {
                        file: sources.path(r.place.file),
                        line: r.place.pos.line,
                        column: r.place.pos.column,
                        label: &r.label,
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&report).unwrap_or_default()
}

/// The source as it may be shown: written passwords always blanked; INSZ-shaped digit
/// runs (11 digits, optionally grouped by `.`, `-` or space) masked to their last three
/// digits unless personal data was asked for. Byte lengths are kept, so spans stay right.
pub(crate) fn redact_source(
    text: &str,
    secrets: &[(usize, usize)],
    personal: &[(usize, usize)],
    show_personal_data: bool,
) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for &(start, len) in personal {
        let end = (start + len).min(bytes.len());
        let range = bytes.get_mut(start..end).unwrap_or_default();
        let digits = range.iter().filter(|b| b.is_ascii_digit()).count();
        let mut seen = 0;
        for b in range.iter_mut() {
            if b.is_ascii_digit() {
                seen += 1;
                if seen + 3 <= digits {
                    *b = b'*';
                }
            } else if b.is_ascii_alphabetic() {
                *b = b'*';
            }
        }
    }
    for &(start, len) in secrets {
        let end = (start + len).min(bytes.len());
        // Every byte becomes '*': still valid UTF-8 (spans lie on character boundaries),
        // and the byte length, hence every span, is unchanged.
        for b in bytes.iter_mut().take(end).skip(start) {
            *b = b'*';
        }
    }
    if !show_personal_data {
        mask_insz_runs(&mut bytes);
    }
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Masks, in place, every run of exactly 11 digits (separated at most by single `.`, `-`
/// or space) except its last three digits.
pub(crate) fn mask_insz_runs(bytes: &mut [u8]) {
    let mut i = 0;
    while i < bytes.len() {
        let starts_run = bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit());
        if !starts_run {
            i += 1;
            continue;
        }
        let mut digits = Vec::new();
        let mut j = i;
        while j < bytes.len() {
            if bytes[j].is_ascii_digit() {
                digits.push(j);
                j += 1;
            } else if matches!(bytes[j], b'.' | b'-' | b' ')
                && j + 1 < bytes.len()
                && bytes[j + 1].is_ascii_digit()
                && j > i
                && bytes[j - 1].is_ascii_digit()
            {
                j += 1;
            } else {
                break;
            }
        }
        if digits.len() == 11 {
            for &k in &digits[..8] {
                bytes[k] = b'*';
            }
        }
        i = j.max(i + 1);
    }
}

/// Masks a value written where an INSZ belongs, valid or not: every digit but the last
/// three becomes `*`, so that a mistyped number (10 or 12 digits, a letter O for a zero)
/// is not shown either.
pub(crate) fn mask_written_insz(written: &str) -> String {
    let digits = written.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    written
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen + 3 <= digits { '*' } else { c }
            } else if c.is_alphanumeric() {
                '*'
            } else {
                c
            }
        })
        .collect()
}

/// Masks INSZ-shaped digit runs in a message or any printed text.
pub(crate) fn mask_text(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    mask_insz_runs(&mut bytes);
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insz_runs_are_masked_but_other_numbers_are_not() {
        let text = "insz: \"85.07.30-033.28\"\nkbo: 0474.603.083\nhco: 71012817\nx: 85073003328\n";
        let masked = mask_text(text);
        assert!(masked.contains("\"**.**.**-**3.28\""));
        assert!(masked.contains("0474.603.083"));
        assert!(masked.contains("71012817"));
        assert!(masked.contains("********328"));
        assert_eq!(masked.len(), text.len());
    }

    #[test]
    fn mistyped_insz_values_are_masked_too() {
        // Regression: a 10-digit or letter-containing INSZ was printed in full.
        assert_eq!(mask_written_insz("74.02.21-658.8"), "**.**.**-*58.8");
        assert_eq!(mask_written_insz("68.08.21-3O5.64"), "**.**.**-**5.64");
    }

    #[test]
    fn written_passwords_are_blanked_even_with_personal_data() {
        let text = "password: hunter2hunter\n";
        let shown = redact_source(text, &[(10, 13)], &[], true);
        assert_eq!(shown, "password: *************\n");
    }
}
