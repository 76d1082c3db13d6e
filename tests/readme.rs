//! The README's and docs/ci.md's commands work as printed: every fenced `sh` block is
//! run, line by line in one bash session, in a fresh directory holding a copy of
//! `examples/` and `schemas/` (what a fresh clone has), and every line must exit 0 or
//! with the code its comment names (`# exit 3`). The README's inline `cargo run …`
//! commands run too.
//!
//! `cargo` itself is the one stand-in: building the release binary inside a test would
//! take minutes and `cargo test` cannot run itself, so a `cargo` script first on PATH
//! runs `cargo run [flags] -- ARGS` as the csamctl binary this test was built with, and
//! answers `cargo test` by saying it is the run in progress; `cargo build [--release]`
//! links that binary as `target/{debug,release}/csamctl`. Everything else (bash, the
//! example scripts, the embedded registry file) is real.

mod cli_support;

use std::path::Path;

use cli_support::docs::{blocks, commands, run_as_printed};

/// Inline code spans of a Markdown text that are whole `cargo run` commands (the prose's
/// "`cargo run --release -- plan examples/multi-campus.yaml` shows the same plan").
fn inline_cargo_runs(markdown: &str) -> Vec<(String, i32)> {
    let mut found = Vec::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 && span.starts_with("cargo run ") {
                found.push((span.to_string(), 0));
            }
        }
    }
    found
}

#[test]
fn the_readme_shell_blocks_run_as_printed_in_a_fresh_directory() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let blocks = blocks(&readme, "sh");
    let mut commands: Vec<(String, i32)> = blocks.iter().flat_map(|b| commands(b)).collect();
    assert!(
        commands.len() >= 6,
        "the README's sh blocks hold the demo and the single-unit path: {commands:?}"
    );
    // The commands the prose gives inline run too, where the prose gives them: after
    // the demo (its registry exists then; "run it again: the plan is empty"), before
    // the single-unit path changes who acts. The schema commands regenerate the
    // committed schemas unchanged.
    let inline = inline_cargo_runs(&readme);
    assert!(
        inline.len() >= 3,
        "the plan, schema and openapi commands: {inline:?}"
    );
    let first = blocks.first().map_or(0, |b| self::commands(b).len());
    commands.splice(first..first, inline);
    commands.push((
        "git diff --no-index --exit-code ../schemas-committed schemas".to_string(),
        0,
    ));
    commands.insert(0, ("cp -r schemas ../schemas-committed".to_string(), 0));
    let transcript = run_as_printed("README", &commands, &["examples", "schemas"]);
    // What the README says the demo prints, it prints.
    let said = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    let claim = "done (138/138 steps, 9 log-outs)";
    assert!(said.contains(claim), "the README no longer says {claim}");
    assert!(
        transcript.contains(claim),
        "{claim} not printed:\n{transcript}"
    );
    // No password reached the output: the demo's are `Dm` + 8 hex digits + `!7`.
    let leaked = transcript.match_indices("Dm").any(|(i, _)| {
        transcript[i..]
            .chars()
            .skip(2)
            .take(9)
            .collect::<String>()
            .ends_with('!')
    });
    assert!(!leaked, "a demo password was printed:\n{transcript}");
}

#[test]
fn the_block_reader_finds_commands_and_expected_exit_codes() {
    let md = "text\n```sh\na --b \\\n  c   # exit 3\n# a comment\n\nd\n```\n```yaml\nx: 1\n```\n";
    let found: Vec<(String, i32)> = blocks(md, "sh").iter().flat_map(|b| commands(b)).collect();
    assert_eq!(
        found,
        vec![
            ("a --b    c   # exit 3".to_string(), 3),
            ("d".to_string(), 0)
        ]
    );
}

#[test]
fn the_ci_walkthrough_runs_as_printed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/ci.md")).expect("docs/ci.md");
    let commands: Vec<(String, i32)> = blocks(&doc, "sh")
        .iter()
        .flat_map(|b| commands(b))
        .collect();
    assert!(
        commands.len() >= 10,
        "docs/ci.md walks through build, validate, plan, apply: {commands:?}"
    );
    for step in [
        "validate",
        "--format markdown",
        "--format html",
        "apply",
        "verify",
    ] {
        assert!(
            commands.iter().any(|(c, _)| c.contains(step)),
            "the walkthrough has no {step}"
        );
    }
    let transcript = run_as_printed("docs/ci.md", &commands, &["examples"]);
    // The plan comment is what the pull request shows: the summary first.
    assert!(
        transcript.contains("| name | username | INSZ | site | functions | change |"),
        "{transcript}"
    );
}
