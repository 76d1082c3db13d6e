//! Whole-CLI tests of `csamctl import-csv`: the real binary on the fixture exports in
//! tests/fixtures/csv/, printing entries and merging into a temporary copy of an
//! example. Runs are snapshotted (exit code, stdout and stderr in one text, in
//! tests/snapshots/); no national register number may reach stdout or stderr unless
//! `--show-personal-data` is given.

use std::path::{Path, PathBuf};

mod cli_support;
use cli_support::{crate_root, csamctl_in, stderr, stdout, transcript};

const NL_CSV: &str = "tests/fixtures/csv/mandelvallei-izegem.nl.csv";
const FR_CSV: &str = "tests/fixtures/csv/vlasland-wervik.fr.csv";

/// A temporary directory holding a copy of an example (mode 0644, for a stable report)
/// and of a CSV fixture, under their file names.
fn workspace(example: &str, csv: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for file in [example, csv] {
        let from = crate_root().join(file);
        let name = from.file_name().expect("a file name");
        std::fs::copy(&from, dir.path().join(name)).expect("the fixture copies");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let name = Path::new(example).file_name().expect("a file name");
        std::fs::set_permissions(
            dir.path().join(name),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
    }
    dir
}

/// Every national register number written in a CSV fixture, as digit strings (rows with
/// a mistyped number included): any run of 10 or more digits, separators allowed.
fn written_numbers(csv: &str) -> Vec<String> {
    let bytes = std::fs::read(crate_root().join(csv)).expect("the fixture reads");
    let text = String::from_utf8_lossy(&bytes);
    let chars: Vec<char> = text.chars().collect();
    let mut numbers = Vec::new();
    let mut digits = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let next_is_digit = chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_ascii_digit() {
            digits.push(c);
        } else if matches!(c, ' ' | '.' | '-') && !digits.is_empty() && next_is_digit {
            continue;
        } else {
            if digits.len() >= 10 {
                numbers.push(digits.clone());
            }
            digits.clear();
        }
    }
    if digits.len() >= 10 {
        numbers.push(digits);
    }
    assert!(
        numbers.len() >= 8,
        "found the fixture's numbers: {numbers:?}"
    );
    numbers
}

/// Panics if any full (or nearly full) national register number of the CSV shows in
/// `shown`: compact, formatted, spaced, or its birth date and serial number.
fn assert_no_full_insz(csv: &str, shown: &str) {
    for n in written_numbers(csv) {
        let forms = [
            n.clone(),
            n[..9].to_string(),
            format!("{}.{}.{}-{}", &n[0..2], &n[2..4], &n[4..6], &n[6..9]),
            format!("{} {}", &n[0..6], &n[6..9]),
            format!("{}.{}.{}", &n[0..2], &n[2..4], &n[4..6]),
            n[0..6].to_string(),
        ];
        for form in forms {
            assert!(
                !shown.contains(&form),
                "{form} (from {csv}) is shown:\n{shown}"
            );
        }
    }
}

#[test]
fn import_csv_prints_masked_entries_and_reports_skipped_rows() {
    let out = csamctl_in(crate_root(), &["import-csv", NL_CSV, "--site", "71988411"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    insta::assert_snapshot!("import-csv-stdout", transcript(&out));
}

#[test]
fn import_csv_french_windows_1252_prints_entries() {
    let out = csamctl_in(crate_root(), &["import-csv", FR_CSV, "--site", "71977201"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    insta::assert_snapshot!("import-csv-stdout-fr", transcript(&out));
}

#[test]
fn import_csv_into_a_copy_merges_and_keeps_the_file() {
    let dir = workspace("examples/multi-campus.yaml", FR_CSV);
    let before = std::fs::read_to_string(dir.path().join("multi-campus.yaml")).expect("reads");
    let out = csamctl_in(
        dir.path(),
        &[
            "import-csv",
            "vlasland-wervik.fr.csv",
            "--site",
            "71977201",
            "--into",
            "multi-campus.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    insta::assert_snapshot!("import-csv-into", transcript(&out));
    let after = std::fs::read_to_string(dir.path().join("multi-campus.yaml")).expect("reads");
    let diff = similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(1)
        .to_string();
    insta::assert_snapshot!("import-csv-into-diff", diff);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("multi-campus.yaml"))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "the file's permissions are kept");
    }
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .expect("lists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file is left: {leftovers:?}"
    );

    // The merged file fails validation on exactly the e-mail placeholders.
    let out = csamctl_in(
        dir.path(),
        &["validate", "--format", "json", "multi-campus.yaml"],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let errors: Vec<&str> = report["diagnostics"]
        .as_array()
        .expect("a list")
        .iter()
        .filter(|d| d["severity"] == "error")
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert_eq!(errors, vec!["csam::email::invalid"; 2]);

    // Merging the same export again leaves the file alone.
    let out = csamctl_in(
        dir.path(),
        &[
            "import-csv",
            "vlasland-wervik.fr.csv",
            "--site",
            "71977201",
            "--into",
            "multi-campus.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).ends_with("multi-campus.yaml unchanged\n"),
        "{}",
        stderr(&out)
    );
    let again = std::fs::read_to_string(dir.path().join("multi-campus.yaml")).expect("reads");
    assert_eq!(again, after);
}

#[test]
fn import_csv_into_a_file_without_the_site_writes_nothing() {
    let dir = workspace("examples/single-unit.yaml", FR_CSV);
    let before = std::fs::read(dir.path().join("single-unit.yaml")).expect("reads");
    let out = csamctl_in(
        dir.path(),
        &[
            "import-csv",
            "vlasland-wervik.fr.csv",
            "--site",
            "71977201",
            "--into",
            "single-unit.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("import-csv-into-undeclared", transcript(&out));
    let after = std::fs::read(dir.path().join("single-unit.yaml")).expect("reads");
    assert_eq!(after, before);
}

#[test]
fn import_csv_into_a_missing_file_is_refused() {
    let dir = workspace("examples/single-unit.yaml", NL_CSV);
    let out = csamctl_in(
        dir.path(),
        &[
            "import-csv",
            "mandelvallei-izegem.nl.csv",
            "--site",
            "71988411",
            "--into",
            "csam.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("error: csam.yaml is not a file"));
    assert!(!dir.path().join("csam.yaml").exists());
}

#[test]
fn import_csv_of_a_file_that_is_not_a_listing_fails() {
    let out = csamctl_in(
        crate_root(),
        &["import-csv", "Cargo.toml", "--site", "71988411"],
    );
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("import-csv-not-a-listing", transcript(&out));
}

#[test]
fn import_csv_rejects_a_bad_site_number() {
    let out = csamctl_in(crate_root(), &["import-csv", NL_CSV, "--site", "HCO-1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--site"), "{}", stderr(&out));
}

#[test]
fn no_full_insz_on_stdout_or_stderr_without_show_personal_data() {
    for (csv, example, site) in [
        (NL_CSV, "examples/single-unit.yaml", "71988411"),
        (FR_CSV, "examples/multi-campus.yaml", "71977201"),
    ] {
        let printed = csamctl_in(crate_root(), &["import-csv", csv, "--site", site]);
        assert_eq!(printed.status.code(), Some(0));
        assert_no_full_insz(csv, &stdout(&printed));
        assert_no_full_insz(csv, &stderr(&printed));

        let dir = workspace(example, csv);
        let name = Path::new(example)
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name");
        let csv_name = Path::new(csv)
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name");
        let merged = csamctl_in(
            dir.path(),
            &["import-csv", csv_name, "--site", site, "--into", name],
        );
        assert_eq!(merged.status.code(), Some(0), "{}", transcript(&merged));
        assert_no_full_insz(csv, &stdout(&merged));
        assert_no_full_insz(csv, &stderr(&merged));
    }
}

#[test]
fn show_personal_data_prints_full_insz_and_the_into_file_holds_them() {
    let out = csamctl_in(
        crate_root(),
        &[
            "import-csv",
            NL_CSV,
            "--site",
            "71988411",
            "--show-personal-data",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("insz: \"83.06.14-217.81\""));
    // A rejected number is shown as written when asked for.
    assert!(stderr(&out).contains("770925 363 83"), "{}", stderr(&out));

    let dir = workspace("examples/single-unit.yaml", NL_CSV);
    let out = csamctl_in(
        dir.path(),
        &[
            "import-csv",
            "mandelvallei-izegem.nl.csv",
            "--site",
            "71988411",
            "--into",
            "single-unit.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    let file = std::fs::read_to_string(dir.path().join("single-unit.yaml")).expect("reads");
    assert!(file.contains("insz: \"83.06.14-217.81\""));
    assert!(stderr(&out).contains("it holds national register numbers in full"));
}
