//! The registry conformance suite, against the embedded registry on a real SQLite file
//! and against a `csamctl registry serve` child process over HTTP.
//!
//! `suite.rs` holds the checks, generic over the contract; this file runs each on a
//! fresh registry file with a virtual clock (no test sleeps), once in-process
//! (`embedded::…`) and once through a served child (`served::…`), plus the checks that
//! only make sense in-process (reopening the file). `http.rs` holds what only the HTTP
//! API has (problem documents, ETags, faults, shutdown, the OpenAPI document) and
//! `durability.rs` the SIGKILL test.

mod child;
mod durability;
mod http;
mod suite;

use std::sync::Arc;

use csamctl::registry::Limits;
use csamctl::registry::{OpenOptions, RegistryOperator, SqliteRegistry};
use suite::*;

fn embedded_with(options: OpenOptions) -> (tempfile::TempDir, SqliteRegistry, Env) {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry =
        SqliteRegistry::init_with_reference(dir.path().join("registry.db"), REFERENCE, options)
            .expect("registry created");
    let env = Env {
        op: Arc::new(registry.clone()),
    };
    (dir, registry, env)
}

fn embedded() -> (tempfile::TempDir, Env) {
    let (dir, _, env) = embedded_with(OpenOptions::virtual_clock());
    (dir, env)
}

macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        /// The suite against the embedded registry.
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    let (_dir, env) = super::embedded();
                    crate::suite::$name(&env).await;
                }
            )+
        }

        /// The same suite against `csamctl registry serve` over HTTP.
        mod served {
            $(
                #[tokio::test]
                async fn $name() {
                    let (_dir, db) = crate::child::fresh_registry();
                    let server = crate::child::ServedRegistry::start(&db, &[]);
                    crate::suite::$name(&server.env()).await;
                }
            )+
        }
    };
}

conformance!(
    procedure_s1_to_s4,
    r1_snapshot_visibility,
    r1_idle_expiry_processes,
    r2_one_site_per_session,
    r3_structure_before_users,
    r4_wrong_level_gives_no_access,
    r5_applications_on_every_level,
    r6_propagation_delay,
    r7_designation_gate,
    r9_pending_notices,
    r8_recognised_units_only,
    usernames_unique_and_immutable,
    account_lookup,
    idempotent_writes,
    idempotent_secrets,
    paged_user_listing,
    session_limit,
    keyed_log_in,
    leases,
    lease_take_over,
    authority_matrix,
    whoami_names_the_token_person,
    revocation_is_immediate,
    batched_writes,
    batch_authority_per_write,
);

/// Acknowledged writes survive closing and reopening the file, with their visibility.
#[tokio::test]
async fn reopened_file_has_every_acknowledged_write() {
    let (dir, registry, env) = embedded_with(OpenOptions::virtual_clock());
    build_ready_tree(&env).await;
    let htb = env.person(HTB_READY).await;
    let s = login(&*htb).await;
    let before = htb.snapshot(&s, &kbo(READY)).await.expect("snapshot");
    let pending = htb
        .write(&s, &key(), &activate_capacity(READY, None), None)
        .await;
    assert!(pending.is_err(), "already active");
    let stats = env.op.stats().await.expect("stats");
    drop((htb, env, registry));

    let reopened =
        SqliteRegistry::open(dir.path().join("registry.db"), OpenOptions::virtual_clock())
            .expect("reopen");
    let stats_after = reopened.stats().await.expect("stats");
    assert_eq!(stats_after.journal_entries, stats.journal_entries);
    assert_eq!(
        stats_after.now_ms, stats.now_ms,
        "the virtual clock is journalled"
    );
    let htb = reopened.as_person(insz(HTB_READY));
    // The old session is still open after the restart and keeps its view.
    assert_eq!(
        htb.snapshot(&s, &kbo(READY)).await.expect("snapshot"),
        before
    );
    let s2 = htb.open_session().await.expect("login").id;
    assert_eq!(
        htb.snapshot(&s2, &kbo(READY)).await.expect("snapshot"),
        before
    );
}

/// With a processing delay, a log-out's writes become visible only once it has passed.
#[tokio::test]
async fn processing_delay_defers_visibility() {
    let options = OpenOptions {
        config: Limits {
            processing_delay_ms: 5_000,
            ..Limits::default()
        },
        ..OpenOptions::virtual_clock()
    };
    let (_dir, _registry, env) = embedded_with(options);
    processing_delay_check(&env).await;
}

/// The same through `registry serve --processing-delay 5000`.
#[tokio::test]
async fn served_processing_delay_defers_visibility() {
    let (_dir, db) = child::fresh_registry();
    let server = child::ServedRegistry::start(&db, &["--processing-delay", "5000"]);
    processing_delay_check(&server.env()).await;
}

async fn processing_delay_check(env: &Env) {
    let htb = env.person(HTB_READY).await;
    let s = login(&*htb).await;
    htb.write(&s, &key(), &activate_capacity(READY, None), None)
        .await
        .expect("capacity");
    let receipt = htb.close_session(&s).await.expect("log out");
    assert!(!receipt.processed);
    let early = login(&*htb).await;
    assert!(
        htb.snapshot(&early, &kbo(READY))
            .await
            .expect("snapshot")
            .enterprise
            .capacities
            .is_empty()
    );
    env.op.advance_clock(5_000).await.expect("clock");
    let late = login(&*htb).await;
    assert_eq!(
        htb.snapshot(&late, &kbo(READY))
            .await
            .expect("snapshot")
            .enterprise
            .capacities
            .len(),
        1
    );
}

/// Two registries on the same file (two processes) see each other's writes.
#[tokio::test]
async fn two_handles_on_one_file_agree() {
    let (dir, _registry, env) = embedded_with(OpenOptions::virtual_clock());
    let other = SqliteRegistry::open(dir.path().join("registry.db"), OpenOptions::virtual_clock())
        .expect("second handle");
    let htb = env.person(HTB_READY).await;
    let s = login(&*htb).await;
    htb.write(&s, &key(), &activate_capacity(READY, None), None)
        .await
        .expect("capacity");
    htb.close_session(&s).await.expect("log out");
    let htb2 = other.as_person(insz(HTB_READY));
    let s2 = htb2.open_session().await.expect("login").id;
    let live = htb2.snapshot(&s2, &kbo(READY)).await.expect("snapshot");
    assert_eq!(live.enterprise.capacities.len(), 1);
    // A repeated activation through the other handle is refused: one rule book.
    let err = htb2
        .write(&s2, &key(), &activate_capacity(READY, None), None)
        .await
        .expect_err("conflict");
    assert_eq!(err.code(), "conflict");
}

/// Passwords never reach the file; INSZ only where the registry must hold them.
#[tokio::test]
async fn passwords_are_never_stored() {
    let (dir, _registry, env) = embedded_with(OpenOptions::virtual_clock());
    build_ready_tree(&env).await;
    let bytes = std::fs::read(dir.path().join("registry.db")).expect("db");
    let wal = std::fs::read(dir.path().join("registry.db-wal")).unwrap_or_default();
    for content in [bytes, wal] {
        let text = String::from_utf8_lossy(&content);
        assert!(!text.contains("Proef2026!x"), "a password reached the file");
    }
}

/// The examples' reference file loads into a registry.
#[tokio::test]
async fn examples_reference_loads() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/reference.yaml"
    ))
    .expect("examples/reference.yaml");
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = SqliteRegistry::init_with_reference(
        dir.path().join("r.db"),
        &text,
        OpenOptions::virtual_clock(),
    )
    .expect("reference loads");
    assert_eq!(registry.stats().await.expect("stats").journal_entries, 1);
}

/// Rough write throughput of the embedded registry (run with `--ignored --nocapture`).
#[tokio::test]
#[ignore = "measurement, not a check"]
async fn throughput_probe() {
    let (_dir, _registry, env) = embedded_with(OpenOptions::virtual_clock());
    build_ready_tree(&env).await;
    let htb = env.person(HTB_READY).await;
    let s = login(&*htb).await;
    let n = 2_000;
    let start = std::time::Instant::now();
    for i in 0..n {
        let w = csamctl::registry::Write::SetActive {
            target: csamctl::registry::WriteTarget::Site {
                hco: hco("73000101"),
            },
            active: i % 2 == 0,
        };
        htb.write(&s, &key(), &w, password_for(&w).as_ref())
            .await
            .expect("write");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} writes in {secs:.2} s: {:.0} writes/s",
        f64::from(n) / secs
    );
}
