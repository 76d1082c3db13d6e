//! `csamctl sessions` and `csamctl lease release`: what a person does when a run left
//! something behind, instead of waiting for a timeout.
//!
//! - `sessions` lists the acting person's open sessions (when opened, when last used,
//!   when they expire, in local time) and logs them out with `--close ID` or
//!   `--close-all`. Logging a session out gets its writes processed (R1). A running
//!   apply of the same person whose session is closed logs in again and goes on.
//! - `lease release --enterprise KBO` shows who holds the enterprise's apply lease
//!   and releases it: the person's own at once, another person's only with `--force`,
//!   which the registry records in its audit log as a take-over by the acting person.

use std::time::Duration;

use super::settings::{self, RegistryArgs, RegistrySettings};
use super::{CommandResult, Outcome};
use crate::execute::{self, ExecuteOptions};
use crate::model::Kbo;
use crate::registry::clock::local_time;
use crate::registry::{LeaseRequest, Registry, RegistryError, SessionId, TakeOver};

/// `csamctl sessions`.
#[derive(Debug, clap::Args)]
pub(crate) struct SessionsArgs {
    /// Log out this session (repeatable).
    #[arg(long, value_name = "ID", conflicts_with = "close_all")]
    pub close: Vec<String>,
    /// Log out every open session of the acting person (a running apply of theirs
    /// logs in again).
    #[arg(long)]
    pub close_all: bool,
    /// Where the registry is and who acts.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `csamctl lease`.
#[derive(Debug, clap::Args)]
pub(crate) struct LeaseArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: LeaseCommand,
}

/// `csamctl lease` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum LeaseCommand {
    /// Show who holds an enterprise's apply lease and release it (the acting
    /// person's own; another's only with --force).
    Release {
        /// The enterprise number.
        #[arg(long, value_name = "KBO")]
        enterprise: String,
        /// Break another person's lease (the registry's audit log records who did).
        #[arg(long)]
        force: bool,
        /// Where the registry is and who acts.
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
enum SessionsError {
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
    #[error("--enterprise {given:?}: {reason}")]
    Enterprise { given: String, reason: String },
    #[error("{0} is not an open session of the acting person (see `csamctl sessions`)")]
    UnknownSession(String),
    #[error(
        "the lease of enterprise {0} is another person's; --force breaks it (the registry records that you did)"
    )]
    Others(Kbo),
}

async fn connect(args: &RegistryArgs) -> Result<std::sync::Arc<dyn Registry>, SessionsError> {
    let settings = RegistrySettings::resolve(args)?;
    Ok(settings::connect(&settings).await?.registry)
}

/// Runs `sessions`.
pub(super) async fn run_sessions(args: &SessionsArgs) -> CommandResult {
    let registry = connect(&args.registry).await?;
    sessions(&*registry, args).await?;
    Ok(Outcome::Ok)
}

async fn sessions(registry: &dyn Registry, args: &SessionsArgs) -> Result<(), SessionsError> {
    let options = ExecuteOptions::default();
    let open = execute::retried(&options, |_| registry.list_sessions()).await?;
    let close: Vec<SessionId> = if args.close_all {
        open.iter().map(|s| s.id.clone()).collect()
    } else {
        let mut ids = Vec::new();
        for given in &args.close {
            let Some(s) = open.iter().find(|s| s.id.0 == *given) else {
                return Err(SessionsError::UnknownSession(given.clone()));
            };
            ids.push(s.id.clone());
        }
        ids
    };
    if close.is_empty() {
        if open.is_empty() {
            println!("The acting person has no open sessions.");
        }
        for s in &open {
            println!(
                "{}  opened {}, last used {}, expires {} if left idle",
                s.id.0,
                local_time(s.opened_at_ms),
                local_time(s.last_activity_ms),
                local_time(s.expires_at_ms)
            );
        }
        return Ok(());
    }
    for id in &close {
        match execute::retried(&options, |_| registry.close_session(id)).await {
            Ok(receipt) if receipt.processed => {
                println!("Logged out {}; its writes are processed.", id.0)
            }
            Ok(receipt) => println!(
                "Logged out {}; its writes are processed at {}.",
                id.0,
                local_time(receipt.processed_at_ms)
            ),
            // Closed or expired meanwhile: logged out either way.
            Err(RegistryError::SessionClosed { .. }) => {
                println!("{} was already logged out.", id.0)
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Runs `lease`.
pub(super) async fn run_lease(args: &LeaseArgs) -> CommandResult {
    let LeaseCommand::Release {
        enterprise,
        force,
        registry,
    } = &args.command;
    let kbo = Kbo::parse(enterprise).map_err(|e| SessionsError::Enterprise {
        given: enterprise.clone(),
        reason: e.to_string(),
    })?;
    let registry = connect(registry).await?;
    release(&*registry, kbo, *force).await?;
    Ok(Outcome::Ok)
}

async fn release(registry: &dyn Registry, kbo: Kbo, force: bool) -> Result<(), SessionsError> {
    let options = ExecuteOptions::default();
    let request = |take_over| LeaseRequest {
        ttl_ms: Duration::from_secs(60).as_millis() as u64,
        holder: format!("csamctl lease release (pid {})", std::process::id()),
        renew: None,
        take_over,
    };
    let take = async |take_over| {
        execute::lease_request(registry, &kbo, &request(take_over), &options).await
    };
    let held = match take(TakeOver::None).await {
        Ok(lease) => {
            execute::retried(&options, |_| registry.release_lease(&lease.id)).await?;
            println!("No apply holds the lease of enterprise {kbo}; nothing to release.");
            return Ok(());
        }
        Err(RegistryError::LeaseHeld {
            holder,
            expires_at_ms,
            ..
        }) => (holder, expires_at_ms),
        Err(e) => return Err(e.into()),
    };
    println!(
        "The lease of enterprise {kbo} is held by {} until {} unless renewed.",
        held.0,
        local_time(held.1)
    );
    let lease = match take(TakeOver::Own).await {
        Ok(lease) => lease,
        Err(RegistryError::LeaseHeld { .. }) if force => take(TakeOver::Any).await?,
        Err(RegistryError::LeaseHeld { .. }) => return Err(SessionsError::Others(kbo)),
        Err(e) => return Err(e.into()),
    };
    execute::retried(&options, |_| registry.release_lease(&lease.id)).await?;
    println!("Released the lease of enterprise {kbo}; the next apply takes it at once.");
    Ok(())
}
