//! `csamctl by-hand` on a pseudo-terminal (util-linux `script`), answers typed as a
//! person would: a whole multi-campus onboarding, stopped on purpose, interrupted with
//! Ctrl-C in the middle of a session and killed with SIGKILL at another point, each
//! time resumed, to the end. Afterwards the registry holds what `apply` would have
//! made (the plan is empty and `export` prints the same tree as after an `apply`).
//! Without a terminal the command refuses.

mod cli_support;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const CSAMCTL: &str = env!("CARGO_BIN_EXE_csamctl");
const HTB: &str = "82120926312";
const PASSWORD: &str = "Proef2026!x";

fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn example() -> String {
    manifest("examples/multi-campus.yaml").display().to_string()
}

fn password_vars() -> Vec<String> {
    let yaml = std::fs::read_to_string(example()).expect("example");
    let mut vars: Vec<String> = yaml
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| w.starts_with("CSAM_PW_"))
        .map(str::to_string)
        .collect();
    vars.sort();
    vars.dedup();
    vars
}

/// A registry file with the examples' reference data, and the HTB's token (or, for
/// the unit of docs/real-csam.md, its own reference data and `CSAM_ACTOR`).
struct Env {
    dir: tempfile::TempDir,
    db: PathBuf,
    identity: (&'static str, String),
    example: String,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, token) = cli_support::registry_with_token(dir.path(), HTB);
        Env {
            identity: ("CSAM_TOKEN", token),
            dir,
            db,
            example: example(),
        }
    }

    /// The adopted unit of docs/real-csam.md: a record that knows none of its accounts.
    fn real_csam() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("record.db");
        let out = cli_support::command(dir.path())
            .args(["registry", "init", "--virtual-clock", "--db"])
            .arg(&db)
            .arg("--reference")
            .arg(manifest("examples/real-csam/reference.yaml"))
            .output()
            .expect("runs");
        assert!(out.status.success(), "{out:?}");
        Env {
            identity: ("CSAM_ACTOR", "80041212361".to_string()),
            dir,
            db,
            example: manifest("examples/real-csam/csam.yaml")
                .display()
                .to_string(),
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.dir.path())
            .env("CSAM_REGISTRY", format!("file:{}", self.db.display()))
            .env_remove("CSAM_TOKEN")
            .env_remove("CSAM_TOKEN_FILE")
            .env_remove("CSAM_ACTOR")
            .env(self.identity.0, &self.identity.1)
            .env("NO_COLOR", "1")
            .envs(password_vars().into_iter().map(|v| (v, PASSWORD)));
        c
    }

    fn csamctl(&self, args: &[&str]) -> std::process::Output {
        self.command(CSAMCTL).args(args).output().expect("runs")
    }

    /// `csamctl by-hand` on a pseudo-terminal.
    fn by_hand(&self) -> Terminal {
        self.on_terminal("by-hand")
    }

    /// `csamctl COMMAND PATH --lang en` on a pseudo-terminal (`by-hand`, or its other
    /// name `apply --by-hand`).
    fn on_terminal(&self, command: &str) -> Terminal {
        let line = format!("'{CSAMCTL}' {command} '{}' --lang en", self.example);
        let mut child = self
            .command("script")
            .args(["-q", "-e", "-c", &line, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("util-linux `script` runs (it gives the test a terminal)");
        let input = child.stdin.take().expect("piped");
        let mut output = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = output.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            child,
            input,
            rx,
            seen: String::new(),
        }
    }
}

/// What a person sees and types.
struct Terminal {
    child: Child,
    input: ChildStdin,
    rx: mpsc::Receiver<Vec<u8>>,
    seen: String,
}

impl Terminal {
    /// Waits until the screen has shown `text` after what was already consumed; returns
    /// what came before it and consumes up to its end.
    fn expect(&mut self, text: &str) -> String {
        loop {
            if let Some(at) = self.seen.find(text) {
                let before = self.seen[..at].to_string();
                self.seen = self.seen[at + text.len()..].to_string();
                return before;
            }
            match self.rx.recv_timeout(Duration::from_secs(60)) {
                Ok(bytes) => self.seen.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!(
                    "the terminal never showed {text:?}; it showed {:?}",
                    self.seen
                ),
            }
        }
    }

    fn type_line(&mut self, text: &str) {
        self.input
            .write_all(format!("{text}\n").as_bytes())
            .expect("typed");
    }

    /// Answers `done` to the next `n` questions; fails on a refusal.
    fn done(&mut self, n: usize) {
        for _ in 0..n {
            let shown = self.expect("[d]one, [s]kip or s[t]op?");
            assert!(!shown.contains("Not recorded"), "a refusal: {shown}");
            self.type_line("d");
        }
    }

    /// The csamctl process under `script`.
    fn csamctl_pid(&self) -> u32 {
        let pid = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .expect("the children of script");
        children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .expect("script runs csamctl")
    }

    fn wait(mut self) -> (Option<i32>, String) {
        drop(self.input);
        let status = self.child.wait().expect("script ends");
        while let Ok(bytes) = self.rx.recv_timeout(Duration::from_secs(10)) {
            self.seen.push_str(&String::from_utf8_lossy(&bytes));
        }
        (status.code(), self.seen)
    }
}

fn without_header(yaml: &[u8]) -> String {
    String::from_utf8_lossy(yaml)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_whole_onboarding_by_hand_survives_stop_ctrl_c_and_kill_and_ends_as_apply_would() {
    let env = Env::new();
    let steps = {
        let mut t = env.by_hand();
        let shown = t.expect(" of ");
        assert!(shown.contains("Step 1"), "{shown}");
        let total: usize = t
            .expect(":")
            .trim()
            .parse()
            .expect("Step 1 of N: the number of steps");
        // Stop on purpose after 10 steps.
        t.done(10);
        t.expect("[d]one, [s]kip or s[t]op?");
        t.type_line("t");
        let (exit, shown) = t.wait();
        assert_eq!(exit, Some(130), "{shown}");
        assert!(shown.contains("Stopped at step 11 of"), "{shown}");
        total
    };
    assert!(steps > 60, "the onboarding has many steps: {steps}");
    let state = env.dir.path().join(".csamctl/by-hand.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state)
            .expect("saved")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the progress holds INSZ numbers");
    }

    // Resume; Ctrl-C in the middle of a session.
    let mut t = env.by_hand();
    t.expect("Resuming at step 11 of");
    t.done(15);
    t.expect("[d]one, [s]kip or s[t]op?");
    t.input.write_all(b"\x03").expect("Ctrl-C typed");
    let (exit, shown) = t.wait();
    assert_ne!(exit, Some(0), "{shown}");

    // Resume; SIGKILL at another point.
    let mut t = env.by_hand();
    t.expect("Resuming at step 26 of");
    t.done(20);
    t.expect("[d]one, [s]kip or s[t]op?");
    let pid = t.csamctl_pid();
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let _ = t.wait();

    // Resume to the end, under the command's other name.
    let mut t = env.on_terminal("apply --by-hand");
    t.expect("Resuming at step 46 of");
    t.done(steps - 45);
    let (exit, shown) = t.wait();
    assert_eq!(exit, Some(0), "{shown}");
    assert!(shown.contains("Done:"), "{shown}");
    assert!(!state.exists(), "the finished progress is removed");

    // The registry is what apply makes.
    let out = env.csamctl(&["plan", "--detailed-exitcode", &example()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let by_hand = env.csamctl(&[
        "export",
        "--enterprise",
        "0198765470",
        "--show-personal-data",
    ]);
    assert!(by_hand.status.success(), "{by_hand:?}");
    let applied = Env::new();
    let out = applied.csamctl(&["apply", &example(), "--auto-approve"]);
    assert!(out.status.success(), "{out:?}");
    let by_apply = applied.csamctl(&[
        "export",
        "--enterprise",
        "0198765470",
        "--show-personal-data",
    ]);
    assert_eq!(
        without_header(&by_hand.stdout),
        without_header(&by_apply.stdout)
    );

    // Each confirmed notice step recorded that the notice was sent, as
    // `coordination-centre --record-sent` does: nothing is owed to the coordination
    // centre (R9), and after the 20 minutes of propagation (R6) everyone has access.
    let out = env.csamctl(&["coordination-centre", &env.example]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("No head radiologist"),
        "{out:?}"
    );
    let db = env.db.display().to_string();
    let out = env.csamctl(&["registry", "clock", "--db", &db, "--advance", "20m"]);
    assert!(out.status.success(), "{out:?}");
    let out = env.csamctl(&["verify", &example()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("63 of 63 declared user record(s)"),
        "{out:?}"
    );
}

#[test]
fn without_a_terminal_by_hand_refuses_and_records_nothing() {
    let env = Env::new();
    let out = env
        .command(CSAMCTL)
        .args(["by-hand", &example(), "--lang", "nl"])
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no terminal"));
    let out = env.csamctl(&["plan", "--detailed-exitcode", &example()]);
    assert_eq!(out.status.code(), Some(2), "nothing recorded: {out:?}");
}

#[test]
fn an_adopted_person_is_refused_by_plan_until_the_export_records_their_account() {
    let env = Env::real_csam();
    // The person has no password reference and the record knows no account of theirs:
    // the registry would refuse their user record, so plan refuses before any step,
    // and says how to record the account.
    let out = env.csamctl(&["plan", &env.example]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("plan::password_required"), "{said}");
    assert!(
        said.contains("drift --record"),
        "says how to record it: {said}"
    );
    // by-hand makes the same plan, so it refuses too, before asking anything.
    let (exit, shown) = env.by_hand().wait();
    assert_eq!(exit, Some(1), "{shown}");
    assert!(shown.contains("plan::password_required"), "{shown}");
    assert!(!shown.contains("[d]one, [s]kip or s[t]op?"), "{shown}");

    // The site's users export records the accounts CSAM holds.
    let csv = manifest("examples/real-csam/leiedal-users-2026-11-02.nl.csv");
    let out = env
        .command(CSAMCTL)
        .arg("drift")
        .arg(&csv)
        .args([
            "--enterprise",
            "0456123791",
            "--site",
            "71955501",
            "--record",
            "--yes",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    // Known now: every step is done, to the end.
    let mut t = env.by_hand();
    loop {
        let mut next = String::new();
        while !next.contains("[d]one, [s]kip or s[t]op?") && !next.contains("Done:") {
            match t.rx.recv_timeout(Duration::from_secs(60)) {
                Ok(bytes) => next.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!("the run went quiet after {next:?}"),
            }
        }
        assert!(!next.contains("Not recorded"), "{next}");
        if next.contains("Done:") {
            break;
        }
        t.type_line("d");
    }
    let (exit, shown) = t.wait();
    assert_eq!(exit, Some(0), "{shown}");
    let out = env.csamctl(&["plan", "--detailed-exitcode", &env.example]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}
