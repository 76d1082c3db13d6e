//! `csamctl by-hand`: the plan carried out by a person in the CSAM web application, one
//! step at a time on a terminal, each confirmed step recorded at once in the registry
//! (see [`crate::execute::by_hand`]).
//!
//! Every step is worded as the runbook words it (`--lang nl|fr|en`); the person answers
//! done, skip or stop. The progress is saved after every answer in a private file
//! (mode 0600: the plan holds national register numbers), so a stop, Ctrl-C, a closed
//! laptop or a crash resumes at the first step not confirmed, in the same registry
//! session while it is open; when that session ended in between, what was confirmed
//! in it has been processed, so the plan is made again from the registry and the person
//! is told to log in again.
//!
//! Personal data: a full national register number is shown only in the step where it
//! must be typed or sent (a write, a coordination-centre notice); every other line, and
//! the summary, masks it. Without a terminal the command refuses (exit 1): confirming
//! steps nobody did would make the registry a false record.
//!
//! A confirmed coordination-centre step (R9) is recorded as `coordination-centre
//! --record-sent` records it, through the registry's operator (an embedded file needs
//! nothing more; a served registry the operator's token file). At the end, as `apply`
//! does, the notice is written for every head radiologist the registry still says is
//! owed (a skipped notice step, a crashed earlier run), from the registry's state.
//!
//! `csamctl apply --by-hand` is the same command. The workflow itself is
//! [`crate::execute::by_hand::walk`]; this file reads the flags, resumes or plans,
//! shows and asks ([`ByHandHooks`]), saves the progress, and chooses the outcome.
//!
//! Exit codes: 0 all steps answered, 1 error, 3 stopped at a gate (R7), 130 stopped.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::args::{OperatorArgs, SafetyArgs};
use super::files::write_atomically;
use super::notice;
use super::plan::{PlanError, load_desired, procedure_plan};
use super::runbook::RunbookLang;
use super::settings::{self, RegistryArgs, RegistrySettings};
use super::{CommandResult, Outcome};
use crate::execute::by_hand::{self, Answer, ByHand, ByHandHooks, RecordError, Walked};
use crate::execute::{EnvAndFiles, ExecuteOptions};
use crate::model::{Instruction, Kbo, Plan};
use crate::registry::{Millis, Registry, RegistryOperator};
use crate::render::runbook::{self, RunbookFormat, RunbookOptions};
use crate::render::utc_time;

/// Where the progress is kept by default.
pub(super) const DEFAULT_STATE: &str = ".csamctl/by-hand.json";

/// `csamctl by-hand`.
#[derive(Debug, clap::Args)]
pub(crate) struct ByHandArgs {
    /// Desired-state files and directories (default csam.yaml or ./csam/).
    pub paths: Vec<PathBuf>,
    /// The language of the steps (the CSAM web application's screens are in Dutch or French).
    #[arg(long, value_enum)]
    pub lang: RunbookLang,
    /// Where the progress is saved (mode 0600), for a stopped run to resume.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE)]
    pub state: PathBuf,
    /// Where the coordination-centre notice (R9) is written (mode 0600) for every head
    /// radiologist still owed at the end.
    #[arg(long, value_name = "DIR", default_value = notice::DEFAULT_NOTICE_DIR)]
    pub notice_dir: PathBuf,
    /// The operator token of a served registry.
    #[command(flatten)]
    pub operator: OperatorArgs,
    /// The safety rules and their overrides (as for `plan`).
    #[command(flatten)]
    pub safety: SafetyArgs,
    /// Where the registry is and who acts.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// One by-hand run, from `by-hand`'s flags or `apply --by-hand`'s.
#[derive(Debug, Clone, Copy)]
pub(super) struct ByHandRun<'a> {
    /// Desired-state files and directories.
    pub paths: &'a [PathBuf],
    /// The language of the steps.
    pub lang: RunbookLang,
    /// Where the progress is saved.
    pub state: &'a Path,
    /// Where the notice is written.
    pub notice_dir: &'a Path,
    /// The operator token file, for a served registry.
    pub operator_token_file: Option<&'a Path>,
    /// The safety rules.
    pub safety: &'a SafetyArgs,
    /// The registry and who acts.
    pub registry: &'a RegistryArgs,
}

impl<'a> From<&'a ByHandArgs> for ByHandRun<'a> {
    fn from(args: &'a ByHandArgs) -> Self {
        ByHandRun {
            paths: &args.paths,
            lang: args.lang,
            state: &args.state,
            notice_dir: &args.notice_dir,
            operator_token_file: args.operator.token_file(),
            safety: &args.safety,
            registry: &args.registry,
        }
    }
}

/// Why `by-hand` failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
enum ByHandError {
    #[error(
        "csamctl by-hand asks you to confirm each step you did in the CSAM web application, and there is no terminal to ask on"
    )]
    #[diagnostic(help(
        "run it in a terminal; `csamctl runbook` prints the same steps, `csamctl apply` carries them out against a registry"
    ))]
    NoTerminal,
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    #[error("registry: {0}")]
    Registry(#[from] crate::registry::RegistryError),
    #[error(transparent)]
    Notice(#[from] notice::NoticeError),
    #[error("{0}")]
    Input(String),
    #[error("cannot save the progress to {path}")]
    Save {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Runs `by-hand` (and `apply --by-hand`).
pub(super) async fn run(args: ByHandRun<'_>) -> CommandResult {
    if !std::io::stdin().is_terminal() {
        return Err(ByHandError::NoTerminal.into());
    }
    Ok(match run_inner(args).await? {
        Walked::Finished => Outcome::Ok,
        Walked::Stopped => Outcome::Interrupted,
        Walked::Gate => Outcome::WaitingOnGate,
    })
}

async fn run_inner(args: ByHandRun<'_>) -> Result<Walked, ByHandError> {
    let settings = RegistrySettings::resolve(args.registry)?;
    let connected = settings::connect(&settings).await?;
    let registry = connected.registry.clone();
    let mut progress = match resume(&*registry, args.state).await? {
        Some(progress) => progress,
        None => match fresh_plan(args, &connected).await? {
            Some(plan) => ByHand::new(plan),
            None => return Ok(Walked::Finished),
        },
    };
    let operator = operator(&settings, args.operator_token_file, &progress).await?;
    let total = progress.procedure().len();
    let mut terminal = Terminal {
        stdin: std::io::stdin().lock(),
        opts: RunbookOptions {
            lang: args.lang.into(),
            format: RunbookFormat::Markdown,
            show_personal_data: false,
        },
        state: args.state,
        total,
    };
    let walked = by_hand::walk(
        &mut progress,
        &*registry,
        &EnvAndFiles,
        operator.as_deref(),
        &mut terminal,
    )
    .await?;
    match walked {
        Walked::Stopped => println!(
            "Stopped at step {} of {total}. Run csamctl by-hand again to go on from there.",
            progress.position + 1
        ),
        Walked::Gate => {
            println!(
                "Nothing else can be done for this enterprise until the designation is validated; run csamctl by-hand again then."
            );
            remove_state(args.state);
        }
        Walked::Finished => {
            remove_state(args.state);
            println!(
                "\nDone: {total} step(s) answered, {} skipped (the next plan has the skipped ones again).",
                progress.skipped.len()
            );
        }
    }
    if walked != Walked::Stopped {
        // As `apply` does at the end of every run.
        let kbos: Vec<Kbo> = progress.plan.enterprises.iter().map(|e| e.kbo).collect();
        let options = ExecuteOptions::default();
        if let Some(file) = notice::write_owed(&*registry, &kbos, args.notice_dir, &options).await?
        {
            println!("{}", notice::send_advice(&file));
        }
    }
    Ok(walked)
}

/// The registry's operator, to record sent coordination-centre notices (R9): only when
/// the procedure has a notice step. A served registry without the operator's token has
/// none; a confirmed notice step then says how to record it instead.
async fn operator(
    settings: &RegistrySettings,
    token_file: Option<&Path>,
    progress: &ByHand,
) -> Result<Option<Arc<dyn RegistryOperator>>, ByHandError> {
    if !progress.has_notice() {
        return Ok(None);
    }
    match settings::connect_operator(settings, token_file).await {
        Ok(operator) => Ok(Some(operator)),
        Err(settings::SettingsError::MissingOperatorToken(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The terminal the person answers on.
struct Terminal<'a> {
    stdin: std::io::StdinLock<'static>,
    opts: RunbookOptions,
    state: &'a Path,
    total: usize,
}

impl ByHandHooks for Terminal<'_> {
    type Error = ByHandError;

    fn show(&mut self, progress: &ByHand, at: &Instruction, clears_at: Option<Millis>) {
        // The full number only where it must be typed or sent.
        let opts = RunbookOptions {
            show_personal_data: matches!(
                at,
                Instruction::Write { .. } | Instruction::Notice { .. }
            ),
            ..self.opts
        };
        let Some((text, details)) = runbook::instruction(&progress.plan, at, &opts) else {
            return;
        };
        println!("\nStep {} of {}: {text}", progress.position + 1, self.total);
        for d in &details {
            println!("    - {d}");
        }
        if let Some(at) = clears_at {
            println!("    (clears at {})", utc_time(at));
        }
    }

    fn ask(&mut self) -> Answer {
        loop {
            print!("[d]one, [s]kip or s[t]op? ");
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            match self.stdin.read_line(&mut line) {
                Ok(0) | Err(_) => return Answer::Stop,
                Ok(_) => {}
            }
            match line.trim().to_lowercase().as_str() {
                "d" | "done" => return Answer::Done,
                "s" | "skip" => return Answer::Skip,
                "t" | "stop" => return Answer::Stop,
                _ => {}
            }
        }
    }

    fn refused(&mut self, why: &RecordError) {
        println!("Not recorded: {why}");
        if matches!(
            why,
            RecordError::Registry(crate::registry::RegistryError::PasswordRequired)
        ) {
            // A person adopted from CSAM: their account exists there, the record does
            // not know it yet.
            println!(
                "The registry knows no account of this person. If CSAM did not ask for an initial password, the account exists in CSAM: record it from the site's users export (csamctl drift EXPORT.csv --enterprise KBO --site HCO --record) and answer done again. Otherwise give the person a password reference in the desired state."
            );
        }
        println!("Check the step in CSAM; answer done again once it is right, or skip it.");
    }

    fn save(&mut self, progress: &ByHand) -> Result<(), ByHandError> {
        save(self.state, progress)
    }
}

/// The saved progress, if there is one whose registry session is still open (or that
/// stopped between sessions with steps left: the same plan goes on). A progress whose
/// session ended in between is dropped: what it recorded is processed, and a new plan
/// starts from it.
async fn resume(registry: &dyn Registry, path: &Path) -> Result<Option<ByHand>, ByHandError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ByHandError::Input(format!(
                "cannot read the saved progress {}: {e}",
                path.display()
            )));
        }
    };
    let progress: ByHand = serde_json::from_str(&text).map_err(|e| {
        ByHandError::Input(format!(
            "{} is not a saved by-hand progress ({e}); remove it to start again",
            path.display()
        ))
    })?;
    if progress.resumable(registry).await? {
        println!(
            "Resuming at step {} of {}{}.",
            progress.position + 1,
            progress.procedure().len(),
            if progress.session.is_some() {
                ", in the session you were in: if CSAM logged you out meanwhile, log in again the same way"
            } else {
                ""
            }
        );
        return Ok(Some(progress));
    }
    println!(
        "Your earlier session ended (logged out or timed out): what you confirmed in it is recorded and processed. Planning again from the registry; start by logging in."
    );
    remove_state(path);
    Ok(None)
}

/// A new plan from the desired state and the registry; `None` (after saying so) when
/// there is nothing to do. A plan with errors is an error: it could not be applied.
async fn fresh_plan(
    args: ByHandRun<'_>,
    connected: &settings::Connected,
) -> Result<Option<Plan>, ByHandError> {
    let desired = load_desired(args.paths, false)
        .ok_or_else(|| ByHandError::Input("the desired state has errors".into()))?;
    let plan = procedure_plan(connected, &desired, &args.safety.options(), false).await?;
    if plan.has_errors() {
        return Err(ByHandError::Input(
            "the plan has errors; nothing to do by hand (see csamctl plan)".into(),
        ));
    }
    if plan.is_empty() {
        println!("Nothing to do: the registry matches the desired state.");
        return Ok(None);
    }
    Ok(Some(plan))
}

fn save(path: &Path, progress: &ByHand) -> Result<(), ByHandError> {
    let bytes = serde_json::to_vec(progress).map_err(|e| ByHandError::Save {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ByHandError::Save {
            path: path.to_path_buf(),
            source,
        })?;
    }
    write_atomically(path, &bytes, None).map_err(|source| ByHandError::Save {
        path: path.to_path_buf(),
        source,
    })
}

fn remove_state(path: &Path) {
    let _ = std::fs::remove_file(path);
}
