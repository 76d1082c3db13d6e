//! `csamctl plan` as a process: exit codes, formats, the saved plan's file mode, the
//! safety flags, and the demo identity's limits, against a registry file made here.

mod cli_support;
mod plan_support;

use std::path::{Path, PathBuf};
use std::process::Output;

use plan_support::*;

fn example_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// Runs `csamctl plan ARGS` against the registry file, as the demo identity, without a
/// terminal and with NO_COLOR.
fn plan(fx: &Fixture, args: &[&str]) -> Output {
    cli_support::command(fx.dir.path())
        .arg("plan")
        .args(args)
        .arg("--registry")
        .arg(format!("file:{}", fx.path().display()))
        // A named registry file acts as the person --actor names (here the demo identity).
        .env("CSAM_ACTOR", VLASLAND_HTB)
        .output()
        .expect("csamctl runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Multi-campus with only its first two people: most users are to be deleted.
fn multi_campus_with_two_people() -> String {
    let text = std::fs::read_to_string(example_path("multi-campus.yaml")).expect("example");
    let people = text.find("        people:\n").expect("people");
    let third = text[people..]
        .match_indices("          - insz:")
        .nth(2)
        .map(|(i, _)| people + i)
        .expect("a third person");
    let ignore = text.find("    ignore:").expect("ignore");
    format!("{}{}", &text[..third], &text[ignore..])
}

#[tokio::test]
async fn exit_codes_formats_and_the_round_trip() {
    let fx = Fixture::examples();
    let multi = example_path("multi-campus.yaml");
    let multi = multi.to_str().expect("utf-8 path");

    let o = plan(&fx, &[multi, "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("Plan: 74 to create, 0 to change, 0 to delete; 9 log-outs"));
    assert!(!text.contains('\x1b'), "no colour without a terminal");
    assert!(!text.contains("82.12.09-263.12"), "INSZ masked");

    let o = plan(&fx, &[multi]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "changes exit 0 without --detailed-exitcode"
    );

    let o = plan(&fx, &[multi, "--format", "json", "--show-personal-data"]);
    assert_eq!(o.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["personal_data"], true);
    assert_eq!(doc["actor"], "82.12.09-263.12");

    let o = plan(&fx, &[multi, "--format", "markdown"]);
    assert!(stdout(&o).starts_with("### csamctl plan"));

    // Carry the plan out (the executor is a later issue; the test runner does it), then
    // plan again: nothing to do.
    let desired = example("multi-campus.yaml");
    let actor = insz(VLASLAND_HTB);
    let (p, _) = plan_as(&fx, &desired, &actor).await;
    execute(&fx, &p, &actor, None).await.expect("applied");
    let o = plan(&fx, &[multi, "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("No changes."));
}

#[test]
fn a_saved_plan_is_private_and_holds_no_password() {
    let fx = Fixture::examples();
    let multi = example_path("multi-campus.yaml");
    let out = fx.dir.path().join("plan.json");
    let o = plan(
        &fx,
        &[
            multi.to_str().expect("path"),
            "--out",
            out.to_str().expect("path"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).expect("saved").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&out).expect("saved");
    let saved: csamctl::model::SavedPlan = serde_json::from_str(&text).expect("a saved plan");
    assert_eq!(saved.format, "csamctl-plan");
    assert_eq!(saved.live.len(), 1);
    assert!(saved.live[0].digest.is_some());
    assert!(!text.contains(PASSWORD));
    assert!(
        text.contains("CSAM_PW_BART_DEBAENE"),
        "only where the password is read"
    );
    // Nothing else was left beside it.
    let names: Vec<String> = std::fs::read_dir(fx.dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("plan"))
        .collect();
    assert_eq!(names, ["plan.json"]);
}

#[tokio::test]
async fn deleting_most_users_is_refused_unless_forced() {
    let fx = Fixture::examples();
    let desired = example("multi-campus.yaml");
    let actor = insz(VLASLAND_HTB);
    let (p, _) = plan_as(&fx, &desired, &actor).await;
    execute(&fx, &p, &actor, None).await.expect("applied");
    let file = fx.dir.path().join("fewer.yaml");
    std::fs::write(&file, multi_campus_with_two_people()).expect("write");
    let file = file.to_str().expect("path");
    let out = fx.dir.path().join("refused.json");

    let o = plan(
        &fx,
        &[
            file,
            "--detailed-exitcode",
            "--out",
            out.to_str().expect("path"),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("safety::deletion_ratio"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("--force-deletions"));
    assert!(!out.exists(), "a refused plan is not saved");

    let o = plan(&fx, &[file, "--detailed-exitcode", "--force-deletions"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
}

#[test]
fn the_demo_identity_may_not_plan_for_another_enterprise() {
    let fx = Fixture::examples();
    let single = example_path("single-unit.yaml");
    // No role in that enterprise and not the file's future main access manager: an
    // error before planning, naming the person (masked) and the enterprise.
    let o = plan(&fx, &[single.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("**.**.**-**3.12 has no role in enterprise 0123.456.749"),
        "{}",
        stderr(&o)
    );
    // The future main access manager, named with --actor on the file, may plan it.
    let o = plan(
        &fx,
        &[single.to_str().expect("path"), "--actor", "74.02.21-658.86"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = plan(
        &fx,
        &[
            single.to_str().expect("path"),
            "--max-deletion-ratio",
            "1.5",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--max-deletion-ratio"));
}

/// Nothing listens at the registry's address (a closed port on 127.0.0.1): the error
/// comes back, exit 1, and names the address, instead of retrying silently.
#[test]
fn an_unreachable_registry_is_named_with_its_address() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = cli_support::command(dir.path())
        .arg("plan")
        .arg(example_path("single-unit.yaml"))
        .env("CSAM_REGISTRY", &address)
        .env("CSAM_TOKEN", "csam_not_used")
        .output()
        .expect("csamctl runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot connect to the registry at {address}")),
        "{err}"
    );
    assert!(stdout(&out).is_empty(), "no plan printed: {}", stdout(&out));
}
