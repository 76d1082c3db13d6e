//! `csamctl runbook` as a whole run on an embedded registry with the demo identity: the
//! plan of the multi-campus example as a Dutch procedure, INSZ masked; `--lang` is
//! required; a desired state with errors gives no runbook.

mod cli_support;
mod plan_support;

use std::process::Output;

use plan_support::Fixture;

fn csamctl(fx: &Fixture, args: &[&str]) -> Output {
    cli_support::command(cli_support::crate_root())
        .args(args)
        .env("CSAM_REGISTRY", format!("file:{}", fx.path().display()))
        // A named registry file acts as the person --actor names (here the demo identity).
        .env("CSAM_ACTOR", "82120926312")
        .env("NO_COLOR", "1")
        .output()
        .expect("csamctl runs")
}

#[test]
fn runbook_prints_the_plan_as_a_procedure() {
    let fx = Fixture::examples();
    let run = csamctl(
        &fx,
        &["runbook", "examples/multi-campus.yaml", "--lang", "nl"],
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.starts_with("# Draaiboek"));
    assert!(
        stdout.contains("1. [ ] Ga naar https://www.csam.be/nl/beheer-toegangsbeheerders.html")
    );
    assert!(stdout.contains("U kunt na het uitloggen onmiddellijk opnieuw inloggen."));
    // Sarah VERMEULEN's INSZ, masked.
    assert!(!stdout.contains("74.09.25-386.93"));
    assert!(stdout.contains("**.**.**-**6.93"));
    let html = csamctl(
        &fx,
        &[
            "runbook",
            "examples/multi-campus.yaml",
            "--lang",
            "fr",
            "--format",
            "html",
        ],
    );
    assert_eq!(html.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&html.stdout).contains("<input type=\"checkbox\">"));
}

#[test]
fn runbook_needs_a_language_and_a_valid_desired_state() {
    let fx = Fixture::examples();
    let no_lang = csamctl(&fx, &["runbook", "examples/multi-campus.yaml"]);
    assert_eq!(no_lang.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_lang.stderr).contains("--lang"));
    let invalid = csamctl(
        &fx,
        &[
            "runbook",
            "tests/fixtures/invalid/insz-checksum.yaml",
            "--lang",
            "nl",
        ],
    );
    assert_eq!(invalid.status.code(), Some(1));
    assert!(invalid.stdout.is_empty());
}
