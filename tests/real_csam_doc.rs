//! docs/real-csam.md, "Working with the real CSAM web application", runs as printed:
//! every command of its shell blocks, in order, in one bash session in a fresh
//! directory holding a copy of `examples/`, with `csamctl` on PATH. Each must exit 0 or
//! with the code its comment names (`# exit 2`).
//!
//! The one line a person answers (`apply --by-hand`) runs on a pseudo-terminal
//! (util-linux `script`), every step answered `d` as the page tells the reader to:
//! `yes d | head -n 200 | script -qec 'LINE' /dev/null`. The answers are finite: with an
//! endless `yes`, `script` went on buffering what it read after the run had ended until
//! the kernel killed it for memory (24 GB, once in CI). The time the page waits is the registry's
//! virtual clock (`registry clock --advance 20m`, a command of the page); nothing
//! sleeps.

mod cli_support;

/// More answers than the page's by-hand run has steps.
const ANSWERS: usize = 200;

use std::path::Path;

use cli_support::docs::{blocks, commands, run_as_printed};

/// The page's commands, the by-hand ones wrapped in a terminal with scripted answers.
fn page_commands(doc: &str) -> Vec<(String, i32)> {
    blocks(doc, "sh")
        .iter()
        .flat_map(|b| commands(b))
        .map(|(line, expected)| {
            if line.contains("--by-hand") || line.starts_with("csamctl by-hand") {
                assert!(!line.contains('\''), "quoted for script: {line}");
                (
                    format!("yes d | head -n {ANSWERS} | script -qec '{line}' /dev/null"),
                    expected,
                )
            } else {
                (line, expected)
            }
        })
        .collect()
}

#[test]
fn the_real_csam_walkthrough_runs_as_printed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/real-csam.md")).expect("the page");
    assert!(doc.starts_with("# Working with the real CSAM web application\n"));
    let commands = page_commands(&doc);
    // The walk-through's order: adopt, plan, by hand, drift, R9, verify.
    let at = |needle: &str| {
        commands
            .iter()
            .position(|(c, _)| c.contains(needle))
            .unwrap_or_else(|| panic!("the page has no {needle}: {commands:?}"))
    };
    let order = [
        at("csamctl import-csv"),
        at("--record --yes"),
        at("csamctl plan"),
        at("script -qec 'csamctl apply --by-hand"),
        at("--desired"),
        at("csamctl coordination-centre"),
        at("--advance 20m"),
    ];
    assert!(order.is_sorted(), "out of order: {order:?} in {commands:?}");
    assert!(
        commands[order[6]..]
            .iter()
            .any(|(c, code)| c.starts_with("csamctl verify") && *code == 0),
        "verify passes at the end: {commands:?}"
    );

    let transcript = run_as_printed("docs/real-csam.md", &commands, &["examples"]);

    // The accounts CSAM holds were learned, so no step wanted a password.
    assert!(
        transcript.contains("the account exists in CSAM"),
        "{transcript}"
    );
    assert!(!transcript.contains("password_required"), "{transcript}");
    assert!(!transcript.contains("Not recorded"), "{transcript}");
    // Every step was answered and recorded, the notice step included (R9).
    assert!(
        transcript.contains("step(s) answered, 0 skipped"),
        "{transcript}"
    );
    assert!(
        transcript.contains("CSAM and the local registry: no drift."),
        "{transcript}"
    );
    assert!(
        transcript.contains("CSAM and the desired state: no drift."),
        "{transcript}"
    );
    assert!(
        transcript.contains("No head radiologist's national register number is waiting"),
        "{transcript}"
    );
    assert!(
        transcript.contains("3 of 3 declared user record(s) on sites have Heracles access."),
        "{transcript}"
    );
    assert!(transcript.contains("No changes."), "{transcript}");
}

#[test]
fn only_the_by_hand_line_gets_a_terminal() {
    let doc =
        "```sh\ncsamctl plan x.yaml   # exit 2\ncsamctl apply --by-hand x.yaml --lang nl\n```\n";
    assert_eq!(
        page_commands(doc),
        vec![
            ("csamctl plan x.yaml   # exit 2".to_string(), 2),
            (
                "yes d | head -n 200 | script -qec 'csamctl apply --by-hand x.yaml --lang nl' /dev/null"
                    .to_string(),
                0
            ),
        ]
    );
}
