//! Carrying out a plan against a registry: the executor, its report, and the retry
//! machinery it uses (a backoff iterator and a pure retry policy, `retry`).
//!
//! May use `model`, the `registry` trait and tokio. It decides nothing about exit codes
//! or output: it returns an [`ApplyReport`] value and tells an [`Observer`] what
//! happens, and the command line turns both into text and an exit code.
//!
//! # Concurrency
//!
//! Every enterprise of the plan is a chain of phases, and the chains run side by side.
//! The sessions of one phase run side by side too; the next phase starts only when
//! every session of the phase is logged out *and processed* (the log-out barrier, R1).
//! One semaphore, shared by all chains, bounds the sessions *open* (log-in to log-out)
//! at once: `--parallelism N` or the registry's sessions-per-person limit, whichever is
//! smaller (every session is the same acting person's). A session gives its place back
//! with its log-out: waiting for the registry to process it costs the registry nothing
//! and holds no session, so while one enterprise waits at its barrier, another's
//! sessions use the place. `--parallelism 1` therefore has one session open at a time,
//! never two, and N puts at most N sessions' requests on the registry at once.
//!
//! A session's writes go in batch requests ([`Registry::write_batch`]) of at most
//! [`BATCH_WRITES`]: a session is a log-in, one batch (rarely more) and a log-out,
//! whatever its number of writes. Each write keeps its own idempotency key and its own
//! result, so each step is marked from its own answer.

//! # Idempotency keys and resumption
//!
//! Every write carries [`steps::idempotency_key`]: the plan's id (a digest of the
//! desired state and of every live tree's version and content) plus the step's id.
//! Within one run a retried write (dropped connection after the registry applied it)
//! repeats its key, so it is applied once. A key derived from the step alone (without
//! the plan id) would *not* be safe: step ids are positional (`kbo:round:index`), so a
//! re-plan after partial progress gives the same id to a different write (refused as
//! a reused key), and a key derived from the write's content alone would silently
//! swallow a legitimate later repetition (suspend, re-activate, suspend again).
//! Resumption after a crash therefore does not rely on keys at all: the next `apply`
//! first logs out the acting person's open sessions, so that every acknowledged write
//! is processed (R1), then re-plans from what is live. Written steps have vanished from
//! the diff; the new plan (new id, new keys) holds exactly what is left.
//!
//! # Failure isolation
//!
//! A step that fails for good (not retryable, or retries spent) ends its session (no
//! later batch is sent; the other writes of its batch were carried out or refused each
//! on its own and are reported so) and its enterprise's chain: sessions already in
//! flight in the same phase finish, no later phase starts. Other enterprises go on.
//! A batch whose request as a whole failed in a retryable way (unavailable, dropped
//! connection) is sent again whole, under the same keys: what the registry already
//! carried out answers with its first receipt. Writes refused until a fresh session
//! (stale view, session expired or closed by someone else) are sent again after a
//! log-out, the wait for processing and a new log-in: earlier writes of the session
//! are durable and the remaining steps are valid in any later session.

pub(crate) mod by_hand;
pub(crate) mod notice;
pub(crate) mod retry;
pub(crate) mod steps;

pub use retry::RetryPolicy;
pub use steps::idempotency_key;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::model::{
    BATCH_WRITES, EnterprisePlan, Insz, Kbo, Object, Password, PasswordRef, PersonName, Phase,
    Plan, Representative, Session, Step, UserLevel, Write, WriteTarget,
};
use crate::registry::{
    AccountPassword, BatchWrite, IdempotencyKey, Lease, LeaseRequest, Limits, Millis, Registry,
    RegistryError, SessionId, TakeOver, TicketState,
};
use retry::{Backoff, Verdict, with_retries};

/// How the executor behaves.
#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    /// Most sessions open (log-in to log-out) at once, over all enterprises
    /// (`--parallelism`); the registry's sessions-per-person limit may be lower. A
    /// session waiting for its processing holds no place.
    pub parallelism: usize,
    /// When to stop retrying a request.
    pub retry: RetryPolicy,
    /// First backoff delay.
    pub backoff_base: Duration,
    /// Largest backoff delay.
    pub backoff_cap: Duration,
    /// Most log-ins for one session's steps when the registry asks for a fresh session.
    pub max_relogins: u32,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        ExecuteOptions {
            parallelism: 8,
            retry: RetryPolicy::default(),
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(5),
            max_relogins: 5,
        }
    }
}

/// Ctrl-C, as the executor sees it: once set, nothing new starts.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Asks the executor to start nothing new.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Why a password could not be had. The messages never hold the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordSourceError {
    /// The reference points at nothing.
    #[error("{0} is not set")]
    Missing(String),
    /// The secret breaks the manual's rules.
    #[error("the password in {place} is not acceptable: {source}")]
    Invalid {
        /// Where it was read (never the password).
        place: String,
        /// Which rule it breaks.
        #[source]
        source: crate::model::PasswordError,
    },
}

/// Where passwords come from when an account is created.
pub trait PasswordSource: Send + Sync {
    /// The checked password a reference points at.
    fn resolve(&self, reference: &PasswordRef) -> Result<Password, PasswordSourceError>;
}

/// Passwords from environment variables and files, as the desired state references them.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvAndFiles;

impl PasswordSource for EnvAndFiles {
    fn resolve(&self, reference: &PasswordRef) -> Result<Password, PasswordSourceError> {
        let secret = match reference {
            PasswordRef::Env(name) => std::env::var(name).ok().filter(|s| !s.is_empty()),
            PasswordRef::File(path) => std::fs::read_to_string(path)
                .ok()
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string()),
        }
        .ok_or_else(|| PasswordSourceError::Missing(reference.to_string()))?;
        Password::new(secret).map_err(|source| PasswordSourceError::Invalid {
            place: reference.to_string(),
            source,
        })
    }
}

/// What happened, as it happens (for progress bars and plain progress lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An enterprise's chain started.
    EnterpriseStarted {
        /// The enterprise.
        kbo: Kbo,
        /// Its steps.
        steps: usize,
        /// Its log-out barriers (phases of sessions).
        barriers: usize,
    },
    /// A write was acknowledged.
    StepDone {
        /// The enterprise.
        kbo: Kbo,
        /// The step's id.
        step: String,
    },
    /// A step failed for good.
    StepFailed {
        /// The enterprise.
        kbo: Kbo,
        /// The step's id.
        step: String,
        /// The registry's code.
        code: String,
    },
    /// A request is retried.
    Retrying {
        /// The enterprise.
        kbo: Kbo,
        /// The registry's code.
        code: String,
    },
    /// A session was logged out.
    LoggedOut {
        /// The enterprise.
        kbo: Kbo,
    },
    /// The chain ended.
    EnterpriseEnded {
        /// The enterprise.
        kbo: Kbo,
    },
}

/// Receives [`Event`]s; must be cheap and must not block.
pub trait Observer: Send + Sync {
    /// One event.
    fn event(&self, event: Event);
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _event: Event) {}
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// The registry acknowledged the write.
    Done {
        /// The registry's journal sequence number.
        journal_seq: u64,
    },
    /// The write failed for good.
    Failed {
        /// The registry's stable code (or `password` for a password problem).
        code: String,
        /// Why (never a password).
        message: String,
    },
    /// Not attempted: an earlier step failed, a gate is pending, or apply was interrupted.
    NotAttempted,
}

/// One step in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    /// The step's id.
    pub id: String,
    /// The session's label.
    pub session: String,
    /// The write's name (`create_site`).
    pub kind: &'static str,
    /// What happened.
    pub outcome: StepOutcome,
}

/// A pending HTB designation (R7): what the people must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateReport {
    /// The ticket number, when known.
    pub ticket: Option<String>,
    /// The legal representative who must sign.
    pub legal_representative: Option<Representative>,
    /// The HTB to be.
    pub main_access_manager: Option<Representative>,
}

/// When a user change becomes effective for Heracles (R6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveAccess {
    /// The person.
    pub insz: Insz,
    /// The level the record is on.
    pub level: UserLevel,
    /// Registry time from which the change takes effect.
    pub effective_from_ms: Millis,
    /// The person's names and username, from the plan, for the report.
    pub name: Option<PersonName>,
}

/// How an enterprise's chain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainOutcome {
    /// Every step was done.
    Done,
    /// A step (or the preparation) failed for good.
    Failed,
    /// Waiting for the HTB designation to be validated.
    WaitingOnGate,
    /// Ctrl-C: steps were left.
    Interrupted,
}

/// One enterprise in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterpriseReport {
    /// The enterprise.
    pub kbo: Kbo,
    /// Its name.
    pub name: String,
    /// How the chain ended.
    pub outcome: ChainOutcome,
    /// A failure outside any step (passwords, lease), with its code.
    pub failure: Option<(String, String)>,
    /// Every step of the plan, in order.
    pub steps: Vec<StepReport>,
    /// The pending gate, when the chain waits on one.
    pub gate: Option<GateReport>,
    /// When new and changed users' access becomes effective.
    pub effective: Vec<EffectiveAccess>,
    /// Sessions logged out.
    pub logouts: usize,
}

/// What an apply did: the value the command line reports and picks an exit code from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApplyReport {
    /// One entry per enterprise of the plan, in plan order.
    pub enterprises: Vec<EnterpriseReport>,
    /// True when apply was interrupted.
    pub interrupted: bool,
}

impl ApplyReport {
    /// True when a step or a chain failed.
    pub fn any_failed(&self) -> bool {
        self.enterprises
            .iter()
            .any(|e| e.outcome == ChainOutcome::Failed)
    }

    /// True when a chain waits on a gate.
    pub fn any_waiting(&self) -> bool {
        self.enterprises
            .iter()
            .any(|e| e.outcome == ChainOutcome::WaitingOnGate)
    }

    /// Steps done, failed and not attempted.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for s in self.enterprises.iter().flat_map(|e| &e.steps) {
            match s.outcome {
                StepOutcome::Done { .. } => c.0 += 1,
                StepOutcome::Failed { .. } => c.1 += 1,
                StepOutcome::NotAttempted => c.2 += 1,
            }
        }
        c
    }
}

/// Why the preparation of an apply failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The registry failed after retries.
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
    /// Another apply holds an enterprise's lease past the lock timeout.
    #[error(
        "enterprise {kbo} is locked by {holder} until {}; gave up after waiting {} s (--lock-timeout)",
        crate::registry::clock::local_time(*expires_at_ms),
        waited.as_secs()
    )]
    Locked {
        /// The enterprise.
        kbo: Kbo,
        /// Who holds it, as far as the registry says.
        holder: String,
        /// When the lease expires.
        expires_at_ms: Millis,
        /// How long this apply waited.
        waited: Duration,
    },
}

/// What the retry policy needs to know of a registry error.
pub(crate) fn verdict(e: &RegistryError) -> Verdict {
    Verdict {
        retryable: e.is_retryable(),
        retry_after: e.retry_after(),
    }
}

fn seed() -> u64 {
    // Jitter only; not security relevant.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id())
}

/// A fresh backoff with the options' delays and a jitter seed of its own.
pub(crate) fn backoff(options: &ExecuteOptions) -> Backoff {
    Backoff::new(options.backoff_base, options.backoff_cap, seed())
}

/// One registry request, retried as `options` say while the registry calls the error
/// retryable; the last error when it gives up.
pub async fn retried<T, F, Fut>(options: &ExecuteOptions, op: F) -> Result<T, RegistryError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, RegistryError>>,
{
    with_retries(&options.retry, backoff(options), verdict, op)
        .await
        .map_err(|g| g.error)
}

/// Logs out the acting person's stale open sessions (R1: their acknowledged writes are
/// processed), waits until they are processed, and returns how many there were. Run
/// before planning, so that a crashed or failed apply's writes are seen by the new plan.
///
/// With `now` (registry time), a session counts as stale once idle for
/// [`IDLE_SESSION_MS`]: a running apply of the same person (on other enterprises) keeps
/// its sessions busy and they are left alone. A crashed apply's sessions are idle far
/// longer by the time its leases have run out and this apply holds them (a lease lasts
/// minutes after its last renewal), and an apply whose log-out failed for good gave up
/// only after its retries (minutes). Without `now` — when an enterprise could not be
/// leased, so a crashed apply there need not have been waited for — every open
/// session is stale.
pub(crate) async fn close_stale_sessions(
    registry: &dyn Registry,
    options: &ExecuteOptions,
    limits: &Limits,
    now: Option<Millis>,
) -> Result<usize, RegistryError> {
    let idle = |s: &crate::registry::SessionInfo| {
        now.is_none_or(|now| now.saturating_sub(s.last_activity_ms) >= IDLE_SESSION_MS)
    };
    let open: Vec<_> = retried(options, |_| registry.list_sessions())
        .await?
        .into_iter()
        .filter(idle)
        .collect();
    let mut wait = Duration::ZERO;
    for s in &open {
        match retried(options, |_| registry.close_session(&s.id)).await {
            Ok(receipt) if !receipt.processed => {
                wait = wait.max(Duration::from_millis(limits.processing_delay_ms));
            }
            Ok(_) => {}
            // Expired or closed meanwhile: processed either way.
            Err(RegistryError::SessionClosed { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    Ok(open.len())
}

/// How many independent requests of one kind are in flight at once: reading the
/// enterprises' trees, taking, renewing or releasing their leases, asking for their
/// pending notices. Each is one small request, so the limit only keeps a fleet of a
/// thousand enterprises from opening a thousand connections; below it, a fleet's
/// requests do not wait for each other's round trips (at 16, the 50 enterprises of a
/// coordination centre's run took four round trips for each of these, one after the
/// other, on every apply).
pub(crate) const REQUESTS_AT_ONCE: usize = 64;

/// The apply leases this run holds; released with [`Leases::release`].
#[derive(Debug, Default)]
pub(crate) struct Leases {
    held: Vec<Lease>,
}

impl Leases {
    /// The leases held.
    pub(crate) fn held(&self) -> &[Lease] {
        &self.held
    }

    /// Gives every lease back, each retried like every other request (a release
    /// whose answer was lost is repeated; one already gone is released). Best effort
    /// in the end: a lease that could not be released expires on its own.
    pub(crate) async fn release(self, registry: &dyn Registry, options: &ExecuteOptions) {
        stream::iter(self.held)
            .for_each_concurrent(REQUESTS_AT_ONCE, |lease| async move {
                let _ = retried(options, |_| registry.release_lease(&lease.id)).await;
            })
            .await;
    }

    /// Renews every lease for `ttl` more, each retried like every other request (a
    /// renewal that fails past its retries keeps the old lease, which the next renewal
    /// tries again).
    pub(crate) async fn renew(
        &mut self,
        registry: &dyn Registry,
        ttl: Duration,
        holder: &str,
        options: &ExecuteOptions,
    ) {
        let renewed: Vec<Option<Lease>> = stream::iter(self.held.clone())
            .map(|lease| async move {
                let request = LeaseRequest {
                    ttl_ms: ttl.as_millis() as u64,
                    holder: holder.to_string(),
                    renew: Some(lease.id.clone()),
                    ..LeaseRequest::default()
                };
                retried(options, |_| registry.acquire_lease(&lease.kbo, &request))
                    .await
                    .ok()
            })
            .buffered(REQUESTS_AT_ONCE)
            .collect()
            .await;
        for (lease, new) in self.held.iter_mut().zip(renewed) {
            if let Some(new) = new {
                *lease = new;
            }
        }
    }
}

/// What happens while taking leases, for the person watching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseEvent {
    /// Waiting: another apply holds this enterprise. Sent once, and again when the
    /// holder or its expiry changes.
    Waiting {
        /// The enterprise.
        kbo: Kbo,
        /// Who holds it, as the holder described itself.
        holder: String,
        /// When its lease expires (registry time) unless renewed.
        expires_at_ms: Millis,
        /// How much longer this run waits at most (`--lock-timeout`).
        gives_up_in: Duration,
    },
    /// A lease of the acting person whose holder no longer runs was taken over.
    TookOver {
        /// The enterprise.
        kbo: Kbo,
        /// Who held it.
        holder: String,
    },
}

/// How [`acquire_leases`] takes leases.
pub(crate) struct LeaseTaking<'a> {
    /// This run, as other applies will see it.
    pub holder: &'a str,
    /// How long each lease lasts unless renewed.
    pub ttl: Duration,
    /// How long to wait for leases held by others, to the second.
    pub lock_timeout: Duration,
    /// True for a holder (as described in a refusal) that is the acting person's own
    /// apply that no longer runs: its lease is taken over at once.
    pub is_dead_own: &'a (dyn Fn(&str) -> bool + Sync),
    /// Told what happens.
    pub on_event: &'a (dyn Fn(LeaseEvent) + Sync),
}

/// Takes the apply lease of every enterprise in `kbos`, all or nothing, waiting up to
/// `lock_timeout` while another apply holds any of them; an enterprise the actor has
/// no role in yet (a designation to request) cannot be leased and is skipped. The
/// requests go side by side; when one enterprise is held by someone else, the leases
/// just taken are given back before waiting, so that two applies on overlapping sets
/// never each sit on a part. On failure nothing stays held. The last attempt is made
/// at the timeout itself, never before it.
pub(crate) async fn acquire_leases(
    registry: &dyn Registry,
    kbos: &[Kbo],
    taking: &LeaseTaking<'_>,
    options: &ExecuteOptions,
) -> Result<Leases, ExecuteError> {
    let request = LeaseRequest {
        ttl_ms: taking.ttl.as_millis() as u64,
        holder: taking.holder.to_string(),
        ..LeaseRequest::default()
    };
    let start = tokio::time::Instant::now();
    let deadline = start + taking.lock_timeout;
    let mut delays = backoff(options);
    let mut told: Option<(Kbo, String, Millis)> = None;
    loop {
        let answers: Vec<(Kbo, Result<Lease, RegistryError>)> = stream::iter(kbos)
            .map(|kbo| {
                let request = &request;
                async move {
                    (
                        *kbo,
                        take_lease(registry, kbo, request, taking, options).await,
                    )
                }
            })
            .buffered(REQUESTS_AT_ONCE)
            .collect()
            .await;
        let mut leases = Leases::default();
        let mut held_elsewhere = None;
        let mut failure = None;
        for (kbo, answer) in answers {
            match answer {
                Ok(lease) => leases.held.push(lease),
                Err(RegistryError::NotAuthorised { .. }) => {}
                Err(RegistryError::LeaseHeld {
                    expires_at_ms,
                    holder,
                    ..
                }) => {
                    held_elsewhere.get_or_insert((kbo, expires_at_ms, holder));
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            leases.release(registry, options).await;
            return Err(e.into());
        }
        let Some((kbo, expires_at_ms, holder)) = held_elsewhere else {
            return Ok(leases);
        };
        leases.release(registry, options).await;
        let holder = if holder.is_empty() {
            "another csamctl apply".to_string()
        } else {
            holder
        };
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(ExecuteError::Locked {
                kbo,
                holder,
                expires_at_ms,
                waited: now - start,
            });
        }
        let seen = (kbo, holder.clone(), expires_at_ms);
        if told.as_ref() != Some(&seen) {
            (taking.on_event)(LeaseEvent::Waiting {
                kbo,
                holder,
                expires_at_ms,
                gives_up_in: deadline - now,
            });
            told = Some(seen);
        }
        let delay = delays.next().unwrap_or(options.backoff_cap);
        tokio::time::sleep(delay.min(deadline - now)).await;
    }
}

/// One lease request, retried while the registry is unavailable; a lease held by
/// someone else is answered at once, not waited for.
pub(crate) async fn lease_request(
    registry: &dyn Registry,
    kbo: &Kbo,
    request: &LeaseRequest,
    options: &ExecuteOptions,
) -> Result<Lease, RegistryError> {
    let not_if_held = |e: &RegistryError| match e {
        RegistryError::LeaseHeld { .. } => Verdict {
            retryable: false,
            retry_after: None,
        },
        e => verdict(e),
    };
    with_retries(&options.retry, backoff(options), not_if_held, |_| {
        registry.acquire_lease(kbo, request)
    })
    .await
    .map_err(|g| g.error)
}

/// One enterprise's lease, retried while the registry is unavailable; a lease held by
/// the acting person's own dead apply is taken over. A lease held by another apply
/// is not retried here: the leases just taken go back first, then the whole set waits.
/// A retried request whose answer was lost gets the same lease back: the registry
/// recognises the holder.
async fn take_lease(
    registry: &dyn Registry,
    kbo: &Kbo,
    request: &LeaseRequest,
    taking: &LeaseTaking<'_>,
    options: &ExecuteOptions,
) -> Result<Lease, RegistryError> {
    match lease_request(registry, kbo, request, options).await {
        Err(RegistryError::LeaseHeld { holder, .. }) if (taking.is_dead_own)(&holder) => {
            let take_over = LeaseRequest {
                take_over: TakeOver::Own,
                ..request.clone()
            };
            let lease = lease_request(registry, kbo, &take_over, options).await?;
            (taking.on_event)(LeaseEvent::TookOver { kbo: *kbo, holder });
            Ok(lease)
        }
        answer => answer,
    }
}

struct Shared {
    registry: Arc<dyn Registry>,
    plan_id: String,
    options: ExecuteOptions,
    limits: Limits,
    /// Places for sessions open at once (log-in to log-out): `--parallelism` or the
    /// registry's sessions-per-person limit, whichever is smaller.
    open_slots: Semaphore,
    cancel: Cancel,
    observer: Arc<dyn Observer>,
    passwords: Arc<dyn PasswordSource>,
    /// The sessions this run has open: any other open session of the acting person
    /// when the limit is reached is an orphan (a log-in whose answer was lost).
    open: std::sync::Mutex<std::collections::BTreeSet<SessionId>>,
}

/// Carries a plan out. Never fails as a whole: every problem is in the report.
pub async fn execute(
    plan: &Plan,
    registry: Arc<dyn Registry>,
    options: &ExecuteOptions,
    passwords: Arc<dyn PasswordSource>,
    cancel: &Cancel,
    observer: Arc<dyn Observer>,
) -> ApplyReport {
    let limits = match retried(options, |_| registry.limits()).await {
        Ok(l) => l,
        Err(err) => {
            return ApplyReport {
                enterprises: plan
                    .enterprises
                    .iter()
                    .map(|e| {
                        let mut r = blank_report(e);
                        r.outcome = ChainOutcome::Failed;
                        r.failure = Some((err.code().to_string(), err.to_string()));
                        r
                    })
                    .collect(),
                interrupted: cancel.is_cancelled(),
            };
        }
    };
    let per_person = usize::try_from(limits.sessions_per_person.max(1)).unwrap_or(1);
    let shared = Arc::new(Shared {
        registry,
        plan_id: plan.id.clone(),
        options: options.clone(),
        open_slots: Semaphore::new(options.parallelism.clamp(1, per_person)),
        limits,
        cancel: cancel.clone(),
        observer,
        passwords,
        open: std::sync::Mutex::new(std::collections::BTreeSet::new()),
    });
    let mut chains = JoinSet::new();
    for (index, e) in plan.enterprises.iter().enumerate() {
        let shared = shared.clone();
        let e = e.clone();
        chains.spawn(async move { (index, run_chain(&shared, &e).await) });
    }
    let mut reports: BTreeMap<usize, EnterpriseReport> = BTreeMap::new();
    while let Some(joined) = chains.join_next().await {
        if let Ok((index, report)) = joined {
            reports.insert(index, report);
        }
    }
    // A panicked chain (a bug) still appears in the report, as failed.
    for (index, e) in plan.enterprises.iter().enumerate() {
        reports.entry(index).or_insert_with(|| {
            let mut r = blank_report(e);
            r.outcome = ChainOutcome::Failed;
            r.failure = Some(("internal".into(), "the chain stopped unexpectedly".into()));
            r
        });
    }
    ApplyReport {
        enterprises: reports.into_values().collect(),
        interrupted: cancel.is_cancelled(),
    }
}

fn blank_report(e: &EnterprisePlan) -> EnterpriseReport {
    EnterpriseReport {
        kbo: e.kbo,
        name: e.name.clone(),
        outcome: ChainOutcome::Done,
        failure: None,
        steps: e
            .sessions()
            .flat_map(|s| {
                s.steps.iter().map(|st| StepReport {
                    id: st.id.to_string(),
                    session: s.label.clone(),
                    kind: st.write.kind(),
                    outcome: StepOutcome::NotAttempted,
                })
            })
            .collect(),
        gate: None,
        effective: Vec::new(),
        logouts: 0,
    }
}

/// Resolves the passwords of the accounts this enterprise creates, before its first
/// write; the first problem fails the chain.
fn resolve_passwords(
    shared: &Shared,
    e: &EnterprisePlan,
) -> Result<BTreeMap<String, Password>, (String, String)> {
    let mut out = BTreeMap::new();
    for step in e.steps() {
        if let Write::CreateUser { user, .. } = &step.write
            && let Some(reference) = &step.password
        {
            match shared.passwords.resolve(reference) {
                Ok(p) => {
                    out.insert(step.id.to_string(), p);
                }
                Err(err) => {
                    return Err((
                        "password".into(),
                        format!("the password of new account {}: {err}", user.username),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// The designation (R7) a session of this run submitted: the gate reports it.
struct Designation {
    ticket: Option<String>,
    main_access_manager: Representative,
    legal_representative: Representative,
}

/// How a phase ends: the chain goes on to the next phase, or stops with this outcome.
enum PhaseEnd {
    Next,
    Stop(ChainOutcome),
}

/// Carries out one enterprise's phases in order; the first phase that does not end
/// well stops the chain.
async fn run_chain(shared: &Arc<Shared>, e: &EnterprisePlan) -> EnterpriseReport {
    let mut report = blank_report(e);
    let barriers = e
        .phases
        .iter()
        .filter(|p| matches!(p, Phase::Sessions { .. }))
        .count();
    shared.observer.event(Event::EnterpriseStarted {
        kbo: e.kbo,
        steps: report.steps.len(),
        barriers,
    });
    let passwords = match resolve_passwords(shared, e) {
        Ok(p) => Arc::new(p),
        Err(failure) => {
            report.outcome = ChainOutcome::Failed;
            report.failure = Some(failure);
            shared.observer.event(Event::EnterpriseEnded { kbo: e.kbo });
            return report;
        }
    };
    let mut designation = None;
    for phase in &e.phases {
        if shared.cancel.is_cancelled() {
            report.outcome = ChainOutcome::Interrupted;
            break;
        }
        let end = match phase {
            Phase::Sessions { sessions } => {
                let runs = run_sessions(shared, e.kbo, sessions, &passwords).await;
                record_sessions(shared, e, sessions, runs, &mut report, &mut designation)
            }
            Phase::Gate { ticket, .. } => {
                match gate(shared, e.kbo, ticket, designation.as_ref()).await {
                    None => PhaseEnd::Next,
                    Some(waiting) => {
                        report.gate = Some(waiting);
                        PhaseEnd::Stop(ChainOutcome::WaitingOnGate)
                    }
                }
            }
            // R9 notices are derived from the registry's state after the run (see
            // `Registry::pending_notices`), not from what this run got to.
            Phase::Notices { .. } | Phase::Propagation { .. } => PhaseEnd::Next,
        };
        if let PhaseEnd::Stop(outcome) = end {
            report.outcome = outcome;
            break;
        }
    }
    shared.observer.event(Event::EnterpriseEnded { kbo: e.kbo });
    report
}

/// Runs one phase's sessions side by side; the answer is in the sessions' order, `None`
/// for a session whose task stopped.
async fn run_sessions(
    shared: &Arc<Shared>,
    kbo: Kbo,
    sessions: &[Session],
    passwords: &Arc<BTreeMap<String, Password>>,
) -> Vec<Option<SessionRun>> {
    let mut set = JoinSet::new();
    for (i, session) in sessions.iter().enumerate() {
        let shared = shared.clone();
        let session = session.clone();
        let passwords = passwords.clone();
        set.spawn(async move { (i, run_session(&shared, kbo, &session, &passwords).await) });
    }
    let mut runs: Vec<Option<SessionRun>> = sessions.iter().map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, run)) = joined {
            runs[i] = Some(run);
        }
    }
    runs
}

/// Puts what a phase's sessions did into the report (each step's outcome, when each
/// change takes effect, the designation submitted) and says whether the chain goes on.
fn record_sessions(
    shared: &Shared,
    e: &EnterprisePlan,
    sessions: &[Session],
    runs: Vec<Option<SessionRun>>,
    report: &mut EnterpriseReport,
    designation: &mut Option<Designation>,
) -> PhaseEnd {
    let mut failed = false;
    let mut interrupted = false;
    for (session, run) in sessions.iter().zip(runs) {
        let Some(run) = run else {
            failed = true;
            report.failure = Some(("internal".into(), "a session task stopped".into()));
            continue;
        };
        report.logouts += run.logouts;
        for (step, outcome) in session.steps.iter().zip(run.outcomes) {
            if let Some(r) = report.steps.iter_mut().find(|r| r.id == step.id.0) {
                r.outcome = outcome.clone();
            }
            if !matches!(outcome, StepOutcome::Done { .. }) {
                continue;
            }
            note_effective(report, e, step, run.processed_at_ms, &shared.limits);
            if let Write::DesignateMainAccessManager {
                main_access_manager,
                legal_representative,
                ..
            } = &step.write
            {
                *designation = Some(Designation {
                    ticket: run.ticket.clone(),
                    main_access_manager: main_access_manager.clone(),
                    legal_representative: legal_representative.clone(),
                });
            }
        }
        failed |= run.failed;
        interrupted |= run.interrupted;
    }
    if failed {
        PhaseEnd::Stop(ChainOutcome::Failed)
    } else if interrupted {
        PhaseEnd::Stop(ChainOutcome::Interrupted)
    } else {
        PhaseEnd::Next
    }
}

/// The gate of R7: `None` when a designation of the enterprise is validated (the chain
/// goes on), else what the report says about the designation the chain waits on: the
/// one this run submitted, or the pending one the registry knows of.
async fn gate(
    shared: &Shared,
    kbo: Kbo,
    planned_ticket: &Option<String>,
    designation: Option<&Designation>,
) -> Option<GateReport> {
    let tickets = retried(&shared.options, |_| shared.registry.tickets(&kbo)).await;
    let tickets = tickets.unwrap_or_default();
    if tickets.iter().any(|t| t.state == TicketState::Validated) {
        return None;
    }
    let pending = tickets
        .iter()
        .rev()
        .find(|t| t.state == TicketState::Pending);
    let (mut number, mut htb, mut legal) = match designation {
        Some(d) => (
            d.ticket.clone(),
            Some(d.main_access_manager.clone()),
            Some(d.legal_representative.clone()),
        ),
        None => (planned_ticket.clone(), None, None),
    };
    if let Some(p) = pending {
        number = number.or_else(|| Some(p.id.clone()));
        htb = htb.or_else(|| Some(p.main_access_manager.clone()));
        legal = legal.or_else(|| Some(p.legal_representative.clone()));
    }
    Some(GateReport {
        ticket: number,
        legal_representative: legal,
        main_access_manager: htb,
    })
}

fn note_effective(
    report: &mut EnterpriseReport,
    plan: &EnterprisePlan,
    step: &Step,
    processed_at: Millis,
    limits: &Limits,
) {
    // 0: the log-out's answer was lost; the time is not known.
    if !step.write.touches_user() || processed_at == 0 {
        return;
    }
    let (level, insz) = match &step.write {
        Write::CreateUser { level, user } => (level.clone(), user.insz),
        Write::UpdateUser { level, insz, .. } | Write::SetFunctions { level, insz, .. } => {
            (level.clone(), *insz)
        }
        Write::SetApplications {
            target: WriteTarget::User { level, insz },
            ..
        }
        | Write::SetActive {
            target: WriteTarget::User { level, insz },
            ..
        } => (level.clone(), *insz),
        _ => return,
    };
    let from = processed_at.saturating_add(i64::try_from(limits.propagation_delay_ms).unwrap_or(0));
    match report
        .effective
        .iter_mut()
        .find(|x| x.insz == insz && x.level == level)
    {
        Some(x) => x.effective_from_ms = x.effective_from_ms.max(from),
        None => {
            let name = plan.changes.iter().find_map(|c| match &c.object {
                Object::User { level: l, insz: i } if *l == level && *i == insz => c.person_name(),
                _ => None,
            });
            report.effective.push(EffectiveAccess {
                insz,
                level,
                effective_from_ms: from,
                name,
            });
        }
    }
}

#[derive(Debug, Default)]
struct SessionRun {
    outcomes: Vec<StepOutcome>,
    failed: bool,
    interrupted: bool,
    logouts: usize,
    processed_at_ms: Millis,
    ticket: Option<String>,
}

/// Logs in with retries. When the registry says the person has too many sessions
/// open, idle sessions this run does not know of are orphans — log-ins whose answer a
/// dropped connection lost — and are logged out (they wrote nothing). Busy ones are
/// left alone: they are another apply's of the same person, on other enterprises.
///
/// Every attempt sends the same idempotency key, so an attempt whose answer was lost
/// gets its session back on the next one instead of leaving it open.
async fn log_in(shared: &Shared, kbo: Kbo) -> Result<SessionId, RegistryError> {
    let key = IdempotencyKey::log_in();
    let key = &key;
    let result = with_retries(
        &shared.options.retry,
        backoff(&shared.options),
        observed_verdict(shared, kbo),
        |attempt| async move {
            let result = shared.registry.open_session_keyed(key).await;
            if let Err(RegistryError::TooManySessions { now_ms, .. }) = &result
                && attempt > 1
            {
                close_orphans(shared, *now_ms).await;
            }
            result
        },
    )
    .await
    .map(|s| s.id)
    .map_err(|g| g.error)?;
    if let Ok(mut open) = shared.open.lock() {
        open.insert(result.clone());
    }
    Ok(result)
}

async fn close_orphans(shared: &Shared, now_ms: Millis) {
    let known = shared.open.lock().map(|o| o.clone()).unwrap_or_default();
    reclaim_abandoned(&*shared.registry, &known, now_ms).await;
}

/// Logs out the acting person's abandoned sessions ([`orphans`]: not in `known`, and
/// idle for [`IDLE_SESSION_MS`] at registry time `now_ms`, 0 when unknown), best
/// effort; returns how many it logged out.
async fn reclaim_abandoned(
    registry: &dyn Registry,
    known: &std::collections::BTreeSet<SessionId>,
    now_ms: Millis,
) -> usize {
    let Ok(listed) = registry.list_sessions().await else {
        return 0;
    };
    let mut closed = 0;
    for id in orphans(&listed, known, (now_ms > 0).then_some(now_ms)) {
        if registry.close_session(&id).await.is_ok() {
            closed += 1;
        }
    }
    closed
}

/// Logs in for a command that only reads (`plan`, `export`), retried like every
/// request and with one idempotency key for all attempts. When the person has as many
/// sessions open as allowed, their abandoned ones (idle, from runs that crashed or
/// lost a log-in's answer) are logged out instead of failing; busy ones — a running
/// apply's — are waited for. Returns the session and how many abandoned ones were
/// logged out.
pub(crate) async fn log_in_to_read(
    registry: &dyn Registry,
    options: &ExecuteOptions,
) -> Result<(SessionId, usize), RegistryError> {
    let key = IdempotencyKey::log_in();
    let key = &key;
    let reclaimed = std::sync::atomic::AtomicUsize::new(0);
    let reclaimed = &reclaimed;
    let session = retried(options, |_| async move {
        let result = registry.open_session_keyed(key).await;
        if let Err(RegistryError::TooManySessions { now_ms, .. }) = &result {
            let closed = reclaim_abandoned(registry, &Default::default(), *now_ms).await;
            reclaimed.fetch_add(closed, std::sync::atomic::Ordering::Relaxed);
            if closed > 0 {
                // Room now: no need to wait for the Retry-After.
                return registry.open_session_keyed(key).await;
            }
        }
        result
    })
    .await?;
    Ok((
        session.id,
        reclaimed.load(std::sync::atomic::Ordering::Relaxed),
    ))
}

/// How long a session of the acting person that this run does not know must have been
/// idle to count as abandoned (a log-in whose answer was lost, a crashed apply's). A
/// session in use — another apply of the same person — is never idle that long: its
/// requests follow each other within a retry's wait (at most the backoff cap, 5 s).
pub(crate) const IDLE_SESSION_MS: Millis = 15_000;

/// The listed sessions that are orphans: not this run's, and idle for
/// [`IDLE_SESSION_MS`] at registry time `now`, or, when the registry did not say, measured
/// against the newest activity listed (this run's own sessions are in use, so that is
/// close to now).
fn orphans(
    listed: &[crate::registry::SessionInfo],
    known: &std::collections::BTreeSet<SessionId>,
    now: Option<Millis>,
) -> Vec<SessionId> {
    let newest =
        now.unwrap_or_else(|| listed.iter().map(|s| s.last_activity_ms).max().unwrap_or(0));
    listed
        .iter()
        .filter(|s| !known.contains(&s.id))
        .filter(|s| newest.saturating_sub(s.last_activity_ms) >= IDLE_SESSION_MS)
        .map(|s| s.id.clone())
        .collect()
}

/// Waits out the registry's processing delay (the log-out barrier).
async fn wait_for_processing(shared: &Shared) {
    tokio::time::sleep(Duration::from_millis(shared.limits.processing_delay_ms)).await;
}

/// Logs out with retries; returns the processing time (registry time) and whether the
/// processing is still pending. Does not wait, so the caller can give its session slot
/// back first.
async fn log_out_only(shared: &Shared, kbo: Kbo, id: &SessionId) -> (Millis, bool) {
    let result = retried(&shared.options, |_| shared.registry.close_session(id)).await;
    shared.observer.event(Event::LoggedOut { kbo });
    if let Ok(mut open) = shared.open.lock() {
        open.remove(id);
    }
    match result {
        Ok(receipt) => (receipt.processed_at_ms, !receipt.processed),
        // Closed meanwhile (a retried log-out whose first answer was lost, or expired):
        // processed either way.
        Err(_) => (0, false),
    }
}

/// A session of this run that is open: its id and its place among the sessions open
/// at once (`--parallelism` and the person's limit), given back with the log-out.
struct OpenSession<'a> {
    id: SessionId,
    _place: tokio::sync::SemaphorePermit<'a>,
}

/// Waits for a place among the sessions open at once, then logs in.
async fn open_session(shared: &Shared, kbo: Kbo) -> Result<OpenSession<'_>, RegistryError> {
    let place = shared
        .open_slots
        .acquire()
        .await
        .map_err(|_| RegistryError::Internal {
            reason: "the executor's session places are closed".into(),
        })?;
    let id = log_in(shared, kbo).await?;
    Ok(OpenSession { id, _place: place })
}

/// Logs out and gives the session's place back at once: waiting for the processing
/// (the barrier) holds no place. Counts the log-out and its processing time in `run`;
/// returns whether the processing is still pending.
async fn close_session(
    shared: &Shared,
    kbo: Kbo,
    open: OpenSession<'_>,
    run: &mut SessionRun,
) -> bool {
    let (at, pending) = log_out_only(shared, kbo, &open.id).await;
    drop(open);
    run.processed_at_ms = run.processed_at_ms.max(at);
    run.logouts += 1;
    pending
}

/// Carries out one session's steps: log-in, the writes in batches of at most
/// [`crate::model::BATCH_WRITES`] (every write with its own idempotency key, each step
/// marked from its own result), log-out. Writes the registry refuses until a fresh
/// session ([`RegistryError::needs_new_session`]) are sent again, under the same keys,
/// after logging out, waiting for the processing and logging in again. A refusal for
/// good fails the session: no later batch is sent.
async fn run_session(
    shared: &Shared,
    kbo: Kbo,
    session: &Session,
    passwords: &BTreeMap<String, Password>,
) -> SessionRun {
    let mut run = SessionRun {
        outcomes: vec![StepOutcome::NotAttempted; session.steps.len()],
        ..SessionRun::default()
    };
    if shared.cancel.is_cancelled() {
        run.interrupted = true;
        return run;
    }
    let (writes, bad_key) = session_writes(shared, session, passwords);
    let mut open = match open_session(shared, kbo).await {
        Ok(open) => open,
        Err(e) => {
            run.failed = true;
            if let Some(first) = run.outcomes.first_mut() {
                *first = failed(&e);
            }
            return run;
        }
    };
    let mut relogins = 0;
    let mut sent = 0;
    'batches: while sent < writes.len() {
        if shared.cancel.is_cancelled() {
            run.interrupted = true;
            break;
        }
        let mut todo: Vec<usize> = (sent..writes.len().min(sent + BATCH_WRITES)).collect();
        sent += todo.len();
        loop {
            let batch: Vec<BatchWrite> = todo.iter().map(|&i| writes[i].clone()).collect();
            let answers = match write_batch(shared, kbo, &open.id, &batch).await {
                Ok(answers) => answers,
                // The session as a whole: every write needs the fresh session.
                Err(e) if e.needs_new_session() => vec![Err(e); batch.len()],
                Err(e) => {
                    for &i in &todo {
                        mark_failed(shared, kbo, session, &mut run, i, &e);
                    }
                    break 'batches;
                }
            };
            let again = record_answers(shared, kbo, session, &mut run, &todo, answers);
            if again.is_empty() {
                break;
            }
            if run.failed || relogins >= shared.options.max_relogins {
                for (i, e) in &again {
                    mark_failed(shared, kbo, session, &mut run, *i, e);
                }
                break 'batches;
            }
            // Log out (the earlier writes get processed), wait, log in, send again.
            relogins += 1;
            if close_session(shared, kbo, open, &mut run).await {
                wait_for_processing(shared).await;
            }
            let delay = backoff(&shared.options)
                .nth(relogins as usize - 1)
                .unwrap_or(shared.options.backoff_cap);
            tokio::time::sleep(delay).await;
            open = match open_session(shared, kbo).await {
                Ok(open) => open,
                Err(e) => {
                    run.outcomes[again[0].0] = failed(&e);
                    run.failed = true;
                    return run;
                }
            };
            todo = again.into_iter().map(|(i, _)| i).collect();
        }
        if run.failed {
            break;
        }
    }
    if let Some(e) = bad_key
        && !run.failed
        && !run.interrupted
    {
        run.outcomes[writes.len()] = failed(&e);
        run.failed = true;
    }
    if close_session(shared, kbo, open, &mut run).await {
        wait_for_processing(shared).await;
    }
    run
}

/// The session's writes as batch items, each with its idempotency key and a new
/// account's password; the steps before the first whose key cannot be made are sent,
/// and that one fails (the error comes back beside them).
fn session_writes(
    shared: &Shared,
    session: &Session,
    passwords: &BTreeMap<String, Password>,
) -> (Vec<BatchWrite>, Option<RegistryError>) {
    let mut writes = Vec::with_capacity(session.steps.len());
    for step in &session.steps {
        match steps::idempotency_key_for(&shared.plan_id, step) {
            Ok(idempotency_key) => writes.push(BatchWrite {
                idempotency_key,
                write: step.write.clone(),
                password: passwords.get(&step.id.0).cloned().map(AccountPassword),
            }),
            Err(e) => return (writes, Some(e)),
        }
    }
    (writes, None)
}

/// Marks each step of a batch (`todo`, indexes into the session's steps) from its own
/// answer: done, or failed for good; the writes that need a fresh session come back,
/// with the registry's refusal, to be sent again.
fn record_answers(
    shared: &Shared,
    kbo: Kbo,
    session: &Session,
    run: &mut SessionRun,
    todo: &[usize],
    answers: crate::registry::BatchOutcomes,
) -> Vec<(usize, RegistryError)> {
    let mut again = Vec::new();
    for (&i, answer) in todo.iter().zip(answers) {
        match answer {
            Ok(receipt) => {
                run.outcomes[i] = StepOutcome::Done {
                    journal_seq: receipt.journal_seq,
                };
                if let Some(t) = receipt.ticket {
                    run.ticket = Some(t.id);
                }
                shared.observer.event(Event::StepDone {
                    kbo,
                    step: session.steps[i].id.to_string(),
                });
            }
            Err(e) if e.needs_new_session() => again.push((i, e)),
            Err(e) => mark_failed(shared, kbo, session, run, i, &e),
        }
    }
    again
}

/// Marks step `i` of the session failed for good, and the session with it.
fn mark_failed(
    shared: &Shared,
    kbo: Kbo,
    session: &Session,
    run: &mut SessionRun,
    i: usize,
    e: &RegistryError,
) {
    shared.observer.event(Event::StepFailed {
        kbo,
        step: session.steps[i].id.to_string(),
        code: e.code().into(),
    });
    run.outcomes[i] = failed(e);
    run.failed = true;
}

/// The retry verdict for a chain's requests, telling the observer of each retry.
fn observed_verdict(shared: &Shared, kbo: Kbo) -> impl Fn(&RegistryError) -> Verdict + '_ {
    move |e| {
        if e.is_retryable() {
            shared.observer.event(Event::Retrying {
                kbo,
                code: e.code().into(),
            });
        }
        verdict(e)
    }
}

fn failed(e: &RegistryError) -> StepOutcome {
    StepOutcome::Failed {
        code: e.code().into(),
        message: e.to_string(),
    }
}

/// One batch of a session's writes, the whole request retried as the policy says
/// while the registry calls its failure retryable: every write repeats its key, so
/// one the registry carried out before the answer was lost is not applied twice.
async fn write_batch(
    shared: &Shared,
    kbo: Kbo,
    session: &SessionId,
    batch: &[BatchWrite],
) -> Result<crate::registry::BatchOutcomes, RegistryError> {
    with_retries(
        &shared.options.retry,
        backoff(&shared.options),
        observed_verdict(shared, kbo),
        |_| shared.registry.write_batch(session, batch),
    )
    .await
    .map_err(|g| g.error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::SessionInfo;

    fn session(id: &str, last_activity_ms: Millis) -> SessionInfo {
        SessionInfo {
            id: SessionId(id.into()),
            opened_at_ms: 0,
            last_activity_ms,
            expires_at_ms: last_activity_ms + 1_800_000,
            sees_processing: 0,
        }
    }

    #[test]
    fn only_idle_sessions_of_no_one_in_this_run_are_orphans() {
        let listed = [
            session("s-mine", 100_000),
            session("s-lost-answer", 100_000 - IDLE_SESSION_MS),
            session("s-other-apply", 99_000),
        ];
        let known = [SessionId("s-mine".into())].into_iter().collect();
        assert_eq!(
            orphans(&listed, &known, None),
            [SessionId("s-lost-answer".into())]
        );
        // Nothing known and all busy: nothing is closed.
        let busy = [session("a", 50_000), session("b", 49_000)];
        assert!(orphans(&busy, &Default::default(), None).is_empty());
        // All abandoned at once: only the registry's time tells them idle.
        let crashed = [session("c", 50_000), session("d", 50_000)];
        assert!(orphans(&crashed, &Default::default(), None).is_empty());
        assert_eq!(
            orphans(
                &crashed,
                &Default::default(),
                Some(50_000 + IDLE_SESSION_MS)
            )
            .len(),
            2
        );
        assert!(orphans(&crashed, &Default::default(), Some(50_001)).is_empty());
    }
}
