//! `csamctl apply`, `verify` and `explain-access` as processes, against the real engine:
//! an embedded registry file on a virtual clock, and a served child (`registry serve`)
//! with faults. Every command's whole output is collected and checked for personal data
//! (no full national register number, no password) at the end of each test.

mod cli_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use cli_support::Served;

const CSAMCTL: &str = env!("CARGO_BIN_EXE_csamctl");
/// The password every test account is created with.
const PASSWORD: &str = "Proef2026!x";
/// Geert VANDAMME, validated HTB of AZ VLASLAND (the embedded demo identity).
const VLASLAND_HTB: &str = "82120926312";
/// Griet VANDENBERGHE, declared HTB of RADIOLOGIE MANDELVALLEI (single-unit).
const MANDELVALLEI_HTB: &str = "74022165886";

fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn example(name: &str) -> String {
    std::fs::read_to_string(manifest(&format!("examples/{name}"))).expect("example readable")
}

/// A registry file on the virtual clock in its own directory, and the output of every
/// command run against it.
struct Env {
    dir: tempfile::TempDir,
    db: PathBuf,
    log: Mutex<String>,
    /// Every full INSZ that must not appear in output.
    secrets: Mutex<Vec<String>>,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("registry.db");
        let env = Env {
            dir,
            db,
            log: Mutex::new(String::new()),
            secrets: Mutex::new(Vec::new()),
        };
        let reference = manifest("tests/data/apply-reference.yaml");
        let out = env.run(
            &[
                "registry",
                "init",
                "--virtual-clock",
                "--db",
                &env.db.display().to_string(),
                "--reference",
                &reference.display().to_string(),
            ],
            &[],
        );
        assert!(out.status.success(), "init: {}", text(&out));
        env
    }

    /// Writes a desired-state file, remembering its national register numbers.
    /// Writes the example `name` into the test's directory and applies it, which must
    /// succeed: the file and the run.
    fn apply_example(&self, name: &str) -> (PathBuf, Output) {
        let path = self.write(name, &example(name));
        let out = self.on_file(
            &["apply", "--auto-approve", path.to_str().expect("utf-8")],
            &[],
        );
        assert_eq!(code(&out), Some(0), "{}", text(&out));
        (path, out)
    }

    fn write(&self, name: &str, yaml: &str) -> PathBuf {
        let mut secrets = self.secrets.lock().expect("lock");
        for insz in find_insz(yaml) {
            secrets.push(insz.clone());
            secrets.push(insz.replace(['.', '-'], ""));
        }
        let path = self.dir.path().join(name);
        std::fs::write(&path, yaml).expect("written");
        path
    }

    fn command(&self, args: &[&str], envs: &[(&str, &str)]) -> Command {
        let mut c = cli_support::command(self.dir.path());
        c.args(args);
        // Without a token, the registry file acts as the person --actor names: here
        // the main access manager of AZ VLASLAND, as the default registry's demo does.
        if !envs.iter().any(|(k, _)| k.starts_with("CSAM_TOKEN")) {
            c.env("CSAM_ACTOR", VLASLAND_HTB);
        }
        for name in password_vars() {
            c.env(name, PASSWORD);
        }
        for (k, v) in envs {
            c.env(k, v);
        }
        c
    }

    fn record(&self, args: &[&str], out: &Output) {
        let mut log = self.log.lock().expect("lock");
        // Only the command's name: the arguments (a test's --insz) are not its output.
        let name = args.iter().take(1).copied().collect::<Vec<_>>().join(" ");
        log.push_str(&format!("$ csamctl {name} ...\n{}\n", text(out)));
    }

    fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let out = self.command(args, envs).output().expect("csamctl runs");
        self.record(args, &out);
        out
    }

    /// Runs a command against the registry file.
    fn on_file(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let registry = format!("file:{}", self.db.display());
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--registry", &registry]);
        self.run(&all, envs)
    }

    fn token(&self, insz: &str) -> String {
        let out = self.run(
            &[
                "registry",
                "token",
                "--db",
                &self.db.display().to_string(),
                "--insz",
                insz,
            ],
            &[],
        );
        assert!(out.status.success(), "token: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn advance(&self, by: &str) {
        let out = self.run(
            &[
                "registry",
                "clock",
                "--db",
                &self.db.display().to_string(),
                "--advance",
                by,
            ],
            &[],
        );
        assert!(out.status.success(), "clock: {}", text(&out));
    }

    /// No full INSZ and no password in anything any command printed.
    fn assert_no_personal_data(&self) {
        let log = self.log.lock().expect("lock");
        assert!(!log.contains(PASSWORD), "a password was printed");
        for s in self.secrets.lock().expect("lock").iter() {
            assert!(!log.contains(s.as_str()), "a full INSZ was printed: {s}");
        }
    }

    /// Every write the registry applied, once: no idempotency key applied twice.
    /// Returns the number of applied writes of each kind (from the audit log), to
    /// compare with a clean run.
    fn assert_no_write_applied_twice(&self) -> std::collections::BTreeMap<String, usize> {
        let conn = rusqlite::Connection::open(&self.db).expect("db opens");
        let mut stmt = conn
            .prepare(
                "SELECT action, idempotency_key FROM audit \
                 WHERE outcome = 'ok' AND idempotency_key IS NOT NULL",
            )
            .expect("query");
        let rows: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows read");
        let mut keys = std::collections::BTreeSet::new();
        let mut counts = std::collections::BTreeMap::new();
        for (action, key) in &rows {
            assert!(keys.insert(key.clone()), "key {key} applied twice");
            *counts.entry(action.clone()).or_insert(0) += 1;
        }
        counts
    }
}

/// The writes a clean, undisturbed apply of the multi-campus example makes.
fn clean_multi_campus_writes() -> std::collections::BTreeMap<String, usize> {
    let env = Env::new();
    env.apply_example("multi-campus.yaml");
    env.assert_no_write_applied_twice()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn find_insz(yaml: &str) -> Vec<String> {
    let b = yaml.as_bytes();
    let mut out = Vec::new();
    // NN.NN.NN-NNN.NN
    for i in 0..b.len().saturating_sub(15) {
        let w = &b[i..i + 15];
        let shape = w.iter().enumerate().all(|(j, c)| match j {
            2 | 5 | 12 => *c == b'.',
            8 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
        if shape {
            out.push(String::from_utf8_lossy(w).into_owned());
        }
    }
    out
}

fn password_vars() -> Vec<String> {
    let mut vars = std::collections::BTreeSet::new();
    for name in ["multi-campus.yaml", "single-unit.yaml"] {
        for part in example(name).split("env: ").skip(1) {
            let var: String = part
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            vars.insert(var);
        }
    }
    vars.insert("CSAM_PW_NEW_PERSON".into());
    vars.into_iter().collect()
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

/// The multi-campus example after a year: Wim CALLENS left, Julie MAERTENS became
/// administrative, a new site 71977104 opened with a new head radiologist.
fn multi_campus_changed() -> String {
    let mut t = example("multi-campus.yaml");
    let start = t
        .find("          - insz: \"76.12.23-931.59\"")
        .expect("wim");
    let end = start
        + 10
        + t[start + 10..]
            .find("          - insz:")
            .expect("next person");
    t.replace_range(start..end, "");
    let julie = "password: { env: CSAM_PW_JULIE_MAERTENS }\n            sites:\n              \"71977102\": [radiologist]";
    assert!(t.contains(julie));
    t = t.replace(
        julie,
        "password: { env: CSAM_PW_JULIE_MAERTENS }\n            sites:\n              \"71977102\": [administrative]",
    );
    let wevelgem = "              - hco: \"71977103\"\n                name: Campus Wevelgem\n";
    assert!(t.contains(wevelgem));
    t = t.replace(
        wevelgem,
        &format!(
            "{wevelgem}              - hco: \"71977104\"\n                name: Campus Wevelgem - Mobiele unit\n"
        ),
    );
    let people = "        people:\n";
    let at = t.find(people).expect("people") + people.len();
    t.insert_str(
        at,
        "          - insz: \"90.05.17-123.31\"\n            username: noorvanparys\n            last_name: VAN PARYS\n            first_name: Noor\n            email: noor.vanparys@azvlasland.example\n            password: { env: CSAM_PW_NEW_PERSON }\n            sites:\n              \"71977104\": [head-radiologist]\n",
    );
    t
}

// The whole output of an apply, snapshotted: only the time it took, the notice file's
// name (time and process) and the registry clock's times differ from run to run, and
// insta's filters hide exactly those, so any other change to what apply prints shows.
#[test]
fn apply_output_is_the_same_every_run_but_for_its_timings() {
    let env = Env::new();
    let (_, out) = env.apply_example("multi-campus.yaml");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    insta::with_settings!({filters => vec![
        (r"Took \d+\.\d+ s;", "Took [elapsed];"),
        (r"cvko-head-radiologists-\d+-\d+\.txt", "cvko-head-radiologists-[made].txt"),
        (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?( UTC|Z)?", "[time]"),
    ]}, {
        insta::assert_snapshot!("multi-campus-apply", stdout);
    });
}

// The whole main job: both examples from empty (one through the HTB gate), then a
// year of changes, each time converging to `plan --detailed-exitcode` 0.
#[test]
fn apply_converges_from_empty_through_the_gate_and_after_changes() {
    let env = Env::new();
    let multi = env.write("multi-campus.yaml", &example("multi-campus.yaml"));
    let multi = multi.to_str().expect("utf-8");

    // Without a terminal and without --auto-approve: refused before anything runs.
    let out = env.on_file(&["apply", multi], &[]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--auto-approve"));

    let out = env.on_file(&["apply", "--auto-approve", multi], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("0 failed, 0 not attempted"), "{stdout}");
    assert!(stdout.contains("effective for Heracles from"), "{stdout}");
    // The propagation lines name the person: names, username, masked INSZ, one line
    // per person with every site of theirs.
    let effective: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("effective for Heracles"))
        .collect();
    assert!(
        effective
            .iter()
            .all(|l| l.contains(", **.**.**-**") && l.contains("): effective for Heracles")),
        "{stdout}"
    );
    let mut people: Vec<&str> = effective
        .iter()
        .filter_map(|l| l.split(':').next())
        .collect();
    let lines = people.len();
    people.dedup();
    assert_eq!(people.len(), lines, "one line per person: {stdout}");
    // How long it took against the plan's own lower bound.
    assert!(
        stdout.contains("Took ") && stdout.contains("the plan's lower bound is"),
        "{stdout}"
    );
    // R9: the notice file is named, mode 0600, and holds the full number.
    let notice = stdout
        .split_whitespace()
        .find(|w| w.contains("cvko-head-radiologists-"))
        .expect("notice file named");
    let notice = env.dir.path().join(notice);
    let body = std::fs::read_to_string(&notice).expect("notice readable");
    assert!(body.contains("73.02.26-099.86") && body.contains("rijksregisternummer"));
    assert!(body.contains("numéro de registre national"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&notice)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let out = env.on_file(&["plan", "--detailed-exitcode", multi], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));

    // The single unit: its HTB designation is a gate (exit 3), validated, applied again.
    let single = env.write("single-unit.yaml", &example("single-unit.yaml"));
    let single = single.to_str().expect("utf-8");
    let token = env.token(MANDELVALLEI_HTB);
    let as_griet = [
        ("CSAM_TOKEN", token.as_str()),
        ("CSAM_ACTOR", MANDELVALLEI_HTB),
    ];
    let out = env.on_file(&["apply", "--auto-approve", single], &as_griet);
    assert_eq!(code(&out), Some(3), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("ticket 3Y0-"), "{stdout}");
    assert!(
        stdout.contains("Must sign: the legal representative"),
        "{stdout}"
    );
    assert!(stdout.contains("registration@eranova.fgov.be"), "{stdout}");
    let out = env.run(
        &[
            "registry",
            "tickets",
            "--db",
            &env.db.display().to_string(),
            "--validate-all",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = env.on_file(
        &["apply", "--auto-approve", "--format", "json", single],
        &as_griet,
    );
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the report is JSON");
    assert_eq!(report["format"], "csamctl-apply-report");
    assert_eq!(report["summary"]["failed"], 0);
    assert!(report["summary"]["done"].as_u64().unwrap_or(0) > 10);
    // The time taken and the plan's bounds for it, for dashboards.
    assert!(report["timing"]["elapsed_ms"].is_u64(), "{report}");
    assert!(
        report["timing"]["parallelism_bound_ms"].as_u64()
            >= report["timing"]["plan_bound_ms"].as_u64(),
        "{report}"
    );
    assert_eq!(report["timing"]["parallelism"], 8);
    let out = env.on_file(&["plan", "--detailed-exitcode", single], &as_griet);
    assert_eq!(code(&out), Some(0), "{}", text(&out));

    // A year later.
    let changed = env.write("multi-campus.yaml", &multi_campus_changed());
    let changed = changed.to_str().expect("utf-8");
    let out = env.on_file(&["plan", "--detailed-exitcode", changed], &[]);
    assert_eq!(code(&out), Some(2), "{}", text(&out));
    let out = env.on_file(&["apply", "--auto-approve", changed], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let out = env.on_file(&["plan", "--detailed-exitcode", changed], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));

    // Verify: the propagation delay has not passed on the virtual clock yet.
    let out = env.on_file(&["verify", changed], &[]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // Grouped by person, named, each condition in plain words, each fix once.
    assert!(
        stdout.contains("VAN PARYS Noor (noorvanparys, **.**.**-**3.31): NO access on 1 site"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "- 20 minutes have passed since the last change (R6): the last change takes effect"
        ),
        "{stdout}"
    );
    assert_eq!(stdout.matches("What to do:").count(), 1, "{stdout}");
    assert!(!stdout.contains("Propagated"), "{stdout}");
    env.advance("21m");
    let out = env.on_file(
        &["explain-access", "90051712331", "--site", "71977104"],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.starts_with("Heracles access of VAN PARYS Noor (noorvanparys, **.**.**-**3.31)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[pass] 20 minutes have passed since the last change (R6)"),
        "{}",
        text(&out)
    );
    // The coordination centre does not know the new head radiologist yet (R9).
    assert!(
        stdout.contains("[FAIL] the coordination centre knows the site's head radiologist (R9): "),
        "{stdout}"
    );
    assert!(!stdout.contains("HeadRadiologistKnown"), "{stdout}");
    // A site where the person has no user: said once, named from their other record,
    // not as five failures that all follow from it.
    let out = env.on_file(
        &["explain-access", "90051712331", "--site", "71977101"],
        &[],
    );
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("VAN PARYS Noor (noorvanparys"), "{stdout}");
    assert!(
        stdout.contains("NO access: no user on this site"),
        "{stdout}"
    );
    assert_eq!(
        stdout
            .matches("[FAIL] the person has a user on the site itself (R4)")
            .count(),
        1,
        "{stdout}"
    );
    for consequence in ["the user is active", "a function", "20 minutes have passed"] {
        assert!(!stdout.contains(consequence), "{consequence}: {stdout}");
    }
    assert!(
        stdout.contains("csamctl coordination-centre") && stdout.contains("--record-sent"),
        "{stdout}"
    );
    assert_eq!(code(&out), Some(1));

    env.assert_no_write_applied_twice();
    env.assert_no_personal_data();
}

// A saved plan is applied exactly, and refused with what changed once the registry moved.
#[test]
fn a_saved_plan_is_applied_or_refused_when_stale() {
    let env = Env::new();
    let multi = env.write("multi-campus.yaml", &example("multi-campus.yaml"));
    let multi = multi.to_str().expect("utf-8");
    let out = env.on_file(&["plan", "--out", "stale.plan", multi], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let out = env.on_file(&["plan", "--out", "fresh.plan", multi], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let out = env.on_file(&["apply", "--auto-approve", "--plan", "fresh.plan"], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let out = env.on_file(&["apply", "--auto-approve", "--plan", "stale.plan"], &[]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("changed in the registry since the plan was made"),
        "{stderr}"
    );
    env.assert_no_personal_data();
}

// Regression guard for resumability: apply dies (abort, like SIGKILL: no log-out, no
// lease release) after N acknowledged writes; the next apply converges.
#[test]
fn an_apply_killed_at_any_point_is_resumed_by_the_next() {
    let clean = clean_multi_campus_writes();
    for kill_after in ["1", "9", "60"] {
        let env = Env::new();
        let multi = env.write("multi-campus.yaml", &example("multi-campus.yaml"));
        let multi = multi.to_str().expect("utf-8");
        let out = env.on_file(
            &["apply", "--auto-approve", multi],
            &[("CSAM_TEST_KILL_AFTER_WRITES", kill_after)],
        );
        assert_eq!(code(&out), None, "killed by a signal: {}", text(&out));
        // The dead apply's lease runs out (5 minutes, registry time).
        env.advance("6m");
        let out = env.on_file(&["apply", "--auto-approve", multi], &[]);
        assert_eq!(
            code(&out),
            Some(0),
            "after kill at {kill_after}: {}",
            text(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Logged out"),
            "the crashed run's sessions are logged out: {}",
            text(&out)
        );
        let out = env.on_file(&["plan", "--detailed-exitcode", multi], &[]);
        assert_eq!(
            code(&out),
            Some(0),
            "after kill at {kill_after}: {}",
            text(&out)
        );
        assert_eq!(
            env.assert_no_write_applied_twice(),
            clean,
            "after kill at {kill_after}"
        );
        env.assert_no_personal_data();
    }
}

// 20 % of requests answered 503 or dropped: apply still converges, and the audit log
// shows every write applied once (idempotency keys).
#[test]
fn a_flaky_served_registry_converges_without_double_writes() {
    let env = Env::new();
    let multi = env.write("multi-campus.yaml", &example("multi-campus.yaml"));
    let multi = multi.to_str().expect("utf-8");
    let token = env.token(VLASLAND_HTB);
    let served = Served::start(&env.db, &["--fault-rate", "0.2"]);
    let args = ["--registry", served.url.as_str()];
    let who = [("CSAM_TOKEN", token.as_str()), ("CSAM_ACTOR", VLASLAND_HTB)];
    let mut converged = false;
    // A request can fail past its retries (0.2^8 per request); a re-run resumes.
    for _ in 0..3 {
        let mut a = vec!["apply", "--auto-approve", multi];
        a.extend(args);
        if code(&env.run(&a, &who)) == Some(0) {
            converged = true;
            break;
        }
    }
    assert!(converged, "{}", env.log.lock().expect("lock"));
    drop(served);
    // Convergence, checked on the same file served without faults.
    let clean_server = Served::start(&env.db, &[]);
    let out = env.run(
        &[
            "plan",
            "--detailed-exitcode",
            multi,
            "--registry",
            &clean_server.url,
        ],
        &who,
    );
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    drop(clean_server);
    assert_eq!(
        env.assert_no_write_applied_twice(),
        clean_multi_campus_writes()
    );
    env.assert_no_personal_data();
}

// Two applies at once on the same enterprise: the lease serialises them; the second
// re-plans after the first and finds nothing left; a held lease past --lock-timeout
// is refused.
#[test]
fn two_applies_on_one_enterprise_do_not_interleave() {
    let env = Env::new();
    let multi = env.write("multi-campus.yaml", &example("multi-campus.yaml"));
    let multi = multi.to_str().expect("utf-8");
    let token = env.token(VLASLAND_HTB);
    let served = Served::start(&env.db, &["--latency", "2"]);
    let who = [("CSAM_TOKEN", token.as_str()), ("CSAM_ACTOR", VLASLAND_HTB)];
    let args = [
        "apply",
        "--auto-approve",
        "--format",
        "json",
        multi,
        "--registry",
        &served.url,
    ];
    let spawn = || {
        env.command(&args, &who)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("apply starts")
    };
    let (a, b) = (spawn(), spawn());
    let a = a.wait_with_output().expect("a ends");
    let b = b.wait_with_output().expect("b ends");
    env.record(&args, &a);
    env.record(&args, &b);
    assert_eq!(code(&a), Some(0), "{}", text(&a));
    assert_eq!(code(&b), Some(0), "{}", text(&b));
    let done = |o: &Output| -> u64 {
        serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .map(|v| v["summary"]["done"].as_u64().unwrap_or(0))
            .unwrap_or(0)
    };
    let (da, db) = (done(&a), done(&b));
    assert!(
        (da > 100 && db == 0) || (db > 100 && da == 0),
        "one apply did everything, the other nothing: {da} and {db}"
    );
    drop(served);
    assert_eq!(
        env.assert_no_write_applied_twice(),
        clean_multi_campus_writes()
    );
    env.assert_no_personal_data();
}

/// The multi-campus example written into `env`, and its HTB acting on the registry file
/// in-process: for what a test must set up beside the command line (a lease another
/// apply holds, a session another apply has open).
fn multi_campus_in_process(env: &Env) -> (String, std::sync::Arc<dyn csamctl::registry::Registry>) {
    use csamctl::registry::{OpenOptions, SqliteRegistry};
    let multi = env.write("multi-campus.yaml", &example("multi-campus.yaml"));
    let registry = SqliteRegistry::open(&env.db, OpenOptions::stored_clock()).expect("opens");
    let me = csamctl::model::Insz::parse(VLASLAND_HTB).expect("insz");
    (
        multi.to_str().expect("utf-8").to_string(),
        registry.as_person(me),
    )
}

// A lease another apply holds is waited for up to --lock-timeout, then refused.
#[tokio::test]
async fn a_held_lease_is_refused_after_the_lock_timeout() {
    use csamctl::registry::LeaseRequest;
    let env = Env::new();
    let (multi, person) = multi_campus_in_process(&env);
    let multi = multi.as_str();
    let kbo = csamctl::model::Kbo::parse("0198765470").expect("kbo");
    let lease = person
        .acquire_lease(
            &kbo,
            &LeaseRequest {
                ttl_ms: 3_600_000,
                holder: "ci-runner-3 apply #42".into(),
                ..LeaseRequest::default()
            },
        )
        .await
        .expect("lease taken");
    let out = env.on_file(
        &["apply", "--auto-approve", "--lock-timeout", "1s", multi],
        &[],
    );
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    // The refusal names who holds the lease, as the holder described itself.
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains("is locked by ci-runner-3 apply #42"),
        "{stderr}"
    );
    person.release_lease(&lease.id).await.expect("released");
    let out = env.on_file(&["apply", "--auto-approve", multi], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    env.assert_no_personal_data();
}

// A lease left by an apply of the same person on this machine whose process is gone is
// taken over at once, saying so; the run converges without waiting for it to expire.
#[tokio::test]
async fn a_dead_apply_of_the_same_person_here_loses_its_lease_at_once() {
    use csamctl::registry::LeaseRequest;
    let env = Env::new();
    let (multi, person) = multi_campus_in_process(&env);
    let multi = multi.as_str();
    let kbo = csamctl::model::Kbo::parse("0198765470").expect("kbo");
    // A process that has ended: its pid names no process any more.
    let mut gone = Command::new("true").spawn().expect("true runs");
    let dead_pid = gone.id();
    gone.wait().expect("true ends");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let me = csamctl::model::Insz::parse(VLASLAND_HTB).expect("insz");
    let holder = format!("csamctl apply by {me} (pid {dead_pid} on {})", host.trim());
    let request = |holder: &str| LeaseRequest {
        ttl_ms: 3_600_000,
        holder: holder.into(),
        ..LeaseRequest::default()
    };
    person
        .acquire_lease(&kbo, &request(&holder))
        .await
        .expect("lease taken");
    let out = env.on_file(
        &["apply", "--auto-approve", "--lock-timeout", "1s", multi],
        &[],
    );
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains("Took over the lease of enterprise"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("pid {dead_pid}")), "{stderr}");
    // A live process of the same person (this test) is waited for, and the wait says
    // for whom and until when, in local time.
    let alive = format!(
        "csamctl apply by {me} (pid {} on {})",
        std::process::id(),
        host.trim()
    );
    let lease = person
        .acquire_lease(&kbo, &request(&alive))
        .await
        .expect("lease taken");
    let out = env.on_file(
        &["apply", "--auto-approve", "--lock-timeout", "2s", multi],
        &[],
    );
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        stderr.matches("Waiting for enterprise").count(),
        1,
        "said once: {stderr}"
    );
    assert!(
        stderr.contains(&format!("{alive} holds its lease until 20")),
        "{stderr}"
    );
    assert!(!stderr.contains("registry time"), "{stderr}");
    person.release_lease(&lease.id).await.expect("released");
    env.assert_no_personal_data();
}

// `lease release` shows the holder and releases the person's own lease; another
// person's only with --force, which the audit log records.
#[tokio::test]
async fn lease_release_shows_the_holder_and_breaks_another_only_with_force() {
    use csamctl::registry::LeaseRequest;
    let env = Env::new();
    let (multi, person) = multi_campus_in_process(&env);
    let kbo = csamctl::model::Kbo::parse("0198765470").expect("kbo");
    let request = |holder: &str| LeaseRequest {
        ttl_ms: 3_600_000,
        holder: holder.into(),
        ..LeaseRequest::default()
    };
    let release = ["lease", "release", "--enterprise", "0198765470"];
    let out = env.on_file(&release, &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    assert!(text(&out).contains("nothing to release"), "{}", text(&out));
    person
        .acquire_lease(&kbo, &request("ci-runner-3 apply #42"))
        .await
        .expect("lease taken");
    let out = env.on_file(&release, &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("held by ci-runner-3 apply #42 until"), "{all}");
    assert!(all.contains("Released"), "{all}");
    // Free again: apply runs at once (and appoints the access manager used below).
    let out = env.on_file(
        &["apply", "--auto-approve", "--lock-timeout", "0s", &multi],
        &[],
    );
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    // Another person with a role in the enterprise breaks it only with --force, and
    // the audit log names who did.
    person
        .acquire_lease(&kbo, &request("ci-runner-5"))
        .await
        .expect("lease taken");
    let access_manager = "69012810031";
    let token = env.token(access_manager);
    let as_other = [("CSAM_TOKEN", token.as_str())];
    let out = env.on_file(&release, &as_other);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("held by ci-runner-5") && all.contains("--force"),
        "{all}"
    );
    let mut force = release.to_vec();
    force.push("--force");
    let out = env.on_file(&force, &as_other);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let conn = rusqlite::Connection::open(&env.db).expect("db opens");
    let breaker: String = conn
        .query_row(
            "SELECT actor FROM audit WHERE action = 'take_over_lease' AND target LIKE '%ci-runner-5%'",
            [],
            |r| r.get(0),
        )
        .expect("the take-over is in the audit log");
    assert_eq!(breaker, access_manager);
    env.assert_no_personal_data();
}

// A person at the session limit with sessions left by a crashed run: plan logs out the
// abandoned (idle) ones instead of failing, and leaves none of its own open.
#[tokio::test]
async fn plan_reclaims_abandoned_sessions_instead_of_failing_on_the_limit() {
    let env = Env::new();
    let (multi, person) = multi_campus_in_process(&env);
    let limit = person.limits().await.expect("limits").sessions_per_person;
    for _ in 0..limit {
        person.open_session().await.expect("log in");
    }
    env.advance("1m");
    let out = env.on_file(&["plan", &multi], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("Logged out {limit} abandoned session(s)")),
        "{}",
        text(&out)
    );
    assert!(person.list_sessions().await.expect("list").is_empty());
    // export reads the same way, and leaves no session behind either.
    let out = env.on_file(
        &["export", "--enterprise", "0198765470", "--out", "x.yaml"],
        &[],
    );
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    assert!(person.list_sessions().await.expect("list").is_empty());
}

// `sessions` lists the acting person's open sessions and logs them out.
#[tokio::test]
async fn sessions_lists_and_closes_the_persons_open_sessions() {
    let env = Env::new();
    let (_, person) = multi_campus_in_process(&env);
    let first = person.open_session().await.expect("log in").id;
    let second = person.open_session().await.expect("log in").id;
    let out = env.on_file(&["sessions"], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listed.contains(&first.0) && listed.contains(&second.0),
        "{listed}"
    );
    let out = env.on_file(&["sessions", "--close", &first.0], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    assert_eq!(person.list_sessions().await.expect("list").len(), 1);
    let out = env.on_file(&["sessions", "--close", "s-999999"], &[]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    let out = env.on_file(&["sessions", "--close-all"], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    assert!(person.list_sessions().await.expect("list").is_empty());
    let out = env.on_file(&["sessions"], &[]);
    assert!(text(&out).contains("no open sessions"), "{}", text(&out));
}

// Ctrl-C: nothing new starts, what is in flight finishes, the open sessions are logged
// out, the report is printed, exit 130; the next apply finds no session left open and
// converges, with no write applied twice.
#[test]
fn an_interrupted_apply_logs_out_reports_and_is_resumed() {
    let clean = clean_multi_campus_writes();
    let env = Env::new();
    let multi = env.write("multi-campus.yaml", &example("multi-campus.yaml"));
    let multi = multi.to_str().expect("utf-8");
    let token = env.token(VLASLAND_HTB);
    // 40 ms a request: the run lasts long enough for the signal to land mid-way.
    let served = Served::start(&env.db, &["--latency", "40"]);
    let who = [("CSAM_TOKEN", token.as_str()), ("CSAM_ACTOR", VLASLAND_HTB)];
    let args = ["apply", "--auto-approve", multi, "--registry", &served.url];
    let mut child = env
        .command(&args, &who)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("apply starts");
    // The plain progress line of the enterprise's start says the executor is running.
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("round(s) of sessions") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the executor starts");
    // The shell's own `kill` (sh is on every machine; /bin/kill is not).
    let killed = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .expect("sh runs");
    assert!(killed.success());
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().expect("piped"), &mut stdout)
        .expect("stdout read");
    let status = child.wait().expect("apply ends");
    let stderr = reader.join().expect("reader");
    let out = Output {
        status,
        stdout: stdout.clone().into_bytes(),
        stderr: stderr.clone().into_bytes(),
    };
    env.record(&args, &out);
    assert_eq!(code(&out), Some(130), "{}", text(&out));
    assert!(
        stderr.contains("Interrupted: starting nothing new"),
        "{stderr}"
    );
    // The report lists what was done and what was not attempted.
    let summary = stdout
        .lines()
        .find(|l| l.contains("step(s) done"))
        .unwrap_or_else(|| panic!("a report: {}", text(&out)));
    assert!(!summary.contains(" 0 not attempted"), "{summary}");

    let out = env.run(&args, &who);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("Logged out"),
        "the interrupted run logged its own sessions out: {}",
        text(&out)
    );
    let out = env.run(
        &[
            "plan",
            "--detailed-exitcode",
            multi,
            "--registry",
            &served.url,
        ],
        &who,
    );
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    drop(served);
    assert_eq!(env.assert_no_write_applied_twice(), clean);
    env.assert_no_personal_data();
}

// verify --wait waits out the propagation delay (R6) on the registry's clock: it keeps
// polling while the clock stands still and succeeds once the clock is moved past it.
#[test]
fn verify_waits_for_the_registry_clock_to_pass_the_propagation_delay() {
    use csamctl::registry::{OpenOptions, RegistryOperator, SqliteRegistry};
    let env = Env::new();
    let multi = env.write("multi-campus.yaml", &example("multi-campus.yaml"));
    let multi_path = multi.clone();
    let multi = multi.to_str().expect("utf-8");
    let out = env.on_file(&["apply", "--auto-approve", multi], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    // R9 is outside CSAM: the operator records that the coordination centre knows each
    // site's head radiologist, so propagation is the only thing left to wait for.
    let loaded = csamctl::config::load(&[multi_path], &csamctl::config::InputLimits::default());
    assert!(
        loaded
            .diagnostics
            .iter()
            .all(|d| d.severity != csamctl::config::DiagnosticSeverity::Error)
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let registry = SqliteRegistry::open(&env.db, OpenOptions::stored_clock()).expect("opens");
        for e in &loaded.state.enterprises {
            for c in &e.capacities {
                for p in &c.people {
                    for (site, functions) in &p.sites {
                        if functions.contains(&csamctl::model::Function::HeadRadiologist) {
                            registry
                                .notify_head_radiologist(site, &p.insz)
                                .await
                                .expect("notified");
                        }
                    }
                }
            }
        }
    });
    let registry = format!("file:{}", env.db.display());
    let args = [
        "verify",
        "--wait",
        "--timeout",
        "2m",
        multi,
        "--registry",
        &registry,
    ];
    let mut child = env
        .command(&args, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("verify starts");
    // It says it waits: the registry's clock has not passed the delay. Only then is the
    // clock moved; verify must see it move (it polls) and succeed.
    let stderr = child.stderr.take().expect("piped");
    let mut lines = BufReader::new(stderr).lines();
    let waiting = lines.next().expect("a line").expect("readable");
    assert!(
        waiting.starts_with("Waiting for the propagation delay (R6)")
            && waiting.contains("the last takes effect at"),
        "{waiting}"
    );
    env.advance("21m");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let mut out = child.wait_with_output().expect("verify ends");
    out.stderr = format!("{waiting}\n{}", rest.join("\n")).into_bytes();
    env.record(&args, &out);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("have Heracles access."), "{stdout}");
    assert!(!stdout.contains("NO access"), "{stdout}");
    env.assert_no_personal_data();
}

/// Runs `csamctl ARGS` on a pseudo-terminal (util-linux `script`), typing `input`; returns
/// the exit code and everything the terminal showed.
fn on_terminal(env: &Env, args: &[&str], input: &str) -> (Option<i32>, String) {
    use std::io::Write as _;
    let quoted: Vec<String> = std::iter::once(CSAMCTL)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &quoted.join(" "), "/dev/null"])
        .current_dir(env.dir.path())
        .env("NO_COLOR", "1")
        .env_remove("CSAM_REGISTRY")
        .env_remove("CSAM_TOKEN")
        .env("CSAM_ACTOR", VLASLAND_HTB)
        .envs(password_vars().into_iter().map(|v| (v, PASSWORD)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs (it gives the test a terminal)");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())
        .expect("typed");
    let out = child.wait_with_output().expect("script ends");
    env.record(args, &out);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

// On a terminal apply shows the plan and asks; anything but "yes" changes nothing, "yes"
// applies it.
#[test]
fn on_a_terminal_apply_shows_the_plan_and_asks() {
    let env = Env::new();
    let multi = env.write("multi-campus.yaml", &example("multi-campus.yaml"));
    let multi = multi.to_str().expect("utf-8");
    let registry = format!("file:{}", env.db.display());
    let apply = ["apply", multi, "--registry", &registry];

    let (exit, shown) = on_terminal(&env, &apply, "no\n");
    assert_eq!(exit, Some(1), "{shown}");
    assert!(
        shown.contains("Session 1 · access managers, capacity"),
        "the plan: {shown}"
    );
    assert!(
        shown.contains("Apply this plan? Only 'yes' is accepted"),
        "{shown}"
    );
    assert!(
        shown.contains("Apply cancelled; nothing was changed."),
        "{shown}"
    );
    let out = env.on_file(&["plan", "--detailed-exitcode", multi], &[]);
    assert_eq!(code(&out), Some(2), "nothing applied: {}", text(&out));

    let (exit, shown) = on_terminal(&env, &apply, "yes\n");
    assert_eq!(exit, Some(0), "{shown}");
    assert!(shown.contains("0 failed, 0 not attempted"), "{shown}");
    let out = env.on_file(&["plan", "--detailed-exitcode", multi], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    env.assert_no_personal_data();
}

// Before planning, apply logs out the acting person's abandoned sessions (their writes
// must be processed first, R1) but leaves a busy one alone: another apply of the same
// person may be using it.
#[tokio::test]
async fn apply_logs_out_idle_sessions_of_the_person_and_leaves_busy_ones() {
    let env = Env::new();
    let (multi, person) = multi_campus_in_process(&env);
    let multi = multi.as_str();
    let other = person.open_session().await.expect("another session").id;
    let open = || async {
        person
            .list_sessions()
            .await
            .expect("listed")
            .into_iter()
            .any(|s| s.id == other)
    };

    // Busy: just used, on the registry's clock.
    let out = env.on_file(&["apply", "--auto-approve", multi], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("Logged out"),
        "{}",
        text(&out)
    );
    assert!(open().await, "the busy session was left open");

    // Idle for a minute: abandoned.
    env.advance("1m");
    let out = env.on_file(&["apply", "--auto-approve", multi], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Logged out 1 open session(s)"),
        "{}",
        text(&out)
    );
    assert!(!open().await, "the idle session was logged out");
    env.assert_no_personal_data();
}

/// The registry's writes so far: every audit entry of a write, refused or not.
fn audited_writes(env: &Env) -> usize {
    let conn = rusqlite::Connection::open(&env.db).expect("db opens");
    conn.query_row(
        "SELECT COUNT(*) FROM audit WHERE idempotency_key IS NOT NULL",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| usize::try_from(n).unwrap_or(0))
    .expect("count")
}

// Regression (issue 11): a changed username passed `plan` with a warning, and `apply`
// deleted the person's three user records before the registry refused the new username.
#[test]
fn a_username_change_is_refused_by_plan_and_apply_before_any_write() {
    let env = Env::new();
    env.apply_example("multi-campus.yaml");
    let renamed = example("multi-campus.yaml")
        .replace("username: sarahvermeulen", "username: sarahvermeulen2");
    let renamed = env.write("renamed.yaml", &renamed);
    let renamed = renamed.to_str().expect("utf-8");
    let before = audited_writes(&env);

    let out = env.on_file(&["plan", renamed], &[]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("usernames are immutable"), "{all}");
    assert!(
        all.contains("sarahvermeulen"),
        "the way out names the username: {all}"
    );

    let out = env.on_file(&["apply", "--auto-approve", renamed], &[]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("usernames are immutable"),
        "{}",
        text(&out)
    );
    assert_eq!(audited_writes(&env), before, "apply wrote before refusing");

    // The person still has all three records: nothing was deleted.
    let multi = env.write("multi-campus.yaml", &example("multi-campus.yaml"));
    let out = env.on_file(
        &[
            "plan",
            "--detailed-exitcode",
            multi.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    env.assert_no_personal_data();
}

/// The head radiologists of the multi-campus example: full INSZ as notices print them.
const MULTI_CAMPUS_HEADS: [&str; 5] = [
    "73.02.26-099.86",
    "74.09.25-386.93",
    "60.02.12-903.11",
    "78.01.19-272.27",
    "87.01.13-121.62",
];

/// Every notice file the runs in `env` wrote, concatenated.
fn notices_written(env: &Env) -> String {
    let dir = env.dir.path().join(".csamctl/notices");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return String::new();
    };
    let mut all = String::new();
    for e in entries {
        let path = e.expect("entry").path();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
        all.push_str(&std::fs::read_to_string(&path).expect("notice readable"));
    }
    all
}

/// How many head radiologists the registry says are still owed to the coordination
/// centre, as `coordination-centre` counts them.
fn owed_count(env: &Env, multi: &str) -> usize {
    let out = env.on_file(&["coordination-centre", multi, "--notice-dir", "owed"], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("head radiologist ") && l.trim_start().starts_with("site "))
        .count()
}

// R9 notices are derived from the registry, not remembered: apply is killed (abort,
// like SIGKILL) after N acknowledged writes for N spread over the whole run, including
// after the last write, and re-run; every head radiologist ends up in a notice file.
#[test]
fn no_notice_is_lost_when_apply_is_killed_at_any_write() {
    let total: usize = clean_multi_campus_writes().values().sum();
    let mut points: Vec<usize> = (0..23).map(|i| 1 + i * (total - 1) / 22).collect();
    points.push(total);
    points.dedup();
    assert!(points.len() >= 20, "{points:?}");
    let mut after_head_writes = 0;
    let mut rerun_without_changes = 0;
    for &kill_after in &points {
        let env = Env::new();
        let multi = env.write("multi-campus.yaml", &example("multi-campus.yaml"));
        let multi = multi.to_str().expect("utf-8");
        let n = kill_after.to_string();
        let out = env.on_file(
            &["apply", "--auto-approve", multi],
            &[("CSAM_TEST_KILL_AFTER_WRITES", n.as_str())],
        );
        assert_eq!(code(&out), None, "killed at {kill_after}: {}", text(&out));
        // Owed from the moment the write is acknowledged, processed or not.
        if owed_count(&env, multi) > 0 {
            after_head_writes += 1;
        }
        std::fs::remove_dir_all(env.dir.path().join("owed")).ok();
        env.advance("6m");
        let out = env.on_file(&["apply", "--auto-approve", multi], &[]);
        assert_eq!(
            code(&out),
            Some(0),
            "after kill at {kill_after}: {}",
            text(&out)
        );
        if String::from_utf8_lossy(&out.stdout).contains("No changes") {
            rerun_without_changes += 1;
        }
        let notices = notices_written(&env);
        for head in MULTI_CAMPUS_HEADS {
            assert!(
                notices.contains(head),
                "kill at {kill_after}: head radiologist {head} in no notice"
            );
        }
        env.assert_no_personal_data();
    }
    eprintln!(
        "{} kill points ({} after head-radiologist writes, {} re-runs with no changes): 0 notices lost",
        points.len(),
        after_head_writes,
        rerun_without_changes
    );
    assert!(after_head_writes >= 3, "{after_head_writes}");
    assert!(rerun_without_changes >= 1, "{rerun_without_changes}");
}

// The R9 step by command on an embedded registry: list and write the notice, record it
// as sent; then, 20 minutes of virtual time later, verify passes for everyone.
#[test]
fn verify_passes_after_onboarding_the_r9_step_and_twenty_minutes() {
    let env = Env::new();
    let multi = env.write("multi-campus.yaml", &example("multi-campus.yaml"));
    let multi = multi.to_str().expect("utf-8");
    let out = env.on_file(&["apply", "--auto-approve", multi], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    assert_eq!(owed_count(&env, multi), MULTI_CAMPUS_HEADS.len());
    // Without a terminal, recording needs --yes: nothing is recorded.
    let out = env.on_file(&["coordination-centre", multi, "--record-sent"], &[]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert_eq!(owed_count(&env, multi), MULTI_CAMPUS_HEADS.len());
    // One site first, then the rest.
    let out = env.on_file(
        &[
            "coordination-centre",
            multi,
            "--site",
            "71977101",
            "--record-sent",
            "--yes",
        ],
        &[],
    );
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Recorded: the coordination centre knows 1")
    );
    assert_eq!(owed_count(&env, multi), MULTI_CAMPUS_HEADS.len() - 1);
    let out = env.on_file(&["cvko", multi, "--record-sent", "--yes"], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    assert_eq!(owed_count(&env, multi), 0);
    let out = env.on_file(&["verify", multi], &[]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    env.advance("20m");
    let out = env.on_file(&["verify", multi], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.contains("63 of 63 declared user record(s)"),
        "{stdout}"
    );
    // Nothing owed: a new apply names no notice.
    let out = env.on_file(&["apply", "--auto-approve", multi], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("notice"));
    env.assert_no_personal_data();
}

// On a served registry, recording goes through the operator surface: refused clearly
// without the operator token, done with it.
#[test]
fn a_served_registry_records_the_r9_step_through_the_operator_surface() {
    let env = Env::new();
    let multi = env.write("multi-campus.yaml", &example("multi-campus.yaml"));
    let multi = multi.to_str().expect("utf-8");
    let token = env.token(VLASLAND_HTB);
    let served = Served::start(&env.db, &[]);
    let who = [("CSAM_TOKEN", token.as_str()), ("CSAM_ACTOR", VLASLAND_HTB)];
    let on_server = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--registry", served.url.as_str()]);
        env.run(&all, &who)
    };
    let out = on_server(&["apply", "--auto-approve", multi]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let out = on_server(&["coordination-centre", multi, "--record-sent", "--yes"]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--operator-token-file"),
        "{}",
        text(&out)
    );
    let operator = env.db.with_extension("operator-token");
    let operator = operator.to_str().expect("utf-8");
    let out = on_server(&[
        "coordination-centre",
        multi,
        "--record-sent",
        "--yes",
        "--operator-token-file",
        operator,
    ]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let out = on_server(&["coordination-centre", multi]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("No head radiologist"));
    env.advance("20m");
    let out = on_server(&["verify", multi]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    env.assert_no_personal_data();
}

// verify --wait waits only for what time fixes (R6): with R9 not recorded it says so at
// once, with the fix, and exits 1 instead of waiting out its 30-minute timeout.
#[test]
fn verify_wait_says_at_once_what_time_cannot_fix() {
    let env = Env::new();
    let multi = env.write("multi-campus.yaml", &example("multi-campus.yaml"));
    let multi = multi.to_str().expect("utf-8");
    let out = env.on_file(&["apply", "--auto-approve", multi], &[]);
    assert_eq!(code(&out), Some(0), "{}", text(&out));
    let out = env.on_file(&["verify", "--wait", "--timeout", "30m", multi], &[]);
    assert_eq!(code(&out), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("Not waiting"), "{stderr}");
    assert!(
        stderr.contains("the coordination centre knows the site's head radiologist (R9)")
            && stderr.contains("csamctl coordination-centre"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Waiting for the propagation delay"),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("gave up waiting"),
        "{}",
        text(&out)
    );
    env.assert_no_personal_data();
}
