//! The executor's bounds on sessions, against the real engine on a SQLite file: at most
//! `--parallelism` sessions in progress and at most the registry's sessions-per-person
//! limit open at once, whatever the plan would allow side by side. The registry is the
//! real one; a thin wrapper only counts the sessions open at each moment.

mod plan_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use csamctl::execute::{self, Cancel, ExecuteOptions, Silent, StepOutcome};
use csamctl::model::{Hco, Insz, Kbo, LiveState, Phase, PlanLimits};
use csamctl::registry::{
    AccessReport, AccountPassword, CloseReceipt, IdempotencyKey, Lease, LeaseId, LeaseRequest,
    Limits, PendingNotice, Registry, RegistryError, SessionId, SessionInfo, Ticket, Write,
    WriteReceipt,
};
use plan_support::{
    EXAMPLES_REFERENCE, Fixture, OnePassword, PASSWORD, VLASLAND_HTB, example, insz, read_live,
};

/// The real registry, with a count of the sessions open now, the most ever open, and
/// the log-ins it refused for too many open sessions.
struct Counting {
    inner: Arc<dyn Registry>,
    open: AtomicUsize,
    most: AtomicUsize,
    refused: AtomicUsize,
}

#[async_trait]
impl Registry for Counting {
    async fn limits(&self) -> Result<Limits, RegistryError> {
        self.inner.limits().await
    }
    async fn whoami(&self) -> Result<csamctl::registry::Me, RegistryError> {
        self.inner.whoami().await
    }
    async fn open_session_keyed(&self, key: &IdempotencyKey) -> Result<SessionInfo, RegistryError> {
        let s = self.inner.open_session_keyed(key).await.inspect_err(|e| {
            if matches!(e, RegistryError::TooManySessions { .. }) {
                self.refused.fetch_add(1, Ordering::SeqCst);
            }
        })?;
        let now = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        Ok(s)
    }
    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, RegistryError> {
        self.inner.list_sessions().await
    }
    async fn close_session(&self, session: &SessionId) -> Result<CloseReceipt, RegistryError> {
        // Counted as closed before the registry answers: the next log-in may only start
        // after this call returns, so nothing is counted twice.
        self.open.fetch_sub(1, Ordering::SeqCst);
        self.inner.close_session(session).await
    }
    async fn snapshot(&self, session: &SessionId, kbo: &Kbo) -> Result<LiveState, RegistryError> {
        self.inner.snapshot(session, kbo).await
    }
    async fn write(
        &self,
        session: &SessionId,
        key: &IdempotencyKey,
        write: &Write,
        password: Option<&AccountPassword>,
    ) -> Result<WriteReceipt, RegistryError> {
        // Give the other sessions a chance to run meanwhile, as a remote registry would.
        tokio::task::yield_now().await;
        self.inner.write(session, key, write, password).await
    }
    async fn look_up_accounts(
        &self,
        query: &csamctl::registry::AccountQuery,
    ) -> Result<csamctl::model::KnownAccounts, RegistryError> {
        self.inner.look_up_accounts(query).await
    }
    async fn tickets(&self, kbo: &Kbo) -> Result<Vec<Ticket>, RegistryError> {
        self.inner.tickets(kbo).await
    }
    async fn pending_notices(&self, kbo: &Kbo) -> Result<Vec<PendingNotice>, RegistryError> {
        self.inner.pending_notices(kbo).await
    }
    async fn evaluate_access(
        &self,
        person: &Insz,
        site: Option<&Hco>,
    ) -> Result<AccessReport, RegistryError> {
        self.inner.evaluate_access(person, site).await
    }
    async fn acquire_lease(
        &self,
        kbo: &Kbo,
        request: &LeaseRequest,
    ) -> Result<Lease, RegistryError> {
        self.inner.acquire_lease(kbo, request).await
    }
    async fn release_lease(&self, lease: &LeaseId) -> Result<(), RegistryError> {
        self.inner.release_lease(lease).await
    }
}

/// Applies the multi-campus example from empty with the given bounds — the plan made for
/// a registry that allows 8 open sessions a person, carried out against one that allows
/// `sessions_per_person` (a saved plan, a registry reconfigured since) — and returns the
/// most sessions open at once, after checking that every step was done.
async fn apply_multi_campus(sessions_per_person: u32, parallelism: usize) -> usize {
    let fx = Fixture::new(
        EXAMPLES_REFERENCE,
        Limits {
            sessions_per_person,
            ..Limits::default()
        },
    );
    let actor = insz(VLASLAND_HTB);
    let desired = example("multi-campus.yaml");
    let kbos: Vec<Kbo> = desired.enterprises.iter().map(|e| e.kbo).collect();
    let live = read_live(&*fx.as_person(&actor), &kbos).await;
    let limits = PlanLimits {
        sessions_per_person: 8,
        ..PlanLimits::default()
    };
    let plan = csamctl::plan::plan(&desired, &live, &Default::default(), Some(actor), &limits);
    let widest = plan
        .enterprises
        .iter()
        .flat_map(|e| &e.phases)
        .map(|p| match p {
            Phase::Sessions { sessions } => sessions.len(),
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    assert!(widest >= 3, "the plan has a round of {widest} sessions");
    let counting = Arc::new(Counting {
        inner: fx.as_person(&actor),
        open: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
        refused: AtomicUsize::new(0),
    });
    let report = execute::execute(
        &plan,
        counting.clone(),
        &ExecuteOptions {
            parallelism,
            ..ExecuteOptions::default()
        },
        Arc::new(OnePassword(PASSWORD)),
        &Cancel::new(),
        Arc::new(Silent),
    )
    .await;
    let steps: Vec<_> = report.enterprises.iter().flat_map(|e| &e.steps).collect();
    assert!(!steps.is_empty());
    assert!(
        steps
            .iter()
            .all(|s| matches!(s.outcome, StepOutcome::Done { .. })),
        "{report:?}"
    );
    assert_eq!(
        counting.open.load(Ordering::SeqCst),
        0,
        "every session logged out"
    );
    // The executor keeps within the limit itself: the registry never had to refuse.
    assert_eq!(
        counting.refused.load(Ordering::SeqCst),
        0,
        "log-ins refused"
    );
    counting.most.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sessions_per_person_limit_bounds_the_sessions_open_at_once() {
    let most = apply_multi_campus(2, 8).await;
    assert!(most <= 2, "{most} sessions open at once, limit 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallelism_one_opens_one_session_at_a_time() {
    let most = apply_multi_campus(8, 1).await;
    assert_eq!(most, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_of_a_round_run_side_by_side() {
    // The site round has three sessions; with room for all of them, more than one is
    // open at some moment.
    let most = apply_multi_campus(8, 8).await;
    assert!(most > 1, "the sessions of a round ran one after another");
}
