//! A `csamctl registry serve` child process on 127.0.0.1 with an ephemeral port, for
//! the suite and the served-only checks. Readiness is the first line of the child's
//! stdout (`listening on http://ADDR`), never a sleep; the child is killed when the
//! handle is dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use csamctl::registry::http::{HttpOperator, HttpOptions};

use crate::suite::{Env, REFERENCE};

/// How long a child may take to print its address (a slow CI machine, a debug build).
const STARTUP: Duration = Duration::from_secs(60);

pub const CSAMCTL: &str = env!("CARGO_BIN_EXE_csamctl");

/// A new registry file with the suite's reference data and a virtual clock, made with
/// `csamctl registry init`.
pub fn fresh_registry() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let reference = dir.path().join("reference.yaml");
    std::fs::write(&reference, REFERENCE).expect("reference written");
    let db = dir.path().join("registry.db");
    let out = Command::new(CSAMCTL)
        .args(["registry", "init", "--virtual-clock", "--db"])
        .arg(&db)
        .arg("--reference")
        .arg(&reference)
        .output()
        .expect("csamctl runs");
    assert!(
        out.status.success(),
        "registry init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, db)
}

/// A served registry.
pub struct ServedRegistry {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The operator token.
    pub operator_token: String,
    lines: mpsc::Receiver<String>,
}

impl ServedRegistry {
    /// Serves `db` (on the virtual clock) with extra `serve` flags; returns once the
    /// child accepts requests.
    pub fn start(db: &Path, extra: &[&str]) -> Self {
        let token_file = db.with_extension("operator-token");
        let mut child = Command::new(CSAMCTL)
            .args([
                "registry",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--virtual-clock",
            ])
            .arg("--db")
            .arg(db)
            .arg("--admin-token-file")
            .arg(&token_file)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("csamctl registry serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = match lines.recv_timeout(STARTUP) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let status = child.wait();
                panic!("the server printed no address ({e}); it ended with {status:?}");
            }
        };
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let operator_token = std::fs::read_to_string(&token_file)
            .expect("operator token file written before listening")
            .trim()
            .to_string();
        ServedRegistry {
            child,
            url,
            operator_token,
            lines,
        }
    }

    /// The suite's view of it: the operator surface over HTTP.
    pub fn env(&self) -> Env {
        Env {
            op: Arc::new(
                HttpOperator::new(&self.url, &self.operator_token, HttpOptions::default())
                    .expect("client"),
            ),
        }
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the child to end; returns its status and what it printed
    /// after its address.
    pub fn terminate(&mut self) -> (ExitStatus, Vec<String>) {
        // The shell's own `kill` (sh is on every machine; /bin/kill is not).
        let status = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status()
            .expect("sh runs");
        assert!(status.success());
        let exit = self.child.wait().expect("child ends");
        // The reader ends at the end of the child's stdout.
        let rest = self.lines.iter().collect();
        (exit, rest)
    }
}

impl Drop for ServedRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
