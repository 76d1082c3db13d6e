//! The operator commands end to end, as a script would run them: `registry init`,
//! `token`, `tickets` (list, `--validate-all`, `--validate`), `clock --advance`, on one
//! registry file, checked through the library.

mod cli_support;

use std::path::Path;
use std::process::Output;

use csamctl::model::{Insz, Kbo, Representative};
use csamctl::registry::VirtualClock;
use csamctl::registry::{
    IdempotencyKey, OpenOptions, RegistryOperator, SqliteRegistry, TicketState, Write,
};

const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/reference.yaml");

/// The multi-campus example's HTB, validated in the reference data.
const VLASLAND_HTB: &str = "82120926312";
/// The single-unit example's HTB to be, and its enterprise (no HTB yet).
const MANDELVALLEI_HTB: &str = "74022165886";
const MANDELVALLEI: &str = "0123456749";

fn csamctl(args: &[&str], db: &Path) -> Output {
    cli_support::command(cli_support::crate_root())
        .arg("registry")
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("csamctl runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

fn token_of(out: &Output) -> String {
    let text = stdout(out);
    let token = text.trim();
    assert!(
        token.len() == 5 + 64
            && token.starts_with("csam_")
            && token[5..].bytes().all(|b| b.is_ascii_hexdigit()),
        "one token on stdout, got {text:?}"
    );
    token.to_string()
}

fn representative(insz: &str) -> Representative {
    Representative {
        insz: Insz::parse(insz).expect("valid INSZ"),
        last_name: "VANDENBERGHE".into(),
        first_name: "Griet".into(),
        quality: Some("Praktijkmanager".into()),
        email: None,
        phone: None,
        mobile: None,
        fax: None,
    }
}

#[tokio::test]
async fn operator_commands_work_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("registry.db");

    // init: the examples' reference data, on a virtual clock.
    let out = csamctl(&["init", "--virtual-clock", "--reference", REFERENCE], &db);
    succeeded(&out);
    assert!(stderr(&out).contains("3 enterprises loaded (virtual clock)"));

    // token: one new token on stdout; the INSZ masked on stderr.
    let out = csamctl(&["token", "--insz", "82.12.09-263.12"], &db);
    succeeded(&out);
    let vlasland = token_of(&out);
    assert!(!stderr(&out).contains(VLASLAND_HTB), "INSZ masked");
    let out = csamctl(&["token", "--insz", MANDELVALLEI_HTB], &db);
    succeeded(&out);
    let mandelvallei = token_of(&out);
    assert_ne!(vlasland, mandelvallei);
    let bad = csamctl(&["token", "--insz", "82120926313"], &db);
    assert_eq!(bad.status.code(), Some(1));
    assert!(!stderr(&bad).contains("82120926313"), "input not echoed");

    // The tokens work, and a designation request yields a pending ticket (R7).
    {
        let registry = SqliteRegistry::open(&db, OpenOptions::stored_clock()).expect("open");
        registry.connect(&vlasland).await.expect("token accepted");
        let r = registry
            .connect(&mandelvallei)
            .await
            .expect("token accepted");
        let s = r.open_session().await.expect("login").id;
        r.write(
            &s,
            &IdempotencyKey::new("cli-test-1").expect("key"),
            &Write::DesignateMainAccessManager {
                kbo: Kbo::parse(MANDELVALLEI).expect("kbo"),
                main_access_manager: representative(MANDELVALLEI_HTB),
                legal_representative: representative("68082130564"),
            },
            None,
        )
        .await
        .expect("designation requested");
    }

    // tickets: listed as pending, with the HTB masked.
    let out = csamctl(&["tickets"], &db);
    succeeded(&out);
    let listing = stdout(&out);
    assert_eq!(listing.lines().count(), 1, "{listing}");
    assert!(listing.contains("pending") && listing.contains("0123.456.749"));
    assert!(!listing.contains(MANDELVALLEI_HTB), "INSZ masked");
    let ticket = listing
        .split_whitespace()
        .next()
        .expect("ticket id first")
        .to_string();

    // tickets --validate-all validates it; a second run finds nothing pending.
    let out = csamctl(&["tickets", "--validate-all"], &db);
    succeeded(&out);
    assert!(stdout(&out).contains(&ticket) && stdout(&out).contains("validated"));
    let out = csamctl(&["tickets", "--validate-all"], &db);
    succeeded(&out);
    assert!(stderr(&out).contains("no pending tickets"));
    let again = csamctl(&["tickets", "--validate", &ticket], &db);
    assert_eq!(
        again.status.code(),
        Some(1),
        "already validated: a conflict"
    );

    // clock --advance: the virtual clock moves, and the file remembers.
    let out = csamctl(&["clock", "--advance", "20m"], &db);
    succeeded(&out);
    assert_eq!(stdout(&out).trim(), "2026-01-05T08:20:00Z");
    let out = csamctl(&["clock", "--advance", "48h"], &db);
    succeeded(&out);
    assert_eq!(stdout(&out).trim(), "2026-01-07T08:20:00Z");
    let bad = csamctl(&["clock", "--advance", "soon"], &db);
    assert_eq!(bad.status.code(), Some(1));

    let registry = SqliteRegistry::open(&db, OpenOptions::stored_clock()).expect("open");
    let stats = registry.stats().await.expect("stats");
    assert_eq!(
        stats.now_ms,
        VirtualClock::EPOCH_MS + (20 * 60 + 48 * 3600) * 1000
    );
    let tickets = registry.all_tickets().await.expect("tickets");
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].state, TicketState::Validated);
    assert_eq!(tickets[0].id, ticket);
}

/// Operator commands on a missing reference file or a bad flag fail with exit 1 and
/// say why.
#[test]
fn operator_commands_report_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("registry.db");
    let out = csamctl(&["init", "--reference", "/nonexistent/reference.yaml"], &db);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read"));
    let out = cli_support::command(cli_support::crate_root())
        .args([
            "registry",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--fault-rate",
            "2",
        ])
        .arg("--db")
        .arg(&db)
        .output()
        .expect("csamctl runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("fault rate"));
}

/// Reference data may leave out an enterprise's address: the registry keeps what it is
/// given, and the enterprise can be read and exported.
#[test]
fn reference_data_without_an_address_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("registry.db");
    let reference = dir.path().join("reference.yaml");
    std::fs::write(
        &reference,
        "enterprises:\n  - kbo: \"0198765470\"\n    name: AZ VLASLAND VZW\n    main_access_manager: \"82120926312\"\n",
    )
    .expect("write");
    let out = csamctl(
        &["init", "--reference", reference.to_str().expect("utf-8")],
        &db,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = csamctl(&["token", "--insz", "82120926312"], &db);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let token = stdout(&out).trim().to_string();
    let exported = dir.path().join("exported.yaml");
    let out = cli_support::command(cli_support::crate_root())
        .args(["export", "--enterprise", "0198765470", "--out"])
        .arg(&exported)
        .arg("--registry")
        .arg(format!("file:{}", db.display()))
        .env("CSAM_TOKEN", token)
        .output()
        .expect("csamctl runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&exported).expect("exported");
    assert!(text.contains("AZ VLASLAND VZW"), "{text}");
}
