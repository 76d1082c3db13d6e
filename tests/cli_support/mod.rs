//! Running the real `csamctl` binary and reading what it printed, for the whole-CLI
//! tests that snapshot a run.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The crate's root directory.
pub fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `csamctl` in `dir` without colour.
pub fn csamctl_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_csamctl"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("csamctl runs")
}

/// What the run printed on stdout.
pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

/// What the run printed on stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// Exit code, stdout and stderr as one text, for a snapshot.
pub fn transcript(out: &Output) -> String {
    format!(
        "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
        out.status
            .code()
            .map_or("signal".to_string(), |c| c.to_string()),
        stdout(out),
        stderr(out)
    )
}

/// A new registry file `registry.db` in `dir` (virtual clock, the examples' reference
/// data) and a bearer token for `person`: what the whole-run tests of one person start
/// from.
pub fn registry_with_token(dir: &Path, person: &str) -> (std::path::PathBuf, String) {
    let db = dir.join("registry.db");
    let db_text = db.display().to_string();
    let reference = crate_root().join("examples/reference.yaml");
    let init = Command::new(env!("CARGO_BIN_EXE_csamctl"))
        .args(["registry", "init", "--virtual-clock", "--db", &db_text])
        .args(["--reference", &reference.display().to_string()])
        .output()
        .expect("csamctl runs");
    assert!(
        init.status.success(),
        "registry init: {}",
        transcript(&init)
    );
    let token = Command::new(env!("CARGO_BIN_EXE_csamctl"))
        .args(["registry", "token", "--db", &db_text, "--insz", person])
        .output()
        .expect("csamctl runs");
    assert!(
        token.status.success(),
        "registry token: {}",
        transcript(&token)
    );
    (db, stdout(&token).trim().to_string())
}
