//! Bounded fault test (issue 12): against a real `csamctl registry serve` on 127.0.0.1
//! with `--fault-rate 0.2` and a few `--fault-seed`s, a small generated fleet (the
//! benchmarks' generator) converges in one `apply`: exit 0, then no changes, no write
//! applied twice (audit log), no session open and no lease held. `bench/fault-soak.sh`
//! is the full-size version (20 seeds × the two workloads of the issue).

mod cli_support;
#[path = "../benches/fleet/mod.rs"]
mod fleet;

use std::path::Path;
use std::process::Output;

use csamctl::model::insz_check;

fn actor() -> String {
    let nine = 700_101_000u64;
    format!("{nine:09}{:02}", insz_check(nine, false))
}

fn run(dir: &Path, args: &[&str], fleet: &str) -> Output {
    let mut c = cli_support::command(dir);
    c.args(args).env("CSAM_ACTOR", actor());
    for name in fleet
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("CSAM_PW_"))
    {
        c.env(name, "Fleet2026!x");
    }
    c.output().expect("csamctl runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Serves `db` with 20 % faults in the order `seed` gives.
fn serve(db: &Path, seed: u64) -> (cli_support::Served, String) {
    let seed = seed.to_string();
    let served = cli_support::Served::start(db, &["--fault-rate", "0.2", "--fault-seed", &seed]);
    let url = served.url.clone();
    (served, url)
}

#[test]
fn a_fleet_converges_in_one_apply_under_seeded_faults() {
    let fleet = fleet::fleet(3, 2, 5, &fleet::MainAccessManager::Everywhere(actor()));
    for seed in [1, 2, 3] {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("fleet.yaml"), &fleet.desired).expect("fleet");
        std::fs::write(d.join("reference.yaml"), &fleet.reference).expect("reference");
        let db = d.join("registry.db");
        let db_arg = db.display().to_string();
        let out = run(
            d,
            &[
                "registry",
                "init",
                "--virtual-clock",
                "--db",
                &db_arg,
                "--reference",
                "reference.yaml",
            ],
            "",
        );
        assert!(out.status.success(), "init: {}", text(&out));
        let out = run(
            d,
            &["registry", "token", "--db", &db_arg, "--insz", &actor()],
            "",
        );
        assert!(out.status.success(), "token: {}", text(&out));
        std::fs::write(d.join("token"), String::from_utf8_lossy(&out.stdout).trim())
            .expect("token file");
        let (server, url) = serve(&db, seed);
        let with = |registry: &str, args: &[&str]| {
            let mut all = args.to_vec();
            all.extend(["--registry", registry, "--token-file", "token"]);
            run(d, &all, &fleet.desired)
        };
        let out = with(&url, &["apply", "--auto-approve", "fleet.yaml"]);
        assert_eq!(out.status.code(), Some(0), "seed {seed}: {}", text(&out));
        drop(server);
        // The checks read the file itself, without faults.
        let file = format!("file:{db_arg}");
        let out = with(&file, &["plan", "--detailed-exitcode", "fleet.yaml"]);
        assert_eq!(out.status.code(), Some(0), "seed {seed}: {}", text(&out));
        let out = with(&file, &["sessions"]);
        assert!(
            text(&out).contains("no open sessions"),
            "seed {seed}: sessions left: {}",
            text(&out)
        );
        for kbo in fleet.desired.lines().filter_map(|l| {
            l.trim()
                .strip_prefix("- kbo: ")
                .or(l.trim().strip_prefix("kbo: "))
        }) {
            let kbo = kbo.trim_matches('"');
            let out = with(&file, &["lease", "release", "--enterprise", kbo]);
            assert!(
                text(&out).contains("nothing to release"),
                "seed {seed}: lease of {kbo} left: {}",
                text(&out)
            );
        }
        let conn = rusqlite::Connection::open(&db).expect("db opens");
        let (applied, distinct): (i64, i64) = conn
            .query_row(
                "SELECT count(*), count(DISTINCT idempotency_key) FROM audit \
                 WHERE outcome = 'ok' AND idempotency_key IS NOT NULL",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("audit");
        assert!(applied > 0, "seed {seed}: the fleet was written");
        assert_eq!(applied, distinct, "seed {seed}: a write applied twice");
    }
}
