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
use crate::model::{Hco, Insz};
use crate::reconcile::{self, AccessCheck, Failing};
use crate::registry::{AccessCondition, AccessReport, RegistryError, UnitAccess};
use crate::render::RenderOptions;
use crate::render::utc_time;

/// `csamctl verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
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
pub struct ExplainArgs {
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

/// What to do when a condition fails.
pub fn fix(condition: AccessCondition) -> &'static str {
    match condition {
        AccessCondition::CapacityActive => {
            "activate the capacity \"Mammografische eenheid\" (manual S2; the HTB or an access manager)"
        }
        AccessCondition::CapacityApplications => {
            "enable Heracles and eHealthBox on the capacity (R5)"
        }
        AccessCondition::SubdivisionActive => "create or re-activate the subdivision (S3.1-S3.5)",
        AccessCondition::SubdivisionApplications => {
            "enable Heracles and eHealthBox on the subdivision (R5)"
        }
        AccessCondition::SiteActive => "create or re-activate the site (S3.6)",
        AccessCondition::SiteApplications => "enable Heracles and eHealthBox on the site (R5)",
        AccessCondition::UserOnSite => {
            "create the user on the site itself; users on the capacity or subdivision never get access (R4, S4)"
        }
        AccessCondition::UserActive => "set the user's status to active",
        AccessCondition::UserApplications => {
            "enable Heracles on the user, and eHealthBox when a physician (R5)"
        }
        AccessCondition::UserFunction => {
            "give the user a function on the site, in a session after the one that created it (S4.9)"
        }
        AccessCondition::Propagated => {
            "wait: changes take effect 20 minutes after they are processed (R6; csamctl verify --wait)"
        }
        AccessCondition::HeadRadiologistKnown => {
            "the site needs a head radiologist whose national register number the coordination centre (CvKO) knows (R9): `csamctl coordination-centre` lists who is owed and writes the notice (every apply writes it too); send it, then record it with `csamctl coordination-centre --record-sent`"
        }
    }
}

fn checklist(unit: &UnitAccess, out: &mut String) {
    use std::fmt::Write as _;
    for c in &unit.conditions {
        let mark = if c.passed { "pass" } else { "FAIL" };
        let _ = writeln!(out, "    [{mark}] {:?}: {}", c.condition, c.detail);
        if !c.passed {
            let _ = writeln!(out, "           fix: {}", fix(c.condition));
        }
    }
}

/// Runs `explain-access`; `Ok` when the person has access everywhere evaluated.
pub async fn run_explain(args: &ExplainArgs) -> CommandResult {
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
    let mut out = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "Heracles access of {} (registry time {}):",
        opts.insz(&insz),
        utc_time(report.evaluated_at_ms)
    );
    if report.units.is_empty() {
        let _ = writeln!(
            out,
            "  no user record found{}: create the user on the site (S4)",
            site.as_ref()
                .map(|s| format!(" on site {s}"))
                .unwrap_or_default()
        );
    }
    for unit in &report.units {
        let _ = writeln!(
            out,
            "  {} site {}: {}",
            unit.kbo,
            unit.site
                .as_ref()
                .map_or_else(|| "(none)".to_string(), ToString::to_string),
            if unit.has_access {
                "has access".to_string()
            } else {
                "NO access".to_string()
            }
        );
        checklist(unit, &mut out);
    }
    print!("{out}");
    Ok(!report.units.is_empty() && report.units.iter().all(|u| u.has_access))
}

/// Runs `verify`; `Ok` when every active declared user has access on each of their sites.
pub async fn run_verify(args: &VerifyArgs) -> CommandResult {
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
            let waited_out = start.elapsed() >= args.timeout;
            if args.wait && !only_waiting {
                eprint!("{}", cannot_wait(&failing, wanted.len()));
            }
            if failing.is_empty() || !args.wait || !only_waiting || waited_out {
                print_verify(&wanted, &failing, &opts, args.wait && waited_out);
                return Ok(failing.is_empty());
            }
            // Say what is being waited for, once and whenever it changes.
            if reported != Some(failing.len()) {
                reported = Some(failing.len());
                let until = failing
                    .iter()
                    .filter_map(|(_, _, u)| u.as_ref().and_then(|u| u.effective_from_ms))
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

/// Why `verify --wait` does not wait: what fails besides the propagation delay (R6),
/// which time alone does not fix, per condition with the number of records and the fix.
fn cannot_wait(failing: &[Failing], wanted: usize) -> String {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;
    let mut by_condition: BTreeMap<AccessCondition, usize> = BTreeMap::new();
    for (_, _, unit) in failing {
        match unit {
            Some(u) => {
                for c in u.conditions.iter().filter(|c| !c.passed) {
                    if c.condition != AccessCondition::Propagated {
                        *by_condition.entry(c.condition).or_default() += 1;
                    }
                }
            }
            None => *by_condition.entry(AccessCondition::UserOnSite).or_default() += 1,
        }
    }
    let mut out = format!(
        "Not waiting: --wait only waits out the 20-minute propagation (R6), and {} of {wanted} declared user record(s) fail on something time does not fix:\n",
        failing
            .iter()
            .filter(|(_, _, u)| u.as_ref().is_none_or(|u| u
                .conditions
                .iter()
                .any(|c| !c.passed && c.condition != AccessCondition::Propagated)))
            .count()
    );
    for (condition, n) in by_condition {
        let _ = writeln!(out, "  {condition:?} ({n} record(s)): {}", fix(condition));
    }
    out
}

fn print_verify(
    wanted: &[(Insz, Hco)],
    failing: &[Failing],
    opts: &RenderOptions,
    timed_out: bool,
) {
    let mut out = String::new();
    use std::fmt::Write as _;
    for (insz, site, unit) in failing {
        let _ = writeln!(out, "{} on site {site}: NO access", opts.insz(insz));
        match unit {
            Some(u) => {
                for c in u.conditions.iter().filter(|c| !c.passed) {
                    let _ = writeln!(
                        out,
                        "    {:?}: {} — fix: {}",
                        c.condition,
                        c.detail,
                        fix(c.condition)
                    );
                }
                if let Some(from) = u.effective_from_ms {
                    let _ = writeln!(out, "    effective from {}", utc_time(from));
                }
            }
            None => {
                let _ = writeln!(
                    out,
                    "    no user record on this site — fix: {}",
                    fix(AccessCondition::UserOnSite)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{} of {} declared user record(s) on sites have Heracles access{}.",
        wanted.len() - failing.len(),
        wanted.len(),
        if timed_out {
            " (gave up waiting: --timeout)"
        } else {
            ""
        }
    );
    print!("{out}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_condition_has_a_fix() {
        for c in AccessCondition::ALL {
            assert!(!fix(c).is_empty(), "{c:?}");
        }
    }
}
