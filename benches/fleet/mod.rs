//! The synthetic fleet the benchmarks measure, and their shared timing and baseline.
//!
//! Included by `benches/validate.rs` and `benches/plan.rs` (`#[path]`), so both measure
//! the same file shape: `enterprises` hospitals with two subdivisions over `sites`
//! sites, `people` fictional people each, one head radiologist per site and the others
//! at one to three sites. Deterministic (a seeded xorshift), check-digit-valid.

// Each bench compiles this module on its own and uses only part of it (the validate
// bench needs no reference data and no single main access manager).
#![allow(dead_code)]

mod alloc;

use std::fmt::Write as _;
use std::time::Instant;

use csamctl::model::{insz_check, kbo_check};

/// Who the main access manager of each generated enterprise is.
pub enum MainAccessManager {
    /// A different fictional person per enterprise.
    PerEnterprise,
    /// One person (compact INSZ) for every enterprise: the acting person of a bench.
    Everywhere(String),
}

/// A generated desired state and the registry reference data that recognises it.
pub struct Fleet {
    /// The desired-state YAML.
    pub desired: String,
    /// The reference data YAML (the format of docs/registry-api.md).
    pub reference: String,
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
/// fictional range the test vectors use; uniqueness comes from the birth date, and a
/// BIS month offset beyond 40,320 people).
pub fn insz(i: u64) -> String {
    let yy = 40 + i % 60;
    let mm = 1 + (i / 60) % 12;
    let dd = 1 + (i / 720) % 28;
    let serial = 997 + (i / 20_160) % 2;
    let extra = i / 40_320;
    let mm = mm + 20 * (extra % 3);
    let nine = yy * 10_000_000 + mm * 100_000 + dd * 1000 + serial;
    format!("{nine:09}{:02}", insz_check(nine, false))
}

/// Generates the fleet.
pub fn fleet(enterprises: u64, sites: u64, people: u64, htb: &MainAccessManager) -> Fleet {
    let mut rng = Rng(0x5EED_CAFE);
    let mut out = String::with_capacity((enterprises * people * 260) as usize);
    let mut reference = String::from("enterprises:\n");
    out.push_str("version: 1\nenterprises:\n");
    let functions = ["radiologist", "technologist", "administrative"];
    let mut person = 0u64;
    for e in 0..enterprises {
        let first_eight = 10_000_000 + e;
        let kbo = format!("{first_eight:08}{:02}", kbo_check(first_eight));
        let hco = |s: u64| 70_000_000 + e * 100 + s;
        let (htb_insz, htb_first, htb_email) = match htb {
            MainAccessManager::PerEnterprise => (
                insz(1_000_000 + e),
                format!("Hoofd{e}"),
                format!("htb{e}@fleet.example"),
            ),
            MainAccessManager::Everywhere(insz) => (
                insz.clone(),
                "Hoofd".to_string(),
                "htb@fleet.example".to_string(),
            ),
        };
        let _ = write!(
            out,
            "  - kbo: \"{kbo}\"\n    name: ZIEKENHUIS {e}\n    main_access_manager:\n      insz: \"{htb_insz}\"\n      last_name: BEHEERDER\n      first_name: {htb_first}\n      email: {htb_email}\n    capacities:\n      - type: mammography-unit\n        email: me{e}@fleet.example\n        subdivisions:\n",
        );
        let _ = write!(
            reference,
            "  - kbo: \"{kbo}\"\n    name: ZIEKENHUIS {e}\n    address: {{ street: Straat, number: \"{e}\", postcode: \"1000\", municipality: Brussel, country: BE }}\n    main_access_manager: \"{htb_insz}\"\n    recognised_units:\n",
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
    Fleet {
        desired: out,
        reference,
    }
}

/// The baseline both benchmarks compare with: serde-saphyr alone parsing the text into
/// untyped values.
pub fn parse_untyped(bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    let mut options = serde_saphyr::Options::default();
    options.budget = None;
    let value: serde_json::Value =
        serde_saphyr::from_str_with_options(text, options).expect("parse");
    std::hint::black_box(value);
}

/// Runs `run` on the file's bytes (3 times, or `BENCH_RUNS`; 1 for a peak-memory
/// reading of one run) and prints the best and median wall time.
pub fn time(what: &str, path: &str, mut run: impl FnMut(&[u8])) {
    let bytes = std::fs::read(path).expect("read");
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
