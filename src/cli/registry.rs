//! `csamctl registry ...`: the operator commands of the registry (`init`,
//! `token`, `tickets`, `clock`) on a registry file, and `serve`, which serves one over
//! HTTP.
//!
//! The operator commands open the file directly, on the clock the file last ran on, so
//! they work beside a running server (both see each other's journal entries).
//!
//! May use everything; prints to stdout what scripts read (the token, the bound
//! address), everything else to stderr.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use super::{CommandResult, Outcome};
use crate::model::Insz;
use crate::registry::embedded::{RegistryFileError, existing_registry_file};
use crate::registry::server::{self, ServeOptions};
use crate::registry::{
    ClockKind, OpenOptions, Reference, RegistryOperator, SqliteRegistry, Ticket, TicketState,
};
use crate::render::utc_time;

/// `csamctl registry`.
#[derive(Debug, clap::Args)]
pub(crate) struct RegistryCommandArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: RegistryCommand,
}

/// The registry's operator commands.
#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCommand {
    /// Create the registry file, or load more reference data into it.
    Init {
        /// The registry file.
        #[arg(long, value_name = "PATH")]
        db: PathBuf,
        /// Reference data (YAML; the format is in docs/registry-api.md, "Reference data").
        #[arg(long, value_name = "FILE")]
        reference: PathBuf,
        /// Record that the file runs on a virtual clock (tests, demos).
        #[arg(long)]
        virtual_clock: bool,
    },
    /// Print a new bearer token for a person (only its hash is stored).
    Token {
        /// The registry file.
        #[arg(long, value_name = "PATH")]
        db: PathBuf,
        /// The person's national register number.
        #[arg(long, value_name = "INSZ")]
        insz: String,
    },
    /// List HTB designation tickets, or mark them validated (what the signed, mailed
    /// document does).
    Tickets {
        /// The registry file.
        #[arg(long, value_name = "PATH")]
        db: PathBuf,
        /// Validate this ticket.
        #[arg(long, value_name = "TICKET", conflicts_with = "validate_all")]
        validate: Option<String>,
        /// Validate every pending ticket.
        #[arg(long)]
        validate_all: bool,
    },
    /// Move a virtual clock forward.
    Clock {
        /// The registry file.
        #[arg(long, value_name = "PATH")]
        db: PathBuf,
        /// How far: 20m, 48h, 90s, 1h30m, 2d, 500ms.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        advance: Duration,
    },
    /// Print the OpenAPI document of the HTTP API (equal to the committed
    /// schemas/registry-api.openapi.json and to what `serve` serves at /openapi.json).
    Openapi,
    /// Serve the registry over HTTP until SIGTERM or Ctrl-C.
    ///
    /// Prints `listening on http://ADDR` on the first line of stdout once it accepts
    /// requests. The operator surface (/v1/admin/...) takes the token in
    /// --admin-token-file, created (mode 0600) when missing.
    Serve {
        /// The registry file (made by `registry init`).
        #[arg(long, value_name = "PATH")]
        db: PathBuf,
        /// Where to listen; port 0 picks a free one.
        #[arg(long, value_name = "ADDR")]
        listen: SocketAddr,
        /// Milliseconds added to each request (testing knob).
        #[arg(long, value_name = "MS", default_value_t = 0)]
        latency: u64,
        /// Share of requests (0 to 1) answered with 503 + Retry-After or a dropped
        /// connection (testing knob).
        #[arg(long, value_name = "P", default_value_t = 0.0)]
        fault_rate: f64,
        /// Seed of the fault decisions, so that a run meets the same faults again
        /// (testing knob; default: a random seed).
        #[arg(long, value_name = "N")]
        fault_seed: Option<u64>,
        /// Milliseconds a log-out takes to process.
        #[arg(long, value_name = "MS", default_value_t = 0)]
        processing_delay: u64,
        /// Sessions one person may have open at once (log-in to log-out).
        #[arg(long, value_name = "N",
              default_value_t = crate::registry::Limits::default().sessions_per_person,
              value_parser = clap::value_parser!(u32).range(1..))]
        sessions_per_person: u32,
        /// Run on a virtual clock, moved only by the operator surface or `registry clock`.
        #[arg(long)]
        virtual_clock: bool,
        /// The operator token file [default: the database path plus .admin-token].
        #[arg(long, value_name = "FILE")]
        admin_token_file: Option<PathBuf>,
    },
}

/// Why an operator command failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
enum RegistryCommandError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not a valid INSZ: {0}")]
    Insz(String),
    #[error("registry {path}: {source}")]
    Registry {
        path: PathBuf,
        #[source]
        source: crate::registry::RegistryError,
    },
    #[error(transparent)]
    File(#[from] RegistryFileError),
    #[error(transparent)]
    Serve(#[from] server::ServeError),
}

/// Runs `csamctl registry ...`.
pub(super) async fn run(args: &RegistryCommandArgs) -> CommandResult {
    if let RegistryCommand::Openapi = args.command {
        print!("{}", crate::registry::openapi::document_json());
        return Ok(Outcome::Ok);
    }
    {
        match &args.command {
            RegistryCommand::Init {
                db,
                reference,
                virtual_clock,
            } => init(db, reference, *virtual_clock).await,
            RegistryCommand::Token { db, insz } => token(db, insz).await,
            RegistryCommand::Tickets {
                db,
                validate,
                validate_all,
            } => tickets(db, validate.as_deref(), *validate_all).await,
            RegistryCommand::Clock { db, advance } => clock(db, *advance).await,
            RegistryCommand::Openapi => Ok(()),
            RegistryCommand::Serve {
                db,
                listen,
                latency,
                fault_rate,
                fault_seed,
                processing_delay,
                sessions_per_person,
                virtual_clock,
                admin_token_file,
            } => {
                serve(ServeOptions {
                    db: db.clone(),
                    listen: *listen,
                    latency: Duration::from_millis(*latency),
                    fault_rate: *fault_rate,
                    fault_seed: *fault_seed,
                    processing_delay_ms: *processing_delay,
                    sessions_per_person: *sessions_per_person,
                    virtual_clock: *virtual_clock,
                    admin_token_file: admin_token_file.clone(),
                })
                .await
            }
        }
    }?;
    Ok(Outcome::Ok)
}

fn registry_error(
    path: &std::path::Path,
) -> impl Fn(crate::registry::RegistryError) -> RegistryCommandError {
    let path = path.to_path_buf();
    move |source| RegistryCommandError::Registry {
        path: path.clone(),
        source,
    }
}

/// Opens an existing registry file as the operator commands do: on the clock it last
/// ran on. Only `init` creates one.
async fn open(
    db: &std::path::Path,
    clock: ClockKind,
) -> Result<SqliteRegistry, RegistryCommandError> {
    existing_registry_file(db)?;
    open_or_create(db, clock).await
}

async fn open_or_create(
    db: &std::path::Path,
    clock: ClockKind,
) -> Result<SqliteRegistry, RegistryCommandError> {
    let path = db.to_path_buf();
    let options = OpenOptions {
        clock,
        ..OpenOptions::default()
    };
    tokio::task::spawn_blocking(move || SqliteRegistry::open(&path, options))
        .await
        .map_err(|e| crate::registry::RegistryError::Internal {
            reason: format!("opening task failed: {e}"),
        })
        .and_then(|r| r)
        .map_err(registry_error(db))
}

async fn init(
    db: &std::path::Path,
    reference: &std::path::Path,
    virtual_clock: bool,
) -> Result<(), RegistryCommandError> {
    let max = crate::config::InputLimits::default().max_file_bytes;
    let text = crate::config::load::read_limited_text(reference, max).map_err(|source| {
        RegistryCommandError::Read {
            path: reference.to_path_buf(),
            source,
        }
    })?;
    let reference = Reference::from_yaml(&text).map_err(registry_error(db))?;
    let clock = if virtual_clock {
        ClockKind::Virtual
    } else {
        ClockKind::Stored
    };
    let registry = open_or_create(db, clock).await?;
    registry
        .load_reference(&reference)
        .await
        .map_err(registry_error(db))?;
    let clock = match registry.clock_kind() {
        ClockKind::Virtual => "virtual clock",
        _ => "wall clock",
    };
    eprintln!(
        "registry {}: {} enterprises loaded ({clock})",
        db.display(),
        reference.enterprises.len()
    );
    Ok(())
}

async fn token(db: &std::path::Path, insz: &str) -> Result<(), RegistryCommandError> {
    // The error says why, never what was typed: the argument is personal data.
    let person = Insz::parse(insz).map_err(|e| RegistryCommandError::Insz(e.to_string()))?;
    let registry = open(db, ClockKind::Stored).await?;
    let token = registry
        .issue_token(&person)
        .await
        .map_err(registry_error(db))?;
    println!("{token}");
    eprintln!("bearer token for {person}: shown once, only its hash is stored");
    Ok(())
}

fn describe_ticket(t: &Ticket) -> String {
    let state = match t.state {
        TicketState::Pending => "pending".to_string(),
        TicketState::Validated => format!(
            "validated {}",
            t.validated_at_ms.map(utc_time).unwrap_or_default()
        ),
    };
    format!(
        "{}  {}  {state}  submitted {}  main access manager {} {} {}",
        t.id,
        t.kbo,
        utc_time(t.submitted_at_ms),
        t.main_access_manager.insz,
        t.main_access_manager.last_name,
        t.main_access_manager.first_name,
    )
}

async fn tickets(
    db: &std::path::Path,
    validate: Option<&str>,
    validate_all: bool,
) -> Result<(), RegistryCommandError> {
    let registry = open(db, ClockKind::Stored).await?;
    let to_validate: Vec<String> = if let Some(id) = validate {
        vec![id.to_string()]
    } else if validate_all {
        registry
            .all_tickets()
            .await
            .map_err(registry_error(db))?
            .into_iter()
            .filter(|t| t.state == TicketState::Pending)
            .map(|t| t.id)
            .collect()
    } else {
        let all = registry.all_tickets().await.map_err(registry_error(db))?;
        if all.is_empty() {
            eprintln!("no tickets");
        }
        for t in &all {
            println!("{}", describe_ticket(t));
        }
        return Ok(());
    };
    if to_validate.is_empty() {
        eprintln!("no pending tickets");
    }
    for id in to_validate {
        let ticket = registry
            .validate_ticket(&id)
            .await
            .map_err(registry_error(db))?;
        println!("{}", describe_ticket(&ticket));
    }
    Ok(())
}

async fn clock(db: &std::path::Path, advance: Duration) -> Result<(), RegistryCommandError> {
    let registry = open(db, ClockKind::Stored).await?;
    let by_ms = u64::try_from(advance.as_millis()).unwrap_or(u64::MAX);
    let now = registry
        .advance_clock(by_ms)
        .await
        .map_err(registry_error(db))?;
    println!("{}", utc_time(now));
    if registry.clock_kind() != ClockKind::Virtual {
        eprintln!(
            "note: {} runs on the wall clock; the advance is recorded and takes effect when it is served with --virtual-clock",
            db.display()
        );
    }
    Ok(())
}

async fn serve(options: ServeOptions) -> Result<(), RegistryCommandError> {
    let bound = server::bind(options).await?;
    {
        // The first line is what scripts and tests wait for.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{}", bound.local_addr());
        let _ = writeln!(
            out,
            "operator token in {}",
            bound.admin_token_file().display()
        );
        let _ = out.flush();
    }
    bound.run(server::shutdown_signal()).await;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "stopped");
    let _ = out.flush();
    Ok(())
}

/// Reads `20m`, `48h`, `90s`, `500ms`, `2d` and sums like `1h30m`.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration like 20m, 48h, 90s, 500ms, 2d or 1h30m");
    let mut total: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit_ms: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(invalid()),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(unit_ms)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(invalid)?;
    }
    Ok(Duration::from_millis(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_the_spec_writes_them() {
        assert_eq!(parse_duration("20m"), Ok(Duration::from_secs(1200)));
        assert_eq!(parse_duration("48h"), Ok(Duration::from_secs(48 * 3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in ["", "20", "m", "20 minutes", "-5m", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
