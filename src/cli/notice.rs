//! The coordination-centre step (R9): before anyone logs in to Heracles for a unit, the
//! national register number of its head radiologist must reach the coordination centre
//! (CvKO). That is outside CSAM; the registry records which head radiologists the centre
//! knows, and [`crate::registry::Registry::pending_notices`] derives from its state which
//! ones are still owed.
//!
//! - `execute::notice::owed` reads what is owed for some enterprises; [`write_notice`]
//!   writes the notice
//!   (Dutch and French, full numbers, mode 0600, never on stdout). `apply` calls both at
//!   the end of every run, also when there was nothing to change, so a crash at any
//!   point loses no notice: the next run writes it from the registry's state.
//! - `csamctl coordination-centre` lists what is owed (numbers masked), writes the same
//!   notice, and with `--record-sent` records that it was sent: on an embedded registry
//!   directly, on a served one through the operator surface.
//!
//! A notice file is only written when its content is new: the same owed list gives the
//! file already written, so repeated runs do not pile up copies of national numbers.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use super::args::{OperatorArgs, OutputArgs};
use super::plan as plan_cmd;
use super::settings::{self, RegistryArgs, RegistrySettings};
use super::{CommandResult, Outcome};
use crate::execute::{self, ExecuteOptions, notice};
use crate::model::{Hco, Kbo};
use crate::registry::{PendingNotice, Registry};
use crate::render::RenderOptions;
use crate::render::notice as rendered;

/// Where notices go unless told otherwise.
pub(super) const DEFAULT_NOTICE_DIR: &str = ".csamctl/notices";

/// The file name prefix of notice files.
const PREFIX: &str = "cvko-head-radiologists-";

/// `csamctl coordination-centre`.
#[derive(Debug, clap::Args)]
pub(crate) struct CoordinationCentreArgs {
    /// Desired-state files and directories naming the enterprises to look at (default
    /// csam.yaml or ./csam/).
    #[arg(conflicts_with = "enterprises")]
    pub paths: Vec<PathBuf>,
    /// This enterprise (KBO number) instead of the desired state's; repeatable.
    #[arg(long = "enterprise", value_name = "KBO")]
    pub enterprises: Vec<String>,
    /// Only the head radiologists of this site (HCO number); repeatable.
    #[arg(long = "site", value_name = "HCO")]
    pub sites: Vec<String>,
    /// Record that the notice listed was sent to the coordination centre (after
    /// showing it and asking), so that R9 holds for those head radiologists.
    #[arg(long)]
    pub record_sent: bool,
    /// With --record-sent: do not ask for confirmation.
    #[arg(long, requires = "record_sent")]
    pub yes: bool,
    /// Where the notice is written (mode 0600).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_NOTICE_DIR)]
    pub notice_dir: PathBuf,
    /// How personal data is shown.
    #[command(flatten)]
    pub output: OutputArgs,
    /// The operator token of a served registry.
    #[command(flatten)]
    pub operator: OperatorArgs,
    /// Where the registry is and who acts.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Why the notice could not be read, written or recorded.
#[derive(Debug, thiserror::Error)]
pub(super) enum NoticeError {
    /// The registry failed (after retries).
    #[error(transparent)]
    Read(#[from] notice::NotRead),
    /// The notice file could not be written.
    #[error("cannot write the coordination-centre notice {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A notice file, and whether this call wrote it (false: the same notice was already
/// there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NoticeFile {
    /// The file.
    pub path: PathBuf,
    /// True when written now.
    pub written: bool,
}

/// Writes the coordination-centre notice (R9) for these head radiologists into `dir`:
/// a new file, whole or not at all, mode 0600 — unless a notice file there already
/// says exactly this, which is then returned instead.
pub(super) fn write_notice(
    dir: &Path,
    notices: &[PendingNotice],
) -> Result<NoticeFile, NoticeError> {
    let text = rendered::notice_text(notices);
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NoticeError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    if let Some(path) = same_notice(dir, text.as_bytes()) {
        return Ok(NoticeFile {
            path,
            written: false,
        });
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let pid = std::process::id();
    let path = (0u32..)
        .map(|n| match n {
            0 => dir.join(format!("{PREFIX}{stamp}-{pid}.txt")),
            n => dir.join(format!("{PREFIX}{stamp}-{pid}-{n}.txt")),
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| dir.join(format!("{PREFIX}{stamp}-{pid}.txt")));
    // Whole or not at all: a notice cut short by a crash would be sent without a unit.
    super::files::write_atomically(&path, text.as_bytes(), None).map_err(err(&path))?;
    Ok(NoticeFile {
        path,
        written: true,
    })
}

/// A notice file in `dir` with exactly these bytes, if there is one.
fn same_notice(dir: &Path, bytes: &[u8]) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(".txt"))
        })
        .filter(|p| std::fs::read(p).is_ok_and(|b| b == bytes))
        .collect();
    found.sort();
    found.pop()
}

/// The notice for every head radiologist of these enterprises the registry says is
/// still owed, written into `dir` (`None`: nobody is owed). What `apply` and `by-hand`
/// do at the end of every run, so that a crashed or skipped notice is never lost.
pub(super) async fn write_owed(
    registry: &dyn Registry,
    kbos: &[Kbo],
    dir: &Path,
    options: &ExecuteOptions,
) -> Result<Option<NoticeFile>, NoticeError> {
    let owed = notice::owed(registry, kbos, options).await?;
    if owed.is_empty() {
        return Ok(None);
    }
    Ok(Some(write_notice(dir, &owed)?))
}

/// What to do with a notice file, in one sentence.
pub(super) fn send_advice(file: &NoticeFile) -> String {
    rendered::send_advice(&file.path.display().to_string(), file.written)
}

/// Runs `csamctl coordination-centre`.
pub(super) async fn run(args: &CoordinationCentreArgs) -> CommandResult {
    Ok(Outcome::ok_if(run_inner(args).await.map_err(Failed)?))
}

/// Any failure of the command, with its chain of causes.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error(transparent)]
struct Failed(BoxError);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn enterprises(args: &CoordinationCentreArgs) -> Result<Option<Vec<Kbo>>, BoxError> {
    if !args.enterprises.is_empty() {
        let kbos = args
            .enterprises
            .iter()
            .map(|k| Kbo::parse(k).map_err(|e| format!("--enterprise {k}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Some(kbos));
    }
    Ok(
        plan_cmd::load_desired(&args.paths, args.output.show_personal_data)
            .map(|d| d.enterprises.iter().map(|e| e.kbo).collect()),
    )
}

async fn run_inner(args: &CoordinationCentreArgs) -> Result<bool, BoxError> {
    let sites = args
        .sites
        .iter()
        .map(|s| Hco::parse(s).map_err(|e| format!("--site {s}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(kbos) = enterprises(args)? else {
        return Ok(false);
    };
    if args.record_sent && !args.yes && !(std::io::stdin().is_terminal()) {
        return Err(
            "--record-sent asks for confirmation and there is no terminal to ask on; pass --yes once the notice was sent".into(),
        );
    }
    let settings = RegistrySettings::resolve(&args.registry)?;
    let opts = RenderOptions {
        colour: false,
        show_personal_data: args.output.show_personal_data,
    };
    {
        let registry = settings::connect(&settings).await?.registry;
        let options = ExecuteOptions::default();
        let mut notices = notice::owed(&*registry, &kbos, &options).await?;
        notices.retain(|n| sites.is_empty() || sites.contains(&n.site));
        if notices.is_empty() {
            println!(
                "No head radiologist's national register number is waiting to reach the coordination centre (R9)."
            );
            return Ok(true);
        }
        println!(
            "{} head radiologist(s) whose national register number must still reach the coordination centre (CvKO, R9):",
            notices.len()
        );
        print!("{}", rendered::owed_lines(&notices, &opts));
        let file = write_notice(&args.notice_dir, &notices)?;
        if !args.record_sent {
            println!("{}", send_advice(&file));
            return Ok(true);
        }
        println!("The notice is in {} (mode 0600).", file.path.display());
        if !args.yes && !confirm(notices.len()) {
            eprintln!("Nothing was recorded.");
            return Ok(false);
        }
        let operator = settings::connect_operator(&settings, args.operator.token_file()).await?;
        for n in &notices {
            execute::notice::record_notice_sent(&*operator, &n.site, &n.person)
                .await
                .map_err(|e| format!("recording site {} failed: {e}", n.site))?;
        }
        println!(
            "Recorded: the coordination centre knows {} head radiologist(s) (R9).",
            notices.len()
        );
        Ok(true)
    }
}

fn confirm(n: usize) -> bool {
    eprint!(
        "Was this notice sent to the coordination centre? Record {n} head radiologist(s) as known to it; only 'yes' is accepted: "
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok() && line.trim() == "yes"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Insz, Username};

    fn notice(site: &str, insz: &str) -> PendingNotice {
        PendingNotice {
            kbo: Kbo::parse("0198765470").expect("kbo"),
            site: Hco::parse(site).expect("hco"),
            person: Insz::parse(insz).expect("insz"),
            username: Username::parse("anpeeters").expect("username"),
            last_name: "PEETERS".into(),
            first_name: "An".into(),
        }
    }

    #[test]
    fn the_same_notice_is_written_once_and_a_new_one_beside_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let one = [notice("71977101", "73022609986")];
        let first = write_notice(dir.path(), &one).expect("written");
        assert!(first.written);
        let body = std::fs::read_to_string(&first.path).expect("readable");
        assert!(
            body.contains("rijksregisternummer 73.02.26-099.86"),
            "{body}"
        );
        assert!(body.contains("numéro de registre national 73.02.26-099.86"));
        assert!(body.contains("An PEETERS"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&first.path).expect("meta").permissions();
            assert_eq!(mode.mode() & 0o777, 0o600);
        }
        let again = write_notice(dir.path(), &one).expect("found");
        assert_eq!(
            again,
            NoticeFile {
                path: first.path.clone(),
                written: false
            }
        );
        let two = [one[0].clone(), notice("71977102", "73022609986")];
        let other = write_notice(dir.path(), &two).expect("written");
        assert!(other.written);
        assert_ne!(other.path, first.path);
    }

    #[test]
    fn lines_for_people_mask_the_number() {
        let opts = RenderOptions {
            colour: false,
            show_personal_data: false,
        };
        let lines = rendered::owed_lines(&[notice("71977101", "73022609986")], &opts);
        assert!(lines.contains("**.**.**-**9.86"), "{lines}");
        assert!(!lines.contains("73.02.26"), "{lines}");
    }
}
