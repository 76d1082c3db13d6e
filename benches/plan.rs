//! Benchmark of `plan` on a synthetic fleet against the embedded registry (issue 4,
//! item 9), next to serde-saphyr alone parsing the same file into untyped values. The
//! goal: plan ≤ 2× that parse, ≤ 1 GiB peak memory, both when everything is to be
//! created and when nothing changes.
//!
//! Modes, run as separate processes by `bench/plan.sh` so that each one's peak memory
//! can be read:
//!   cargo bench --bench plan -- gen E S P FLEET REFERENCE   (fleet + registry reference)
//!   cargo bench --bench plan -- init REFERENCE DB           (empty registry)
//!   cargo bench --bench plan -- apply FLEET DB              (carry the plan out: setup)
//!   cargo bench --bench plan -- parse FLEET                 (serde-saphyr → Value)
//!   cargo bench --bench plan -- plan FLEET DB               (what `csamctl plan` does)
//! Timing modes run 3 times and print the best and median wall time.
//!
//! The fleet is the one of `benches/validate.rs` (same shape and sizes), except that
//! one person is the main access manager of every enterprise: plan reads every
//! enterprise's tree, and only someone with a role in all of them may (a coordination
//! centre onboarding units, in the domain's terms).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use csamctl::execute::steps::{idempotency_key, registry_write};
use csamctl::model::{
    Insz, Kbo, LiveState, Password, Phase, Plan, PlanLimits, StepWrite, insz_check, kbo_check,
};
use csamctl::registry::{OpenOptions, Registry, RegistryError, RegistryOperator, SqliteRegistry};

/// The person acting for every enterprise.
fn actor() -> Insz {
    let nine = 700_101_000u64;
    Insz::parse(&format!("{nine:09}{:02}", insz_check(nine, false))).expect("actor")
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    // As `csamctl plan`: a current-thread runtime (spawn_blocking for the registry).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match args.first().map(String::as_str) {
        Some("gen") => {
            let n = |i: usize| args.get(i).and_then(|s| s.parse().ok()).expect("number");
            let (fleet, reference) = fleet(n(1), n(2), n(3));
            std::fs::write(&args[4], fleet).expect("write fleet");
            std::fs::write(&args[5], reference).expect("write reference");
        }
        Some("init") => {
            let reference = std::fs::read_to_string(&args[1]).expect("reference");
            SqliteRegistry::init_with_reference(&args[2], &reference, OpenOptions::virtual_clock())
                .expect("registry");
        }
        Some("apply") => runtime.block_on(apply(&args[1], &args[2])),
        Some("parse") => time("serde-saphyr parse to untyped values", &args[1], |bytes| {
            let text = std::str::from_utf8(bytes).expect("utf-8");
            let mut options = serde_saphyr::Options::default();
            options.budget = None;
            let value: serde_json::Value =
                serde_saphyr::from_str_with_options(text, options).expect("parse");
            std::hint::black_box(value);
        }),
        Some("plan") => time("csamctl plan", &args[1], |bytes| {
            let summary = runtime.block_on(plan(&args[1], bytes, &args[2]));
            println!("  {summary}");
        }),
        _ => eprintln!(
            "usage: plan (gen E S P FLEET REFERENCE | init REFERENCE DB | apply FLEET DB | parse FLEET | plan FLEET DB)"
        ),
    }
}

fn time(what: &str, path: &str, mut run: impl FnMut(&[u8])) {
    let bytes = std::fs::read(path).expect("read");
    // BENCH_RUNS=1 for a peak-memory reading of one run, as the command makes it.
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            run(&bytes);
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "{what}: best {:.3} s, median {:.3} s ({} MiB input)",
        times[0],
        times[times.len() / 2],
        bytes.len() / (1024 * 1024)
    );
}

/// What `csamctl plan` does, minus printing: load and validate, open the registry,
/// read every enterprise in one session, diff, plan, check safety, render the text.
async fn plan(path: &str, bytes: &[u8], db: &str) -> String {
    let start = Instant::now();
    let phase = |what: &str| {
        if std::env::var_os("BENCH_PHASES").is_some() {
            eprintln!("    {what}: {:.3} s", start.elapsed().as_secs_f64());
        }
    };
    // As `csamctl plan` does: the registry opens while the files are read.
    let (loaded, registry) = std::thread::scope(|scope| {
        let opening = scope
            .spawn(|| SqliteRegistry::open(db, OpenOptions::stored_clock()).expect("registry"));
        let loaded = csamctl::config::load_bytes(
            &[(PathBuf::from(path), bytes.to_vec())],
            &csamctl::config::Limits::default(),
        );
        (loaded, opening.join().expect("opened"))
    });
    assert_eq!(loaded.errors(), 0, "the generated fleet must be valid");
    // The command keeps the validated state only, not the sources.
    let loaded = csamctl::config::Loaded {
        sources: Default::default(),
        diagnostics: Vec::new(),
        ..loaded
    };
    phase("load and validate, open the registry");
    let r = registry.as_person(actor());
    let limits = r.limits().await.expect("limits");
    let kbos: Vec<Kbo> = loaded.state.enterprises.iter().map(|e| e.kbo).collect();
    let live = read_live(&*r, &kbos).await;
    phase("read the live states");
    let limits = PlanLimits {
        sessions_per_person: limits.sessions_per_person,
        processing_delay_ms: limits.processing_delay_ms,
        propagation_delay_ms: limits.propagation_delay_ms,
        ..PlanLimits::default()
    };
    let plan = csamctl::plan::plan(&loaded.state, &live, Some(actor()), &limits);
    phase("diff and plan");
    let refusals = csamctl::safety::check(&plan, &live, &csamctl::safety::SafetyOptions::default());
    phase("safety");
    let text = csamctl::render::text::render(&plan, &csamctl::render::RenderOptions::default());
    std::hint::black_box(&text);
    phase("render");
    format!(
        "{} ({} enterprises read, {} refusals, {} MiB of text)",
        csamctl::render::summary(&plan),
        live.len(),
        refusals.len(),
        text.len() / (1024 * 1024)
    )
}

async fn read_live(r: &dyn Registry, kbos: &[Kbo]) -> Vec<LiveState> {
    let s = r.open_session().await.expect("log in").id;
    let mut out = Vec::with_capacity(kbos.len());
    for k in kbos {
        match r.snapshot(&s, k).await {
            Ok(l) => out.push(l),
            Err(RegistryError::NotAuthorised { .. }) => {}
            Err(e) => panic!("snapshot of {k}: {e}"),
        }
    }
    r.close_session(&s).await.expect("log out");
    out
}

/// Setup for the "no changes" case: plan against the empty registry and carry every
/// step out (sessions of a round one after the other), with a progress line.
async fn apply(path: &str, db: &str) {
    let bytes = std::fs::read(path).expect("fleet");
    let loaded = csamctl::config::load_bytes(
        &[(PathBuf::from(path), bytes)],
        &csamctl::config::Limits::default(),
    );
    let registry = SqliteRegistry::open(db, OpenOptions::stored_clock()).expect("registry");
    let r = registry.as_person(actor());
    let kbos: Vec<Kbo> = loaded.state.enterprises.iter().map(|e| e.kbo).collect();
    let live = read_live(&*r, &kbos).await;
    let plan = csamctl::plan::plan(&loaded.state, &live, Some(actor()), &PlanLimits::default());
    let total: usize = plan.enterprises.iter().map(|e| e.steps().count()).sum();
    let start = Instant::now();
    let written = run(&registry, &*r, &plan).await;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "applied {written} of {total} writes in {secs:.1} s ({:.0} writes/s)",
        written as f64 / secs
    );
}

async fn run(op: &SqliteRegistry, r: &dyn Registry, plan: &Plan) -> usize {
    let password = Password::new("Fleet2026!x".to_string()).expect("password");
    let mut written = 0;
    for (i, e) in plan.enterprises.iter().enumerate() {
        for phase in &e.phases {
            match phase {
                Phase::Sessions { sessions } => {
                    for session in sessions {
                        let id = r.open_session().await.expect("log in").id;
                        for step in &session.steps {
                            let pw = matches!(
                                &step.write,
                                StepWrite::CreateUser { user, .. } if user.password.is_some()
                            )
                            .then(|| password.clone());
                            let key = idempotency_key(plan, step).expect("key");
                            r.write(&id, &key, &registry_write(&step.write, pw))
                                .await
                                .unwrap_or_else(|e| panic!("{}: {e}", step.id));
                            written += 1;
                        }
                        r.close_session(&id).await.expect("log out");
                    }
                }
                Phase::Notices { notices } => {
                    for n in notices {
                        op.notify_head_radiologist(&n.site, &n.insz)
                            .await
                            .expect("notice");
                    }
                }
                Phase::Gate { .. } | Phase::Propagation { .. } => {}
            }
        }
        if i % 50 == 49 {
            eprintln!("  {} enterprises, {written} writes", i + 1);
        }
    }
    written
}

/// A deterministic pseudo-random sequence (xorshift), so the fleet is reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// A fictional, check-digit-valid INSZ for person number `i` (as benches/validate.rs).
fn insz(i: u64) -> String {
    let yy = 40 + i % 60;
    let mm = 1 + (i / 60) % 12;
    let dd = 1 + (i / 720) % 28;
    let serial = 997 + (i / 20_160) % 2;
    let extra = i / 40_320;
    let mm = mm + 20 * (extra % 3);
    let nine = yy * 10_000_000 + mm * 100_000 + dd * 1000 + serial;
    format!("{nine:09}{:02}", insz_check(nine, false))
}

/// The fleet (benches/validate.rs's shape, one HTB for all) and its reference data.
fn fleet(enterprises: u64, sites: u64, people: u64) -> (String, String) {
    let mut rng = Rng(0x5EED_CAFE);
    let mut out = String::with_capacity((enterprises * people * 260) as usize);
    let mut reference = String::from("enterprises:\n");
    out.push_str("version: 1\nenterprises:\n");
    let functions = ["radiologist", "technologist", "administrative"];
    let htb = actor();
    let mut person = 0u64;
    for e in 0..enterprises {
        let first_eight = 10_000_000 + e;
        let kbo = format!("{first_eight:08}{:02}", kbo_check(first_eight));
        let hco = |s: u64| 70_000_000 + e * 100 + s;
        let _ = write!(
            out,
            "  - kbo: \"{kbo}\"\n    name: ZIEKENHUIS {e}\n    main_access_manager:\n      insz: \"{}\"\n      last_name: BEHEERDER\n      first_name: Hoofd\n      email: htb@fleet.example\n    capacities:\n      - type: mammography-unit\n        email: me{e}@fleet.example\n        subdivisions:\n",
            htb.compact()
        );
        let _ = write!(
            reference,
            "  - kbo: \"{kbo}\"\n    name: ZIEKENHUIS {e}\n    address: {{ street: Straat, number: \"{e}\", postcode: \"1000\", municipality: Brussel, country: BE }}\n    main_access_manager: \"{}\"\n    recognised_units:\n",
            htb.compact()
        );
        let halves = [(0, sites / 2), (sites / 2, sites)];
        for (i, (from, to)) in halves.iter().enumerate() {
            if from == to {
                continue;
            }
            let sub = hco(90 + i as u64);
            let _ = write!(
                out,
                "          - hco: \"{sub}\"\n            name: Ziekenhuis {e} deel {i}\n            email: me{e}@fleet.example\n            sites:\n"
            );
            let site_list: Vec<String> = (*from..*to).map(|s| format!("\"{}\"", hco(s))).collect();
            let _ = writeln!(
                reference,
                "      - {{ subdivision: \"{sub}\", sites: [{}] }}",
                site_list.join(", ")
            );
            for s in *from..*to {
                let _ = writeln!(
                    out,
                    "              - {{ hco: \"{}\", name: Campus {s}, email: campus{s}.{e}@fleet.example }}",
                    hco(s)
                );
            }
        }
        out.push_str("        people:\n");
        for p in 0..people {
            let id = person;
            person += 1;
            let _ = write!(
                out,
                "          - insz: \"{}\"\n            username: user{id:08}\n            last_name: PERSOON\n            first_name: Nummer{id}\n            email: p{id}@fleet.example\n            password: {{ env: CSAM_PW_{id} }}\n            sites:\n",
                insz(id)
            );
            if p < sites {
                let _ = writeln!(out, "              \"{}\": [head-radiologist]", hco(p));
                continue;
            }
            let first = rng.next(sites);
            let count = 1 + rng.next(3).min(sites - 1);
            for k in 0..count {
                let site = (first + k) % sites;
                let f = functions[rng.next(3) as usize];
                let _ = writeln!(out, "              \"{}\": [{f}]", hco(site));
            }
        }
    }
    (out, reference)
}
