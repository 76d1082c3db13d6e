//! The drift report (`csamctl drift`): what a users export of the CSAM web application
//! shows against the registry's record and the desired state, as text, Markdown or
//! versioned JSON, each difference with what it means or what to do.
//!
//! May use `model` and `diff::drift`'s values; decides nothing.

use std::fmt::Write as _;

use super::RenderOptions;
use crate::diff::drift::{Account, Drift, DriftKind, DriftReport, level_words};
use crate::model::Kbo;

/// The export a report is of, as the reader knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExportFile {
    /// The file, as named on the command line.
    pub(crate) file: String,
    /// The enterprise the export is of.
    pub(crate) enterprise: Kbo,
    /// Data rows read.
    pub(crate) rows: usize,
    /// The language of its header line.
    pub(crate) language: String,
    /// Rows that could not be read as an account, and so were not compared.
    pub(crate) unread: usize,
}

/// The comparisons, with the title of each and what it was compared against.
fn sections(report: &DriftReport) -> Vec<(&'static str, &'static str, &[Drift])> {
    let mut out = vec![(
        "the local registry",
        "the registry",
        report.registry.as_slice(),
    )];
    if let Some(d) = &report.desired {
        out.push(("the desired state", "the desired state", d.as_slice()));
    }
    out
}

/// The person a difference is about: names, username, INSZ as the options show it.
pub(crate) fn person(a: &Account, opts: &RenderOptions) -> String {
    let mut s = String::new();
    let name = format!("{} {}", a.first_name, a.last_name);
    if !name.trim().is_empty() {
        let _ = write!(s, "{} ", name.trim());
    }
    if let Some(u) = &a.username {
        let _ = write!(s, "({u}) ");
    }
    let _ = write!(s, "{}", opts.insz(&a.insz));
    s
}

/// The difference in words: (what, what it means or what to do), where `against` names
/// what the export was compared with.
pub(crate) fn words(d: &Drift, against: &str) -> (String, String) {
    let kind = d.account.kind;
    match &d.kind {
        DriftKind::Missing => (
            format!("{kind} account missing in CSAM"),
            format!("{against} has it and CSAM does not: it was deleted in CSAM, or a step recorded as done was not"),
        ),
        DriftKind::Extra => (
            format!("{kind} account only in CSAM"),
            format!("CSAM has it and {against} does not: it was made by hand outside csamctl; add the person to the desired state (csamctl import-csv) or delete the account in CSAM"),
        ),
        DriftKind::Username { listed, expected } => (
            format!("username {listed} in CSAM, {expected} expected"),
            "usernames never change (S3.4): correct the desired state, or delete and create the account again".into(),
        ),
        DriftKind::Status { listed, expected } => (
            format!(
                "{} in CSAM, {} expected",
                active_word(*listed),
                active_word(*expected)
            ),
            "someone changed the status in CSAM, or a step recorded as done was not".into(),
        ),
        DriftKind::Level { listed, expected } => (
            format!("type {listed} in CSAM, {expected} expected"),
            "the person has another kind of account there: an administrator is declared as `administrator`, a user under `people`".into(),
        ),
    }
}

fn active_word(active: bool) -> &'static str {
    if active { "active" } else { "inactive" }
}

/// The report as text.
pub(crate) fn text(report: &DriftReport, export: &ExportFile, opts: &RenderOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "CSAM export {} ({} rows, {} headers): {} of enterprise {}",
        export.file,
        export.rows,
        export.language,
        level_words(&report.level),
        export.enterprise
    );
    if !report.level_recorded {
        let _ = writeln!(
            out,
            "\nThe local registry has no {} yet: every account of the export is only in CSAM.",
            level_words(&report.level)
        );
    }
    for (title, against, drift) in sections(report) {
        if drift.is_empty() {
            let _ = writeln!(out, "\nCSAM and {title}: no drift.");
            continue;
        }
        let _ = writeln!(out, "\nCSAM and {title}: {} difference(s)", drift.len());
        for d in drift {
            let (what, why) = words(d, against);
            let _ = writeln!(out, "  {}: {what}", person(&d.account, opts));
            let _ = writeln!(out, "      {why}");
        }
    }
    if export.unread > 0 {
        let _ = writeln!(
            out,
            "\n{} row(s) of the export could not be read and were not compared (csamctl import-csv {} --site … shows why).",
            export.unread, export.file
        );
    }
    out
}

/// The report as Markdown tables, for an issue or a pull request.
pub(crate) fn markdown(report: &DriftReport, export: &ExportFile, opts: &RenderOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Drift: {} of enterprise {}\n\nCSAM export `{}`: {} rows, {} headers.",
        level_words(&report.level),
        export.enterprise,
        export.file,
        export.rows,
        export.language
    );
    for (title, against, drift) in sections(report) {
        let _ = writeln!(out, "\n### CSAM and {title}\n");
        if drift.is_empty() {
            let _ = writeln!(out, "No drift.");
            continue;
        }
        let _ = writeln!(
            out,
            "| person | difference | what it means |\n|---|---|---|"
        );
        for d in drift {
            let (what, why) = words(d, against);
            let cell = |s: &str| s.replace('|', "\\|");
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                cell(&person(&d.account, opts)),
                cell(&what),
                cell(&why)
            );
        }
    }
    out
}

/// The report as versioned JSON.
pub(crate) fn json(report: &DriftReport, export: &ExportFile, opts: &RenderOptions) -> String {
    let entries = |drift: &[Drift], against: &str| -> Vec<serde_json::Value> {
        drift
            .iter()
            .map(|d| {
                let mut v = serde_json::to_value(&d.kind).unwrap_or_default();
                let (what, why) = words(d, against);
                v["insz"] = opts.insz(&d.account.insz).into();
                v["username"] = d.account.username.as_ref().map(|u| u.to_string()).into();
                v["last_name"] = d.account.last_name.clone().into();
                v["first_name"] = d.account.first_name.clone().into();
                v["type"] = d.account.kind.code().into();
                v["message"] = what.into();
                v["help"] = why.into();
                v
            })
            .collect()
    };
    let json = serde_json::json!({
        "version": 1,
        "file": export.file,
        "enterprise": export.enterprise.to_string(),
        "level": serde_json::to_value(&report.level).unwrap_or_default(),
        "rows": export.rows,
        "drift": report.has_drift(),
        "registry": entries(&report.registry, "the registry"),
        "desired": report.desired.as_ref().map(|d| entries(d, "the desired state")),
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&json).unwrap_or_default()
    )
}
