//! `csamctl apply`: carry the plan out, safely and resumably.
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

use super::notice::{self, NoticeFile};
use super::plan::{self as plan_cmd, PlanError};
use super::registry::{format_time, parse_duration};
use super::settings::{self, RegistryArgs, RegistrySettings};
use super::{CommandResult, Outcome, fancy};
use crate::execute::{
    self, ApplyReport, Cancel, ChainOutcome, EnvAndFiles, Event, ExecuteOptions, Observer,
    StepOutcome,
};
use crate::model::{Kbo, LiveState, Plan, SavedPlan, UserLevel};
use crate::plan::fingerprint;
use crate::registry::{Millis, Registry};
use crate::render::{self, RenderOptions};
use crate::safety::SafetyOptions;

/// How the final report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyFormat {
    /// For people.
    Text,
    /// One JSON document (`csamctl-apply-report`, version 1) on stdout.
    Json,
}

/// `csamctl apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Desired-state files and directories (default csam.yaml or ./csam/).
    #[arg(conflicts_with = "plan")]
    pub paths: Vec<PathBuf>,
    /// Apply this saved plan (from `plan --out`) exactly; refused when stale.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Most sessions in progress at once, over all enterprises; a session holds its
    /// place from log-in until the registry has processed it, so 1 walks the plan one
    /// session after another. The registry's sessions-per-person limit also applies.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub parallelism: usize,
    /// How long to wait for another apply's lease on an enterprise (20s, 5m).
    #[arg(long, value_name = "D", default_value = "5m", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Output format of the final report.
    #[arg(long, value_enum, default_value_t = ApplyFormat::Text)]
    pub format: ApplyFormat,
    /// Show full national register numbers (masked by default).
    #[arg(long)]
    pub show_personal_data: bool,
    /// Where the coordination-centre notice (R9) is written (mode 0600): every run writes
    /// it for every head radiologist still owed, also when there is nothing to change.
    #[arg(long, value_name = "DIR", default_value = super::notice::DEFAULT_NOTICE_DIR)]
    pub notice_dir: PathBuf,
    /// The largest share of a capacity's users or sites a plan may delete.
    #[arg(long, value_name = "R", default_value_t = 0.25)]
    pub max_deletion_ratio: f64,
    /// Allow deleting more than --max-deletion-ratio.
    #[arg(long)]
    pub force_deletions: bool,
    /// Allow the plan to remove the acting person's own access.
    #[arg(long)]
    pub allow_self_removal: bool,
    /// The acting person's INSZ, when acting with a token.
    #[arg(long, env = "CSAM_ACTOR", hide_env_values = true, value_name = "INSZ")]
    pub actor: Option<String>,
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
    #[error("registry: {0}")]
    Registry(#[from] crate::registry::RegistryError),
    #[error(transparent)]
    Execute(#[from] execute::ExecuteError),
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

/// Runs `apply`.
pub async fn run(args: &ApplyArgs) -> CommandResult {
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
    let safety_options = SafetyOptions {
        max_deletion_ratio: args.max_deletion_ratio,
        force_deletions: args.force_deletions,
        allow_self_removal: args.allow_self_removal,
        ..SafetyOptions::default()
    };
    let source = match &args.plan {
        Some(path) => Source::Saved(Box::new(read_saved(path)?)),
        None => match plan_cmd::load_desired(&args.paths, args.show_personal_data) {
            Some(d) => Source::Desired(Box::new(d)),
            None => return Ok(Outcome::Failed),
        },
    };
    let settings = RegistrySettings::resolve(&args.registry)?;
    let actor = plan_cmd::resolve_actor(&settings, args.actor.as_deref())?;
    let registry = settings::connect(&settings).await?;
    apply(
        args,
        &*registry,
        registry.clone(),
        &source,
        actor,
        &safety_options,
    )
    .await
}

enum Source {
    Desired(Box<crate::model::DesiredState>),
    Saved(Box<SavedPlan>),
}

fn read_saved(path: &Path) -> Result<SavedPlan, ApplyError> {
    // A saved plan is JSON written by `plan --out`: far below the desired state's limit.
    let max = crate::config::load::Limits::default().max_file_bytes;
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

async fn apply(
    args: &ApplyArgs,
    registry: &dyn Registry,
    shared: Arc<dyn Registry>,
    source: &Source,
    actor: Option<crate::model::Insz>,
    safety_options: &SafetyOptions,
) -> Result<Outcome, ApplyError> {
    let options = ExecuteOptions {
        parallelism: args.parallelism,
        ..ExecuteOptions::default()
    };
    let limits = execute::retried(&options, |_| registry.limits()).await?;
    // 2. Lock every enterprise the run may touch before reading anything: what is read
    //    under the lease cannot be changed by another apply before this one writes.
    let lock: Vec<Kbo> = match source {
        Source::Saved(saved) => saved.live.iter().map(|l| l.kbo).collect(),
        Source::Desired(desired) => desired.enterprises.iter().map(|e| e.kbo).collect(),
    };
    // 3. Leases.
    let holder = Holder::this_run(actor);
    let ttl = Duration::from_millis(limits.max_lease_ms.clamp(1000, 5 * 60 * 1000));
    let started = std::time::Instant::now();
    let taking = execute::LeaseTaking {
        holder: &holder,
        ttl,
        lock_timeout: args.lock_timeout,
        is_dead_own: &|held: &str| Holder::is_dead_here(held, actor),
        on_event: &say_lease_event,
    };
    let leases = execute::acquire_leases(registry, &lock, &taking, &options).await?;
    // Registry time now, from the lease answers; only when every enterprise is leased does
    // holding the leases mean that no crashed apply on them was left unwaited for.
    let ttl_ms = Millis::try_from(ttl.as_millis()).unwrap_or(Millis::MAX);
    let registry_now = (leases.held().len() == lock.len())
        .then(|| leases.held().iter().map(|l| l.expires_at_ms - ttl_ms).max())
        .flatten();
    let leases = Arc::new(tokio::sync::Mutex::new(leases));
    let renewer = {
        let leases = leases.clone();
        let registry = shared.clone();
        let holder = holder.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                leases.lock().await.renew(&*registry, ttl, &holder).await;
            }
        })
    };
    let result = apply_locked(
        args,
        registry,
        shared.clone(),
        &lock,
        source,
        actor,
        safety_options,
        &limits,
        &options,
        started,
        registry_now,
    )
    .await;
    renewer.abort();
    let leases = std::mem::take(&mut *leases.lock().await);
    leases.release(registry, &options).await;
    result
}

/// Who holds a lease, as another apply's refusal names it: `csamctl apply by
/// **.**.**-**3.28 (pid 4242 on host-1)` (the INSZ masked).
struct Holder;

impl Holder {
    fn this_run(actor: Option<crate::model::Insz>) -> String {
        Self::describe(actor, std::process::id(), host().as_deref())
    }

    fn describe(actor: Option<crate::model::Insz>, pid: u32, host: Option<&str>) -> String {
        format!(
            "csamctl apply{} (pid {pid}{})",
            actor.map(|a| format!(" by {a}")).unwrap_or_default(),
            host.map(|h| format!(" on {h}")).unwrap_or_default()
        )
    }

    /// True when `held` names an apply of the same acting person on this host whose
    /// process no longer exists (a crashed or killed run). The registry itself checks
    /// that the lease is the person's before letting it be taken over.
    fn is_dead_here(held: &str, actor: Option<crate::model::Insz>) -> bool {
        let Some(host) = host() else {
            return false;
        };
        let Some(pid) = held
            .split("(pid ")
            .nth(1)
            .and_then(|rest| rest.split([' ', ')']).next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            return false;
        };
        pid != std::process::id()
            && held == Self::describe(actor, pid, Some(&host))
            && !process_exists(pid)
    }
}

/// This machine's name (the kernel's, so that it does not depend on an exported
/// `HOSTNAME`).
fn host() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|h| !h.is_empty())
}

/// Whether a process with this id runs on this machine. Where that cannot be told
/// (no `/proc`), it is assumed to run: a lease is then waited for, never taken.
fn process_exists(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

fn say_lease_event(event: execute::LeaseEvent) {
    match event {
        execute::LeaseEvent::Waiting {
            kbo,
            holder,
            expires_at_ms,
            gives_up_in,
        } => eprintln!(
            "Waiting for enterprise {kbo}: {holder} holds its lease until {} (unless renewed); giving up in {} s (--lock-timeout).",
            crate::registry::clock::local_time(expires_at_ms),
            gives_up_in.as_secs()
        ),
        execute::LeaseEvent::TookOver { kbo, holder } => eprintln!(
            "Took over the lease of enterprise {kbo} from {holder}: that process no longer runs on this machine."
        ),
    }
}

#[allow(clippy::too_many_arguments)]
async fn apply_locked(
    args: &ApplyArgs,
    registry: &dyn Registry,
    shared: Arc<dyn Registry>,
    enterprises: &[Kbo],
    source: &Source,
    actor: Option<crate::model::Insz>,
    safety_options: &SafetyOptions,
    limits: &crate::registry::Limits,
    options: &ExecuteOptions,
    started: std::time::Instant,
    registry_now: Option<Millis>,
) -> Result<Outcome, ApplyError> {
    let opts = RenderOptions {
        colour: args.format == ApplyFormat::Text && fancy(&std::io::stdout()),
        show_personal_data: args.show_personal_data,
    };
    // 4. Stale sessions, then the plan from what is live now.
    let closed = execute::close_stale_sessions(registry, options, limits, registry_now).await?;
    if closed > 0 {
        eprintln!(
            "Logged out {closed} open session(s) of the acting person left by an earlier run, so that their writes are processed (R1)."
        );
    }
    let plan = match source {
        Source::Desired(desired) => {
            let live = plan_cmd::read_live(registry, desired).await?;
            let limits =
                plan_cmd::plan_limits_from(limits, plan_cmd::round_trip_ms(registry).await);
            plan_cmd::make_plan(desired, &live, actor, &limits, safety_options)
        }
        Source::Saved(saved) => {
            let kbos: Vec<Kbo> = saved.live.iter().map(|l| l.kbo).collect();
            let live: Vec<LiveState> = plan_cmd::read_enterprises(registry, &kbos).await?;
            if let Err(stale) = fingerprint::check_fresh(saved, &live) {
                eprintln!("error: refusing the saved plan: {stale}");
                if let fingerprint::Stale::LiveChanged(drifts) = &stale {
                    eprint!("{}", render::text::drift(drifts, &opts));
                }
                return Ok(Outcome::Failed);
            }
            let mut plan = saved.plan.clone();
            plan_cmd::add_refusals(&mut plan, &live, safety_options);
            plan
        }
    };
    // 5. Show, ask, execute.
    if args.format == ApplyFormat::Text {
        print!("{}", render::text::render(&plan, &opts));
    }
    if plan.has_errors() {
        eprintln!("error: the plan has errors; nothing was applied");
        return Ok(Outcome::Failed);
    }
    if plan.is_empty() && !plan.enterprises.iter().any(|e| !e.phases.is_empty()) {
        // Nothing to change, but a notice may still be owed: by a crashed run, or sent
        // by no one yet.
        let notice_file = owed_notice(args, registry, enterprises, options).await?;
        match args.format {
            ApplyFormat::Json => println!(
                "{}",
                report_json(&ApplyReport::default(), &opts, notice_file.as_ref(), None)
            ),
            ApplyFormat::Text => {
                if let Some(file) = &notice_file {
                    println!("{}", notice::send_advice(file));
                }
            }
        }
        return Ok(Outcome::Ok);
    }
    if !args.auto_approve && !confirm() {
        eprintln!("Apply cancelled; nothing was changed.");
        return Ok(Outcome::Failed);
    }
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
    let observer = Arc::new(Progress::new(&plan));
    let report = execute::execute(
        &plan,
        shared,
        options,
        Arc::new(EnvAndFiles),
        &cancel,
        observer.clone(),
    )
    .await;
    observer.finish();
    let timing = Timing {
        elapsed: started.elapsed(),
        plan_bound_ms: plan.estimate.apply_ms,
        parallelism_bound_ms: crate::plan::apply_bound_ms(&plan, options.parallelism),
        parallelism: options.parallelism,
    };
    // 6. Report, with the notice for every head radiologist still owed. A notice that
    //    cannot be derived or written does not hide the report of what was done.
    let (notice_file, notice_failed) = match owed_notice(args, registry, enterprises, options).await
    {
        Ok(file) => (file, None),
        Err(e) => (None, Some(e)),
    };
    match args.format {
        ApplyFormat::Text => print!(
            "{}",
            report_text(&report, &opts, notice_file.as_ref(), &timing)
        ),
        ApplyFormat::Json => println!(
            "{}",
            report_json(&report, &opts, notice_file.as_ref(), Some(&timing))
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

fn confirm() -> bool {
    eprint!("Apply this plan? Only 'yes' is accepted: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok() && line.trim() == "yes"
}

/// Progress: indicatif bars per enterprise on a terminal, plain lines otherwise; the
/// crash-test hook (feature `test-hooks` only) counts acknowledged writes here.
struct Progress {
    #[cfg(feature = "test-hooks")]
    kill: KillAfterWrites,
    names: std::collections::BTreeMap<Kbo, String>,
    bars: Option<(
        indicatif::MultiProgress,
        std::collections::BTreeMap<Kbo, indicatif::ProgressBar>,
    )>,
}

impl Progress {
    fn new(plan: &Plan) -> Self {
        let names = plan
            .enterprises
            .iter()
            .map(|e| (e.kbo, e.name.clone()))
            .collect();
        let bars = fancy(&std::io::stderr()).then(|| {
            let multi = indicatif::MultiProgress::new();
            let style = indicatif::ProgressStyle::with_template(
                "{prefix:.bold} [{bar:30}] {pos}/{len} steps {msg} (ETA {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
            let bars = plan
                .enterprises
                .iter()
                .map(|e| {
                    let bar = multi.add(indicatif::ProgressBar::new(e.steps().count() as u64));
                    bar.set_style(style.clone());
                    bar.set_prefix(format!("{} {}", e.kbo, e.name));
                    (e.kbo, bar)
                })
                .collect();
            (multi, bars)
        });
        Progress {
            #[cfg(feature = "test-hooks")]
            kill: KillAfterWrites::from_env(),
            names,
            bars,
        }
    }

    fn name(&self, kbo: &Kbo) -> String {
        format!(
            "{kbo} {}",
            self.names.get(kbo).map(String::as_str).unwrap_or_default()
        )
    }

    fn finish(&self) {
        if let Some((_, bars)) = &self.bars {
            for bar in bars.values() {
                bar.finish();
            }
        }
    }
}

impl Observer for Progress {
    fn event(&self, event: Event) {
        #[cfg(feature = "test-hooks")]
        if let Event::StepDone { .. } = &event {
            self.kill.count_write();
        }
        match (&self.bars, event) {
            (Some((_, bars)), Event::StepDone { kbo, .. }) => {
                if let Some(b) = bars.get(&kbo) {
                    b.inc(1);
                }
            }
            (Some((_, bars)), Event::LoggedOut { kbo }) => {
                if let Some(b) = bars.get(&kbo) {
                    let n = b.message().parse::<usize>().unwrap_or(0) + 1;
                    b.set_message(format!("{n} log-outs"));
                }
            }
            (Some(_), _) => {}
            (
                None,
                Event::EnterpriseStarted {
                    kbo,
                    steps,
                    barriers,
                },
            ) => eprintln!(
                "{}: {steps} step(s) in {barriers} round(s) of sessions",
                self.name(&kbo)
            ),
            (None, Event::StepFailed { kbo, step, code }) => {
                eprintln!("{}: step {step} failed ({code})", self.name(&kbo));
            }
            (None, Event::Retrying { kbo, code }) => {
                eprintln!("{}: retrying after {code}", self.name(&kbo));
            }
            (None, Event::EnterpriseEnded { kbo }) => eprintln!("{}: finished", self.name(&kbo)),
            (None, _) => {}
        }
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

/// The coordination-centre notice (R9) for every head radiologist of these enterprises
/// still owed, derived from the registry's state (so a crashed run's are included).
async fn owed_notice(
    args: &ApplyArgs,
    registry: &dyn Registry,
    enterprises: &[Kbo],
    options: &ExecuteOptions,
) -> Result<Option<NoticeFile>, ApplyError> {
    let owed = notice::owed(registry, enterprises, options).await?;
    if owed.is_empty() {
        return Ok(None);
    }
    Ok(Some(notice::write_notice(&args.notice_dir, &owed)?))
}

fn level_words(level: &UserLevel) -> String {
    match level {
        UserLevel::Site { hco } => format!("site {hco}"),
        UserLevel::Subdivision { hco } => format!("subdivision {hco} (no Heracles access, R4)"),
        UserLevel::Capacity { .. } => "the capacity (no Heracles access, R4)".into(),
    }
}

/// Where the signed designation request goes (manual S1.7–S1.10).
const GATE_INSTRUCTIONS: &str = "The legal representative signs the designation request (PDF, with eID) and the signed request is e-mailed to registration@eranova.fgov.be with subject \"Aanvraag aanwijzing hoofdtoegangsbeheerder\" (or, if the digital signature fails, signed by hand and sent by post). Validation follows within 48 hours; then run apply again.";

/// How long the apply took, and the lower bounds the plan gives for it.
struct Timing {
    /// Wall time from taking the leases to the report.
    elapsed: Duration,
    /// The plan's bound: the critical path, or the person's session limit.
    plan_bound_ms: u64,
    /// The bound with this run's `--parallelism`.
    parallelism_bound_ms: u64,
    /// This run's `--parallelism`.
    parallelism: usize,
}

impl Timing {
    fn line(&self) -> String {
        // Hundredths below 10 s: an embedded registry answers in well under a second.
        let s = |seconds: f64| {
            if seconds < 10.0 {
                format!("{seconds:.2} s")
            } else {
                format!("{seconds:.1} s")
            }
        };
        let ms = |ms: u64| s(ms as f64 / 1000.0);
        let mut line = format!(
            "Took {}; the plan's lower bound is {}",
            s(self.elapsed.as_secs_f64()),
            ms(self.plan_bound_ms)
        );
        if self.parallelism_bound_ms > self.plan_bound_ms {
            line.push_str(&format!(
                ", {} with --parallelism {} (more sessions side by side would be faster)",
                ms(self.parallelism_bound_ms),
                self.parallelism
            ));
        }
        line.push('.');
        line
    }
}

fn report_text(
    report: &ApplyReport,
    opts: &RenderOptions,
    notice_file: Option<&NoticeFile>,
    timing: &Timing,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let (done, failed, skipped) = report.counts();
    let _ = writeln!(out, "\nApply report");
    for e in &report.enterprises {
        let status = match e.outcome {
            ChainOutcome::Done => opts.green("done"),
            ChainOutcome::Failed => opts.red("FAILED"),
            ChainOutcome::WaitingOnGate => opts.yellow("waiting on a gate"),
            ChainOutcome::Interrupted => opts.yellow("interrupted"),
        };
        let d = e
            .steps
            .iter()
            .filter(|s| matches!(s.outcome, StepOutcome::Done { .. }))
            .count();
        let _ = writeln!(
            out,
            "  {} {}: {status} ({d}/{} steps, {} log-outs)",
            e.kbo,
            e.name,
            e.steps.len(),
            e.logouts
        );
        if let Some((code, message)) = &e.failure {
            let _ = writeln!(out, "      failed before writing: {message} [{code}]");
        }
        for s in &e.steps {
            if let StepOutcome::Failed { code, message } = &s.outcome {
                let _ = writeln!(
                    out,
                    "      step {} ({}, session {}) failed: {message} [{code}]",
                    s.id, s.kind, s.session
                );
            }
        }
        let not = e
            .steps
            .iter()
            .filter(|s| s.outcome == StepOutcome::NotAttempted)
            .count();
        if not > 0 {
            let _ = writeln!(out, "      {not} step(s) not attempted");
        }
        if let Some(g) = &e.gate {
            let _ = writeln!(
                out,
                "      Waiting for the main access manager's designation (R7): ticket {}",
                g.ticket.as_deref().unwrap_or("(not known yet)")
            );
            if let Some(l) = &g.legal_representative {
                let _ = writeln!(
                    out,
                    "      Must sign: the legal representative {} {} ({})",
                    l.first_name,
                    l.last_name,
                    opts.insz(&l.insz)
                );
            }
            let _ = writeln!(out, "      {GATE_INSTRUCTIONS}");
        }
        for x in &e.effective {
            let _ = writeln!(
                out,
                "      {} on {}: effective for Heracles from {} (R6)",
                opts.insz(&x.insz),
                level_words(&x.level),
                format_time(x.effective_from_ms)
            );
        }
    }
    let _ = writeln!(
        out,
        "{done} step(s) done, {failed} failed, {skipped} not attempted{}.",
        if report.interrupted {
            "; interrupted"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "{}", timing.line());
    if let Some(file) = notice_file {
        let _ = writeln!(out, "{}", notice::send_advice(file));
    }
    out
}

fn report_json(
    report: &ApplyReport,
    opts: &RenderOptions,
    notice_file: Option<&NoticeFile>,
    timing: Option<&Timing>,
) -> String {
    use serde_json::json;
    let enterprises: Vec<_> = report
        .enterprises
        .iter()
        .map(|e| {
            json!({
                "kbo": e.kbo.compact(),
                "name": e.name,
                "outcome": match e.outcome {
                    ChainOutcome::Done => "done",
                    ChainOutcome::Failed => "failed",
                    ChainOutcome::WaitingOnGate => "waiting_on_gate",
                    ChainOutcome::Interrupted => "interrupted",
                },
                "failure": e.failure.as_ref().map(|(code, message)| json!({"code": code, "message": message})),
                "logouts": e.logouts,
                "steps": e.steps.iter().map(|s| {
                    let (status, code, message) = match &s.outcome {
                        StepOutcome::Done { .. } => ("done", None, None),
                        StepOutcome::Failed { code, message } => ("failed", Some(code.clone()), Some(message.clone())),
                        StepOutcome::NotAttempted => ("not_attempted", None, None),
                    };
                    json!({"id": s.id, "session": s.session, "write": s.kind, "status": status, "code": code, "message": message})
                }).collect::<Vec<_>>(),
                "gate": e.gate.as_ref().map(|g| json!({
                    "ticket": g.ticket,
                    "signer": g.legal_representative.as_ref().map(|l| json!({
                        "insz": opts.insz(&l.insz), "first_name": l.first_name, "last_name": l.last_name,
                    })),
                    "instructions": GATE_INSTRUCTIONS,
                })),
                "effective": e.effective.iter().map(|x| json!({
                    "insz": opts.insz(&x.insz),
                    "level": level_words(&x.level),
                    "effective_from_ms": x.effective_from_ms,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let (done, failed, not_attempted) = report.counts();
    let doc = json!({
        "format": "csamctl-apply-report",
        "version": 1,
        "interrupted": report.interrupted,
        "summary": {"done": done, "failed": failed, "not_attempted": not_attempted},
        "notice_file": notice_file.map(|f| f.path.display().to_string()),
        "timing": timing.map(|t| json!({
            "elapsed_ms": u64::try_from(t.elapsed.as_millis()).unwrap_or(u64::MAX),
            "plan_bound_ms": t.plan_bound_ms,
            "parallelism_bound_ms": t.parallelism_bound_ms,
            "parallelism": t.parallelism,
        })),
        "enterprises": enterprises,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timing_line_names_the_parallelism_only_when_it_is_the_limit() {
        let mut t = Timing {
            elapsed: Duration::from_millis(9_870),
            plan_bound_ms: 9_120,
            parallelism_bound_ms: 9_120,
            parallelism: 256,
        };
        assert_eq!(t.line(), "Took 9.87 s; the plan's lower bound is 9.12 s.");
        t.parallelism = 8;
        t.parallelism_bound_ms = 67_400;
        let line = t.line();
        assert!(line.contains("67.4 s with --parallelism 8"), "{line}");
        t.elapsed = Duration::from_millis(40);
        assert!(t.line().starts_with("Took 0.04 s;"), "{}", t.line());
    }
}
