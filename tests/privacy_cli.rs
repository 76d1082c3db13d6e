//! Personal data locked down and bad input refused, through the real binary: registry
//! files (with their `-wal`/`-shm`) are private to their owner however they are made,
//! `--help` never shows an environment variable's value, reference data errors mask
//! INSZ, a missing or empty registry file is never taken for a new one, and inputs that
//! are not plain files (a symlink loop, `/dev/zero`, a FIFO) are read once and bounded.

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cli_support::Served;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The multi-campus example's HTB (validated in the examples' reference data).
const VLASLAND_HTB: &str = "82120926312";

use cli_support::csamctl_with as run;

/// Exit code and output, with miette's line wrapping undone (`│` gutters and runs of
/// white space become one space), so that a message can be searched for whole.
fn text(out: &Output) -> String {
    let all = format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    all.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn example(name: &str) -> String {
    format!("{ROOT}/examples/{name}")
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The registry file and whichever of its `-wal`/`-shm` exist: all owner-only.
#[cfg(unix)]
#[track_caller]
fn assert_private(db: &Path) -> usize {
    let mut checked = 0;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_os_string();
        name.push(suffix);
        let file = PathBuf::from(name);
        if file.exists() {
            assert_eq!(
                mode(&file),
                0o600,
                "{} is {:o}",
                file.display(),
                mode(&file)
            );
            checked += 1;
        }
    }
    assert!(checked >= 1, "{} exists", db.display());
    checked
}

#[cfg(unix)]
#[test]
fn registry_files_are_private_however_they_are_made() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // `registry init`, then a write (`token`), with a permissive umask's default.
    let db = d.join("registry.db");
    let reference = example("reference.yaml");
    let out = run(
        d,
        &[
            "registry",
            "init",
            "--db",
            "registry.db",
            "--reference",
            &reference,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_private(&db);
    let out = run(
        d,
        &[
            "registry",
            "token",
            "--db",
            "registry.db",
            "--insz",
            VLASLAND_HTB,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_private(&db);

    // `plan` on the default demo registry: the file and its directory.
    let out = run(d, &["plan", &example("multi-campus.yaml")], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_private(&d.join(".csamctl/registry.db"));
    assert_eq!(mode(&d.join(".csamctl")), 0o700);

    // `registry serve` while it writes: the -wal and -shm exist and are private.
    let token = String::from_utf8(
        run(
            d,
            &[
                "registry",
                "token",
                "--db",
                "registry.db",
                "--insz",
                VLASLAND_HTB,
            ],
            &[],
        )
        .stdout,
    )
    .expect("utf-8");
    let served = Served::start_with(&db, &[]);
    let out = run(
        d,
        &[
            "plan",
            &example("multi-campus.yaml"),
            "--registry",
            &served.url,
        ],
        &[("CSAM_TOKEN", token.trim())],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(assert_private(&db), 3, "the served file runs in WAL mode");
    drop(served);

    // A file made world-readable before this version is narrowed when next opened.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run(d, &["registry", "tickets", "--db", "registry.db"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_private(&db);
}

#[test]
fn help_never_prints_environment_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("CSAM_ACTOR", VLASLAND_HTB),
        ("CSAM_TOKEN", "csam_secret_token_value"),
        ("CSAM_TOKEN_FILE", "/secret/token/path"),
        ("CSAM_REGISTRY", "http://secret-registry.example:8443"),
    ];
    for command in [
        "plan",
        "apply",
        "runbook",
        "export",
        "verify",
        "explain-access",
    ] {
        let out = run(dir.path(), &[command, "--help"], &env);
        assert!(out.status.success(), "{command}: {}", text(&out));
        let shown = text(&out);
        assert!(shown.contains("CSAM_TOKEN"), "{command} names the variable");
        for (name, value) in env {
            assert!(
                !shown.contains(value),
                "{command} --help shows {name}: {shown}"
            );
        }
        assert!(
            !shown.contains("82.12.09"),
            "{command}: the INSZ in any spelling"
        );
    }
}

#[test]
fn reference_data_errors_mask_national_register_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // A wrong check number and a mistyped (10-digit) number, both main access managers.
    for (written, shown) in [("70010120183", "********183"), ("7001012018", "*******018")] {
        std::fs::write(
            d.join("reference.yaml"),
            format!(
                "enterprises:\n  - kbo: \"0812345603\"\n    name: AZ ZEEVAART VZW\n    main_access_manager: \"{written}\"\n    address: {{ street: Havenlaan, number: \"21\", postcode: \"8400\", municipality: Oostende, country: BE }}\n"
            ),
        )
        .expect("write");
        let out = run(
            d,
            &[
                "registry",
                "init",
                "--db",
                "r.db",
                "--reference",
                "reference.yaml",
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let shown_text = text(&out);
        assert!(shown_text.contains("line 4"), "located: {shown_text}");
        assert!(
            !shown_text.contains(written),
            "{written} shown: {shown_text}"
        );
        assert!(
            shown_text.contains(shown),
            "masked as {shown}: {shown_text}"
        );
    }
}

#[test]
fn a_missing_or_empty_registry_file_is_never_taken_for_a_new_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("empty.db"), "").expect("touch");
    for db in ["typo.db", "empty.db"] {
        let commands: [&[&str]; 4] = [
            &["registry", "token", "--db", db, "--insz", VLASLAND_HTB],
            &["registry", "tickets", "--db", db],
            &["registry", "clock", "--db", db, "--advance", "20m"],
            &["registry", "serve", "--db", db, "--listen", "127.0.0.1:0"],
        ];
        for args in commands {
            let out = run(d, args, &[]);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
            let said = text(&out);
            assert!(
                said.contains(db) && said.contains("registry init"),
                "{said}"
            );
        }
        let registry = format!("file:{db}");
        let out = run(
            d,
            &[
                "plan",
                &example("multi-campus.yaml"),
                "--registry",
                &registry,
                "--actor",
                "82120926312",
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains("registry init"), "{}", text(&out));
    }
    assert!(!d.join("typo.db").exists(), "nothing created");
    assert_eq!(
        std::fs::metadata(d.join("empty.db")).expect("meta").len(),
        0
    );
    // `registry init` makes one, and the default demo registry is made on first use,
    // even over an empty file.
    std::fs::create_dir(d.join(".csamctl")).expect("dir");
    std::fs::write(d.join(".csamctl/registry.db"), "").expect("touch");
    let out = run(d, &["plan", &example("multi-campus.yaml")], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let reference = example("reference.yaml");
    let out = run(
        d,
        &[
            "registry",
            "init",
            "--db",
            "typo.db",
            "--reference",
            &reference,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[cfg(unix)]
#[test]
fn a_symlink_to_a_parent_reads_each_file_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    std::fs::create_dir_all(state.join("sub")).expect("dirs");
    std::fs::copy(
        example("multi-campus.yaml"),
        state.join("sub/hospital.yaml"),
    )
    .expect("copy");
    std::os::unix::fs::symlink("..", state.join("sub/up")).expect("symlink");
    std::os::unix::fs::symlink(state.join("sub/hospital.yaml"), state.join("again.yaml"))
        .expect("symlink");
    let out = run(dir.path(), &["validate", "state"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("twice"), "{}", text(&out));
    // A file named and also found in a named directory is read once too.
    let out = run(
        dir.path(),
        &["validate", "state/sub/hospital.yaml", "state"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[cfg(unix)]
#[test]
fn non_regular_inputs_are_read_within_the_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // /dev/zero never ends: read to the 64 MiB budget plus one byte, then refused.
    let out = run(d, &["validate", "/dev/zero"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("not a regular file") && text(&out).contains("64.0 MiB"),
        "{}",
        text(&out)
    );
    let out = run(
        d,
        &[
            "registry",
            "init",
            "--db",
            "r.db",
            "--reference",
            "/dev/zero",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not read further"), "{}", text(&out));

    // A FIFO that ends within the budget is an ordinary input (`<(generate)`).
    let fifo = d.join("state.yaml");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let yaml = std::fs::read(example("multi-campus.yaml")).expect("example");
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(&fifo, yaml))
    };
    let out = run(d, &["validate", "state.yaml"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    writer.join().expect("writer").expect("written");
}
