//! `csamctl runbook`: the plan as a numbered manual procedure for the CSAM web
//! application, in Dutch, French or English, as Markdown or HTML (see
//! [`crate::render::runbook`]).
//!
//! The plan is made exactly as `csamctl plan` makes it (the same loading, registry
//! reading, planning and safety checks, from `plan.rs`), so the runbook and the plan
//! never disagree. A plan with errors gives no runbook: it could not be applied either.

use std::io::Write as _;
use std::path::PathBuf;

use clap::ValueEnum;

use super::args::{OutputArgs, SafetyArgs};
use super::plan::{PlanError, load_desired, procedure_plan};
use super::settings::{self, RegistryArgs, RegistrySettings};
use super::{CommandResult, Outcome};
use crate::render::runbook::{self, Lang, RunbookFormat, RunbookOptions};

/// The runbook's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RunbookLang {
    /// Dutch, in the manual's own words.
    Nl,
    /// French, translated from the manual.
    Fr,
    /// English, quoting the Dutch screen labels.
    En,
}

/// The runbook's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RunbookFormatArg {
    /// Markdown with task checkboxes.
    Markdown,
    /// A standalone HTML page with checkboxes.
    Html,
}

/// `csamctl runbook`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunbookArgs {
    /// Desired-state files and directories (default csam.yaml or ./csam/).
    pub paths: Vec<PathBuf>,
    /// The language of the procedure.
    #[arg(long, value_enum)]
    pub lang: RunbookLang,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RunbookFormatArg::Markdown)]
    pub format: RunbookFormatArg,
    /// How personal data is shown.
    #[command(flatten)]
    pub output: OutputArgs,
    /// The safety rules and their overrides (as for `plan`).
    #[command(flatten)]
    pub safety: SafetyArgs,
    /// Where the registry is and who acts.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Runs `runbook`; `Ok` when a runbook was printed.
pub(super) async fn run(args: &RunbookArgs) -> CommandResult {
    Ok(Outcome::ok_if(run_inner(args).await?))
}

async fn run_inner(args: &RunbookArgs) -> Result<bool, PlanError> {
    let settings = RegistrySettings::resolve(&args.registry)?;
    let Some(desired) = load_desired(&args.paths, args.output.show_personal_data) else {
        return Ok(false);
    };
    let connected = settings::connect(&settings).await?;
    let plan = procedure_plan(
        &connected,
        &desired,
        &args.safety.options(),
        args.output.show_personal_data,
    )
    .await?;
    if plan.has_errors() {
        eprintln!("error: the plan has errors; no runbook (see `csamctl plan`)");
        return Ok(false);
    }
    let opts = RunbookOptions {
        lang: args.lang.into(),
        format: match args.format {
            RunbookFormatArg::Markdown => RunbookFormat::Markdown,
            RunbookFormatArg::Html => RunbookFormat::Html,
        },
        show_personal_data: args.output.show_personal_data,
    };
    let text = runbook::render(&plan, &opts);
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    Ok(true)
}

impl From<RunbookLang> for Lang {
    fn from(lang: RunbookLang) -> Lang {
        match lang {
            RunbookLang::Nl => Lang::Nl,
            RunbookLang::Fr => Lang::Fr,
            RunbookLang::En => Lang::En,
        }
    }
}
