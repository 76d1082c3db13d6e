//! `csamctl plan`: read the live registry, diff, order the changes, check the safety
//! rules, print the plan (text, JSON or Markdown), and save it with `--out`.
//!
//! The acting person is whom the registry says (`GET /v1/me`, see `settings::connect`);
//! a declared enterprise where they have no role is an error before planning, unless
//! the file names them its main access manager or legal representative.
//! Reading is one session: log in, a snapshot of every declared enterprise, log out. An
//! enterprise not yet registered (no designation requested yet) is planned as such; the
//! plan says so, and the authority check then tells whether this person may request its
//! designation.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use super::args::{OutputArgs, SafetyArgs};
use super::settings::{self, RegistryArgs, RegistrySettings};
use super::{CommandResult, Outcome, fancy};
use crate::config::{self, InputLimits, diagnostic};
use crate::model::{DesiredState, LiveState, Plan};
use crate::plan::fingerprint;
use crate::reconcile::{self, Planned};
use crate::registry::RegistryError;
use crate::render::{self, RenderOptions};
use crate::safety::SafetyOptions;

/// How the plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormat {
    /// Terraform-like text (colour on a terminal unless NO_COLOR).
    Text,
    /// Versioned JSON (schemas/plan.schema.json).
    Json,
    /// Markdown for a pull-request comment (split into parts below 65,535 characters).
    Markdown,
    /// One standalone HTML page: the same summary, diagram and folded diff, no scripts.
    Html,
}

/// `csamctl plan`.
#[derive(Debug, clap::Args)]
pub(crate) struct PlanArgs {
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
    /// How personal data is shown.
    #[command(flatten)]
    pub output: OutputArgs,
    /// The safety rules and their overrides.
    #[command(flatten)]
    pub safety: SafetyArgs,
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
pub(super) async fn run(args: &PlanArgs) -> CommandResult {
    let settings = RegistrySettings::resolve(&args.registry).map_err(PlanError::from)?;
    // Opening the registry (an embedded one replays its journal) and reading the files
    // are independent: both at once.
    let (desired, registry) = {
        let connecting = settings.clone();
        let registry = tokio::spawn(async move { settings::connect(&connecting).await });
        let (paths, show) = (args.paths.clone(), args.output.show_personal_data);
        let desired = tokio::task::spawn_blocking(move || load_desired(&paths, show)).await;
        (desired, registry.await)
    };
    let Some(desired) = desired.map_err(PlanError::Task)? else {
        return Ok(Outcome::Failed);
    };
    let settings::Connected { registry, me } = registry
        .map_err(PlanError::Task)?
        .map_err(PlanError::from)?;
    settings::check_roles(&me, &desired).map_err(PlanError::from)?;
    let actor = Some(me.person);
    let safety_options = args.safety.options();
    let Planned {
        plan,
        live,
        reclaimed,
    } = reconcile::read_and_plan(&*registry, &desired, actor, &safety_options)
        .await
        .map_err(PlanError::from)?;
    say_reclaimed(reclaimed);

    let opts = RenderOptions {
        colour: args.format == PlanFormat::Text && fancy(&std::io::stdout()),
        show_personal_data: args.output.show_personal_data,
    };
    let text = match args.format {
        PlanFormat::Text => render::text::render(&plan, &opts),
        PlanFormat::Json => render::json::render(&plan, &opts),
        PlanFormat::Markdown => render::markdown::render(&plan, &opts).join("\n"),
        PlanFormat::Html => render::html::render(&plan, &opts),
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
    let outcome = if plan.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Changes {
            detailed: args.detailed_exitcode,
        }
    };
    // The process ends right after this: the desired state, the live trees, the plan and
    // its text are left to the operating system instead of being freed node by node
    // (top level only). The registry is not: closing it may write a checkpoint.
    std::mem::forget((desired, live, plan, text));
    Ok(outcome)
}

/// Loads and validates the desired state, printing its diagnostics to stderr; `None`
/// (after saying so) when it has errors. Shared by `plan`, `apply` and `verify`.
pub(super) fn load_desired(paths: &[PathBuf], show_personal_data: bool) -> Option<DesiredState> {
    let loaded = config::load(paths, &InputLimits::default());
    if !loaded.diagnostics.is_empty() {
        let opts = config::DiagnosticOptions {
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

/// The plan with these safety options, its findings printed to stderr: what `runbook`
/// and `by-hand` work from (the same roles check, reading and planning as `plan`), as
/// the person the registry says acts.
pub(super) async fn procedure_plan(
    connected: &settings::Connected,
    desired: &DesiredState,
    safety_options: &SafetyOptions,
    show_personal_data: bool,
) -> Result<Plan, PlanError> {
    settings::check_roles(&connected.me, desired)?;
    let (registry, actor) = (&*connected.registry, Some(connected.me.person));
    let planned = reconcile::read_and_plan(registry, desired, actor, safety_options).await?;
    say_reclaimed(planned.reclaimed);
    let plan = planned.plan;
    let shown = crate::render::RenderOptions {
        colour: false,
        show_personal_data,
    };
    for f in &plan.findings {
        eprintln!("{}", crate::render::finding_line(f, &shown));
    }
    Ok(plan)
}

/// Says that reading logged out abandoned sessions (see
/// [`reconcile::Reading::reclaimed`]).
pub(super) fn say_reclaimed(reclaimed: usize) {
    if reclaimed > 0 {
        eprintln!(
            "Logged out {reclaimed} abandoned session(s) of the acting person (idle, left by an earlier run) to stay within the registry's session limit."
        );
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
