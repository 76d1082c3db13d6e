//! Who acts comes from the registry (`GET /v1/me`): every bad identity is a clear error
//! before anything is read, planned or written (exit 1, national register numbers
//! masked), against a real registry file and a real `csamctl registry serve` on
//! 127.0.0.1; `--actor` alone acts on a file; only the default registry acts as the
//! demo identity, and says so once.

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::Output;

use cli_support::{
    Served, crate_root, csamctl_with as run, registry_with_token, stderr, stdout, token_for,
    transcript,
};

/// Geert VANDAMME, validated main access manager of AZ VLASLAND VZW (the demo identity).
const VLASLAND_HTB: &str = "82120926312";
const VLASLAND_HTB_MASKED: &str = "**.**.**-**3.12";
/// Future main access manager of the single-unit example's enterprise.
const MANDELVALLEI_HTB: &str = "74022165886";
const MANDELVALLEI_HTB_MASKED: &str = "**.**.**-**8.86";
/// An access manager of AZ VLASLAND in the multi-campus example.
const ACCESS_MANAGER: &str = "69012810031";
/// Someone with no role anywhere.
const STRANGER: &str = "73070555405";
const STRANGER_MASKED: &str = "**.**.**-**4.05";

fn example(name: &str) -> String {
    crate_root()
        .join("examples")
        .join(name)
        .display()
        .to_string()
}

/// Journal and audit rows of a registry file: what "nothing written" compares.
fn written(db: &Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(db).expect("db opens");
    let count = |table: &str| {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .expect("count")
    };
    (count("journal"), count("audit"))
}

/// An error run: exit 1, no plan on stdout, `expect` on stderr, no full national
/// register number anywhere, and nothing written to the registry.
fn assert_refused(db: &Path, before: (i64, i64), out: &Output, expect: &[&str]) {
    let all = transcript(out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(stdout(out).trim().is_empty(), "no plan: {all}");
    for e in expect {
        assert!(stderr(out).contains(e), "{e:?} missing: {all}");
    }
    for full in [VLASLAND_HTB, MANDELVALLEI_HTB, ACCESS_MANAGER, STRANGER] {
        assert!(!all.contains(full), "{full} unmasked: {all}");
    }
    assert_eq!(written(db), before, "nothing written: {all}");
}

/// A registry file with the examples' reference data in `dir`, where the multi-campus
/// example's first access manager is appointed (so that a person with a role, but not
/// the authority for everything the example needs, exists).
fn registry(dir: &Path) -> PathBuf {
    let (db, htb_token) = registry_with_token(dir, VLASLAND_HTB);
    let file = format!("file:{}", db.display());
    let yaml = dir.join("one-access-manager.yaml");
    let mut text = std::fs::read_to_string(example("multi-campus.yaml")).expect("example");
    // Only the enterprise and its first access manager (the capacity follows them).
    let cut = text
        .find("      - insz: \"74.05.07-306.06\"")
        .expect("second manager");
    text.truncate(cut);
    std::fs::write(&yaml, text).expect("written");
    let out = run(
        dir,
        &["apply", "--auto-approve", &yaml.display().to_string()],
        &[("CSAM_REGISTRY", &file), ("CSAM_TOKEN", &htb_token)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    db
}

/// Every bad identity, on one registry reached as a file or as a served registry.
fn bad_identities_are_refused_before_anything_is_written(dir: &Path, db: &Path, address: &str) {
    let multi = example("multi-campus.yaml");
    let plan = ["plan", multi.as_str(), "--registry", address];
    let apply = [
        "apply",
        "--auto-approve",
        multi.as_str(),
        "--registry",
        address,
    ];
    let vlasland = token_for(db, VLASLAND_HTB);
    let stranger = token_for(db, STRANGER);
    let before = written(db);

    // A token the registry never issued.
    for args in [&plan[..], &apply[..]] {
        let out = run(dir, args, &[("CSAM_TOKEN", "csam_not_issued_here")]);
        assert_refused(db, before, &out, &["does not know this bearer token"]);
    }
    // --actor says someone else than the token's person: both named, masked.
    for args in [&plan[..], &apply[..]] {
        let out = run(
            dir,
            args,
            &[("CSAM_TOKEN", &vlasland), ("CSAM_ACTOR", MANDELVALLEI_HTB)],
        );
        assert_refused(
            db,
            before,
            &out,
            &[
                MANDELVALLEI_HTB_MASKED,
                VLASLAND_HTB_MASKED,
                "registry says",
            ],
        );
    }
    // A person with no role in the declared enterprise.
    for args in [&plan[..], &apply[..]] {
        let out = run(dir, args, &[("CSAM_TOKEN", &stranger)]);
        assert_refused(
            db,
            before,
            &out,
            &[STRANGER_MASKED, "has no role in enterprise 0198.765.470"],
        );
    }
    // The same assertion that matches is no error.
    let out = run(
        dir,
        &plan,
        &[("CSAM_TOKEN", &vlasland), ("CSAM_ACTOR", VLASLAND_HTB)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
}

#[test]
fn bad_identities_on_a_registry_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = registry(tmp.path());
    let file = format!("file:{}", db.display());
    bad_identities_are_refused_before_anything_is_written(tmp.path(), &db, &file);

    // A named file says nothing about who acts: --actor or a token is needed.
    let before = written(&db);
    let multi = example("multi-campus.yaml");
    let out = run(tmp.path(), &["plan", &multi, "--registry", &file], &[]);
    assert_refused(&db, before, &out, &["does not say who acts", "--actor"]);
    // --actor alone acts as that person on a file: here the single-unit example's
    // future main access manager, who may request its designation.
    let single = example("single-unit.yaml");
    let out = run(
        tmp.path(),
        &[
            "plan",
            &single,
            "--registry",
            &file,
            "--actor",
            MANDELVALLEI_HTB,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    assert!(stdout(&out).contains("designat"), "{}", transcript(&out));
    assert!(
        !stderr(&out).contains("demo identity"),
        "{}",
        transcript(&out)
    );
}

#[test]
fn bad_identities_on_a_served_registry() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = registry(tmp.path());
    let served = Served::start(&db, &[]);
    bad_identities_are_refused_before_anything_is_written(tmp.path(), &db, &served.url);
    // A served registry needs a token; --actor alone is not one.
    let before = written(&db);
    let multi = example("multi-campus.yaml");
    let out = run(
        tmp.path(),
        &[
            "plan",
            &multi,
            "--registry",
            &served.url,
            "--actor",
            VLASLAND_HTB,
        ],
        &[],
    );
    assert_refused(&db, before, &out, &["needs a bearer token"]);
}

/// The acceptance case of the issue: with only a token (no --actor), `plan` knows who
/// acts and checks authority: an access manager may not appoint another one.
#[test]
fn plan_with_only_a_token_checks_authority() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = registry(tmp.path());
    let served = Served::start(&db, &[]);
    let token = token_for(&db, ACCESS_MANAGER);
    let multi = example("multi-campus.yaml");
    let file = format!("file:{}", db.display());
    for address in [file.as_str(), served.url.as_str()] {
        let before = written(&db);
        let out = run(
            tmp.path(),
            &["plan", &multi, "--registry", address],
            &[("CSAM_TOKEN", &token)],
        );
        let all = transcript(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(stdout(&out).contains("plan::not_authorised"), "{all}");
        assert!(!all.contains(ACCESS_MANAGER), "masked: {all}");
        let out = run(
            tmp.path(),
            &["apply", "--auto-approve", &multi, "--registry", address],
            &[("CSAM_TOKEN", &token)],
        );
        assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
        // Reading sessions are journalled and audited; no write is.
        let conn = rusqlite::Connection::open(&db).expect("db opens");
        let writes: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM audit WHERE rowid > ?1 AND action NOT IN ('open_session', 'close_session', 'acquire_lease', 'release_lease')",
                [before.1],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(writes, 0, "{}", transcript(&out));
    }
}

#[test]
fn an_empty_registry_address_is_an_error_not_the_default() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let multi = example("multi-campus.yaml");
    for (args, envs) in [
        (vec!["plan", multi.as_str()], vec![("CSAM_REGISTRY", "")]),
        (vec!["plan", multi.as_str(), "--registry", ""], vec![]),
        (
            vec!["export", "--enterprise", "0198765470", "--out", "e.yaml"],
            vec![("CSAM_REGISTRY", " ")],
        ),
    ] {
        let out = run(tmp.path(), &args, &envs);
        assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
        assert!(
            stderr(&out).contains("registry address is empty"),
            "{}",
            transcript(&out)
        );
        assert!(!tmp.path().join(".csamctl").exists(), "no default created");
    }
}

/// Only the default registry acts as the demo identity, and says so once (masked).
#[test]
fn the_default_registry_says_once_that_it_acts_as_the_demo_identity() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let multi = example("multi-campus.yaml");
    let out = run(tmp.path(), &["plan", &multi], &[]);
    let all = transcript(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    let said = format!("Acting as the demo identity {VLASLAND_HTB_MASKED}");
    assert_eq!(stderr(&out).matches(&said).count(), 1, "{all}");
    assert!(!all.contains(VLASLAND_HTB), "{all}");
    // Acting as someone else on the default registry: no demo identity, and the
    // single-unit example is theirs to plan (they may request its designation).
    let single = example("single-unit.yaml");
    let out = run(
        tmp.path(),
        &["plan", &single, "--actor", MANDELVALLEI_HTB],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    assert!(
        !stderr(&out).contains("demo identity"),
        "{}",
        transcript(&out)
    );
    // The demo identity has no role in that enterprise: an error before planning.
    let db = tmp.path().join(".csamctl/registry.db");
    let before = written(&db);
    let out = run(tmp.path(), &["plan", &single], &[]);
    assert_refused(
        &db,
        before,
        &out,
        &[
            VLASLAND_HTB_MASKED,
            "has no role in enterprise 0123.456.749",
        ],
    );
}
