//! `csamctl verify` and `csamctl explain-access`: effective Heracles access, evaluated
//! by the registry (the manual's troubleshooting checklist, docs/rules.md "Effective
//! access").
//!
//! `verify` checks every active person declared on a site; with `--wait` it polls until
//! the only failing condition, the propagation delay (R6), has passed, or `--timeout`
//! runs out; when something else fails (R9 not recorded, a missing function, ...) it
//! says at once what and how to fix it, instead of waiting for nothing. Polling (not one long sleep) lets a virtual-clock registry, whose time a
//! test advances, be seen to move. `explain-access` prints the checklist of one person
//! with pass/fail and what to do about each failure. Both exit 0 when everyone checked
//! has access and 1 otherwise (the exit code is chosen in `cli::main`).

use std::path::PathBuf;
use std::time::Duration;

use super::args::OutputArgs;
use super::plan as plan_cmd;
use super::registry::parse_duration;
use super::settings::{self, RegistryArgs, RegistrySettings};
use super::{CommandResult, Outcome};
use std::collections::HashMap;

use crate::model::{Hco, Insz, PersonName};
use crate::reconcile::{self, AccessCheck, Failing};
use crate::registry::{AccessReport, RegistryError};
use crate::render::access::{self, Denied};
use crate::render::{RenderOptions, utc_time};

/// `csamctl verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// Desired-state files and directories (default csam.yaml or ./csam/).
    pub paths: Vec<PathBuf>,
    /// Wait out the propagation delay (R6) instead of reporting it as a failure.
    #[arg(long)]
    pub wait: bool,
    /// The longest wait with --wait (20m, 1h).
    #[arg(long, value_name = "D", default_value = "30m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// How personal data is shown.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Where the registry is and who acts.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `csamctl explain-access`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExplainArgs {
    /// The person's national register number (INSZ).
    pub insz: String,
    /// Only this site (unit).
    #[arg(long, value_name = "HCO")]
    pub site: Option<String>,
    /// How personal data is shown.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Where the registry is and who acts.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
enum AccessError {
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
    #[error("{0}")]
    Input(String),
}

/// Runs `explain-access`; `Ok` when the person has access everywhere evaluated.
pub(super) async fn run_explain(args: &ExplainArgs) -> CommandResult {
    Ok(Outcome::ok_if(explain(args).await?))
}

async fn explain(args: &ExplainArgs) -> Result<bool, AccessError> {
    let insz = Insz::parse(&args.insz).map_err(|e| AccessError::Input(e.to_string()))?;
    let site = match &args.site {
        Some(s) => Some(Hco::parse(s).map_err(|e| AccessError::Input(e.to_string()))?),
        None => None,
    };
    let settings = RegistrySettings::resolve(&args.registry)?;
    let opts = RenderOptions {
        colour: false,
        show_personal_data: args.output.show_personal_data,
    };
    let registry = settings::connect(&settings).await?.registry;
    let report: AccessReport = registry.evaluate_access(&insz, site.as_ref()).await?;
    print!("{}", access::explain(&report, site.as_ref(), &opts));
    Ok(!report.units.is_empty() && report.units.iter().all(|u| u.has_access))
}

/// Runs `verify`; `Ok` when every active declared user has access on each of their sites.
pub(super) async fn run_verify(args: &VerifyArgs) -> CommandResult {
    Ok(Outcome::ok_if(verify(args).await?))
}

async fn verify(args: &VerifyArgs) -> Result<bool, AccessError> {
    let Some(desired) = plan_cmd::load_desired(&args.paths, args.output.show_personal_data) else {
        return Ok(false);
    };
    let settings = RegistrySettings::resolve(&args.registry)?;
    let opts = RenderOptions {
        colour: false,
        show_personal_data: args.output.show_personal_data,
    };
    let wanted = reconcile::declared_site_users(&desired);
    let names: HashMap<Insz, PersonName> = desired
        .enterprises
        .iter()
        .flat_map(|e| &e.capacities)
        .flat_map(|c| &c.people)
        .map(|p| (p.insz, p.details.person_name(&p.username)))
        .collect();
    let denied = |failing: Vec<Failing>| -> Vec<Denied> {
        failing
            .into_iter()
            .map(|(insz, site, unit)| Denied {
                insz,
                name: names.get(&insz).cloned(),
                site,
                unit,
            })
            .collect()
    };
    {
        let settings::Connected { registry, me } = settings::connect(&settings).await?;
        settings::check_roles(&me, &desired)?;
        let start = tokio::time::Instant::now();
        let mut reported = None;
        loop {
            let AccessCheck {
                failing,
                only_waiting,
            } = reconcile::check_access(&*registry, &wanted).await?;
            let failing = denied(failing);
            let waited_out = start.elapsed() >= args.timeout;
            if args.wait && !only_waiting {
                eprint!("{}", access::cannot_wait(&failing, wanted.len()));
            }
            if failing.is_empty() || !args.wait || !only_waiting || waited_out {
                let timed_out = args.wait && waited_out;
                print!(
                    "{}",
                    access::verify(wanted.len(), &failing, &opts, timed_out)
                );
                return Ok(failing.is_empty());
            }
            // Say what is being waited for, once and whenever it changes.
            if reported != Some(failing.len()) {
                reported = Some(failing.len());
                let until = failing
                    .iter()
                    .filter_map(|d| d.unit.as_ref().and_then(|u| u.effective_from_ms))
                    .max();
                eprintln!(
                    "Waiting for the propagation delay (R6): {} of {} declared user record(s) have access{}.",
                    wanted.len() - failing.len(),
                    wanted.len(),
                    until
                        .map(|t| format!("; the last takes effect at {}", utc_time(t)))
                        .unwrap_or_default()
                );
            }
            let left = args.timeout.saturating_sub(start.elapsed());
            tokio::time::sleep(left.min(Duration::from_secs(1))).await;
        }
    }
}
