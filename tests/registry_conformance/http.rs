//! What only the HTTP API has: problem documents and statuses, bearer and operator
//! tokens, the Idempotency-Key header, ETags, the testing faults, graceful shutdown and
//! the OpenAPI document. Each check runs against a `csamctl registry serve` child.

use csamctl::registry::http::{HttpOptions, HttpRegistry};
use csamctl::registry::openapi::{self, Operation};
use csamctl::registry::{
    BatchRequest, BatchResponse, BatchResult, BatchWrite, Problem, Registry, RegistryOperator,
    SessionId, Write,
};
use reqwest::StatusCode;

use crate::child::{ServedRegistry, fresh_registry};
use crate::suite::*;

const COMMITTED_OPENAPI: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/schemas/registry-api.openapi.json"
);

/// A token of the suite's ready enterprise's main access manager, and an HTTP client
/// acting with it against `server`.
async fn htb_client(server: &ServedRegistry, env: &Env) -> (String, HttpRegistry) {
    let token = env.op.issue_token(&insz(HTB_READY)).await.expect("token");
    let htb = HttpRegistry::new(&server.url, &token, HttpOptions::default()).expect("client");
    (token, htb)
}

fn client() -> reqwest::Client {
    // reqwest is built without a crypto provider of its own: install the one csamctl
    // uses, so that a test run alone (not after a csamctl client was built) works too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().expect("client")
}

async fn problem(response: reqwest::Response, status: StatusCode, code: &str) -> Problem {
    assert_eq!(response.status(), status);
    assert_eq!(
        response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let problem: Problem = response.json().await.expect("a problem document");
    assert_eq!(problem.error.code(), code);
    assert_eq!(problem.status, status.as_u16());
    problem
}

/// After `regenerate`, the committed document is what the code describes.
/// To refresh it: `cargo run -- registry openapi > schemas/registry-api.openapi.json`.
#[test]
fn committed_openapi_document_is_the_generated_one() {
    let committed = std::fs::read_to_string(COMMITTED_OPENAPI).expect("committed document");
    assert!(
        committed == openapi::document_json(),
        "schemas/registry-api.openapi.json is stale: run `cargo run -- registry openapi > schemas/registry-api.openapi.json`"
    );
}

/// The served document is the committed one, byte for byte, and every operation it
/// lists is routed (nothing answers "no such path").
#[tokio::test]
async fn served_openapi_document_is_the_committed_one() {
    let (_dir, db) = fresh_registry();
    let server = ServedRegistry::start(&db, &[]);
    let http = client();
    let served = http
        .get(format!("{}/openapi.json", server.url))
        .send()
        .await
        .expect("served");
    assert_eq!(served.status(), StatusCode::OK);
    let served = served.text().await.expect("text");
    let committed = std::fs::read_to_string(COMMITTED_OPENAPI).expect("committed document");
    assert!(served == committed, "served and committed documents differ");

    for op in Operation::ALL {
        let params: Vec<&str> = op.path().matches('{').map(|_| "0198765470").collect();
        let url = format!("{}{}", server.url, op.url_path(&params));
        let method = reqwest::Method::from_bytes(op.method().as_bytes()).expect("method");
        let response = http.request(method, url).send().await.expect("answered");
        if response.status() == StatusCode::NOT_FOUND {
            let p: Problem = response.json().await.expect("problem");
            assert!(
                !p.detail.contains("this path"),
                "{op:?} is documented but not routed"
            );
        } else {
            assert_ne!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{op:?} is documented but not routed"
            );
        }
    }
    let nowhere = http
        .get(format!("{}/v1/nowhere", server.url))
        .send()
        .await
        .expect("answered");
    problem(nowhere, StatusCode::NOT_FOUND, "not_found").await;
}

/// Tokens: none or an unknown one is 401 with WWW-Authenticate; a person's token does
/// not open the operator surface; refusals carry their status and stable code.
#[tokio::test]
async fn tokens_statuses_and_problem_documents() {
    let (_dir, db) = fresh_registry();
    let server = ServedRegistry::start(&db, &[]);
    let env = server.env();
    let http = client();
    let limits = format!("{}/v1/limits", server.url);

    let anonymous = http.get(&limits).send().await.expect("answered");
    assert_eq!(
        anonymous
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    problem(anonymous, StatusCode::UNAUTHORIZED, "not_authorised").await;
    let unknown = http
        .get(&limits)
        .bearer_auth("csam_unknown")
        .send()
        .await
        .expect("answered");
    problem(unknown, StatusCode::UNAUTHORIZED, "not_authorised").await;
    let refused = env.op.connect("csam_unknown").await;
    refused_with(refused, "not_authorised");

    let token = env.op.issue_token(&insz(HTB_READY)).await.expect("token");
    let as_operator = http
        .get(format!("{}/v1/admin/stats", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("answered");
    problem(as_operator, StatusCode::FORBIDDEN, "not_authorised").await;
    let no_operator = http
        .get(format!("{}/v1/admin/stats", server.url))
        .send()
        .await
        .expect("answered");
    problem(no_operator, StatusCode::UNAUTHORIZED, "not_authorised").await;

    // A write without an Idempotency-Key is refused before anything happens.
    let htb = HttpRegistry::new(&server.url, &token, HttpOptions::default()).expect("client");
    let s = htb.open_session().await.expect("login").id;
    let write_url = format!("{}{}", server.url, Operation::Write.url_path(&[&s.0]));
    let keyless = http
        .post(&write_url)
        .bearer_auth(&token)
        .json(&activate_capacity(READY, None))
        .send()
        .await
        .expect("answered");
    problem(keyless, StatusCode::BAD_REQUEST, "invalid_request").await;
    let malformed = http
        .post(&write_url)
        .bearer_auth(&token)
        .header("Idempotency-Key", "k-1")
        .body("{\"change\": \"no_such_change\"}")
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .send()
        .await
        .expect("answered");
    problem(malformed, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Refusals by the rules: 422 for reference data, 403, 409, 400.
    build_ready_tree(&env).await;
    let s = htb.open_session().await.expect("login").id;
    let unknown_site = http
        .post(format!(
            "{}{}",
            server.url,
            Operation::Write.url_path(&[&s.0])
        ))
        .bearer_auth(&token)
        .header("Idempotency-Key", "k-site-1")
        .json(&create_site(
            "73000200",
            "73000999",
            csamctl::model::LiveAdministrator::Itself,
        ))
        .send()
        .await
        .expect("answered");
    problem(
        unknown_site,
        StatusCode::UNPROCESSABLE_ENTITY,
        "site_not_recognised",
    )
    .await;
    let stranger = env.op.issue_token(&insz(STRANGER)).await.expect("token");
    let stranger_registry =
        HttpRegistry::new(&server.url, &stranger, HttpOptions::default()).expect("client");
    let ss = stranger_registry.open_session().await.expect("login").id;
    let not_theirs = http
        .post(format!(
            "{}{}",
            server.url,
            Operation::Write.url_path(&[&ss.0])
        ))
        .bearer_auth(&stranger)
        .header("Idempotency-Key", "k-stranger")
        .json(&activate_capacity(READY, None))
        .send()
        .await
        .expect("answered");
    problem(not_theirs, StatusCode::FORBIDDEN, "not_authorised").await;
    let closed = http
        .delete(format!(
            "{}{}",
            server.url,
            Operation::CloseSession.url_path(&["s-999999"])
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("answered");
    problem(closed, StatusCode::CONFLICT, "session_closed").await;
    let bad_kbo = http
        .get(format!(
            "{}{}",
            server.url,
            Operation::Snapshot.url_path(&[&s.0, "0198765471"])
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("answered");
    problem(bad_kbo, StatusCode::BAD_REQUEST, "invalid_request").await;
    // The typed error comes back through the client, retryability included.
    let mut over = None;
    for _ in 0..10 {
        if let Err(e) = htb.open_session().await {
            over = Some(e);
            break;
        }
    }
    let err = over.expect("a session limit");
    assert_eq!(err.code(), "too_many_sessions");
    assert!(err.is_retryable());
    let raw = http
        .post(format!("{}/v1/sessions", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("answered");
    assert!(raw.headers().contains_key(reqwest::header::RETRY_AFTER));
    problem(raw, StatusCode::TOO_MANY_REQUESTS, "too_many_sessions").await;
}

#[track_caller]
fn refused_with<T>(result: Result<T, csamctl::registry::RegistryError>, code: &str) {
    match result {
        Err(e) => assert_eq!(e.code(), code),
        Ok(_) => panic!("expected {code}"),
    }
}

/// Tree reads carry an ETag; If-None-Match with it answers 304 until the tree changes.
#[tokio::test]
async fn tree_reads_carry_an_etag() {
    let (_dir, db) = fresh_registry();
    let server = ServedRegistry::start(&db, &[]);
    let env = server.env();
    build_ready_tree(&env).await;
    let (token, htb) = htb_client(&server, &env).await;
    let http = client();
    let read = |session: String, etag: Option<String>| {
        let mut request = http
            .get(format!(
                "{}{}",
                server.url,
                Operation::Snapshot.url_path(&[&session, READY])
            ))
            .bearer_auth(&token);
        if let Some(etag) = etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        request.send()
    };
    let s = htb.open_session().await.expect("login").id;
    let first = read(s.0.clone(), None).await.expect("read");
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .expect("an ETag")
        .to_string();
    let again = read(s.0.clone(), Some(etag.clone())).await.expect("read");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.expect("body").is_empty());
    // Another session seeing the same tree gets the same tag.
    let s2 = htb.open_session().await.expect("login").id;
    let same = read(s2.0.clone(), Some(etag.clone())).await.expect("read");
    assert_eq!(same.status(), StatusCode::NOT_MODIFIED);
    // A processed change: a new session sees a new tree, with a new tag.
    htb.write(
        &s2,
        &key(),
        &create_user(site("73000102"), U3, "gebruikerdrie"),
        Some(&test_password()),
    )
    .await
    .expect("user");
    htb.close_session(&s2).await.expect("log out");
    let s3 = htb.open_session().await.expect("login").id;
    let changed = read(s3.0, Some(etag.clone())).await.expect("read");
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(
        changed
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok()),
        Some(etag.as_str())
    );
    // The first session still sees (and tags) its own, older view (R1).
    let old = read(s.0, Some(etag)).await.expect("read");
    assert_eq!(old.status(), StatusCode::NOT_MODIFIED);
}

/// `--fault-rate 1`: every person-facing request fails, taking turns between a 503
/// with Retry-After, a connection dropped before the request is carried out, and one
/// dropped after; every kind is a retryable error for the client. The operator
/// surface is not faulted.
#[tokio::test]
async fn every_kind_of_fault_is_retryable() {
    let (_dir, db) = fresh_registry();
    let server = ServedRegistry::start(&db, &["--fault-rate", "1"]);
    let env = server.env();
    let token = env
        .op
        .issue_token(&insz(HTB_READY))
        .await
        .expect("operator works");
    let htb = HttpRegistry::new(&server.url, &token, HttpOptions::default()).expect("client");
    let mut reasons = Vec::new();
    for _ in 0..3 {
        let err = htb.limits().await.expect_err("faulted");
        assert_eq!(err.code(), "unavailable");
        assert!(err.is_retryable());
        reasons.push(err.to_string());
    }
    assert!(
        reasons.iter().any(|r| r.contains("injected fault")),
        "a 503 problem document: {reasons:?}"
    );
    assert_eq!(
        reasons.iter().filter(|r| r.contains("broke off")).count(),
        2,
        "two dropped connections: {reasons:?}"
    );
    let raw = client()
        .get(format!("{}/v1/limits", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("the 503 turn answers");
    assert_eq!(raw.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        raw.headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
}

/// A served registry on a file holding the ready tree, faulting `fault_rate` of the
/// person-facing requests, and a session of the ready enterprise's HTB in it.
async fn flaky_session(
    fault_rate: &str,
) -> (
    tempfile::TempDir,
    ServedRegistry,
    Env,
    HttpRegistry,
    SessionId,
) {
    let (dir, db) = fresh_registry();
    {
        // The tree is built in-process on the file before the flaky server starts.
        let registry = csamctl::registry::SqliteRegistry::open(
            &db,
            csamctl::registry::OpenOptions::virtual_clock(),
        )
        .expect("open");
        build_ready_tree(&Env {
            op: std::sync::Arc::new(registry),
        })
        .await;
    }
    let server = ServedRegistry::start(&db, &["--fault-rate", fault_rate]);
    let env = server.env();
    let (_, htb) = htb_client(&server, &env).await;

    // Log in; a lost answer may leave a session behind, which is then used.
    let mut session = None;
    for _ in 0..100 {
        match htb.open_session().await {
            Ok(info) => {
                session = Some(info.id);
                break;
            }
            Err(e) if e.is_retryable() => {
                if let Ok(open) = htb.list_sessions().await
                    && let Some(info) = open.into_iter().next()
                {
                    session = Some(info.id);
                    break;
                }
            }
            Err(e) => panic!("login refused: {e}"),
        }
    }
    let s = session.expect("logged in within 100 tries");
    (dir, server, env, htb, s)
}

/// Suspends (odd `i`: reactivates) user U1 on site 73000101.
fn toggle_u1(i: usize) -> Write {
    Write::SetActive {
        target: csamctl::registry::WriteTarget::User {
            level: site("73000101"),
            insz: insz(U1),
        },
        active: i % 2 == 1,
    }
}

/// Through a flaky registry (a third of the requests faulted), retrying each write with
/// its idempotency key applies it exactly once, even when the answer was lost after the
/// write was done.
#[tokio::test]
async fn retried_writes_apply_once_through_faults() {
    let (_dir, _server, env, htb, s) = flaky_session("0.34").await;
    let before = env.op.stats().await.expect("stats");
    let n = 40;
    let mut attempts = 0;
    for i in 0..n {
        let w = toggle_u1(i);
        let k = key();
        loop {
            attempts += 1;
            assert!(attempts < 20 * n, "too many faults in a row");
            match htb.write(&s, &k, &w, password_for(&w).as_ref()).await {
                Ok(_) => break,
                Err(e) if e.is_retryable() => continue,
                Err(e) => panic!("refused: {e}"),
            }
        }
    }
    let after = env.op.stats().await.expect("stats");
    assert_eq!(
        after.journal_entries - before.journal_entries,
        n as u64,
        "each write journalled exactly once in {attempts} attempts"
    );
    assert!(attempts > n, "some attempts were faulted");
}

/// The same with batches: a batch whose answer was lost (or never came) is sent again
/// whole, under the same keys; every write is journalled exactly once and the answers
/// of the batch that got through are receipts for all of them.
#[tokio::test]
async fn retried_batches_apply_once_through_faults() {
    let (_dir, _server, env, htb, s) = flaky_session("0.5").await;
    let before = env.op.stats().await.expect("stats");
    let (batches, size) = (8, 10);
    let mut attempts = 0;
    for b in 0..batches {
        let batch: Vec<BatchWrite> = (0..size).map(|i| item(toggle_u1(b * size + i))).collect();
        let answers = loop {
            attempts += 1;
            assert!(attempts < 20 * batches, "too many faults in a row");
            match htb.write_batch(&s, &batch).await {
                Ok(answers) => break answers,
                Err(e) if e.is_retryable() => continue,
                Err(e) => panic!("refused: {e}"),
            }
        };
        assert_eq!(codes(&answers), vec!["ok"; size]);
    }
    let after = env.op.stats().await.expect("stats");
    assert_eq!(
        after.journal_entries - before.journal_entries,
        (batches * size) as u64,
        "each write journalled exactly once in {attempts} batch attempts"
    );
    assert!(attempts > batches, "some attempts were faulted");
}

/// A batch with a refused write is answered 200, the refusal inside as the problem
/// document (with the status) the write alone would have got; a malformed batch is a
/// 400 problem document for the request as a whole.
#[tokio::test]
async fn batch_answers_are_200_with_a_result_per_write() {
    let (_dir, db) = fresh_registry();
    let server = ServedRegistry::start(&db, &[]);
    let env = server.env();
    let (token, htb) = htb_client(&server, &env).await;
    let s = login(&htb).await;
    let url = format!("{}{}", server.url, Operation::WriteBatch.url_path(&[&s.0]));
    let batch = BatchRequest {
        writes: vec![
            item(activate_capacity(READY, None)),
            item(activate_capacity(READY, None)),
        ],
    };
    let response = client()
        .post(&url)
        .bearer_auth(&token)
        .json(&batch)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let answer: BatchResponse = response.json().await.expect("a batch response");
    assert!(matches!(
        &answer.results[0],
        BatchResult::Acknowledged { .. }
    ));
    let BatchResult::Refused { problem: refusal } = &answer.results[1] else {
        panic!("the second activation is refused: {answer:?}");
    };
    assert_eq!((refusal.status, refusal.error.code()), (409, "conflict"));

    let malformed = client()
        .post(&url)
        .bearer_auth(&token)
        .json(&serde_json::json!({ "writes": [{ "write": {} }] }))
        .send()
        .await
        .expect("answered");
    problem(malformed, StatusCode::BAD_REQUEST, "invalid_request").await;

    // What serde alone would take but the contract does not: a tag written as a number
    // (a variant's index) and a body that is not an object (a struct as an array).
    let mut numeric_tag = serde_json::to_value(&batch).expect("json");
    numeric_tag["writes"][0]["write"]["change"] = serde_json::json!(0);
    let lookup = format!("{}{}", server.url, Operation::LookUpAccounts.url_path(&[]));
    for (url, body) in [
        (&url, numeric_tag),
        (&lookup, serde_json::json!([[], []])),
        (&url, serde_json::json!({ "writes": [] })),
    ] {
        let refused = client()
            .post(url.as_str())
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("answered");
        problem(refused, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
}

/// SIGTERM stops the server cleanly (exit 0, after saying so), and the file it served
/// opens again with everything in it.
#[tokio::test]
async fn sigterm_stops_gracefully() {
    let (_dir, db) = fresh_registry();
    let mut server = ServedRegistry::start(&db, &[]);
    let env = server.env();
    build_ready_tree(&env).await;
    let stats = env.op.stats().await.expect("stats");
    let (status, printed) = server.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(printed.last().map(String::as_str), Some("stopped"));
    let reopened = csamctl::registry::SqliteRegistry::open(
        &db,
        csamctl::registry::OpenOptions::virtual_clock(),
    )
    .expect("reopens");
    assert_eq!(
        reopened.stats().await.expect("stats").journal_entries,
        stats.journal_entries
    );
}

/// `--latency`: person-facing requests take at least that long; the operator surface
/// does not wait.
#[tokio::test]
async fn latency_delays_person_requests() {
    let (_dir, db) = fresh_registry();
    let server = ServedRegistry::start(&db, &["--latency", "300"]);
    let env = server.env();
    let (token, htb) = htb_client(&server, &env).await;
    let start = std::time::Instant::now();
    htb.limits().await.expect("limits");
    assert!(start.elapsed() >= std::time::Duration::from_millis(300));
    // A client whose request timeout is shorter gets a retryable error, not a hang.
    let impatient = HttpRegistry::new(
        &server.url,
        &token,
        HttpOptions {
            request_timeout: std::time::Duration::from_millis(100),
            ..HttpOptions::default()
        },
    )
    .expect("client");
    let err = impatient.limits().await.expect_err("timed out");
    assert_eq!(err.code(), "unavailable");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("in time"), "{err}");
}

/// The wire takes what the document says and nothing else: a username in upper case is
/// refused (not folded), an oversized body is 413, a method a path does not offer is 405
/// with `Allow`; each as a problem document, and nothing is written.
#[tokio::test]
async fn bodies_and_methods_outside_the_contract_are_refused() {
    let (_dir, db) = fresh_registry();
    let server = ServedRegistry::start(&db, &[]);
    let env = server.env();
    build_ready_tree(&env).await;
    let (token, htb) = htb_client(&server, &env).await;
    let s = htb.open_session().await.expect("login").id;
    let http = client();
    let write_url = format!("{}{}", server.url, Operation::Write.url_path(&[&s.0]));
    let before = env.op.stats().await.expect("stats").journal_entries;

    let mut upper =
        serde_json::to_value(create_user(site("73000102"), U4, "hoofdletter1")).expect("json");
    upper["user"]["username"] = "HoofdLetter1".into();
    let refused = http
        .post(&write_url)
        .bearer_auth(&token)
        .header("Idempotency-Key", "k-upper")
        .json(&upper)
        .send()
        .await
        .expect("answered");
    let p = problem(refused, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(p.detail.contains("lower case"), "{}", p.detail);

    let limit = Operation::Write.body_limit();
    let huge = format!("{{\"change\": \"{}\"}}", "x".repeat(limit));
    let too_large = http
        .post(&write_url)
        .bearer_auth(&token)
        .header("Idempotency-Key", "k-huge")
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(huge)
        .send()
        .await
        .expect("answered");
    problem(too_large, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request").await;

    let wrong_method = http
        .put(&write_url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("answered");
    assert_eq!(
        wrong_method
            .headers()
            .get(reqwest::header::ALLOW)
            .and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    problem(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
    )
    .await;
    assert_eq!(
        env.op.stats().await.expect("stats").journal_entries,
        before,
        "nothing written"
    );
}
