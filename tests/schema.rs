//! The committed JSON Schema is what `csamctl schema` prints, and the examples obey it.

mod cli_support;

#[test]
fn committed_schema_equals_the_generated_one() {
    let out = cli_support::csamctl_in(cli_support::crate_root(), &["schema"]);
    assert!(out.status.success());
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/desired-state.schema.json"
    ))
    .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        committed,
        "schemas/desired-state.schema.json is stale: run `cargo run -- schema > schemas/desired-state.schema.json`"
    );
}

#[test]
fn examples_carry_the_schema_modeline() {
    for name in ["single-unit.yaml", "multi-campus.yaml"] {
        let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.lines().next().unwrap().starts_with(
                "# yaml-language-server: $schema=../schemas/desired-state.schema.json"
            ),
            "{name} lacks the modeline"
        );
    }
}
