//! The executor sends a session's writes in batch requests, against the real engine on
//! a SQLite file: one batch per session (two when a session holds more than 500
//! writes), never a single write; and writes refused because the session was closed
//! under them are sent again, in a new session, under the same idempotency keys, so
//! every step is done and no write is applied twice. A thin wrapper records the batches
//! and, for the second test, logs the session out half-way through a batch — what
//! another program of the same person (or the registry's expiry) does to a session,
//! which the real registry cannot be asked to do on demand.

#[path = "../benches/fleet/mod.rs"]
mod fleet;
mod plan_support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use csamctl::execute::{self, ApplyReport, Cancel, ExecuteOptions, Silent, StepOutcome};
use csamctl::model::{BATCH_WRITES, Hco, Insz, Kbo, LiveState, Plan, insz_check};
use csamctl::registry::{
    AccessReport, AccountPassword, BatchOutcomes, BatchWrite, CloseReceipt, IdempotencyKey, Lease,
    LeaseId, LeaseRequest, Limits, PendingNotice, Registry, RegistryError, SessionId, SessionInfo,
    Ticket, Write, WriteReceipt,
};
use plan_support::{
    EXAMPLES_REFERENCE, Fixture, OnePassword, PASSWORD, VLASLAND_HTB, example, insz, plan_as,
};

/// The real registry, recording the keys of every batch and counting single writes;
/// with `close_mid_batch`, the first batch of two writes or more has its session logged
/// out after its first half.
struct Recording {
    inner: Arc<dyn Registry>,
    batches: Mutex<Vec<Vec<String>>>,
    single_writes: AtomicUsize,
    close_mid_batch: AtomicBool,
}

impl Recording {
    fn new(inner: Arc<dyn Registry>, close_mid_batch: bool) -> Arc<Recording> {
        Arc::new(Recording {
            inner,
            batches: Mutex::new(Vec::new()),
            single_writes: AtomicUsize::new(0),
            close_mid_batch: AtomicBool::new(close_mid_batch),
        })
    }

    fn batches(&self) -> Vec<Vec<String>> {
        self.batches.lock().expect("lock").clone()
    }
}

#[async_trait]
impl Registry for Recording {
    async fn limits(&self) -> Result<Limits, RegistryError> {
        self.inner.limits().await
    }
    async fn whoami(&self) -> Result<csamctl::registry::Me, RegistryError> {
        self.inner.whoami().await
    }
    async fn open_session_keyed(&self, key: &IdempotencyKey) -> Result<SessionInfo, RegistryError> {
        self.inner.open_session_keyed(key).await
    }
    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, RegistryError> {
        self.inner.list_sessions().await
    }
    async fn close_session(&self, session: &SessionId) -> Result<CloseReceipt, RegistryError> {
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
        self.single_writes.fetch_add(1, Ordering::SeqCst);
        self.inner.write(session, key, write, password).await
    }
    async fn write_batch(
        &self,
        session: &SessionId,
        writes: &[BatchWrite],
    ) -> Result<BatchOutcomes, RegistryError> {
        self.batches.lock().expect("lock").push(
            writes
                .iter()
                .map(|w| w.idempotency_key.as_str().to_string())
                .collect(),
        );
        if writes.len() >= 2 && self.close_mid_batch.swap(false, Ordering::SeqCst) {
            let (first, second) = writes.split_at(writes.len() / 2);
            let mut answers = self.inner.write_batch(session, first).await?;
            self.inner.close_session(session).await?;
            answers.extend(self.inner.write_batch(session, second).await?);
            return Ok(answers);
        }
        self.inner.write_batch(session, writes).await
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

async fn run(plan: &Plan, registry: Arc<Recording>, password: &'static str) -> ApplyReport {
    execute::execute(
        plan,
        registry,
        &ExecuteOptions::default(),
        Arc::new(OnePassword(password)),
        &Cancel::new(),
        Arc::new(Silent),
    )
    .await
}

fn all_done(report: &ApplyReport) -> usize {
    let steps: Vec<_> = report.enterprises.iter().flat_map(|e| &e.steps).collect();
    assert!(!steps.is_empty());
    for s in &steps {
        assert!(
            matches!(s.outcome, StepOutcome::Done { .. }),
            "step {} ({}): {:?}",
            s.id,
            s.kind,
            s.outcome
        );
    }
    steps.len()
}

/// Every write the registry applied, by idempotency key; panics on a key applied twice.
fn applied_keys(fx: &Fixture) -> usize {
    let conn = rusqlite::Connection::open(fx.path()).expect("db opens");
    let (applied, distinct): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT idempotency_key) FROM audit \
             WHERE outcome = 'ok' AND idempotency_key IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("audit");
    assert_eq!(applied, distinct, "a write applied twice");
    usize::try_from(applied).expect("a count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_sends_its_writes_in_batches_of_at_most_500() {
    // One hospital of 520 people on one site: its users' session holds more than 500 writes.
    let actor = {
        let nine = 700_101_000u64;
        format!("{nine:09}{:02}", insz_check(nine, false))
    };
    let fleet = fleet::fleet(
        1,
        1,
        520,
        &fleet::MainAccessManager::Everywhere(actor.clone()),
    );
    let fx = Fixture::new(&fleet.reference, Limits::default());
    let desired = plan_support::desired_from_yaml("fleet.yaml", &fleet.desired);
    let actor = insz(&actor);
    let (plan, _) = plan_as(&fx, &desired, &actor).await;
    let sessions: Vec<usize> = plan
        .enterprises
        .iter()
        .flat_map(|e| e.sessions())
        .map(|s| s.steps.len())
        .collect();
    assert!(
        sessions.iter().any(|n| *n > BATCH_WRITES),
        "a session of more than {BATCH_WRITES} writes: {sessions:?}"
    );
    let recording = Recording::new(fx.as_person(&actor), false);
    let report = run(&plan, recording.clone(), "Fleet2026!x").await;
    let steps = all_done(&report);
    assert_eq!(recording.single_writes.load(Ordering::SeqCst), 0);
    let batches = recording.batches();
    assert!(
        batches
            .iter()
            .all(|b| !b.is_empty() && b.len() <= BATCH_WRITES)
    );
    let expected: usize = sessions.iter().map(|n| n.div_ceil(BATCH_WRITES)).sum();
    assert_eq!(
        batches.len(),
        expected,
        "one batch per 500 writes of a session"
    );
    assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), steps);
    assert_eq!(applied_keys(&fx), steps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_refused_in_a_closed_session_are_sent_again_under_their_keys() {
    let fx = Fixture::new(EXAMPLES_REFERENCE, Limits::default());
    let actor = insz(VLASLAND_HTB);
    let desired = example("multi-campus.yaml");
    let (plan, _) = plan_as(&fx, &desired, &actor).await;
    let recording = Recording::new(fx.as_person(&actor), true);
    let report = run(&plan, recording.clone(), PASSWORD).await;
    let steps = all_done(&report);
    // The batch cut in two: its second half, refused with session_closed, went again
    // in a batch of its own, under the same keys; nothing else was sent twice.
    let batches = recording.batches();
    let cut = batches
        .iter()
        .position(|b| b.len() >= 2)
        .expect("a batch of 2");
    let second_half = batches[cut][batches[cut].len() / 2..].to_vec();
    assert!(
        batches[cut + 1..].contains(&second_half),
        "the refused half was not sent again as it was: {batches:?}"
    );
    let sent: usize = batches.iter().map(Vec::len).sum();
    assert_eq!(sent, steps + second_half.len());
    assert_eq!(applied_keys(&fx), steps);
    // The session logged out under it counts as a log-out of the report too.
    let logouts: usize = report.enterprises.iter().map(|e| e.logouts).sum();
    let sessions: usize = plan.enterprises.iter().map(|e| e.sessions().count()).sum();
    assert_eq!(logouts, sessions + 1);
    // And nothing is left to do.
    let (again, _) = plan_as(&fx, &desired, &actor).await;
    assert!(again.is_empty(), "{:?}", again.enterprises);
}
