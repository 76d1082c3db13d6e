//! Running the real `csamctl` binary and reading what it printed, for the whole-CLI
//! tests that snapshot a run.

#![allow(dead_code)]

pub mod docs;

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The crate's root directory.
pub fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The one way every whole-CLI test starts `csamctl`: in `dir`, without colour, with no
/// terminal on stdin, and with none of the registry and identity variables of the
/// test's own environment (a test sets the ones it means).
pub fn command(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_csamctl"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CSAM_REGISTRY")
        .env_remove("CSAM_TOKEN")
        .env_remove("CSAM_TOKEN_FILE")
        .env_remove("CSAM_ACTOR")
        .stdin(Stdio::null());
    c
}

/// Runs `csamctl` in `dir` (see [`command`]).
pub fn csamctl_in(dir: &Path, args: &[&str]) -> Output {
    command(dir).args(args).output().expect("csamctl runs")
}

/// Runs `csamctl` in `dir` (see [`command`]) with exactly the registry and identity
/// variables given in `envs`.
pub fn csamctl_with(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = command(dir);
    c.args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("csamctl runs")
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
    let init = command(dir)
        .args(["registry", "init", "--virtual-clock", "--db", &db_text])
        .args(["--reference", &reference.display().to_string()])
        .output()
        .expect("csamctl runs");
    assert!(
        init.status.success(),
        "registry init: {}",
        transcript(&init)
    );
    let token = command(dir)
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

/// A real `csamctl registry serve` child on 127.0.0.1 (a free port) serving `db`;
/// killed on drop. Every test that runs a served registry starts it here.
pub struct Served {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Served {
    /// Serves `db` on the virtual clock, with its operator token in `db` +
    /// `.operator-token`, and the extra `registry serve` arguments.
    pub fn start(db: &Path, extra: &[&str]) -> Served {
        let token_file = db.with_extension("operator-token");
        let token_file = token_file.to_str().expect("utf-8 path");
        let mut args = vec!["--virtual-clock", "--admin-token-file", token_file];
        args.extend(extra);
        Served::start_with(db, &args)
    }

    /// Serves `db` with exactly these extra `registry serve` arguments.
    pub fn start_with(db: &Path, args: &[&str]) -> Served {
        use std::io::BufRead as _;
        let mut child = command(crate_root())
            .args(["registry", "serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("serve starts");
        let stdout = child.stdout.take().expect("piped");
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .expect("the server prints its address");
        // Whatever it prints later is read (and dropped), so it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Served { child, url }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new bearer token for `person` on the registry file `db`.
pub fn token_for(db: &Path, person: &str) -> String {
    let out = command(crate_root())
        .args(["registry", "token", "--db"])
        .arg(db)
        .args(["--insz", person])
        .output()
        .expect("csamctl runs");
    assert!(out.status.success(), "registry token: {}", transcript(&out));
    stdout(&out).trim().to_string()
}
