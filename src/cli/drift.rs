//! `csamctl drift`: compare a users export of the CSAM web application ("De gebruikers
//! exporteren (.csv)", Dutch or French) with the local registry and, with `--desired`,
//! with the desired state; with `--record`, take what the export shows into the local
//! registry where the person confirms.
//!
//! This file reads the inputs, asks, and prints: the comparison is `diff::drift`
//! (`report`, and `Drift::recording` for how a difference is recorded), reading and
//! writing go through `reconcile`, and the report's words are `render::drift`.
//!
//! While changes to the real CSAM are clicked by hand, the local registry is the record
//! of what CSAM holds; an export is the only way to check that record.
//!
//! Recording goes through the registry's own writes and rules, so only what a write can
//! say is recorded: a user record CSAM does not have is deleted from the record, and a
//! user's status is set to what CSAM shows. An account CSAM has and the record does not
//! is recorded as an account that exists (reference data, through the registry's
//! operator: an embedded file needs nothing more, a served registry the operator's
//! token file): a user record for that person then needs no initial password, which is
//! how people adopted with `import-csv` get their user records recorded by `by-hand`.
//! The export says nothing of functions or applications, so the user record itself is
//! not made up from it. Another username or another type cannot be recorded (usernames
//! never change): they are reported with what to do.
//!
//! Exit codes: 0 no drift, 2 drift (also after recording: the report is of what was
//! found), 1 error.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;

use super::args::{OperatorArgs, OutputArgs};
use super::import_csv::read_limited;
use super::settings::{self, RegistryArgs, RegistrySettings};
use super::{CommandResult, Outcome};
use crate::diff::drift::{self, Account, Drift, DriftReport, LevelNotDeclared, Recording};
use crate::import::listing::{self, Listing};
use crate::model::{CapacityType, Hco, Kbo, UserLevel};
use crate::reconcile;
use crate::registry::{Reference, ReferenceAccount, Registry, RegistryError, Write};
use crate::render::RenderOptions;
use crate::render::drift::{self as rendered, ExportFile, person, words};

/// The largest export read: a level's user list is a few kilobytes.
const MAX_CSV_BYTES: u64 = 16 * 1024 * 1024;

/// How the drift report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DriftFormat {
    /// Plain text.
    Text,
    /// Versioned JSON.
    Json,
    /// Markdown tables, for an issue or a pull request.
    Markdown,
}

/// `csamctl drift`.
#[derive(Debug, clap::Args)]
pub(crate) struct DriftArgs {
    /// The users export (.csv) of one level, from "De gebruikers exporteren (.csv)".
    pub file: PathBuf,
    /// The enterprise number the export belongs to.
    #[arg(long, value_name = "KBO", value_parser = Kbo::parse)]
    pub enterprise: Kbo,
    /// The export is of this site's user list.
    #[arg(long, value_name = "HCO", value_parser = Hco::parse, conflicts_with = "subdivision")]
    pub site: Option<Hco>,
    /// The export is of this subdivision's user list (neither flag: the capacity's).
    #[arg(long, value_name = "HCO", value_parser = Hco::parse)]
    pub subdivision: Option<Hco>,
    /// Also compare with this desired state (files or directories).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub desired: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DriftFormat::Text)]
    pub format: DriftFormat,
    /// Take what the export shows into the local registry, asking for each difference.
    #[arg(long)]
    pub record: bool,
    /// With --record: record every recordable difference without asking.
    #[arg(long, requires = "record")]
    pub yes: bool,
    /// The operator token of a served registry.
    #[command(flatten)]
    pub operator: OperatorArgs,
    /// How personal data is shown.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Where the registry is and who acts.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
enum DriftError {
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    NotDeclared(#[from] LevelNotDeclared),
    #[error("{0}")]
    Input(String),
}

/// Runs `drift`: `Drift` when the export differs.
pub(super) async fn run(args: &DriftArgs) -> CommandResult {
    Ok(run_inner(args).await?)
}

async fn run_inner(args: &DriftArgs) -> Result<Outcome, DriftError> {
    let bytes = read_limited(&args.file, MAX_CSV_BYTES)
        .map_err(|why| DriftError::Input(format!("cannot read {}: {why}", args.file.display())))?;
    let listing = listing::read(&bytes).map_err(|e| {
        DriftError::Input(format!(
            "{}: {e}; export the list with \"De gebruikers exporteren (.csv)\" in the CSAM web application",
            args.file.display()
        ))
    })?;
    if args.record && !args.yes && !std::io::stdin().is_terminal() {
        return Err(DriftError::Input(
            "--record asks before recording each difference, and there is no terminal; pass --yes to record every recordable difference".into(),
        ));
    }
    let level = match (&args.site, &args.subdivision) {
        (Some(hco), _) => UserLevel::Site { hco: hco.clone() },
        (None, Some(hco)) => UserLevel::Subdivision { hco: hco.clone() },
        (None, None) => UserLevel::Capacity {
            kbo: args.enterprise,
            kind: CapacityType::MammographyUnit,
        },
    };
    let desired = if args.desired.is_empty() {
        None
    } else {
        Some(
            super::plan::load_desired(&args.desired, args.output.show_personal_data)
                .ok_or_else(|| DriftError::Input("the desired state has errors".into()))?,
        )
    };
    let settings = RegistrySettings::resolve(&args.registry)?;
    let opts = RenderOptions {
        colour: false,
        show_personal_data: args.output.show_personal_data,
    };
    let settings::Connected { registry, me } = settings::connect(&settings).await?;
    if let Some(desired) = &desired {
        settings::check_roles(&me, desired)?;
    }
    let live = reconcile::read_enterprise(&*registry, &args.enterprise).await?;
    let report = drift::report(level, &listed(&listing), &live.enterprise, desired.as_ref())?;
    let export = export_file(args, &listing);
    print!(
        "{}",
        match args.format {
            DriftFormat::Text => rendered::text(&report, &export, &opts),
            DriftFormat::Markdown => rendered::markdown(&report, &export, &opts),
            DriftFormat::Json => rendered::json(&report, &export, &opts),
        }
    );
    if args.record {
        let target = Target {
            registry: &*registry,
            settings: &settings,
            operator_token_file: args.operator.token_file(),
            enterprise: args.enterprise,
        };
        record(&target, &report, args.yes, &opts).await?;
    }
    Ok(if report.has_drift() {
        Outcome::Drift
    } else {
        Outcome::Ok
    })
}

/// The accounts the export lists: its users and its administrator rows.
fn listed(listing: &Listing) -> Vec<Account> {
    listing
        .users
        .iter()
        .chain(&listing.administrators)
        .map(|u| Account {
            insz: u.insz,
            username: Some(u.username.clone()),
            last_name: u.last_name.clone(),
            first_name: u.first_name.clone(),
            kind: u.kind,
            active: u.active,
        })
        .collect()
}

/// What the report says of the export itself.
fn export_file(args: &DriftArgs, listing: &Listing) -> ExportFile {
    ExportFile {
        file: args.file.display().to_string(),
        enterprise: args.enterprise,
        rows: listing.rows,
        language: listing.language.to_string(),
        // Administrator rows are among the skipped ones (they are not `people`), but
        // they were compared.
        unread: listing.skipped.len() - listing.administrators.len(),
    }
}

/// Where differences are recorded.
struct Target<'a> {
    registry: &'a dyn Registry,
    settings: &'a RegistrySettings,
    operator_token_file: Option<&'a std::path::Path>,
    enterprise: Kbo,
}

/// Records the registry differences that can be recorded, each after the person
/// confirms (or all, with `--yes`): accounts CSAM holds through the operator, the rest
/// as writes in one session; prints what was recorded.
async fn record(
    target: &Target<'_>,
    report: &DriftReport,
    yes: bool,
    opts: &RenderOptions,
) -> Result<(), DriftError> {
    let mut writes: Vec<(&Drift, Write)> = Vec::new();
    let mut accounts = Vec::new();
    for d in &report.registry {
        let (what, _) = words(d, "the registry");
        let who = person(&d.account, opts);
        match d.recording(&report.level) {
            Err(why) => eprintln!("not recorded: {who}: {what} ({why})"),
            Ok(how) => {
                if yes || confirm(&format!("record {who}: {what}?")) {
                    match how {
                        Recording::Write(write) => writes.push((d, *write)),
                        Recording::Account { insz, username } => accounts.push((
                            d,
                            ReferenceAccount {
                                enterprise: target.enterprise,
                                insz,
                                username,
                            },
                        )),
                    }
                }
            }
        }
    }
    if writes.is_empty() && accounts.is_empty() {
        eprintln!("Nothing recorded.");
        return Ok(());
    }
    if !accounts.is_empty() {
        record_accounts(target, &accounts, opts).await?;
    }
    if !writes.is_empty() {
        let only: Vec<Write> = writes.iter().map(|(_, w)| w.clone()).collect();
        reconcile::write_in_one_session(target.registry, "drift", &only, |n| {
            let d = writes[n].0;
            eprintln!(
                "recorded: {}: {}",
                person(&d.account, opts),
                words(d, "the registry").0
            );
        })
        .await?;
    }
    Ok(())
}

/// Records accounts that exist in CSAM, as reference data through the operator.
async fn record_accounts(
    target: &Target<'_>,
    accounts: &[(&Drift, ReferenceAccount)],
    opts: &RenderOptions,
) -> Result<(), DriftError> {
    let operator = settings::connect_operator(target.settings, target.operator_token_file).await?;
    let reference = Reference {
        enterprises: Vec::new(),
        accounts: accounts.iter().map(|(_, a)| a.clone()).collect(),
    };
    crate::execute::retried(&Default::default(), |_| operator.load_reference(&reference)).await?;
    for (d, _) in accounts {
        eprintln!(
            "recorded: {}: the account exists in CSAM (its user record needs no password; it is recorded when a by-hand step creates it)",
            person(&d.account, opts)
        );
    }
    Ok(())
}

fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes" | "ja" | "oui")
}
