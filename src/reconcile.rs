//! The reconcile workflow, as values: read the live registry → plan → safety, and for
//! an apply: lease → close stale sessions → plan again → execute → release.
//!
//! Every command that reads or changes the registry goes through here (`plan`,
//! `apply`, `runbook`, `by-hand`, `verify`, `export`); the forge workflows and a future
//! daemon are further callers. Nothing here prints or asks: what a person must see or
//! decide during an apply goes through [`ApplyHooks`], and every result comes back as a
//! value for `render` to show and the command to turn into an exit status.
//!
//! Layer: after `plan`, `safety` and `execute`, before `render` and `cli`. May use
//! `model`, `plan`, `safety`, `execute` and the `registry` contract.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

use crate::execute::{
    self, ApplyReport, Cancel, EnvAndFiles, ExecuteOptions, LeaseEvent, Observer,
};
use crate::model::{
    Administrator, DesiredState, Enterprise, Finding, Hco, Insz, Kbo, KnownAccounts, LiveState,
    Plan, PlanLimits, SavedPlan, Username,
};
use crate::plan::fingerprint::{self, Stale};
use crate::registry::{
    AccessCondition, AccountQuery, IdempotencyKey, Millis, Registry, RegistryError, UnitAccess,
    Write,
};
use crate::safety::{self, SafetyOptions};

/// Why the workflow stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The registry failed (after retries where the error is transient).
    #[error("registry: {0}")]
    Registry(#[from] RegistryError),
    /// Taking or keeping the apply leases failed.
    #[error(transparent)]
    Execute(#[from] execute::ExecuteError),
}

/// What one reading session found.
#[derive(Debug, Default)]
pub struct Reading {
    /// A snapshot of each enterprise the acting person may read, in the order asked.
    pub live: Vec<LiveState>,
    /// Abandoned (idle) sessions of the acting person that were logged out to stay
    /// within the registry's session limit.
    pub reclaimed: usize,
    /// What the account look-up said about the declared people and usernames (empty
    /// when only enterprises were read).
    pub accounts: KnownAccounts,
}

/// One session: a snapshot of every declared enterprise the actor may read, and what
/// the account look-up says about the people and usernames they declare.
pub async fn read_live(
    registry: &dyn Registry,
    desired: &DesiredState,
) -> Result<Reading, RegistryError> {
    let kbos: Vec<Kbo> = desired.enterprises.iter().map(|e| e.kbo).collect();
    // Independent questions: the look-up's requests go out beside the snapshots'.
    let (mut reading, accounts) = futures_util::future::try_join(
        read_enterprises(registry, &kbos),
        look_up_accounts(registry, desired),
    )
    .await?;
    reading.accounts = accounts;
    Ok(reading)
}

/// Asks the registry's account look-up about every person and username `desired`
/// declares (users and administrator accounts), in requests of at most
/// [`AccountQuery::MAX`] each. Accounts are global, so this is what lets the planner
/// refuse, with the registry's own rule, a username held in an enterprise the actor
/// cannot read, or a person who already holds another username there.
pub async fn look_up_accounts(
    registry: &dyn Registry,
    desired: &DesiredState,
) -> Result<KnownAccounts, RegistryError> {
    let mut people = BTreeSet::new();
    let mut names = BTreeSet::new();
    for (insz, username) in desired.enterprises.iter().flat_map(declared_accounts) {
        people.insert(insz);
        names.insert(username);
    }
    let (people, names): (Vec<Insz>, Vec<Username>) =
        (people.into_iter().collect(), names.into_iter().collect());
    let options = ExecuteOptions::default();
    let parts = people.len().max(names.len()).div_ceil(AccountQuery::MAX);
    // Side by side, as the snapshots are; the answers keep the parts' order.
    let answers: Vec<Result<KnownAccounts, RegistryError>> = stream::iter(0..parts)
        .map(|n| {
            let query = AccountQuery {
                insz: chunk(&people, n),
                usernames: chunk(&names, n),
            };
            let options = &options;
            async move { execute::retried(options, |_| registry.look_up_accounts(&query)).await }
        })
        .buffered(execute::REQUESTS_AT_ONCE)
        .collect()
        .await;
    let mut known = KnownAccounts::default();
    for answer in answers {
        known.extend(answer?);
    }
    Ok(known)
}

/// The `n`th part of at most [`AccountQuery::MAX`] items of `all`.
fn chunk<T: Clone>(all: &[T], n: usize) -> Vec<T> {
    all.iter()
        .skip(n * AccountQuery::MAX)
        .take(AccountQuery::MAX)
        .cloned()
        .collect()
}

/// The accounts an enterprise declares: every person's and every subdivision or site
/// administrator account's INSZ with its username.
fn declared_accounts(e: &Enterprise) -> Vec<(Insz, Username)> {
    let mut out = Vec::new();
    for cap in &e.capacities {
        out.extend(cap.people.iter().map(|p| (p.insz, p.username.clone())));
        let admins = cap.subdivisions.iter().flat_map(|sub| {
            std::iter::once(&sub.administrator).chain(sub.sites.iter().map(|s| &s.administrator))
        });
        out.extend(admins.filter_map(|a| match a {
            Administrator::Account(acc) => Some((acc.insz, acc.username.clone())),
            _ => None,
        }));
    }
    out
}

/// One session: a snapshot of each of these enterprises that the actor may read (one
/// it may not read, with no role and no designation yet, is left out: the diff plans
/// it as not registered). Every request is retried while the registry calls its error
/// transient, each on its own: a read of many enterprises over a flaky network must
/// not need every request of one attempt to succeed.
pub async fn read_enterprises(
    registry: &dyn Registry,
    kbos: &[Kbo],
) -> Result<Reading, RegistryError> {
    let options = ExecuteOptions::default();
    // Too many sessions open: the person's abandoned (idle) sessions are logged out,
    // busy ones (a running apply's) waited for.
    let (session, reclaimed) = execute::log_in_to_read(registry, &options).await?;
    // Side by side in the one reading session; the answers keep the enterprises' order.
    let answers: Vec<Result<LiveState, RegistryError>> = stream::iter(kbos)
        .map(|kbo| {
            let (options, session) = (&options, &session);
            execute::retried(options, move |_| registry.snapshot(session, kbo))
        })
        .buffered(execute::REQUESTS_AT_ONCE)
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
        return Err(err);
    }
    match closed {
        Ok(_) | Err(RegistryError::SessionClosed { .. }) => Ok(Reading {
            live,
            reclaimed,
            accounts: KnownAccounts::default(),
        }),
        Err(err) => Err(err),
    }
}

/// One reading session: one enterprise's tree as processed now; refused when the
/// acting person may not read it.
pub async fn read_enterprise(
    registry: &dyn Registry,
    kbo: &Kbo,
) -> Result<LiveState, RegistryError> {
    let reading = read_enterprises(registry, std::slice::from_ref(kbo)).await?;
    reading
        .live
        .into_iter()
        .next()
        .ok_or_else(|| RegistryError::NotAuthorised {
            reason: format!("the acting person may not read enterprise {kbo}"),
        })
}

/// Carries out `writes` in one session, in order, until the first refusal, which is the
/// error; `done` hears of each write the registry took, by its index. The session is
/// logged out either way, so that what was written is processed. Each write has its own
/// idempotency key, `{label}-{pid}-{time}-{index}-{kind}`.
pub async fn write_in_one_session(
    registry: &dyn Registry,
    label: &str,
    writes: &[Write],
    mut done: impl FnMut(usize),
) -> Result<(), RegistryError> {
    let session = registry.open_session().await?.id;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut failed = None;
    for (n, write) in writes.iter().enumerate() {
        let key = format!(
            "{label}-{}-{stamp}-{n}-{}",
            std::process::id(),
            write.kind()
        );
        let written = match IdempotencyKey::new(key) {
            Ok(key) => registry
                .write(&session, &key, write, None)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        match written {
            Ok(()) => done(n),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let closed = registry.close_session(&session).await;
    if let Some(e) = failed {
        return Err(e);
    }
    closed.map(|_| ())
}

/// The planner's limits: the registry's, and the round trip of one request as measured
/// now (a second request, on the connection the first one opened).
pub async fn plan_limits(registry: &dyn Registry) -> Result<PlanLimits, RegistryError> {
    let limits = execute::retried(&ExecuteOptions::default(), |_| registry.limits()).await?;
    Ok(PlanLimits::new(&limits, round_trip_ms(registry).await))
}

/// The round trip of one request to `registry` (call it once a connection is open), in
/// whole milliseconds (rounded down: the estimate is a lower bound); the planner's
/// default when the registry does not answer.
pub(crate) async fn round_trip_ms(registry: &dyn Registry) -> u64 {
    let start = Instant::now();
    match registry.limits().await {
        Ok(_) => u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        Err(_) => PlanLimits::DEFAULT_REQUEST_MS,
    }
}

/// Plans with the given limits and adds the safety refusals as error findings.
pub(crate) fn make_plan(
    desired: &DesiredState,
    reading: &Reading,
    actor: Option<Insz>,
    limits: &PlanLimits,
    safety_options: &SafetyOptions,
) -> Plan {
    let live = &reading.live;
    let mut plan = crate::plan::plan(desired, live, &reading.accounts, actor, limits);
    add_refusals(&mut plan, live, safety_options);
    plan
}

/// Adds the safety refusals of a plan as error findings.
pub(crate) fn add_refusals(plan: &mut Plan, live: &[LiveState], safety_options: &SafetyOptions) {
    let refusals = safety::check(plan, live, safety_options);
    plan.findings.extend(refusals.iter().map(|r| {
        let mut f = Finding::error(r.rule.code(), Some(r.kbo), r.to_string());
        f.object = r.objects.first().cloned();
        f
    }));
}

/// A plan and what it was made from.
#[derive(Debug)]
pub struct Planned {
    /// The plan, with the safety refusals as error findings.
    pub plan: Plan,
    /// The live state it was made from (a saved plan keeps it, to be refused when stale).
    pub live: Vec<LiveState>,
    /// Abandoned sessions logged out to read (see [`Reading::reclaimed`]).
    pub reclaimed: usize,
}

/// The registry's limits, one reading session, the plan: what `plan`, `runbook` and
/// `by-hand` all work from, so that they never disagree.
pub async fn read_and_plan(
    registry: &dyn Registry,
    desired: &DesiredState,
    actor: Option<Insz>,
    safety_options: &SafetyOptions,
) -> Result<Planned, RegistryError> {
    let limits = plan_limits(registry).await?;
    let reading = read_live(registry, desired).await?;
    let plan = make_plan(desired, &reading, actor, &limits, safety_options);
    Ok(Planned {
        plan,
        live: reading.live,
        reclaimed: reading.reclaimed,
    })
}

/// Where an apply's plan comes from.
#[derive(Debug)]
pub enum Source {
    /// Planned now from this desired state.
    Desired(Box<DesiredState>),
    /// A plan saved by `plan --out`, applied exactly unless the registry moved.
    Saved(Box<SavedPlan>),
}

impl Source {
    /// Every enterprise the run may touch: leased before anything is read.
    pub fn enterprises(&self) -> Vec<Kbo> {
        match self {
            Source::Saved(saved) => saved.live.iter().map(|l| l.kbo).collect(),
            Source::Desired(desired) => desired.enterprises.iter().map(|e| e.kbo).collect(),
        }
    }
}

/// What an apply is asked to do.
#[derive(Debug)]
pub struct ApplyRequest<'a> {
    /// The plan's source.
    pub source: &'a Source,
    /// The acting person, when known (authority is checked for them).
    pub actor: Option<Insz>,
    /// The safety rules' options.
    pub safety: &'a SafetyOptions,
    /// Parallelism, retries.
    pub options: &'a ExecuteOptions,
    /// How long to wait for another apply's lease on an enterprise.
    pub lock_timeout: Duration,
}

/// What a person sees and decides during an apply; the command implements it (a
/// daemon would answer without asking).
pub trait ApplyHooks: Sync {
    /// Waiting for, or taking over, another apply's lease.
    fn lease_event(&self, event: LeaseEvent);
    /// This many sessions of the acting person, left by an earlier run, were logged out
    /// so that their writes are processed (R1).
    fn stale_sessions_closed(&self, closed: usize);
    /// This many abandoned sessions were logged out to read (see [`Reading::reclaimed`]).
    fn sessions_reclaimed(&self, reclaimed: usize);
    /// The plan as it will be carried out (or refused: it may hold error findings).
    fn planned(&self, plan: &Plan);
    /// Whether to carry out this plan (it has changes and no errors).
    fn go_ahead(&self, plan: &Plan) -> bool;
    /// Execution starts: how it is cancelled, and who is told of its progress.
    fn executing(&self, plan: &Plan) -> (Cancel, Arc<dyn Observer>);
}

/// How an apply ended (leases released in every case).
#[derive(Debug)]
pub enum Applied {
    /// The saved plan no longer matches the registry; nothing was applied.
    Stale(Stale),
    /// The plan has error findings (safety refusals included); nothing was applied.
    PlanHasErrors,
    /// Nothing to change.
    NothingToDo,
    /// The person did not confirm; nothing was changed.
    Cancelled,
    /// Carried out (in full or in part: the report says).
    Executed {
        /// The plan carried out.
        plan: Box<Plan>,
        /// What happened to each step.
        report: ApplyReport,
        /// Wall time from taking the leases to the end of execution.
        elapsed: Duration,
    },
}

/// Applies: takes the apply lease of every enterprise the run may touch before reading
/// anything (so that what it reads cannot be changed by another apply before it
/// writes), logs out the acting person's stale sessions (R1: a crashed apply's
/// acknowledged writes get processed), plans from what is live now (a saved plan is
/// checked for staleness instead), asks, executes, and releases the leases.
pub async fn apply(
    registry: Arc<dyn Registry>,
    request: &ApplyRequest<'_>,
    hooks: &dyn ApplyHooks,
) -> Result<Applied, ReconcileError> {
    let options = request.options;
    let limits = execute::retried(options, |_| registry.limits()).await?;
    let lock = request.source.enterprises();
    let actor = request.actor;
    let holder = Holder::this_run(actor);
    let ttl = Duration::from_millis(limits.max_lease_ms.clamp(1000, 5 * 60 * 1000));
    let started = Instant::now();
    let on_event = |event| hooks.lease_event(event);
    let taking = execute::LeaseTaking {
        holder: &holder,
        ttl,
        lock_timeout: request.lock_timeout,
        is_dead_own: &|held: &str| Holder::is_dead_here(held, actor),
        on_event: &on_event,
    };
    let leases = execute::acquire_leases(&*registry, &lock, &taking, options).await?;
    // Registry time now, as the registry tells it; only when every enterprise is leased
    // does holding the leases mean that no crashed apply on them was left unwaited for.
    let registry_now = if leases.held().len() == lock.len() {
        Some(
            execute::retried(options, |_| registry.whoami())
                .await?
                .now_ms,
        )
    } else {
        None
    };
    let leases = Arc::new(tokio::sync::Mutex::new(leases));
    let renewer = {
        let leases = leases.clone();
        let registry = registry.clone();
        let holder = holder.clone();
        let options = options.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                leases
                    .lock()
                    .await
                    .renew(&*registry, ttl, &holder, &options)
                    .await;
            }
        })
    };
    let locked = Locked {
        limits: &limits,
        started,
        registry_now,
    };
    let result = apply_locked(registry.clone(), request, hooks, &locked).await;
    renewer.abort();
    let leases = std::mem::take(&mut *leases.lock().await);
    leases.release(&*registry, options).await;
    result
}

/// What holding the leases established.
struct Locked<'a> {
    limits: &'a crate::registry::Limits,
    started: Instant,
    registry_now: Option<Millis>,
}

async fn apply_locked(
    shared: Arc<dyn Registry>,
    request: &ApplyRequest<'_>,
    hooks: &dyn ApplyHooks,
    locked: &Locked<'_>,
) -> Result<Applied, ReconcileError> {
    let registry = &*shared;
    let options = request.options;
    let closed =
        execute::close_stale_sessions(registry, options, locked.limits, locked.registry_now)
            .await?;
    if closed > 0 {
        hooks.stale_sessions_closed(closed);
    }
    let plan = match request.source {
        Source::Desired(desired) => {
            let reading = read_live(registry, desired).await?;
            if reading.reclaimed > 0 {
                hooks.sessions_reclaimed(reading.reclaimed);
            }
            let limits = PlanLimits::new(locked.limits, round_trip_ms(registry).await);
            make_plan(desired, &reading, request.actor, &limits, request.safety)
        }
        Source::Saved(saved) => {
            let kbos: Vec<Kbo> = saved.live.iter().map(|l| l.kbo).collect();
            let reading = read_enterprises(registry, &kbos).await?;
            if reading.reclaimed > 0 {
                hooks.sessions_reclaimed(reading.reclaimed);
            }
            if let Err(stale) = fingerprint::check_fresh(saved, &reading.live) {
                return Ok(Applied::Stale(stale));
            }
            let mut plan = saved.plan.clone();
            add_refusals(&mut plan, &reading.live, request.safety);
            plan
        }
    };
    hooks.planned(&plan);
    if plan.has_errors() {
        return Ok(Applied::PlanHasErrors);
    }
    if plan.is_empty() && !plan.enterprises.iter().any(|e| !e.phases.is_empty()) {
        return Ok(Applied::NothingToDo);
    }
    if !hooks.go_ahead(&plan) {
        return Ok(Applied::Cancelled);
    }
    let (cancel, observer) = hooks.executing(&plan);
    let report = execute::execute(
        &plan,
        shared.clone(),
        options,
        Arc::new(EnvAndFiles),
        &cancel,
        observer,
    )
    .await;
    Ok(Applied::Executed {
        elapsed: locked.started.elapsed(),
        plan: Box::new(plan),
        report,
    })
}

/// Who holds a lease, as another apply's refusal names it: `csamctl apply by
/// **.**.**-**3.28 (pid 4242 on host-1)` (the INSZ masked).
struct Holder;

impl Holder {
    fn this_run(actor: Option<Insz>) -> String {
        Self::describe(actor, std::process::id(), host().as_deref())
    }

    fn describe(actor: Option<Insz>, pid: u32, host: Option<&str>) -> String {
        format!(
            "csamctl apply{} (pid {pid}{})",
            actor.map(|a| format!(" by {a}")).unwrap_or_default(),
            host.map(|h| format!(" on {h}")).unwrap_or_default()
        )
    }

    /// True when `held` names an apply of the same acting person on this host whose
    /// process no longer exists (a crashed or killed run). The registry itself checks
    /// that the lease is the person's before letting it be taken over.
    fn is_dead_here(held: &str, actor: Option<Insz>) -> bool {
        let Some(host) = host() else {
            return false;
        };
        let Some(pid) = held
            .split("(pid ")
            .nth(1)
            .and_then(|rest| rest.split([' ', ')']).next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            return false;
        };
        pid != std::process::id()
            && held == Self::describe(actor, pid, Some(&host))
            && !process_exists(pid)
    }
}

/// This machine's name (the kernel's, so that it does not depend on an exported
/// `HOSTNAME`).
fn host() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|h| !h.is_empty())
}

/// Whether a process with this id runs on this machine. Where that cannot be told
/// (no `/proc`), it is assumed to run: a lease is then waited for, never taken.
fn process_exists(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Every active declared person on each of their sites: what `verify` checks.
pub fn declared_site_users(desired: &DesiredState) -> Vec<(Insz, Hco)> {
    let mut wanted = Vec::new();
    for e in &desired.enterprises {
        for c in &e.capacities {
            for p in c.people.iter().filter(|p| p.active) {
                for site in p.sites.keys() {
                    wanted.push((p.insz, site.clone()));
                }
            }
        }
    }
    wanted
}

/// A declared user record without effective access: the person, the site, and the
/// registry's evaluation of it (`None`: no user record on that site).
pub type Failing = (Insz, Hco, Option<UnitAccess>);

/// One pass of `verify`: who has no effective access yet.
#[derive(Debug, Default)]
pub struct AccessCheck {
    /// The records without access.
    pub failing: Vec<Failing>,
    /// True when every failing record fails only on the propagation delay (R6), which
    /// time alone fixes.
    pub only_waiting: bool,
}

/// Asks the registry for the effective access of each (person, site).
pub async fn check_access(
    registry: &dyn Registry,
    wanted: &[(Insz, Hco)],
) -> Result<AccessCheck, RegistryError> {
    let mut failing = Vec::new();
    let mut only_waiting = true;
    for (insz, site) in wanted {
        let report = registry.evaluate_access(insz, Some(site)).await?;
        let unit = report.units.iter().find(|u| u.site.as_ref() == Some(site));
        match unit {
            Some(u) if u.has_access => {}
            Some(u) => {
                if u.conditions
                    .iter()
                    .any(|c| !c.passed && c.condition != AccessCondition::Propagated)
                {
                    only_waiting = false;
                }
                failing.push((*insz, site.clone(), Some(u.clone())));
            }
            None => {
                only_waiting = false;
                failing.push((*insz, site.clone(), None));
            }
        }
    }
    Ok(AccessCheck {
        failing,
        only_waiting,
    })
}
