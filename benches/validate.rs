//! Benchmark of `validate` on a synthetic fleet, against serde-saphyr alone parsing the
//! same file into untyped values (the goal: validate ≤ 2× that parse, < 1 GiB peak).
//!
//! Modes, run as separate processes by `bench/validate.sh` so that each one's peak
//! memory can be read:
//!   cargo bench --bench validate -- gen ENTERPRISES SITES PEOPLE_PER_ENTERPRISE OUT
//!   cargo bench --bench validate -- parse FILE      (serde-saphyr → serde_json::Value)
//!   cargo bench --bench validate -- validate FILE   (csamctl's loader and validator)
//! Each timing mode runs 3 times and prints the best and median wall time.

use std::path::PathBuf;

#[path = "fleet/mod.rs"]
mod fleet;

use fleet::{MainAccessManager, parse_untyped, time};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("gen") => {
            let n = |i: usize| args.get(i).and_then(|s| s.parse().ok()).expect("number");
            let fleet = fleet::fleet(n(1), n(2), n(3), &MainAccessManager::PerEnterprise);
            std::fs::write(&args[4], fleet.desired).expect("write fleet");
        }
        Some("parse") => time(
            "serde-saphyr parse to untyped values",
            &args[1],
            parse_untyped,
        ),
        Some("validate") => time("csamctl load + validate", &args[1], |bytes| {
            let loaded = csamctl::config::load_bytes(
                &[(PathBuf::from(&args[1]), bytes.to_vec())],
                &csamctl::config::InputLimits::default(),
            );
            assert_eq!(loaded.errors(), 0, "the generated fleet must be valid");
            std::hint::black_box(loaded);
        }),
        _ => eprintln!("usage: validate (gen E S P OUT | parse FILE | validate FILE)"),
    }
}
