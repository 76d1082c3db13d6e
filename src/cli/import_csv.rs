//! `csamctl import-csv`: the user list a site administrator exports from the CSAM web
//! application ("De gebruikers exporteren (.csv)") as desired-state `people` entries,
//! printed, or merged into an existing desired-state file.
//!
//! Personal data. The entries hold national register numbers, so:
//!
//! - printed to stdout (a terminal, a pipe, a CI log) the INSZ is masked
//!   (`**.**.**-**3.28`) unless `--show-personal-data` is given: the printed entries are
//!   a preview, and a masked INSZ fails validation, so a preview pasted into a file
//!   cannot pass for the real thing;
//! - written with `--into FILE` it is in full: a desired-state file holds INSZ numbers
//!   by design. The file must exist (only it knows the enterprise and capacity the site
//!   belongs to); it is replaced atomically (a new file created with mode 0600 in the
//!   same directory, given the original file's permissions, then renamed over it), and
//!   stderr says that it holds national register numbers and what its permissions are.
//! - stderr (the report) shows a rejected INSZ masked, like every diagnostic; and both
//!   streams go through the same masking of INSZ-shaped numbers as diagnostics, for
//!   numbers a malformed CSV puts in another column.
//!
//! Exit codes: 0 when the CSV was read (and, with `--into`, merged or found already
//! merged), even if some rows were skipped: each is reported with its row number. 1 when
//! the CSV cannot be read, or the merge is refused (nothing is written then).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::CommandResult;
use crate::config::diagnostic::mask_text;
use crate::import::listing::HeaderLanguage;
use crate::import::{self, Indentation, InszShown, Listing, MergeOutcome};
use crate::model::{Function, Hco, Language};
use crate::render::plural;

/// The largest CSV read: a site's user list is a few kilobytes.
const MAX_CSV_BYTES: u64 = 16 * 1024 * 1024;

/// The largest desired-state file merged into (the loader's own budget).
const MAX_YAML_BYTES: u64 = 64 * 1024 * 1024;

/// `csamctl import-csv`.
#[derive(Debug, clap::Args)]
pub(crate) struct ImportCsvArgs {
    /// The CSV file exported from the CSAM web application ("De gebruikers exporteren
    /// (.csv)"); `;` or `,` separated, UTF-8 or Windows-1252.
    pub file: PathBuf,
    /// HCO number of the site whose user list this is.
    #[arg(long, value_name = "HCO", value_parser = Hco::parse)]
    pub site: Hco,
    /// Merge the people into this desired-state file, which must declare the site; its
    /// comments and layout are kept. Without it, the entries are printed.
    #[arg(long, value_name = "FILE")]
    pub into: Option<PathBuf>,
    /// Print full national register numbers (masked by default).
    #[arg(long)]
    pub show_personal_data: bool,
}

/// Why the CSV gives no people.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
enum CsvError {
    #[error("cannot read {path}: {why}")]
    Read { path: String, why: String },
    #[error("{path}: {why}")]
    #[diagnostic(help(
        "export the list with \"De gebruikers exporteren (.csv)\" on the site's user list in the CSAM web application"
    ))]
    NotAListing { path: String, why: String },
}

/// Runs `import-csv`.
pub(super) fn run(args: &ImportCsvArgs) -> CommandResult {
    let path = || args.file.display().to_string();
    let bytes = read_limited(&args.file, MAX_CSV_BYTES).map_err(|why| CsvError::Read {
        path: path(),
        why: why.to_string(),
    })?;
    let listing = import::listing::read(&bytes).map_err(|why| CsvError::NotAListing {
        path: path(),
        why: why.to_string(),
    })?;
    let mut report = listing_report(&args.file, &listing, args.show_personal_data);
    let language = (listing.language == HeaderLanguage::French).then_some(Language::French);
    let code = match &args.into {
        None => {
            let mut out = String::new();
            let shown = if args.show_personal_data {
                InszShown::Full
            } else {
                InszShown::Masked
            };
            for user in &listing.users {
                out += &import::entries::person(
                    user,
                    &args.site,
                    language,
                    shown,
                    Indentation::TOP_LEVEL,
                );
            }
            let _ = writeln!(
                report,
                "{} {} for site {}",
                listing.users.len(),
                plural(listing.users.len(), "person", "people"),
                args.site
            );
            if !listing.users.is_empty() {
                notes(&mut report, &args.site, true, language);
            }
            if !args.show_personal_data && !listing.users.is_empty() {
                report += "note: national register numbers are masked here; `--into FILE` writes them in full into a desired-state file, `--show-personal-data` prints them\n";
            }
            let out = masked_unless(out, args.show_personal_data);
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush())
                .is_err()
            {
                eprint!("{}", masked_unless(report, args.show_personal_data));
                return Ok(super::Outcome::Failed);
            }
            super::Outcome::Ok
        }
        Some(into) => merge_into(args, into, &listing, language, &mut report),
    };
    eprint!("{}", masked_unless(report, args.show_personal_data));
    Ok(code)
}

/// Text for stdout or stderr: INSZ-shaped digit runs masked unless personal data was
/// asked for. The entries and reasons are masked already; this also catches a number
/// that a malformed CSV put in a name column.
fn masked_unless(text: String, show_personal_data: bool) -> String {
    if show_personal_data {
        text
    } else {
        mask_text(&text)
    }
}

/// The first lines of the report: what was read, and every row skipped.
fn listing_report(file: &Path, listing: &Listing, show_personal_data: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "read {}: {} {} ({}, separator {}, {} headers)",
        file.display(),
        listing.rows,
        plural(listing.rows, "row", "rows"),
        listing.encoding,
        match listing.separator {
            '\t' => "tab".to_string(),
            c => format!("`{c}`"),
        },
        listing.language,
    );
    for skipped in &listing.skipped {
        let reasons: Vec<String> = skipped
            .reasons
            .iter()
            .map(|r| r.describe(show_personal_data))
            .collect();
        let _ = writeln!(
            out,
            "  row {}: skipped: {}",
            skipped.row,
            reasons.join("; ")
        );
    }
    out
}

/// What the CSV does not say and the entries therefore leave to the operator: e-mail
/// addresses of `new_people`, functions on the site of everyone written.
fn notes(out: &mut String, site: &Hco, new_people: bool, language: Option<Language>) {
    if new_people {
        let _ = writeln!(
            out,
            "note: the CSV has no e-mail addresses: new entries have `email: TODO`, which `csamctl validate` reports until it is filled in"
        );
    }
    let functions: Vec<&str> = Function::ALL.iter().map(|f| f.as_str()).collect();
    let _ = writeln!(
        out,
        "note: the CSV has no functions: site {site} gets an empty list; fill in {} before `csamctl apply`, or the plan leaves these users there without a function (no Heracles access)",
        functions.join(", ")
    );
    if new_people && language == Some(Language::French) {
        let _ = writeln!(
            out,
            "note: `language: fr` is guessed from the French headers; check it per person"
        );
    }
}

/// Merges into `into` and writes it back; reports into `report`.
fn merge_into(
    args: &ImportCsvArgs,
    into: &Path,
    listing: &Listing,
    language: Option<Language>,
    report: &mut String,
) -> super::Outcome {
    if !into.is_file() {
        let _ = writeln!(
            report,
            "error: {} is not a file: --into merges into an existing desired-state file that declares site {}",
            into.display(),
            args.site
        );
        let _ = writeln!(
            report,
            "help: run without --into to print the entries, or name the file that declares the site"
        );
        return super::Outcome::Failed;
    }
    let bytes = match read_limited(into, MAX_YAML_BYTES) {
        Ok(bytes) => bytes,
        Err(why) => {
            let _ = writeln!(report, "error: cannot read {}: {why}", into.display());
            return super::Outcome::Failed;
        }
    };
    // A byte-order mark is kept as it was.
    let (bom, body) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(body) => (&bytes[..3], body),
        None => (&bytes[..0], bytes.as_slice()),
    };
    let Ok(text) = std::str::from_utf8(body) else {
        let _ = writeln!(
            report,
            "error: {} is not UTF-8 text (`csamctl validate` shows where)",
            into.display()
        );
        return super::Outcome::Failed;
    };
    let source = args.file.file_name().map_or_else(
        || args.file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let merged = match import::merge(into, text, &args.site, &listing.users, language, &source) {
        Ok(merged) => merged,
        Err(err) => {
            let _ = writeln!(report, "error: cannot merge into {}: {err}", into.display());
            return super::Outcome::Failed;
        }
    };
    for user in &merged.outcomes {
        let what = match &user.outcome {
            MergeOutcome::Added => "added".to_string(),
            MergeOutcome::SiteAdded => {
                format!("already listed: site {} added to their sites", args.site)
            }
            MergeOutcome::AlreadyThere => {
                format!("already listed with site {}: left alone", args.site)
            }
            MergeOutcome::OtherUsername { in_file } => format!(
                "left alone: {} gives this INSZ the username `{in_file}`; a username never changes, so check which one is right",
                into.display()
            ),
            MergeOutcome::UsernameTaken => format!(
                "left alone: {} gives this username to another INSZ",
                into.display()
            ),
            MergeOutcome::SitesNotEditable => format!(
                "left alone: their `sites` is not a mapping the import can edit; add site {} by hand",
                args.site
            ),
        };
        let _ = writeln!(report, "  row {} ({}): {what}", user.row, user.username);
    }
    let added = merged.count(&MergeOutcome::Added);
    let sites_added = merged.count(&MergeOutcome::SiteAdded);
    let _ = writeln!(
        report,
        "{added} {} added and {sites_added} given site {} in the capacity of {}",
        plural(added, "person", "people"),
        args.site,
        merged.enterprise
    );
    if added + sites_added > 0 {
        notes(report, &args.site, added > 0, language);
    }
    if !merged.changed() {
        let _ = writeln!(report, "{} unchanged", into.display());
        return super::Outcome::Ok;
    }
    let mut out = bom.to_vec();
    out.extend_from_slice(merged.text.as_bytes());
    match replace_file(into, &out) {
        Ok(mode) => {
            let _ = writeln!(
                report,
                "wrote {}: it holds national register numbers in full; its permissions are kept ({mode})",
                into.display()
            );
            super::Outcome::Ok
        }
        Err(why) => {
            let _ = writeln!(
                report,
                "error: cannot write {}: {why}; it was left as it was",
                into.display()
            );
            super::Outcome::Failed
        }
    }
}

/// Reads a file of at most `limit` bytes (a device or pipe included: see
/// [`crate::config::load::read_limited`]).
pub(super) fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    crate::config::load::read_limited(path, limit).map_err(|e| e.to_string())
}

/// Replaces a file atomically: writes a new file next to it (created with mode 0600, so
/// the personal data is never readable by others on the way), gives it the original's
/// permissions, and renames it over the original. A symbolic link is followed, so the
/// file it points to is replaced and the link stays. Returns the permissions, for the
/// report.
fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<String> {
    let target = std::fs::canonicalize(path)?;
    let permissions = std::fs::metadata(&target)?.permissions();
    super::files::write_atomically(&target, bytes, Some(permissions.clone()))?;
    #[cfg(unix)]
    let mode = format!(
        "mode {:04o}",
        std::os::unix::fs::PermissionsExt::mode(&permissions) & 0o7777
    );
    #[cfg(not(unix))]
    let mode = if permissions.readonly() {
        "read-only".to_string()
    } else {
        "writable".to_string()
    };
    Ok(mode)
}
