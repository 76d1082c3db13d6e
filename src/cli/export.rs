//! `csamctl export`: write the live registry's tree of one or more enterprises as a
//! desired-state file, on which `plan` shows no changes (see [`crate::render::export`]).
//!
//! Reading is one session: log in, a snapshot of every named enterprise, log out. An
//! enterprise the acting person may not read is an error (an export that silently left
//! it out would make `apply` treat it as undeclared, which is harmless, but the person
//! asked for it).
//!
//! Personal data: the file holds full national register numbers, so
//!
//! - with `--out FILE` it is written atomically (a temporary file created with mode 0600
//!   beside the target, then renamed over it) and stderr says so;
//! - without `--out` the text goes to stdout only with `--show-personal-data`, whether
//!   stdout is a terminal or not: a terminal shows the numbers to whoever looks, a
//!   shell redirect creates a file with the umask's (usually world-readable) mode, and
//!   CI logs keep stdout. Use `--out` instead.
//!
//! Before writing, the text is loaded with the real loader (the bytes written, parsed
//! and validated); a problem there (for example a placeholder main access manager, or a
//! renderer bug) is reported as a warning with the number of errors, and the file is
//! still written so that it can be completed by hand.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::settings::{self, RegistryArgs, RegistrySettings};
use super::{CommandResult, Outcome};
use crate::config::{self, InputLimits, Loaded};
use crate::model::{Kbo, LiveState};
use crate::registry::{Registry, RegistryError};
use crate::render::export::{Export, ExportHeader, Writer};
use crate::render::utc_time;

/// The modeline's default schema: the committed schema, for a file at the repository root.
pub(super) const DEFAULT_SCHEMA: &str = "schemas/desired-state.schema.json";

/// `csamctl export`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// The enterprise number(s) to export (10 digits, or the legacy 9-digit form).
    #[arg(long, value_name = "KBO", required = true, num_args = 1..)]
    pub enterprise: Vec<String>,
    /// Write the file here (mode 0600, replaced atomically).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Allow printing to stdout without --out (the text holds full national register numbers).
    #[arg(long)]
    pub show_personal_data: bool,
    /// The `$schema` of the yaml-language-server modeline (a path relative to the file, or a URL).
    #[arg(long, value_name = "PATH_OR_URL", default_value = DEFAULT_SCHEMA)]
    pub schema: String,
    /// Where the registry is and who acts.
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Leave out the check of the text written (hidden: `bench/export.sh` measures what
    /// the check adds to an export; the file written is the same either way).
    #[arg(long, hide = true)]
    pub skip_self_check: bool,
}

/// Why `export` failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(super) enum ExportError {
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
    #[error("--enterprise {given:?}: {reason}")]
    Enterprise { given: String, reason: String },
    #[error(
        "enterprise {0}: the acting person may not read it (no role in it); act with the token of its main access manager or an access manager"
    )]
    NotReadable(Kbo),
    #[error(
        "enterprise {kbo}: the acting person may not read the users of {levels}, so an export would declare those levels without their users; act with the token of its main access manager or an access manager"
    )]
    UsersNotReadable { kbo: Kbo, levels: String },
    #[error(
        "refusing to print full national register numbers: give --out FILE (written with mode 0600), or --show-personal-data to print them anyway"
    )]
    PersonalData,
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Runs `export`.
pub(super) async fn run(args: &ExportArgs) -> CommandResult {
    run_inner(args).await?;
    Ok(Outcome::Ok)
}

async fn run_inner(args: &ExportArgs) -> Result<(), ExportError> {
    let kbos = parse_enterprises(&args.enterprise)?;
    // Refuse before touching the registry.
    if args.out.is_none() && !args.show_personal_data {
        return Err(ExportError::PersonalData);
    }
    let settings = RegistrySettings::resolve(&args.registry)?;
    let registry = settings::connect(&settings).await?.registry;
    let live = read(&*registry, &kbos).await?;
    let header = ExportHeader {
        registry: without_userinfo(&settings.address.to_string()),
        exported_at: now(),
        schema: args.schema.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let name = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("<stdout>"));
    let check = (!args.skip_self_check).then_some(name);
    let (exported, check) = render_checked(&live, &header, check, Writer::enterprise);
    for w in &exported.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(warning) = check.as_ref().and_then(self_check_warning) {
        eprintln!("{warning}");
    }
    match &args.out {
        Some(path) => {
            write_private(path, exported.text.as_bytes())?;
            eprintln!(
                "Wrote {} ({} enterprise(s)) with mode 0600: it holds full national register numbers. Review it, then `csamctl plan {}` should show no changes.",
                path.display(),
                live.len(),
                path.display()
            );
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(exported.text.as_bytes());
            let _ = stdout.flush();
        }
    }
    // The process ends right after this: the live trees, the text and the checked model
    // are left to the operating system instead of being freed node by node (top level
    // only).
    std::mem::forget((live, exported, check));
    Ok(())
}

/// How one enterprise is written into the file: [`Writer::enterprise`] (a test gives a
/// faulty one, to see the check catch it).
type RenderOne = fn(&mut Writer, &LiveState);

/// The file of the live trees, each written by `render_one`, and, given the name the
/// file goes by, what loading its text with the real loader gave.
fn render_checked(
    live: &[LiveState],
    header: &ExportHeader,
    check: Option<PathBuf>,
    render_one: RenderOne,
) -> (Export, Option<Loaded>) {
    let mut writer = Writer::new(header);
    for state in live {
        render_one(&mut writer, state);
    }
    let exported = writer.finish();
    let loaded = check.map(|name| {
        config::load_bytes(
            &[(name, exported.text.as_bytes().to_vec())],
            &InputLimits::default(),
        )
    });
    (exported, loaded)
}

/// The warning for an exported file that does not load without errors.
fn self_check_warning(loaded: &Loaded) -> Option<String> {
    (loaded.errors() > 0).then(|| {
        format!(
            "warning: the exported file does not validate yet ({} error(s)); run `csamctl validate` on it and complete it by hand",
            loaded.errors()
        )
    })
}

fn parse_enterprises(given: &[String]) -> Result<Vec<Kbo>, ExportError> {
    let mut kbos: Vec<Kbo> = Vec::new();
    for g in given {
        let kbo = Kbo::parse(g).map_err(|e| ExportError::Enterprise {
            given: g.clone(),
            reason: e.to_string(),
        })?;
        if !kbos.contains(&kbo) {
            kbos.push(kbo);
        }
    }
    Ok(kbos)
}

/// One session: a snapshot of each enterprise (read as `plan` reads: retried, logged
/// out on every path); one the person may not read is an error. Every write the
/// registry acknowledged and processed is in the snapshot; the paged `list_users` is
/// not needed, because a snapshot already holds every user record.
async fn read(registry: &dyn Registry, kbos: &[Kbo]) -> Result<Vec<LiveState>, ExportError> {
    let reading = crate::reconcile::read_enterprises(registry, kbos).await?;
    super::plan::say_reclaimed(reading.reclaimed);
    let live = reading.live;
    if let Some(kbo) = kbos
        .iter()
        .find(|k| !live.iter().any(|l| l.enterprise.kbo == **k))
    {
        return Err(ExportError::NotReadable(*kbo));
    }
    if let Some(state) = live
        .iter()
        .find(|l| !l.enterprise.unreadable_users.is_empty())
    {
        let levels: Vec<String> = state
            .enterprise
            .unreadable_users
            .iter()
            .map(ToString::to_string)
            .collect();
        return Err(ExportError::UsersNotReadable {
            kbo: state.enterprise.kbo,
            levels: levels.join(", "),
        });
    }
    Ok(live)
}

/// The address as written in the header: an `https://user:secret@host` address loses its
/// user information, so that no credential ever lands in the file.
fn without_userinfo(address: &str) -> String {
    let Some((scheme, rest)) = address.split_once("://") else {
        return address.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => address.to_string(),
    }
}

/// The wall-clock time as `2026-11-28T11:47:31Z`.
fn now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    utc_time(ms)
}

/// Writes `bytes` to `path` atomically, created with mode 0600 ([`super::files`]).
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    super::files::write_atomically(path, bytes, None).map_err(|source| ExportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::tests::{SMALL, applied, desired};

    /// Exports the small example's live tree, each enterprise written by `render_one`;
    /// the text and what its check found.
    fn exported(render_one: RenderOne) -> (Export, Loaded) {
        let live = applied(&desired(SMALL));
        let header = ExportHeader {
            registry: "file:registry.db".into(),
            exported_at: "2026-11-30T12:00:00Z".into(),
            schema: DEFAULT_SCHEMA.into(),
            tool_version: "0.1.0".into(),
        };
        let (text, loaded) = render_checked(
            &live,
            &header,
            Some(PathBuf::from("exported.yaml")),
            render_one,
        );
        (text, loaded.expect("checked"))
    }

    #[test]
    fn the_self_check_catches_a_renderer_that_writes_an_invalid_file() {
        let (good, loaded) = exported(Writer::enterprise);
        assert_eq!(loaded.errors(), 0, "{:?}", loaded.diagnostics);
        assert_eq!(self_check_warning(&loaded), None);
        let kbos = |state: &crate::model::DesiredState| -> Vec<Kbo> {
            state.enterprises.iter().map(|e| e.kbo).collect()
        };
        assert_eq!(kbos(&loaded.state), kbos(&desired(SMALL)));
        // A renderer bug: every enterprise written twice (the same KBO, HCO numbers and
        // usernames declared again).
        let (bad, loaded) = exported(|writer, state| {
            writer.enterprise(state);
            writer.enterprise(state);
        });
        assert!(bad.text.starts_with(good.text.trim_end()));
        let errors = loaded.errors();
        assert!(
            loaded
                .diagnostics
                .iter()
                .any(|d| d.code == "csam::enterprise::duplicate"),
            "{:?}",
            loaded.diagnostics
        );
        let whole = crate::config::load_bytes(
            &[(PathBuf::from("exported.yaml"), bad.text.into_bytes())],
            &InputLimits::default(),
        );
        assert_eq!(
            errors,
            whole.errors(),
            "the count of loading the file whole"
        );
        assert_eq!(
            self_check_warning(&loaded),
            Some(format!(
                "warning: the exported file does not validate yet ({errors} error(s)); run `csamctl validate` on it and complete it by hand"
            ))
        );
    }

    #[test]
    fn the_header_never_holds_credentials() {
        assert_eq!(
            without_userinfo("https://alice:s3cret@registry.example:8443"),
            "https://registry.example:8443"
        );
        assert_eq!(
            without_userinfo("https://registry.example:8443/a@b"),
            "https://registry.example:8443/a@b"
        );
        assert_eq!(without_userinfo("file:/tmp/r@x.db"), "file:/tmp/r@x.db");
    }

    #[test]
    fn enterprises_are_parsed_and_deduplicated() {
        let kbos =
            parse_enterprises(&["198.765.470".into(), "0198765470".into()]).expect("valid numbers");
        assert_eq!(kbos.len(), 1);
        assert!(matches!(
            parse_enterprises(&["0198765471".into()]),
            Err(ExportError::Enterprise { .. })
        ));
    }
}
