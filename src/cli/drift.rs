//! `csamctl drift`: compare a users export of the CSAM web application ("De gebruikers
//! exporteren (.csv)", Dutch or French) with the local registry and, with `--desired`,
//! with the desired state; with `--record`, take what the export shows into the local
//! registry where the person confirms.
//!
//! While changes to the real CSAM are clicked by hand, the local registry is the record
//! of what CSAM holds; an export is the only way to check that record. The comparison
//! itself is `diff::drift`; this file reads the inputs, prints, and records.
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

use std::fmt::Write as _;
use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;

use super::args::{OperatorArgs, OutputArgs};
use super::import_csv::read_limited;
use super::settings::{self, RegistryArgs, RegistrySettings};
use super::{CommandResult, Outcome};
use crate::diff::drift::{self, Account, Drift, DriftKind, Expected};
use crate::import::listing::{self, Listing};
use crate::model::{
    AccountType, CapacityType, DesiredState, Hco, Kbo, LiveState, UserLevel, WriteTarget,
};
use crate::registry::{
    IdempotencyKey, Reference, ReferenceAccount, Registry, RegistryError, Write,
};
use crate::render::RenderOptions;

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
    #[error("{0}")]
    Input(String),
}

/// The two comparisons.
struct Report {
    level: UserLevel,
    /// False when the registry has no such level yet (every listed account is extra).
    level_recorded: bool,
    listing: Listing,
    registry: Vec<Drift>,
    desired: Option<Vec<Drift>>,
}

impl Report {
    fn has_drift(&self) -> bool {
        !self.registry.is_empty() || self.desired.as_ref().is_some_and(|d| !d.is_empty())
    }
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
    let live = read_live(&*registry, &args.enterprise).await?;
    let report = compare(level, listing, &live, desired.as_ref(), &args.enterprise)?;
    print!("{}", render(&report, args, &opts));
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

/// One reading session: the enterprise's tree as processed now.
async fn read_live(registry: &dyn Registry, kbo: &Kbo) -> Result<LiveState, DriftError> {
    let session = registry.open_session().await?.id;
    let live = registry.snapshot(&session, kbo).await;
    // Log out even after a failure; the reading session wrote nothing.
    let closed = registry.close_session(&session).await;
    let live = live?;
    closed?;
    Ok(live)
}

fn compare(
    level: UserLevel,
    listing: Listing,
    live: &LiveState,
    desired: Option<&DesiredState>,
    kbo: &Kbo,
) -> Result<Report, DriftError> {
    let listed: Vec<Account> = listing
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
        .collect();
    // A level the registry does not have yet (a unit being adopted): nothing expected.
    let in_registry = drift::expected_live(&live.enterprise, &level);
    let level_recorded = in_registry.is_some();
    let in_registry = in_registry.unwrap_or_default();
    let desired = match desired {
        None => None,
        Some(state) => {
            let expected: Expected = state
                .enterprises
                .iter()
                .find(|e| e.kbo == *kbo)
                .and_then(|e| drift::expected_desired(e, &level))
                .ok_or_else(|| {
                    DriftError::Input(format!(
                        "the desired state declares no {} in enterprise {kbo}",
                        level_words(&level)
                    ))
                })?;
            Some(drift::compare(&listed, &expected))
        }
    };
    Ok(Report {
        level_recorded,
        registry: drift::compare(&listed, &in_registry),
        desired,
        level,
        listing,
    })
}

fn level_words(level: &UserLevel) -> String {
    match level {
        UserLevel::Capacity { .. } => "mammography-unit capacity".to_string(),
        UserLevel::Subdivision { hco } => format!("subdivision {hco}"),
        UserLevel::Site { hco } => format!("site {hco}"),
    }
}

/// The person a difference is about: names, username, INSZ as the options show it.
fn person(a: &Account, opts: &RenderOptions) -> String {
    let mut s = String::new();
    let name = format!("{} {}", a.first_name, a.last_name);
    if !name.trim().is_empty() {
        let _ = write!(s, "{} ", name.trim());
    }
    if let Some(u) = &a.username {
        let _ = write!(s, "({u}) ");
    }
    let _ = write!(s, "{}", opts.insz(&a.insz));
    s
}

/// The difference in words: (what, what it means or what to do).
fn words(d: &Drift, against: &str) -> (String, String) {
    let kind = d.account.kind;
    match &d.kind {
        DriftKind::Missing => (
            format!("{kind} account missing in CSAM"),
            format!("{against} has it and CSAM does not: it was deleted in CSAM, or a step recorded as done was not"),
        ),
        DriftKind::Extra => (
            format!("{kind} account only in CSAM"),
            format!("CSAM has it and {against} does not: it was made by hand outside csamctl; add the person to the desired state (csamctl import-csv) or delete the account in CSAM"),
        ),
        DriftKind::Username { listed, expected } => (
            format!("username {listed} in CSAM, {expected} expected"),
            "usernames never change (S3.4): correct the desired state, or delete and create the account again".into(),
        ),
        DriftKind::Status { listed, expected } => (
            format!(
                "{} in CSAM, {} expected",
                active_word(*listed),
                active_word(*expected)
            ),
            "someone changed the status in CSAM, or a step recorded as done was not".into(),
        ),
        DriftKind::Level { listed, expected } => (
            format!("type {listed} in CSAM, {expected} expected"),
            "the person has another kind of account there: an administrator is declared as `administrator`, a user under `people`".into(),
        ),
    }
}

fn active_word(active: bool) -> &'static str {
    if active { "active" } else { "inactive" }
}

fn render(report: &Report, args: &DriftArgs, opts: &RenderOptions) -> String {
    match args.format {
        DriftFormat::Text => render_text(report, args, opts),
        DriftFormat::Markdown => render_markdown(report, args, opts),
        DriftFormat::Json => render_json(report, args, opts),
    }
}

fn sections(report: &Report) -> Vec<(&'static str, &'static str, &[Drift])> {
    let mut out = vec![(
        "the local registry",
        "the registry",
        report.registry.as_slice(),
    )];
    if let Some(d) = &report.desired {
        out.push(("the desired state", "the desired state", d.as_slice()));
    }
    out
}

fn render_text(report: &Report, args: &DriftArgs, opts: &RenderOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "CSAM export {} ({} rows, {} headers): {} of enterprise {}",
        args.file.display(),
        report.listing.rows,
        report.listing.language,
        level_words(&report.level),
        args.enterprise
    );
    if !report.level_recorded {
        let _ = writeln!(
            out,
            "\nThe local registry has no {} yet: every account of the export is only in CSAM.",
            level_words(&report.level)
        );
    }
    for (title, against, drift) in sections(report) {
        if drift.is_empty() {
            let _ = writeln!(out, "\nCSAM and {title}: no drift.");
            continue;
        }
        let _ = writeln!(out, "\nCSAM and {title}: {} difference(s)", drift.len());
        for d in drift {
            let (what, why) = words(d, against);
            let _ = writeln!(out, "  {}: {what}", person(&d.account, opts));
            let _ = writeln!(out, "      {why}");
        }
    }
    let skipped = report.listing.skipped.len() - report.listing.administrators.len();
    if skipped > 0 {
        let _ = writeln!(
            out,
            "\n{skipped} row(s) of the export could not be read and were not compared (csamctl import-csv {} --site … shows why).",
            args.file.display()
        );
    }
    out
}

fn render_markdown(report: &Report, args: &DriftArgs, opts: &RenderOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Drift: {} of enterprise {}\n\nCSAM export `{}`: {} rows, {} headers.",
        level_words(&report.level),
        args.enterprise,
        args.file.display(),
        report.listing.rows,
        report.listing.language
    );
    for (title, against, drift) in sections(report) {
        let _ = writeln!(out, "\n### CSAM and {title}\n");
        if drift.is_empty() {
            let _ = writeln!(out, "No drift.");
            continue;
        }
        let _ = writeln!(
            out,
            "| person | difference | what it means |\n|---|---|---|"
        );
        for d in drift {
            let (what, why) = words(d, against);
            let cell = |s: &str| s.replace('|', "\\|");
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                cell(&person(&d.account, opts)),
                cell(&what),
                cell(&why)
            );
        }
    }
    out
}

fn render_json(report: &Report, args: &DriftArgs, opts: &RenderOptions) -> String {
    let entries = |drift: &[Drift], against: &str| -> Vec<serde_json::Value> {
        drift
            .iter()
            .map(|d| {
                let mut v = serde_json::to_value(&d.kind).unwrap_or_default();
                let (what, why) = words(d, against);
                v["insz"] = opts.insz(&d.account.insz).into();
                v["username"] = d.account.username.as_ref().map(|u| u.to_string()).into();
                v["last_name"] = d.account.last_name.clone().into();
                v["first_name"] = d.account.first_name.clone().into();
                v["type"] = d.account.kind.code().into();
                v["message"] = what.into();
                v["help"] = why.into();
                v
            })
            .collect()
    };
    let json = serde_json::json!({
        "version": 1,
        "file": args.file.display().to_string(),
        "enterprise": args.enterprise.to_string(),
        "level": serde_json::to_value(&report.level).unwrap_or_default(),
        "rows": report.listing.rows,
        "drift": report.has_drift(),
        "registry": entries(&report.registry, "the registry"),
        "desired": report.desired.as_ref().map(|d| entries(d, "the desired state")),
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&json).unwrap_or_default()
    )
}

/// How a difference is recorded: a registry write, or an account CSAM holds.
enum Recording {
    Write(Box<Write>),
    Account(ReferenceAccount),
}

/// How the registry records what CSAM shows, or why it cannot.
fn recording(level: &UserLevel, kbo: Kbo, d: &Drift) -> Result<Recording, &'static str> {
    match &d.kind {
        DriftKind::Extra => match &d.account.username {
            Some(username) => Ok(Recording::Account(ReferenceAccount {
                enterprise: kbo,
                insz: d.account.insz,
                username: username.clone(),
            })),
            None => Err("the export names no username"),
        },
        DriftKind::Username { .. } => Err("usernames never change"),
        DriftKind::Level { .. } => Err("the type of an account cannot change"),
        _ if d.account.kind != AccountType::User => {
            Err("administrator accounts are recorded with their level")
        }
        DriftKind::Missing => Ok(Recording::Write(Box::new(Write::DeleteUser {
            level: level.clone(),
            insz: d.account.insz,
        }))),
        DriftKind::Status { listed, .. } => Ok(Recording::Write(Box::new(Write::SetActive {
            target: WriteTarget::User {
                level: level.clone(),
                insz: d.account.insz,
            },
            active: *listed,
        }))),
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
    report: &Report,
    yes: bool,
    opts: &RenderOptions,
) -> Result<(), DriftError> {
    let mut writes = Vec::new();
    let mut accounts = Vec::new();
    for d in &report.registry {
        let (what, _) = words(d, "the registry");
        match recording(&report.level, target.enterprise, d) {
            Err(why) => eprintln!("not recorded: {}: {what} ({why})", person(&d.account, opts)),
            Ok(how) => {
                if yes || confirm(&format!("record {}: {what}?", person(&d.account, opts))) {
                    match how {
                        Recording::Write(write) => writes.push((d, *write)),
                        Recording::Account(account) => accounts.push((d, account)),
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
        record_writes(target.registry, &writes, opts).await?;
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

/// Records what writes can say, in one session.
async fn record_writes(
    registry: &dyn Registry,
    chosen: &[(&Drift, Write)],
    opts: &RenderOptions,
) -> Result<(), DriftError> {
    let session = registry.open_session().await?.id;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut failed = None;
    for (n, (d, write)) in chosen.iter().enumerate() {
        let key = IdempotencyKey::new(format!(
            "drift-{}-{stamp}-{n}-{}",
            std::process::id(),
            write.kind()
        ))?;
        match registry.write(&session, &key, write, None).await {
            Ok(_) => eprintln!(
                "recorded: {}: {}",
                person(&d.account, opts),
                words(d, "the registry").0
            ),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    // Log out so that what was recorded is processed.
    let closed = registry.close_session(&session).await;
    if let Some(e) = failed {
        return Err(e.into());
    }
    closed?;
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
