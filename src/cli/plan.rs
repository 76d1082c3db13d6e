//! `csamctl plan`: read the live registry, diff, order the changes, check the safety
//! rules, print the plan (text, JSON or Markdown), and save it with `--out`.
//!
//! Reading is one session: log in, a snapshot of every declared enterprise, log out. An
//! enterprise the acting person may not read (no role and no designation requested
//! yet) is planned as not registered; the plan says so, and the authority check then
//! tells whether this person may request its designation.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use futures_util::stream::{self, StreamExt};

use super::settings::{self, DEMO_IDENTITY, Identity, RegistryArgs, RegistrySettings};
use super::{CommandResult, Outcome, fancy};
use crate::config::{self, Limits, diagnostic};
use crate::execute::{self, ExecuteOptions};
use crate::model::{DesiredState, Finding, Insz, Kbo, LiveState, Plan, PlanLimits};
use crate::plan::fingerprint;
use crate::registry::{Registry, RegistryError};
use crate::render::{self, RenderOptions};
use crate::safety::{self, SafetyOptions};

/// How the plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Terraform-like text (colour on a terminal unless NO_COLOR).
    Text,
    /// Versioned JSON (schemas/plan.schema.json).
    Json,
    /// Markdown for a pull-request comment (split into parts below 65,535 characters).
    Markdown,
}

/// `csamctl plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Desired-state files and directories (default csam.yaml or ./csam/).
    pub paths: Vec<PathBuf>,
    /// Save the plan (mode 0600, no passwords) for `apply --plan`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Show full national register numbers (masked by default).
    #[arg(long)]
    pub show_personal_data: bool,
    /// The largest share of a capacity's users or sites a plan may delete.
    #[arg(long, value_name = "R", default_value_t = 0.25)]
    pub max_deletion_ratio: f64,
    /// Allow deleting more than --max-deletion-ratio.
    #[arg(long)]
    pub force_deletions: bool,
    /// Allow the plan to remove the acting person's own access.
    #[arg(long)]
    pub allow_self_removal: bool,
    /// The acting person's INSZ, when acting with a token (the registry cannot say
    /// whose a token is); used to check authority before anything runs.
    #[arg(long, env = "CSAM_ACTOR", hide_env_values = true, value_name = "INSZ")]
    pub actor: Option<String>,
    /// Where the registry is and who acts.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Why `plan` could not produce a plan.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(super) enum PlanError {
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
    #[error("--actor: {0}")]
    Actor(String),
    #[error("--max-deletion-ratio must be between 0 and 1, not {0}")]
    Ratio(f64),
    #[error("cannot write the plan to {path}")]
    Save {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("a task of the run failed")]
    Task(#[source] tokio::task::JoinError),
}

/// Runs `plan`.
pub async fn run(args: &PlanArgs) -> CommandResult {
    if !(0.0..=1.0).contains(&args.max_deletion_ratio) {
        return Err(PlanError::Ratio(args.max_deletion_ratio).into());
    }
    let settings = RegistrySettings::resolve(&args.registry).map_err(PlanError::from)?;
    let actor = resolve_actor(&settings, args.actor.as_deref())?;
    // Opening the registry (an embedded one replays its journal) and reading the files
    // are independent: both at once.
    let (desired, registry) = {
        let connecting = settings.clone();
        let registry = tokio::spawn(async move { settings::connect(&connecting).await });
        let (paths, show) = (args.paths.clone(), args.show_personal_data);
        let desired = tokio::task::spawn_blocking(move || load_desired(&paths, show)).await;
        (desired, registry.await)
    };
    let Some(desired) = desired.map_err(PlanError::Task)? else {
        return Ok(Outcome::Failed);
    };
    let registry = registry
        .map_err(PlanError::Task)?
        .map_err(PlanError::from)?;
    let limits = plan_limits(&*registry).await.map_err(PlanError::from)?;
    let live = read_live(&*registry, &desired).await?;
    let safety_options = SafetyOptions {
        max_deletion_ratio: args.max_deletion_ratio,
        force_deletions: args.force_deletions,
        allow_self_removal: args.allow_self_removal,
        ..SafetyOptions::default()
    };
    let plan = make_plan(&desired, &live, actor, &limits, &safety_options);

    let opts = RenderOptions {
        colour: args.format == PlanFormat::Text && fancy(&std::io::stdout()),
        show_personal_data: args.show_personal_data,
    };
    let text = match args.format {
        PlanFormat::Text => render::text::render(&plan, &opts),
        PlanFormat::Json => render::json::render(&plan, &opts),
        PlanFormat::Markdown => render::markdown::render(&plan, &opts).join("\n"),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();

    if plan.has_errors() {
        if args.out.is_some() {
            eprintln!("error: the plan has errors; it was not saved");
        }
        return Ok(Outcome::Failed);
    }
    if let Some(path) = &args.out {
        save(path, &plan, &desired, &live)?;
        eprintln!(
            "Saved the plan to {} (apply it with `csamctl apply --plan {}`)",
            path.display(),
            path.display()
        );
    }
    Ok(if plan.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Changes {
            detailed: args.detailed_exitcode,
        }
    })
}

/// Loads and validates the desired state, printing its diagnostics to stderr; `None`
/// (after saying so) when it has errors. Shared by `plan`, `apply` and `verify`.
pub(super) fn load_desired(paths: &[PathBuf], show_personal_data: bool) -> Option<DesiredState> {
    let loaded = config::load(paths, &Limits::default());
    if !loaded.diagnostics.is_empty() {
        let opts = config::RenderOptions {
            graphical: fancy(&std::io::stderr()),
            show_personal_data,
        };
        eprint!(
            "{}",
            diagnostic::render_human(&loaded.diagnostics, &loaded.sources, opts)
        );
    }
    if loaded.errors() > 0 {
        eprintln!(
            "error: the desired state has {} error(s); fix them first (csamctl validate)",
            loaded.errors()
        );
        return None;
    }
    Some(loaded.state)
}

/// The acting person: the demo identity on an embedded registry without a token,
/// otherwise `--actor` (the registry cannot say whose a token is).
pub(super) fn resolve_actor(
    settings: &RegistrySettings,
    given: Option<&str>,
) -> Result<Option<Insz>, PlanError> {
    let given = match given {
        Some(text) => Some(Insz::parse(text).map_err(|e| PlanError::Actor(e.to_string()))?),
        None => None,
    };
    Ok(match &settings.identity {
        Identity::Token(_) => given,
        Identity::Demo => {
            let demo = Insz::parse(DEMO_IDENTITY).map_err(|e| PlanError::Actor(e.to_string()))?;
            if given.is_some_and(|g| g != demo) {
                return Err(PlanError::Actor(
                    "without a token the embedded registry acts as the demo identity; give the person's token (csamctl registry token) to act as someone else".into(),
                ));
            }
            Some(demo)
        }
    })
}

/// The planner's limits: the registry's, and the round trip of one request as measured
/// now (a second request, on the connection the first one opened).
pub(super) async fn plan_limits(registry: &dyn Registry) -> Result<PlanLimits, RegistryError> {
    let limits = execute::retried(&ExecuteOptions::default(), |_| registry.limits()).await?;
    Ok(plan_limits_from(&limits, round_trip_ms(registry).await))
}

/// The round trip of one request to `registry` (call it once a connection is open), in
/// whole milliseconds (rounded down: the estimate is a lower bound); the planner's
/// default when the registry does not answer.
pub(super) async fn round_trip_ms(registry: &dyn Registry) -> u64 {
    let start = std::time::Instant::now();
    match registry.limits().await {
        Ok(_) => u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        Err(_) => PlanLimits::default().request_ms,
    }
}

/// The planner's limits from the registry's and a measured request time.
pub(super) fn plan_limits_from(limits: &crate::registry::Limits, request_ms: u64) -> PlanLimits {
    PlanLimits {
        sessions_per_person: limits.sessions_per_person,
        processing_delay_ms: limits.processing_delay_ms,
        propagation_delay_ms: limits.propagation_delay_ms,
        request_ms,
        ..PlanLimits::default()
    }
}

/// Plans with the given limits and adds the safety refusals as error findings.
pub(super) fn make_plan(
    desired: &DesiredState,
    live: &[LiveState],
    actor: Option<Insz>,
    limits: &PlanLimits,
    safety_options: &SafetyOptions,
) -> Plan {
    let mut plan = crate::plan::plan(desired, live, actor, limits);
    add_refusals(&mut plan, live, safety_options);
    plan
}

/// The plan with the default safety options, its findings printed to stderr: what
/// `runbook` and `by-hand` work from (the same reading and planning as `plan`).
pub(super) async fn default_plan(
    registry: &dyn Registry,
    desired: &DesiredState,
    actor: Option<Insz>,
    show_personal_data: bool,
) -> Result<Plan, PlanError> {
    let limits = plan_limits(registry).await?;
    let live = read_live(registry, desired).await?;
    let plan = make_plan(desired, &live, actor, &limits, &SafetyOptions::default());
    let shown = crate::render::RenderOptions {
        colour: false,
        show_personal_data,
    };
    for f in &plan.findings {
        eprintln!("{}", crate::render::finding_line(f, &shown));
    }
    Ok(plan)
}

/// Adds the safety refusals of a plan as error findings.
pub(super) fn add_refusals(plan: &mut Plan, live: &[LiveState], safety_options: &SafetyOptions) {
    let refusals = safety::check(plan, live, safety_options);
    plan.findings.extend(refusals.iter().map(|r| {
        let mut f = Finding::error(r.rule.code(), Some(r.kbo), r.to_string());
        f.object = r.objects.first().cloned();
        f
    }));
}

/// One session: a snapshot of every declared enterprise the actor may read.
pub(super) async fn read_live(
    registry: &dyn Registry,
    desired: &DesiredState,
) -> Result<Vec<LiveState>, PlanError> {
    let kbos: Vec<Kbo> = desired.enterprises.iter().map(|e| e.kbo).collect();
    read_enterprises(registry, &kbos).await
}

/// How many enterprise trees are read at once.
const READ_CONCURRENCY: usize = 16;

/// One session: a snapshot of each of these enterprises that the actor may read. Every
/// request is retried while the registry calls its error transient, each on its own: a
/// read of many enterprises over a flaky network must not need every request of one
/// attempt to succeed.
pub(super) async fn read_enterprises(
    registry: &dyn Registry,
    kbos: &[Kbo],
) -> Result<Vec<LiveState>, PlanError> {
    let options = ExecuteOptions::default();
    // Too many sessions open: the person's abandoned (idle) sessions are logged out,
    // busy ones (a running apply's) waited for.
    let (session, reclaimed) = execute::log_in_to_read(registry, &options).await?;
    if reclaimed > 0 {
        eprintln!(
            "Logged out {reclaimed} abandoned session(s) of the acting person (idle, left by an earlier run) to stay within the registry's session limit."
        );
    }
    // Side by side in the one reading session; the answers keep the enterprises' order.
    let answers: Vec<Result<LiveState, RegistryError>> = stream::iter(kbos)
        .map(|kbo| {
            let (options, session) = (&options, &session);
            execute::retried(options, move |_| registry.snapshot(session, kbo))
        })
        .buffered(READ_CONCURRENCY)
        .collect()
        .await;
    let mut live = Vec::new();
    let mut failure = None;
    for answer in answers {
        match answer {
            Ok(state) => live.push(state),
            // No role and no designation yet: planned as not registered (the diff says so).
            Err(RegistryError::NotAuthorised { .. }) => {}
            Err(err) => {
                failure.get_or_insert(err);
            }
        }
    }
    // Log out even after a failure; the reading session wrote nothing. A log-out whose
    // first answer was lost finds the session closed: done either way.
    let closed = execute::retried(&options, |_| registry.close_session(&session)).await;
    if let Some(err) = failure {
        return Err(err.into());
    }
    match closed {
        Ok(_) | Err(RegistryError::SessionClosed { .. }) => Ok(live),
        Err(err) => Err(err.into()),
    }
}

/// Writes the saved plan: to a temporary file created with mode 0600 beside the
/// target, then renamed over it, so that no reader ever sees a partial or wider file.
fn save(
    path: &Path,
    plan: &Plan,
    desired: &DesiredState,
    live: &[LiveState],
) -> Result<(), PlanError> {
    let saved = fingerprint::save(plan, desired, live);
    let err = |source| PlanError::Save {
        path: path.to_path_buf(),
        source,
    };
    let mut json = serde_json::to_vec_pretty(&saved).map_err(|e| err(std::io::Error::other(e)))?;
    json.push(b'\n');
    super::files::write_atomically(path, &json, None).map_err(err)?;
    Ok(())
}
