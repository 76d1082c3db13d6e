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
//! Exit codes: 0 all steps answered, 1 error, 3 stopped at a gate (R7), 130 stopped.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use super::args::SafetyArgs;
use super::files::write_atomically;
use super::plan::{PlanError, load_desired, procedure_plan};
use super::runbook::RunbookLang;
use super::settings::{self, RegistryArgs, RegistrySettings};
use super::{CommandResult, Outcome};
use crate::execute::EnvAndFiles;
use crate::execute::by_hand::ByHand;
use crate::model::{Instruction, Plan};
use crate::registry::Registry;
use crate::render::runbook::{self, RunbookFormat, RunbookOptions};
use crate::render::utc_time;

/// Where the progress is kept by default.
pub const DEFAULT_STATE: &str = ".csamctl/by-hand.json";

/// `csamctl by-hand`.
#[derive(Debug, clap::Args)]
pub struct ByHandArgs {
    /// Desired-state files and directories (default csam.yaml or ./csam/).
    pub paths: Vec<PathBuf>,
    /// The language of the steps (the CSAM web application's screens are in Dutch or French).
    #[arg(long, value_enum)]
    pub lang: RunbookLang,
    /// Where the progress is saved (mode 0600), for a stopped run to resume.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE)]
    pub state: PathBuf,
    /// The safety rules and their overrides (as for `plan`).
    #[command(flatten)]
    pub safety: SafetyArgs,
    /// Where the registry is and who acts.
    #[command(flatten)]
    pub registry: RegistryArgs,
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
    #[error("{0}")]
    Input(String),
    #[error("cannot save the progress to {path}")]
    Save {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How the run ended.
enum End {
    Finished,
    Stopped,
    Gate,
}

/// Runs `by-hand`.
pub async fn run(args: &ByHandArgs) -> CommandResult {
    if !std::io::stdin().is_terminal() {
        return Err(ByHandError::NoTerminal.into());
    }
    Ok(match run_inner(args).await? {
        End::Finished => Outcome::Ok,
        End::Stopped => Outcome::Interrupted,
        End::Gate => Outcome::WaitingOnGate,
    })
}

async fn run_inner(args: &ByHandArgs) -> Result<End, ByHandError> {
    let settings = RegistrySettings::resolve(&args.registry)?;
    let connected = settings::connect(&settings).await?;
    let registry = connected.registry.clone();
    let mut progress = match resume(&*registry, &args.state).await? {
        Some(progress) => progress,
        None => match fresh_plan(args, &connected).await? {
            Some(plan) => ByHand::new(plan),
            None => return Ok(End::Finished),
        },
    };
    let opts = |show_personal_data| RunbookOptions {
        lang: args.lang.into(),
        format: RunbookFormat::Markdown,
        show_personal_data,
    };
    let procedure = progress.procedure();
    let mut stdin = std::io::stdin().lock();
    while let Some(at) = progress.current() {
        // The full number only where it must be typed or sent.
        let typed = matches!(at, Instruction::Write { .. } | Instruction::Notice { .. });
        let Some((text, details)) = runbook::instruction(&progress.plan, &at, &opts(typed)) else {
            break;
        };
        println!(
            "\nStep {} of {}: {text}",
            progress.position + 1,
            procedure.len()
        );
        for d in &details {
            println!("    - {d}");
        }
        if let Instruction::Wait { enterprise, phase } = at
            && let Some(crate::model::Phase::Propagation { wait_ms }) = progress
                .plan
                .enterprises
                .get(enterprise)
                .and_then(|e| e.phases.get(phase))
        {
            // Registry time: the registry decides when the wait is over.
            let now = crate::execute::retried(&Default::default(), |_| registry.whoami())
                .await?
                .now_ms;
            println!(
                "    (clears at {})",
                utc_time(now.saturating_add(*wait_ms as i64))
            );
        }
        if matches!(at, Instruction::Gate { .. }) {
            println!(
                "Nothing else can be done for this enterprise until the designation is validated; run csamctl by-hand again then."
            );
            remove_state(&args.state);
            return Ok(End::Gate);
        }
        loop {
            let answer = ask(&mut stdin, "[d]one, [s]kip or s[t]op?");
            match answer.as_deref() {
                Some("d" | "done") => match progress.done(&*registry, &EnvAndFiles).await {
                    Ok(()) => break,
                    Err(refusal) => {
                        println!("Not recorded: {refusal}");
                        println!(
                            "Check the step in CSAM; answer done again once it is right, or skip it."
                        );
                    }
                },
                Some("s" | "skip") => {
                    progress.skip();
                    break;
                }
                Some("t" | "stop") | None => {
                    save(&args.state, &progress)?;
                    println!(
                        "Stopped at step {} of {}. Run csamctl by-hand again to go on from there.",
                        progress.position + 1,
                        procedure.len()
                    );
                    return Ok(End::Stopped);
                }
                Some(_) => {}
            }
        }
        save(&args.state, &progress)?;
    }
    remove_state(&args.state);
    println!(
        "\nDone: {} step(s) answered, {} skipped (the next plan has the skipped ones again).",
        procedure.len(),
        progress.skipped.len()
    );
    Ok(End::Finished)
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
    if progress.session.is_none() || progress.session_open(registry).await? {
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
    args: &ByHandArgs,
    connected: &settings::Connected,
) -> Result<Option<Plan>, ByHandError> {
    let desired = load_desired(&args.paths, false)
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

fn ask(stdin: &mut std::io::StdinLock<'_>, question: &str) -> Option<String> {
    print!("{question} ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    match stdin.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_lowercase()),
    }
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
