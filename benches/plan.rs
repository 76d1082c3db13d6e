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
//!   cargo bench --bench plan -- split FLEET N DIR           (the fleet as N files)
//!   cargo bench --bench plan -- floor PARSER FLEET          (one untyped parse, see below)
//!   cargo bench --bench plan -- open DB                     (open the embedded registry)
//! Timing modes run 3 times and print the best and median wall time.
//!
//! `floor` is what `bench/plan.sh` and `bench/validate.sh` compare csamctl with (issue
//! 15): one process parsing the file into untyped values with `serde_yaml`
//! (→ `serde_yaml::Value`), `saphyr` (its tree loader) or `serde-saphyr`
//! (→ `serde_json::Value`), leaving the tree unfreed at exit as csamctl does.
//!
//! The fleet is the one of `benches/validate.rs` (same shape and sizes), except that
//! one person is the main access manager of every enterprise: plan reads every
//! enterprise's tree, and only someone with a role in all of them may (a coordination
//! centre onboarding units, in the domain's terms).

use std::path::PathBuf;
use std::time::Instant;

#[path = "fleet/mod.rs"]
mod fleet;

use fleet::{MainAccessManager, parse_untyped, time};

use csamctl::execute::idempotency_key;
use csamctl::model::{Insz, Kbo, LiveState, Password, Phase, Plan, PlanLimits, insz_check};
use csamctl::registry::{
    AccountPassword, OpenOptions, Registry, RegistryError, RegistryOperator, SqliteRegistry,
};

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
            let fleet = fleet::fleet(
                n(1),
                n(2),
                n(3),
                &MainAccessManager::Everywhere(actor().compact().to_string()),
            );
            std::fs::write(&args[4], fleet.desired).expect("write fleet");
            std::fs::write(&args[5], fleet.reference).expect("write reference");
        }
        Some("init") => {
            let reference = std::fs::read_to_string(&args[1]).expect("reference");
            SqliteRegistry::init_with_reference(&args[2], &reference, OpenOptions::virtual_clock())
                .expect("registry");
        }
        Some("apply") => runtime.block_on(apply(&args[1], &args[2])),
        Some("parse") => time(
            "serde-saphyr parse to untyped values",
            &args[1],
            parse_untyped,
        ),
        Some("split") => split(&args[1], &args[2], &args[3]),
        Some("floor") => floor(&args[1], &args[2]),
        Some("open") => {
            let start = Instant::now();
            let registry =
                SqliteRegistry::open(&args[1], OpenOptions::stored_clock()).expect("registry");
            println!("{:.3}", start.elapsed().as_secs_f64());
            std::mem::forget(registry);
        }
        Some("plan") => time("csamctl plan", &args[1], |bytes| {
            let summary = runtime.block_on(plan(&args[1], bytes, &args[2]));
            println!("  {summary}");
        }),
        _ => eprintln!(
            "usage: plan (gen E S P FLEET REFERENCE | init REFERENCE DB | apply FLEET DB | parse FLEET | plan FLEET DB | split FLEET N DIR | floor serde_yaml|saphyr|serde-saphyr FLEET | open DB)"
        ),
    }
}

/// One parse of the file into untyped values by one of the floor parsers.
fn floor(parser: &str, path: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    match parser {
        "serde_yaml" => {
            let value: serde_yaml::Value = serde_yaml::from_str(&text).expect("parse");
            std::mem::forget(value);
        }
        "saphyr" => {
            use saphyr::LoadableYamlNode as _;
            let docs = saphyr::Yaml::load_from_str(&text).expect("parse");
            std::mem::forget(docs);
        }
        "serde-saphyr" => {
            let mut options = serde_saphyr::Options::default();
            options.budget = None;
            let value: serde_json::Value =
                serde_saphyr::from_str_with_options(&text, options).expect("parse");
            std::mem::forget(value);
        }
        other => panic!("no floor parser {other}"),
    }
    std::mem::forget(text);
}

/// Cuts the fleet's enterprises into `n` files of about equal size in `dir`.
fn split(path: &str, n: &str, dir: &str) {
    let n: usize = n.parse().expect("number of files");
    let text = std::fs::read_to_string(path).expect("read");
    let body = text
        .split_once("enterprises:\n")
        .map(|(_, b)| b)
        .expect("a fleet");
    let mut items: Vec<&str> = Vec::new();
    let mut start = 0;
    for (at, _) in body.match_indices("\n  - kbo:") {
        items.push(&body[start..=at]);
        start = at + 1;
    }
    items.push(&body[start..]);
    let per = items.len().div_ceil(n);
    for (i, chunk) in items.chunks(per).enumerate() {
        let file = format!("{dir}/fleet-{i:02}.yaml");
        std::fs::write(
            file,
            format!("version: 1\nenterprises:\n{}", chunk.concat()),
        )
        .expect("write");
    }
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
            &csamctl::config::InputLimits::default(),
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
    let limits = PlanLimits::new(&limits, PlanLimits::DEFAULT_REQUEST_MS);
    let plan = csamctl::plan::plan(
        &loaded.state,
        &live,
        &Default::default(),
        Some(actor()),
        &limits,
    );
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
        &csamctl::config::InputLimits::default(),
    );
    let registry = SqliteRegistry::open(db, OpenOptions::stored_clock()).expect("registry");
    let r = registry.as_person(actor());
    let kbos: Vec<Kbo> = loaded.state.enterprises.iter().map(|e| e.kbo).collect();
    let live = read_live(&*r, &kbos).await;
    let plan = csamctl::plan::plan(
        &loaded.state,
        &live,
        &Default::default(),
        Some(actor()),
        &PlanLimits::default(),
    );
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
                            let pw = step
                                .password
                                .as_ref()
                                .map(|_| AccountPassword(password.clone()));
                            let key = idempotency_key(plan, step).expect("key");
                            r.write(&id, &key, &step.write, pw.as_ref())
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
