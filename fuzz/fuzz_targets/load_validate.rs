//! Fuzzes the whole front end: decoding, YAML parsing within budgets, validation and
//! diagnostic rendering, on arbitrary bytes. Any panic is a bug; so is a run that
//! exhausts memory (libFuzzer's -rss_limit_mb catches it).
#![no_main]

use std::path::PathBuf;

use csamctl::config::{self, Limits, RenderOptions, diagnostic};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Split the input into up to two files, so that cross-file checks are exercised.
    let (first, second) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let mut files = vec![(PathBuf::from("a.yaml"), first.to_vec())];
    if let Some(second) = second {
        files.push((PathBuf::from("b.yaml"), second.to_vec()));
    }
    let limits = Limits {
        max_file_bytes: 1 << 20,
        ..Limits::default()
    };
    let loaded = config::load_bytes(&files, &limits);
    for show_personal_data in [false, true] {
        let opts = RenderOptions {
            graphical: false,
            show_personal_data,
        };
        let _ = diagnostic::render_human(&loaded.diagnostics, &loaded.sources, opts);
    }
    let _ = diagnostic::render_json(&loaded.diagnostics, &loaded.sources);
});
