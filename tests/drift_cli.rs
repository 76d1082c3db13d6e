//! `csamctl drift` as a whole run, on a real embedded registry after a real `apply` of
//! the multi-campus example: a users export that matches says so (exit 0); one that
//! differs in each way (a user missing, one extra, another username, another status,
//! another type) is reported per person with the INSZ masked (exit 2), in Dutch and
//! French exports, as text, JSON and Markdown; `--record --yes` takes what a registry
//! write can say (a deleted user record, a status) into the registry, and the next
//! check no longer reports it; and an account CSAM holds, so that a person adopted with
//! `import-csv` (no password reference) gets their user record created without one.

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use csamctl::config::{self, InputLimits};
use csamctl::model::{Hco, Person};

const KBO: &str = "0198765470";
const HTB: &str = "82120926312";
/// Campus Wervik of the multi-campus example.
const SITE: &str = "71977201";
/// A fictional person the example does not know.
const STRANGER: (&str, &str) = ("90020199704", "pietjanssens");

fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

struct Env {
    dir: tempfile::TempDir,
    db: PathBuf,
    token: String,
}

impl Env {
    /// A registry with the multi-campus example applied, and the HTB's token.
    fn applied() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, token) = cli_support::registry_with_token(dir.path(), HTB);
        let env = Env { token, dir, db };
        let example = manifest("examples/multi-campus.yaml").display().to_string();
        let mut apply = env.command(&["apply", &example, "--auto-approve"]);
        let yaml = std::fs::read_to_string(&example).expect("example");
        for var in yaml.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
            if var.starts_with("CSAM_PW_") {
                apply.env(var, "Proef2026!x");
            }
        }
        let out = apply.output().expect("runs");
        assert!(out.status.success(), "apply: {}", text(&out));
        env
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = cli_support::command(self.dir.path());
        c.args(args)
            .env("CSAM_REGISTRY", format!("file:{}", self.db.display()))
            .env("CSAM_TOKEN", &self.token);
        c
    }

    fn drift(&self, csv: &Path, extra: &[&str]) -> Output {
        let csv = csv.display().to_string();
        let mut args = vec!["drift", &csv, "--enterprise", KBO, "--site", SITE];
        args.extend_from_slice(extra);
        self.command(&args).output().expect("runs")
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("written");
        path
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The example's people on the site, as the desired state declares them.
fn people_on_site() -> Vec<Person> {
    let loaded = config::load(
        &[manifest("examples/multi-campus.yaml")],
        &InputLimits::default(),
    );
    assert_eq!(loaded.errors(), 0, "the example validates");
    let site = Hco::parse(SITE).expect("HCO");
    let people: Vec<Person> = loaded
        .state
        .enterprises
        .iter()
        .flat_map(|e| &e.capacities)
        .flat_map(|c| &c.people)
        .filter(|p| p.sites.contains_key(&site))
        .cloned()
        .collect();
    assert!(people.len() >= 4, "the site has people to vary");
    people
}

/// One export row: (last name, first name, username, type, INSZ, active).
type Row = (String, String, String, &'static str, String, bool);

fn rows(people: &[Person]) -> Vec<Row> {
    people
        .iter()
        .map(|p| {
            (
                p.details.last_name.clone(),
                p.details.first_name.clone(),
                p.username.to_string(),
                "USER",
                p.insz.compact().to_string(),
                p.active,
            )
        })
        .collect()
}

/// A Dutch export: UTF-8 with a byte-order mark, `;`, CRLF.
fn dutch(rows: &[Row]) -> Vec<u8> {
    let mut s = String::from("\u{feff}Naam;Voornaam;Gebruikersnaam;Type;INSZ;Status\r\n");
    for (last, first, user, kind, insz, active) in rows {
        let status = if *active { "Actief" } else { "Inactief" };
        s.push_str(&format!("{last};{first};{user};{kind};{insz};{status}\r\n"));
    }
    s.into_bytes()
}

/// A French export: `,`, every field quoted.
fn french(rows: &[Row]) -> Vec<u8> {
    let mut s =
        String::from("\"Nom\",\"Prénom\",\"Nom d'utilisateur\",\"Type\",\"NISS\",\"Statut\"\n");
    for (last, first, user, kind, insz, active) in rows {
        let status = if *active { "Actif" } else { "Inactif" };
        s.push_str(&format!(
            "\"{last}\",\"{first}\",\"{user}\",\"{kind}\",\"{insz}\",\"{status}\"\n"
        ));
    }
    s.into_bytes()
}

/// The site's export with one difference of each kind: the first person missing, a
/// stranger extra, the second with another username, the third inactive, the fourth as
/// an SB account.
fn drifted(people: &[Person]) -> Vec<Row> {
    let mut rows = rows(people);
    rows[1].2 = format!("{}x", rows[1].2);
    rows[2].5 = !rows[2].5;
    rows[3].3 = "SB";
    rows.remove(0);
    rows.push((
        "JANSSENS".into(),
        "Piet".into(),
        STRANGER.1.into(),
        "USER",
        STRANGER.0.into(),
        true,
    ));
    rows
}

/// The kinds of the registry differences of a JSON drift report, sorted.
fn registry_kinds(json: &serde_json::Value) -> Vec<String> {
    let mut kinds: Vec<String> = json["registry"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["drift"].as_str().expect("kind").to_string())
        .collect();
    kinds.sort();
    kinds
}

#[test]
fn an_export_that_matches_has_no_drift() {
    let env = Env::applied();
    let people = people_on_site();
    let csv = env.write("wervik.csv", &dutch(&rows(&people)));
    let example = manifest("examples/multi-campus.yaml").display().to_string();
    let out = env.drift(&csv, &["--desired", &example]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("CSAM and the local registry: no drift."),
        "{stdout}"
    );
    assert!(
        stdout.contains("CSAM and the desired state: no drift."),
        "{stdout}"
    );
}

#[test]
fn every_kind_of_drift_is_reported_per_person_with_the_insz_masked() {
    let env = Env::applied();
    let people = people_on_site();
    let example = manifest("examples/multi-campus.yaml").display().to_string();
    for (name, bytes) in [
        ("wervik.nl.csv", dutch(&drifted(&people))),
        ("wervik.fr.csv", french(&drifted(&people))),
    ] {
        let csv = env.write(name, &bytes);
        let out = env.drift(&csv, &["--desired", &example]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let first = &people[0];
        assert!(
            stdout.contains(&format!(
                "({}) {}: USER account missing in CSAM",
                first.username,
                first.insz.masked()
            )),
            "{name}: {stdout}"
        );
        assert!(stdout.contains("USER account only in CSAM"), "{stdout}");
        assert!(
            stdout.contains(&format!(
                "username {}x in CSAM, {} expected",
                people[1].username, people[1].username
            )),
            "{stdout}"
        );
        assert!(
            stdout.contains("inactive in CSAM, active expected"),
            "{stdout}"
        );
        assert!(
            stdout.contains("type SB in CSAM, USER expected"),
            "{stdout}"
        );
        // Both comparisons see the same five differences.
        assert_eq!(stdout.matches("5 difference(s)").count(), 2, "{stdout}");
        for p in &people {
            assert!(
                !stdout.contains(p.insz.compact()),
                "an INSZ in full: {stdout}"
            );
        }
        assert!(!stdout.contains(STRANGER.0), "{stdout}");
    }
}

#[test]
fn json_and_markdown_carry_the_same_findings() {
    let env = Env::applied();
    let people = people_on_site();
    let csv = env.write("wervik.csv", &dutch(&drifted(&people)));
    let out = env.drift(&csv, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["drift"], true);
    assert!(json["desired"].is_null(), "no --desired: {json}");
    let kinds = registry_kinds(&json);
    assert_eq!(kinds, ["extra", "level", "missing", "status", "username"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(people[0].insz.compact()));

    let out = env.drift(&csv, &["--format", "markdown"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains("| person | difference | what it means |"),
        "{md}"
    );
    assert_eq!(
        md.matches("\n| ").count(),
        1 + 5,
        "header and five rows: {md}"
    );
}

#[test]
fn record_takes_what_a_write_can_say_into_the_registry() {
    let env = Env::applied();
    let people = people_on_site();
    let csv = env.write("wervik.csv", &dutch(&drifted(&people)));
    let out = env.drift(&csv, &["--record", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines = |prefix: &str| stderr.lines().filter(|l| l.starts_with(prefix)).count();
    // The deleted record, the status, and the stranger's account (which CSAM holds);
    // not another username or type.
    assert_eq!(lines("recorded: "), 3, "{stderr}");
    assert_eq!(lines("not recorded: "), 2, "{stderr}");

    // The registry was processed at log-out: the next check no longer sees them.
    let out = env.drift(&csv, &["--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let kinds = registry_kinds(&json);
    assert_eq!(kinds, ["extra", "level", "username"], "{json}");
}

#[test]
fn record_without_a_terminal_needs_yes_and_changes_nothing() {
    let env = Env::applied();
    let people = people_on_site();
    let csv = env.write("wervik.csv", &dutch(&drifted(&people)));
    let out = env.drift(&csv, &["--record"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    let out = env.drift(&csv, &["--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["registry"].as_array().expect("findings").len(), 5);
}

#[test]
fn an_unreadable_export_is_an_error_that_says_so() {
    let env = Env::applied();
    let csv = env.write("notes.csv", b"just some notes\n");
    let out = env.drift(&csv, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("De gebruikers exporteren"),
        "{}",
        text(&out)
    );
}

#[test]
fn an_account_csam_holds_is_recorded_and_its_user_record_needs_no_password() {
    let env = Env::applied();
    let stranger = [(
        "JANSSENS".to_string(),
        "Piet".to_string(),
        STRANGER.1.to_string(),
        "USER",
        STRANGER.0.to_string(),
        true,
    )];
    let csv = env.write("wervik.csv", &dutch(&stranger));
    // Adopted into a copy of the example: no password reference, an e-mail to fill in.
    let yaml = env.dir.path().join("csam.yaml");
    std::fs::copy(manifest("examples/multi-campus.yaml"), &yaml).expect("copied");
    let yaml = yaml.display().to_string();
    let csv_text = csv.display().to_string();
    let out = env
        .command(&["import-csv", &csv_text, "--site", SITE, "--into", &yaml])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let filled = std::fs::read_to_string(&yaml).expect("merged").replacen(
        "email: TODO",
        "email: piet.janssens@azvlasland.example",
        1,
    );
    std::fs::write(&yaml, filled).expect("filled in");

    // The local registry does not know the account: the registry would refuse to create
    // the user without a password, so plan refuses first.
    let out = env.command(&["plan", &yaml]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("plan::password_required"),
        "{}",
        text(&out)
    );

    let out = env.drift(&csv, &["--record", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "recorded: Piet JANSSENS (pietjanssens) **.**.**-**7.04: the account exists in CSAM"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains(STRANGER.0), "{stderr}");

    // Known now: no warning, and apply creates the user record without a password.
    let out = env.command(&["plan", &yaml]).output().expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("password_required"), "{}", text(&out));
    let out = env
        .command(&["apply", &yaml, "--auto-approve"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    let out = env.drift(&csv, &["--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        !registry_kinds(&json).contains(&"extra".to_string()),
        "the user record is recorded: {json}"
    );

    // An account that contradicts one the registry has (the username of another
    // person) is refused whole, and nothing is recorded.
    let thief = [(
        "PEETERS".to_string(),
        "Lien".to_string(),
        STRANGER.1.to_string(),
        "USER",
        "85073003328".to_string(),
        true,
    )];
    let csv = env.write("other.csv", &dutch(&thief));
    let out = env.drift(&csv, &["--record", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("username pietjanssens is already taken"),
        "{}",
        text(&out)
    );
}
