//! `csamctl apply`: carry the plan out, safely and resumably. The workflow is
//! [`crate::reconcile::apply`]; this file parses the flags, answers the workflow's
//! questions at the terminal ([`ApplyHooks`]), prints the report
//! ([`crate::render::apply_report`]) and chooses the outcome.
//!
//! `apply --by-hand` is `csamctl by-hand` under the name the issue asked for: it hands
//! its flags to [`super::by_hand::run`] and nothing here runs.
//!
//! The order matters:
//! 1. refuse early when there is no terminal to confirm on and no `--auto-approve`;
//! 2. load the desired state (or the saved plan) and connect;
//! 3. take the apply lease of every declared enterprise (of a saved plan: every one it
//!    touches), waiting up to `--lock-timeout`, before reading anything, so that what
//!    this run reads cannot be changed by another apply before it writes (enterprises
//!    the actor has no role in yet cannot be leased and are skipped);
//! 4. log out the acting person's open sessions (R1: a crashed apply's acknowledged
//!    writes get processed), then read and plan with the same functions `plan` uses; a
//!    saved plan is checked for staleness at this point instead and refused with what
//!    changed. A person running two applies at once on *different* enterprises loses
//!    the other run's sessions here; that run logs in again and goes on (the
//!    executor treats a closed session as "log in again");
//! 5. show the plan, ask (`yes`), execute, release the leases;
//! 6. report: per enterprise what was done, failed, not attempted; gates (ticket, who
//!    signs, where the document goes); when access becomes effective (R6); the
//!    coordination-centre notice file (R9, mode 0600, named on stdout only), written for
//!    every head radiologist the registry says is still owed — also after a run with
//!    nothing to change, so that a crashed run's notices are never lost (`cli::notice`).
//!
//! Test-only hook, compiled only with the cargo feature `test-hooks` (which the tests
//! turn on and no release build has): `CSAM_TEST_KILL_AFTER_WRITES=N` makes the process
//! abort (as with SIGKILL: no log-out, no lease release) right after the N-th
//! acknowledged write, so the crash tests can stop apply at a chosen point.

use std::io::{BufRead as _, IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
#[cfg(feature = "test-hooks")]
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::ValueEnum;

use super::args::{OperatorArgs, OutputArgs, SafetyArgs};
use super::by_hand;
use super::notice;
use super::plan::{self as plan_cmd, PlanError};
use super::progress::ProgressView;
use super::registry::parse_duration;
use super::runbook::RunbookLang;
use super::settings::{self, RegistryArgs, RegistrySettings};
use super::{CommandResult, Outcome, fancy};
use crate::execute::{ApplyReport, Cancel, Event, ExecuteOptions, LeaseEvent, Observer};
use crate::model::{Kbo, Plan, SavedPlan};
use crate::plan::fingerprint;
use crate::reconcile::{self, Applied, ApplyHooks, ApplyRequest, ReconcileError, Source};
use crate::registry::Registry;
use crate::render::apply_report::{self, Timing};
use crate::render::{self, RenderOptions};

/// How the final report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ApplyFormat {
    /// For people.
    Text,
    /// One JSON document (`csamctl-apply-report`, version 1) on stdout.
    Json,
}

/// `csamctl apply`.
#[derive(Debug, clap::Args)]
pub(crate) struct ApplyArgs {
    /// Desired-state files and directories (default csam.yaml or ./csam/).
    #[arg(conflicts_with = "plan")]
    pub paths: Vec<PathBuf>,
    /// Apply this saved plan (from `plan --out`) exactly; refused when stale.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Carry the plan out by hand in the CSAM web application, one step at a time on a
    /// terminal, each confirmed step recorded in the registry: the same as `csamctl
    /// by-hand` (needs --lang).
    #[arg(long, requires = "lang", conflicts_with_all = ["plan", "auto_approve", "format"])]
    pub by_hand: bool,
    /// With --by-hand: the language of the steps.
    #[arg(long, value_enum, requires = "by_hand")]
    pub lang: Option<RunbookLang>,
    /// With --by-hand: where the progress is saved (mode 0600), for a stopped run to resume.
    #[arg(long, value_name = "FILE", default_value = by_hand::DEFAULT_STATE)]
    pub state: PathBuf,
    /// The operator token of a served registry.
    #[command(flatten)]
    pub operator: OperatorArgs,
    /// Most sessions open at once (log-in to log-out), over all enterprises; a session
    /// waiting for the registry to process it holds no place, so with 1 one session is
    /// open at a time while others wait at their log-out barrier. The registry's
    /// sessions-per-person limit also applies.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub parallelism: usize,
    /// How long to wait for another apply's lease on an enterprise (20s, 5m).
    #[arg(long, value_name = "D", default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Output format of the final report.
    #[arg(long, value_enum, default_value_t = ApplyFormat::Text)]
    pub format: ApplyFormat,
    /// How personal data is shown.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Where the coordination-centre notice (R9) is written (mode 0600): every run writes
    /// it for every head radiologist still owed, also when there is nothing to change.
    #[arg(long, value_name = "DIR", default_value = super::notice::DEFAULT_NOTICE_DIR)]
    pub notice_dir: PathBuf,
    /// The safety rules and their overrides.
    #[command(flatten)]
    pub safety: SafetyArgs,
    /// Where the registry is and who acts.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
enum ApplyError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    #[error("cannot read the saved plan {path}")]
    ReadPlan {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a saved plan: {reason}")]
    ParsePlan { path: PathBuf, reason: String },
    #[error(transparent)]
    Notice(#[from] super::notice::NoticeError),
    #[error(
        "apply needs a confirmation and there is no terminal to ask on; review the plan (csamctl plan) and pass --auto-approve"
    )]
    NoTerminal,
    #[error("--parallelism must be at least 1")]
    Parallelism,
}

/// Runs `apply`; with `--by-hand`, `by-hand`.
pub(super) async fn run(args: &ApplyArgs) -> CommandResult {
    if let (true, Some(lang)) = (args.by_hand, args.lang) {
        return by_hand::run(by_hand::ByHandRun {
            paths: &args.paths,
            lang,
            state: &args.state,
            notice_dir: &args.notice_dir,
            operator_token_file: args.operator.token_file(),
            safety: &args.safety,
            registry: &args.registry,
        })
        .await;
    }
    Ok(run_inner(args).await?)
}

fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

async fn run_inner(args: &ApplyArgs) -> Result<Outcome, ApplyError> {
    if !args.auto_approve && !interactive() {
        return Err(ApplyError::NoTerminal);
    }
    if args.parallelism == 0 {
        return Err(ApplyError::Parallelism);
    }
    let safety_options = args.safety.options();
    let source = match &args.plan {
        Some(path) => Source::Saved(Box::new(read_saved(path)?)),
        None => match plan_cmd::load_desired(&args.paths, args.output.show_personal_data) {
            Some(d) => Source::Desired(Box::new(d)),
            None => return Ok(Outcome::Failed),
        },
    };
    let settings = RegistrySettings::resolve(&args.registry)?;
    let settings::Connected { registry, me } = settings::connect(&settings).await?;
    if let Source::Desired(desired) = &source {
        settings::check_roles(&me, desired)?;
    }
    let options = ExecuteOptions {
        parallelism: args.parallelism,
        ..ExecuteOptions::default()
    };
    let request = ApplyRequest {
        source: &source,
        actor: Some(me.person),
        safety: &safety_options,
        options: &options,
        lock_timeout: args.lock_timeout,
    };
    let opts = RenderOptions {
        colour: args.format == ApplyFormat::Text && fancy(&std::io::stdout()),
        show_personal_data: args.output.show_personal_data,
    };
    let terminal = ApplyTerminal {
        args,
        opts,
        progress: std::sync::Mutex::new(None),
    };
    let applied = reconcile::apply(registry.clone(), &request, &terminal).await?;
    if let Some(progress) = terminal.progress.lock().ok().and_then(|mut p| p.take()) {
        progress.finish();
    }
    let ended = Ended {
        args,
        registry: &*registry,
        enterprises: source.enterprises(),
        options: &options,
        opts,
    };
    let outcome = ended.report(applied).await;
    // The process ends right after this: the desired state is left to the operating
    // system instead of being freed node by node (top level only).
    std::mem::forget(source);
    outcome
}

/// What is known once the workflow ended, to report it.
struct Ended<'a> {
    args: &'a ApplyArgs,
    registry: &'a dyn Registry,
    enterprises: Vec<Kbo>,
    options: &'a ExecuteOptions,
    opts: RenderOptions,
}

impl Ended<'_> {
    /// Prints how the apply ended (with the coordination-centre notice still owed) and
    /// chooses the outcome.
    async fn report(&self, applied: Applied) -> Result<Outcome, ApplyError> {
        let (args, opts, options) = (self.args, &self.opts, self.options);
        let (report, timing) = match applied {
            Applied::Stale(stale) => {
                eprintln!("error: refusing the saved plan: {stale}");
                if let fingerprint::Stale::LiveChanged(drifts) = &stale {
                    eprint!("{}", render::text::drift(drifts, opts));
                }
                return Ok(Outcome::Failed);
            }
            Applied::PlanHasErrors => {
                eprintln!("error: the plan has errors; nothing was applied");
                return Ok(Outcome::Failed);
            }
            Applied::Cancelled => {
                eprintln!("Apply cancelled; nothing was changed.");
                return Ok(Outcome::Failed);
            }
            Applied::NothingToDo => {
                // Nothing to change, but a notice may still be owed: by a crashed run, or
                // sent by no one yet.
                let notice_file =
                    notice::write_owed(self.registry, &self.enterprises, &args.notice_dir, options)
                        .await?;
                match args.format {
                    ApplyFormat::Json => println!(
                        "{}",
                        apply_report::json(
                            &ApplyReport::default(),
                            opts,
                            notice_file.as_ref().map(|f| f.path.as_path()),
                            None
                        )
                    ),
                    ApplyFormat::Text => {
                        if let Some(file) = &notice_file {
                            println!("{}", notice::send_advice(file));
                        }
                    }
                }
                return Ok(Outcome::Ok);
            }
            Applied::Executed {
                plan,
                report,
                elapsed,
            } => {
                let timing = Timing {
                    elapsed,
                    plan_bound_ms: plan.estimate.apply_ms,
                    parallelism_bound_ms: crate::plan::apply_bound_ms(&plan, options.parallelism),
                    parallelism: options.parallelism,
                };
                (report, timing)
            }
        };
        // The report, with the notice for every head radiologist still owed. A notice that
        // cannot be derived or written does not hide the report of what was done.
        let (notice_file, notice_failed) =
            match notice::write_owed(self.registry, &self.enterprises, &args.notice_dir, options)
                .await
            {
                Ok(file) => (file, None),
                Err(e) => (None, Some(e)),
            };
        match args.format {
            ApplyFormat::Text => print!(
                "{}",
                apply_report::text(
                    &report,
                    opts,
                    notice_file.as_ref().map(notice::send_advice).as_deref(),
                    &timing
                )
            ),
            ApplyFormat::Json => println!(
                "{}",
                apply_report::json(
                    &report,
                    opts,
                    notice_file.as_ref().map(|f| f.path.as_path()),
                    Some(&timing)
                )
            ),
        }
        let notice_failed_flag = notice_failed.is_some();
        if let Some(e) = notice_failed {
            eprintln!(
                "error: {e}; the coordination-centre notice (R9) may be owed: run csamctl coordination-centre to write it"
            );
        }
        Ok(if report.interrupted {
            Outcome::Interrupted
        } else if report.any_failed() || notice_failed_flag {
            Outcome::Failed
        } else if report.any_waiting() {
            Outcome::WaitingOnGate
        } else {
            Outcome::Ok
        })
    }
}

fn read_saved(path: &Path) -> Result<SavedPlan, ApplyError> {
    // A saved plan is JSON written by `plan --out`: far below the desired state's limit.
    let max = crate::config::InputLimits::default().max_file_bytes;
    let bytes =
        crate::config::load::read_limited(path, max).map_err(|source| ApplyError::ReadPlan {
            path: path.to_path_buf(),
            source,
        })?;
    serde_json::from_slice(&bytes).map_err(|e| ApplyError::ParsePlan {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The person at the terminal: what the workflow shows and asks during an apply.
struct ApplyTerminal<'a> {
    args: &'a ApplyArgs,
    opts: RenderOptions,
    /// The progress display, once execution started (finished after it).
    progress: std::sync::Mutex<Option<Arc<Progress>>>,
}

impl ApplyHooks for ApplyTerminal<'_> {
    fn lease_event(&self, event: LeaseEvent) {
        match event {
            LeaseEvent::Waiting {
                kbo,
                holder,
                expires_at_ms,
                gives_up_in,
            } => eprintln!(
                "Waiting for enterprise {kbo}: {holder} holds its lease until {} (unless renewed); giving up in {} s (--lock-timeout).",
                crate::registry::clock::local_time(expires_at_ms),
                gives_up_in.as_secs()
            ),
            LeaseEvent::TookOver { kbo, holder } => eprintln!(
                "Took over the lease of enterprise {kbo} from {holder}: that process no longer runs on this machine."
            ),
        }
    }

    fn stale_sessions_closed(&self, closed: usize) {
        eprintln!(
            "Logged out {closed} open session(s) of the acting person left by an earlier run, so that their writes are processed (R1)."
        );
    }

    fn sessions_reclaimed(&self, reclaimed: usize) {
        plan_cmd::say_reclaimed(reclaimed);
    }

    fn planned(&self, plan: &Plan) {
        if self.args.format == ApplyFormat::Text {
            print!("{}", render::text::render(plan, &self.opts));
        }
    }

    fn go_ahead(&self, _plan: &Plan) -> bool {
        self.args.auto_approve || confirm()
    }

    fn executing(&self, plan: &Plan) -> (Cancel, Arc<dyn Observer>) {
        // Ctrl-C is caught only from here on: at the question it still ends the process.
        let cancel = Cancel::new();
        {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!(
                        "\nInterrupted: starting nothing new, finishing what is in flight, logging out."
                    );
                    cancel.cancel();
                }
            });
        }
        let progress = Arc::new(Progress::new(plan));
        if let Ok(mut slot) = self.progress.lock() {
            *slot = Some(progress.clone());
        }
        (cancel, progress)
    }
}

fn confirm() -> bool {
    eprint!("Apply this plan? Only 'yes' is accepted: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok() && line.trim() == "yes"
}

/// Progress ([`ProgressView`]: one overall bar plus a line per running enterprise on a
/// terminal, plain lines otherwise); the crash-test hook (feature `test-hooks` only)
/// counts acknowledged writes here.
struct Progress {
    #[cfg(feature = "test-hooks")]
    kill: KillAfterWrites,
    view: ProgressView,
}

impl Progress {
    fn new(plan: &Plan) -> Self {
        let stderr = std::io::stderr();
        Progress {
            #[cfg(feature = "test-hooks")]
            kill: KillAfterWrites::from_env(),
            view: ProgressView::new(plan, super::terminal::live(&stderr), fancy(&stderr)),
        }
    }

    fn finish(&self) {
        self.view.finish();
    }
}

impl Observer for Progress {
    fn event(&self, event: Event) {
        #[cfg(feature = "test-hooks")]
        if let Event::StepDone { .. } = &event {
            self.kill.count_write();
        }
        self.view.event(&event);
    }
}

/// The crash-test hook (see the module docs): only in builds with `test-hooks`.
#[cfg(feature = "test-hooks")]
struct KillAfterWrites {
    writes: AtomicUsize,
    after: Option<usize>,
}

#[cfg(feature = "test-hooks")]
impl KillAfterWrites {
    fn from_env() -> Self {
        KillAfterWrites {
            writes: AtomicUsize::new(0),
            after: std::env::var("CSAM_TEST_KILL_AFTER_WRITES")
                .ok()
                .and_then(|v| v.parse().ok()),
        }
    }

    /// Counts one acknowledged write; dies like SIGKILL (no log-out, no lease release)
    /// at the chosen one.
    fn count_write(&self) {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if self.after.is_some_and(|k| n >= k) {
            std::process::abort();
        }
    }
}
