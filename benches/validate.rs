//! Benchmark of `validate` on a synthetic fleet, against serde-saphyr alone parsing the
//! same file into untyped values (the goal: validate ≤ 2× that parse, < 1 GiB peak).
//!
//! Modes, run as separate processes by `bench/validate.sh` so that each one's peak
//! memory can be read:
//!   cargo bench --bench validate -- gen ENTERPRISES SITES PEOPLE_PER_ENTERPRISE OUT
//!   cargo bench --bench validate -- parse FILE      (serde-saphyr → serde_json::Value)
//!   cargo bench --bench validate -- validate FILE   (csamctl's loader and validator)
//! Each timing mode runs 3 times and prints the best and median wall time.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use csamctl::model::{insz_check, kbo_check};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("gen") => {
            let n = |i: usize| args.get(i).and_then(|s| s.parse().ok()).expect("number");
            let text = fleet(n(1), n(2), n(3));
            std::fs::write(&args[4], text).expect("write fleet");
        }
        Some("parse") => time("serde-saphyr parse to untyped values", &args[1], |bytes| {
            let text = std::str::from_utf8(bytes).expect("utf-8");
            let mut options = serde_saphyr::Options::default();
            options.budget = None;
            let value: serde_json::Value =
                serde_saphyr::from_str_with_options(text, options).expect("parse");
            std::hint::black_box(value);
        }),
        Some("validate") => time("csamctl load + validate", &args[1], |bytes| {
            let loaded = csamctl::config::load_bytes(
                &[(PathBuf::from(&args[1]), bytes.to_vec())],
                &csamctl::config::Limits::default(),
            );
            assert_eq!(loaded.errors(), 0, "the generated fleet must be valid");
            std::hint::black_box(loaded);
        }),
        _ => eprintln!("usage: validate (gen E S P OUT | parse FILE | validate FILE)"),
    }
}

fn time(what: &str, path: &str, mut run: impl FnMut(&[u8])) {
    let bytes = std::fs::read(path).expect("read");
    let mut times: Vec<f64> = (0..3)
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
        times[1],
        bytes.len() / (1024 * 1024)
    );
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

/// A fictional, check-digit-valid INSZ for person number `i` (serial 997/998, the
/// fictional range the test vectors use; uniqueness comes from the birth date).
fn insz(i: u64) -> String {
    let yy = 40 + i % 60;
    let mm = 1 + (i / 60) % 12;
    let dd = 1 + (i / 720) % 28;
    let serial = 997 + (i / 20_160) % 2;
    let extra = i / 40_320; // distinguishes people beyond 40,320 via a BIS month offset
    let mm = mm + 20 * (extra % 3);
    let nine = yy * 10_000_000 + mm * 100_000 + dd * 1000 + serial;
    format!("{nine:09}{:02}", insz_check(nine, false))
}

fn fleet(enterprises: u64, sites: u64, people: u64) -> String {
    let mut rng = Rng(0x5EED_CAFE);
    let mut out = String::with_capacity((enterprises * people * 260) as usize);
    out.push_str("version: 1\nenterprises:\n");
    let functions = ["radiologist", "technologist", "administrative"];
    let mut person = 0u64;
    for e in 0..enterprises {
        let first_eight = 10_000_000 + e;
        let kbo = format!("0{first_eight:08}{:02}", kbo_check(first_eight))[1..].to_string();
        let hco = |s: u64| 70_000_000 + e * 100 + s;
        let _ = write!(
            out,
            "  - kbo: \"{kbo}\"\n    name: ZIEKENHUIS {e}\n    main_access_manager:\n      insz: \"{}\"\n      last_name: BEHEERDER\n      first_name: Hoofd{e}\n      email: htb{e}@fleet.example\n    capacities:\n      - type: mammography-unit\n        email: me{e}@fleet.example\n        subdivisions:\n",
            insz(1_000_000 + e)
        );
        let halves = [(0, sites / 2), (sites / 2, sites)];
        for (i, (from, to)) in halves.iter().enumerate() {
            if from == to {
                continue;
            }
            let _ = write!(
                out,
                "          - hco: \"{}\"\n            name: Ziekenhuis {e} deel {i}\n            email: me{e}@fleet.example\n            sites:\n",
                hco(90 + i as u64)
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
            // The first people are each site's head radiologist; others work at 1-3 sites.
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
    out
}
