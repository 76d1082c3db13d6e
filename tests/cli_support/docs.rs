//! Running a Markdown page's shell blocks as printed (README, docs/ci.md,
//! docs/real-csam.md): the blocks and their commands, and one bash session that runs
//! them in a fresh directory holding copies of parts of the repository, with
//! `csamctl` on PATH and the stand-in `cargo` of the README test.

use std::path::{Path, PathBuf};
use std::process::Command;

const CSAMCTL: &str = env!("CARGO_BIN_EXE_csamctl");

/// The fenced blocks of a Markdown text whose info string is `lang`.
pub fn blocks(markdown: &str, lang: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) if info.trim() == lang => current = Some(String::new()),
            (Some(_), Some("")) => found.extend(current.take()),
            (Some(text), _) => {
                text.push_str(line);
                text.push('\n');
            }
            _ => {}
        }
    }
    found
}

/// The commands of a block: continuation lines joined, blank lines and comment lines
/// dropped, each with the exit code its trailing `# exit N` comment names (else 0;
/// `# exit N: why` gives the reason too).
pub fn commands(block: &str) -> Vec<(String, i32)> {
    block
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let expected = l
                .rsplit_once("# exit ")
                .and_then(|(_, why)| {
                    // `# exit 2` or `# exit 2: why`
                    let digits: String = why
                        .trim()
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    digits.parse().ok()
                })
                .unwrap_or(0);
            (l.to_string(), expected)
        })
        .collect()
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The stand-in `cargo` (the README test's module docs say why), and `csamctl` itself,
/// in a `bin` directory to put first on PATH.
fn cargo_shim(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let shim = bin.join("cargo");
    std::fs::write(
        &shim,
        format!(
            r#"#!/usr/bin/env bash
case "$1" in
  run)
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do shift; done
    shift
    exec '{CSAMCTL}' "$@" ;;
  test) echo "cargo test: the run in progress"; exit 0 ;;
  build)
    profile=debug
    for arg in "$@"; do [ "$arg" = --release ] && profile=release; done
    mkdir -p "target/$profile" && ln -sf '{CSAMCTL}' "target/$profile/csamctl" ;;
  *) echo "the README test's cargo does not know: cargo $*" >&2; exit 97 ;;
esac
"#
        ),
    )
    .expect("write");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::os::unix::fs::symlink(CSAMCTL, bin.join("csamctl")).expect("csamctl on PATH");
    bin
}

/// Runs `commands` in one bash session (exports carry from line to line, as in a
/// terminal) in a fresh directory holding copies of `dirs` of the repository (what a
/// fresh clone has), with `csamctl` and the stand-in `cargo` first on PATH; fails on the first line whose exit code
/// is not the expected one. Returns the transcript.
pub fn run_as_printed(doc: &str, commands: &[(String, i32)], dirs: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let clone = tmp.path().join("csamctl");
    for dir in dirs {
        copy_dir(&root.join(dir), &clone.join(dir));
    }
    let bin = cargo_shim(tmp.path());
    let mut script = String::from("set +e\n");
    for (i, (command, expected)) in commands.iter().enumerate() {
        script.push_str(&format!(
            "echo '>>> line {i}'\n{command}\nrc=$?\nif [ \"$rc\" != {expected} ]; then echo \"{doc} line {i} exited $rc, not {expected}\" >&2; exit 1; fi\n"
        ));
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &script])
        .current_dir(&clone)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env_remove("CSAM_REGISTRY")
        .env_remove("CSAM_TOKEN")
        .env_remove("CSAM_TOKEN_FILE")
        .env_remove("CSAM_ACTOR")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("bash runs");
    let transcript = format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{transcript}");
    transcript
}
