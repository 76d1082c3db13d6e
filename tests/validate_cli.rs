//! Whole-CLI tests of `csamctl validate`: the real binary, run from the crate root, on
//! one invalid fixture per diagnostic code (tests/fixtures/invalid/), on the examples,
//! and on generated inputs (binary, bad encoding, alias bomb, missing files).
//!
//! Every fixture run is snapshotted (exit code, stdout and stderr in one text), and the
//! JSON output is checked in code: exactly the expected codes, at the expected lines and
//! columns. Snapshots live in tests/snapshots/.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

mod cli_support;
use cli_support::{crate_root, csamctl_in, stderr, stdout, transcript};

const FIXTURES: &str = "tests/fixtures/invalid";

/// Runs `csamctl` from the crate root, so that paths in the output are relative.
fn csamctl(args: &[&str]) -> Output {
    csamctl_in(crate_root(), args)
}

/// The `--format json` report of a run.
fn json_report(args: &[&str]) -> (Output, serde_json::Value) {
    let mut all = vec!["validate", "--format", "json"];
    all.extend_from_slice(args);
    let out = csamctl(&all);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("--format json prints JSON ({e}):\n{}", transcript(&out)));
    (out, report)
}

/// The diagnostics of a JSON report as (code, line, column).
fn located(report: &serde_json::Value) -> Vec<(String, u64, u64)> {
    report["diagnostics"]
        .as_array()
        .expect("diagnostics is a list")
        .iter()
        .map(|d| {
            (
                d["code"].as_str().expect("code").to_string(),
                d["line"].as_u64().expect("line"),
                d["column"].as_u64().expect("column"),
            )
        })
        .collect()
}

/// One fixture: the text run matches its snapshot and names every expected code; the
/// JSON run has exactly the expected diagnostics, in the fixture's own file, at the
/// expected lines and columns.
fn check_fixture(file: &str, exit: i32, expected: &[(&str, u64, u64)]) {
    let path = format!("{FIXTURES}/{file}");
    let out = csamctl(&["validate", &path]);
    let text = transcript(&out);
    assert_eq!(
        out.status.code(),
        Some(exit),
        "exit code of {path}:\n{text}"
    );
    for (code, line, column) in expected {
        assert!(
            stderr(&out).contains(&format!("{code}: ")),
            "{code} is reported for {path}:\n{text}"
        );
        assert!(
            stderr(&out).contains(&format!("[{path}:{line}:{column}]")),
            "the snippet of {code} is headed {path}:{line}:{column}:\n{text}"
        );
    }
    let name = file.trim_end_matches(".yaml").trim_end_matches('/');
    insta::assert_snapshot!(name, text);

    let (json_out, report) = json_report(&[&path]);
    assert_eq!(
        json_out.status.code(),
        Some(exit),
        "exit code of --format json {path}"
    );
    let want: Vec<(String, u64, u64)> = expected
        .iter()
        .map(|(c, l, col)| (c.to_string(), *l, *col))
        .collect();
    assert_eq!(located(&report), want, "diagnostics of {path}");
    for d in report["diagnostics"].as_array().unwrap() {
        assert_eq!(d["file"], path.as_str(), "file of {d}");
    }
}

macro_rules! fixture {
    ($test:ident, $file:literal, exit $exit:literal, [$(($code:literal, $line:literal, $col:literal)),+ $(,)?]) => {
        #[test]
        fn $test() {
            check_fixture($file, $exit, &[$(($code, $line, $col)),+]);
        }
    };
}

// Identifiers. Quoted values are located at their opening quote, as in the spec's example.
fixture!(insz_format, "insz-format.yaml", exit 1, [("csam::insz::format", 23, 19)]);
fixture!(insz_length, "insz-length.yaml", exit 1, [("csam::insz::length", 8, 13)]);
fixture!(insz_checksum, "insz-checksum.yaml", exit 1, [("csam::insz::checksum", 23, 19)]);
fixture!(insz_month, "insz-month.yaml", exit 1, [("csam::insz::month", 13, 13)]);
fixture!(
    insz_checksum_administrator,
    "insz-checksum-administrator.yaml",
    exit 1,
    [("csam::insz::checksum", 15, 30)]
);
fixture!(kbo_format, "kbo-format.yaml", exit 1, [("csam::kbo::format", 5, 10)]);
fixture!(kbo_length, "kbo-length.yaml", exit 1, [("csam::kbo::length", 5, 10)]);
fixture!(kbo_first_digit, "kbo-first_digit.yaml", exit 1, [("csam::kbo::first_digit", 5, 10)]);
fixture!(kbo_checksum, "kbo-checksum.yaml", exit 1, [("csam::kbo::checksum", 5, 10)]);
fixture!(hco_format, "hco-format.yaml", exit 1, [("csam::hco::format", 22, 22)]);
fixture!(email_invalid, "email-invalid.yaml", exit 1, [("csam::email::invalid", 27, 20)]);
fixture!(username_invalid, "username-invalid.yaml", exit 1, [("csam::username::invalid", 24, 23)]);

// Closed vocabularies.
fixture!(language_unknown, "language-unknown.yaml", exit 1, [("csam::language::unknown", 27, 23)]);
fixture!(function_unknown, "function-unknown.yaml", exit 1, [("csam::function::unknown", 30, 28)]);
fixture!(
    application_unknown,
    "application-unknown.yaml",
    exit 1,
    [("csam::application::unknown", 29, 38)]
);
fixture!(capacity_type, "capacity-type.yaml", exit 1, [("csam::capacity::type", 13, 15)]);

// Accounts across the desired state.
fixture!(
    username_per_person,
    "username-per_person.yaml",
    exit 1,
    [("csam::username::per_person", 50, 23)]
);
fixture!(username_shared, "username-shared.yaml", exit 1, [("csam::username::shared", 40, 23)]);

// Passwords.
fixture!(password_literal, "password-literal.yaml", exit 1, [("csam::password::literal", 28, 23)]);
fixture!(
    password_literal_quoted,
    "password-literal-quoted.yaml",
    exit 1,
    [("csam::password::literal", 28, 23)]
);
fixture!(
    password_reference,
    "password-reference.yaml",
    exit 1,
    [("csam::password::reference", 28, 23)]
);

// R5: applications.
fixture!(
    applications_r5_capacity,
    "applications-r5-capacity.yaml",
    exit 1,
    [("csam::applications::r5", 15, 23)]
);
fixture!(applications_r5_site, "applications-r5-site.yaml", exit 1, [("csam::applications::r5", 24, 31)]);
fixture!(
    applications_r5_physician,
    "applications-r5-physician.yaml",
    exit 1,
    [("csam::applications::r5", 29, 27)]
);

// Structure.
fixture!(site_undeclared, "site-undeclared.yaml", exit 1, [("csam::site::undeclared", 30, 15)]);
fixture!(person_duplicate, "person-duplicate.yaml", exit 1, [("csam::person::duplicate", 33, 19)]);
fixture!(hco_duplicate, "hco-duplicate.yaml", exit 1, [("csam::hco::duplicate", 22, 22)]);
// At the enterprise's mapping, i.e. its first key.
fixture!(htb_missing, "htb-missing.yaml", exit 1, [("csam::htb::missing", 5, 5)]);
// At the mapping written as the value, i.e. its first key.
fixture!(
    administrator_form,
    "administrator-form.yaml",
    exit 1,
    [("csam::administrator::form", 16, 11)]
);

// Schema.
fixture!(schema_unknown_key, "schema-unknown_key.yaml", exit 1, [("csam::schema::unknown_key", 27, 13)]);
fixture!(
    schema_unknown_key_usename,
    "schema-unknown_key-usename.yaml",
    exit 1,
    [("csam::schema::missing_key", 23, 13), ("csam::schema::unknown_key", 24, 13)]
);
fixture!(schema_missing_key, "schema-missing_key.yaml", exit 1, [("csam::schema::missing_key", 23, 13)]);
fixture!(schema_type, "schema-type.yaml", exit 1, [("csam::schema::type", 29, 21)]);
fixture!(schema_version, "schema-version.yaml", exit 1, [("csam::schema::version", 3, 10)]);
// A file of comments only: located at the end of the file (line 3, after the last
// newline), where the parser puts the empty document.
fixture!(schema_empty, "schema-empty.yaml", exit 1, [("csam::schema::empty", 1, 1)]);
fixture!(schema_empty_name, "schema-empty-name.yaml", exit 1, [("csam::schema::empty", 6, 11)]);
fixture!(yaml_syntax, "yaml-syntax.yaml", exit 1, [("csam::yaml::syntax", 26, 12)]);

// Warnings only: exit 0.
// At the capacity (the site itself is not located in the model).
fixture!(
    site_no_head_radiologist,
    "site-no_head_radiologist.yaml",
    exit 0,
    [("csam::site::no_head_radiologist", 20, 22)]
);
fixture!(
    site_two_head_radiologists,
    "site-two_head_radiologists.yaml",
    exit 0,
    [("csam::site::two_head_radiologists", 31, 19)]
);
// At the person's mapping, i.e. its first key.
fixture!(person_no_site, "person-no_site.yaml", exit 0, [("csam::person::no_site", 31, 13)]);
fixture!(function_none, "function-none.yaml", exit 0, [("csam::function::none", 38, 27)]);

/// An enterprise declared in two files of one directory: the error is at the second
/// declaration and names the first.
#[test]
fn enterprise_duplicate() {
    let dir = format!("{FIXTURES}/enterprise-duplicate/");
    let first = format!("{FIXTURES}/enterprise-duplicate/campus-izegem.yaml");
    let second = format!("{FIXTURES}/enterprise-duplicate/campus-roeselare.yaml");
    let out = csamctl(&["validate", &dir]);
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        stderr(&out).contains("csam::enterprise::duplicate: "),
        "{text}"
    );
    assert!(
        stderr(&out).contains(&format!("[{second}:5:10]")),
        "points at the second place:\n{text}"
    );
    assert!(
        stderr(&out).contains(&format!("{first}:5:10")),
        "names the first place:\n{text}"
    );
    insta::assert_snapshot!("enterprise-duplicate", text);

    let (_, report) = json_report(&[&dir]);
    assert_eq!(
        located(&report),
        vec![("csam::enterprise::duplicate".to_string(), 5, 10)]
    );
    assert_eq!(report["diagnostics"][0]["file"], second.as_str());
}

/// The literal password is never printed, in any format, even with personal data shown.
#[test]
fn literal_passwords_are_never_shown() {
    for (file, secret) in [
        ("password-literal.yaml", "Koen-Mammo-2024!"),
        ("password-literal-quoted.yaml", "Koen Mammo 2024"),
    ] {
        let path = format!("{FIXTURES}/{file}");
        let source = std::fs::read_to_string(crate_root().join(&path)).unwrap();
        assert!(
            source.contains(secret),
            "the fixture {file} holds {secret:?}"
        );
        for args in [
            vec!["validate", path.as_str()],
            vec!["validate", "--show-personal-data", path.as_str()],
            vec!["validate", "--format", "json", path.as_str()],
        ] {
            let out = csamctl(&args);
            let all = format!("{}{}", stdout(&out), stderr(&out));
            assert_eq!(out.status.code(), Some(1));
            assert!(all.contains("csam::password::literal"), "{args:?}:\n{all}");
            for part in [secret, "Mammo", "2024"] {
                assert!(
                    !all.contains(part),
                    "{args:?} shows {part:?} of the password:\n{all}"
                );
            }
        }
    }
}

#[test]
fn examples_are_clean() {
    let out = csamctl(&["validate", "examples/"]);
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(stdout(&out).contains(": 0 errors, 0 warnings"), "{text}");
    insta::assert_snapshot!("examples", text);
}

/// The JSON document: parseable, versioned, every diagnostic with code, severity, file,
/// line, column, message and help.
#[test]
fn json_format() {
    for (name, path) in [
        (
            "json-insz-checksum",
            format!("{FIXTURES}/insz-checksum.yaml"),
        ),
        (
            "json-schema-unknown_key-usename",
            format!("{FIXTURES}/schema-unknown_key-usename.yaml"),
        ),
    ] {
        let (out, report) = json_report(&[&path]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(stderr(&out), "", "--format json prints nothing on stderr");
        assert_eq!(report["version"], 1);
        let diagnostics = report["diagnostics"].as_array().unwrap();
        assert!(!diagnostics.is_empty());
        assert_eq!(report["errors"].as_u64().unwrap(), diagnostics.len() as u64);
        assert_eq!(report["warnings"], 0);
        for d in diagnostics {
            let keys: BTreeSet<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
            for key in [
                "code", "severity", "file", "line", "column", "message", "help",
            ] {
                assert!(keys.contains(key), "{key} in {d}");
            }
            assert!(d["code"].as_str().unwrap().starts_with("csam::"));
            assert_eq!(d["severity"], "error");
            assert_eq!(d["file"], path.as_str());
            assert!(d["line"].as_u64().unwrap() >= 1);
            assert!(d["column"].as_u64().unwrap() >= 1);
            assert!(!d["message"].as_str().unwrap().is_empty());
            assert!(!d["help"].as_str().unwrap().is_empty());
        }
        insta::assert_snapshot!(name, stdout(&out));
    }
}

/// Every file the leak test reads: each fixture, each example.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// Every INSZ-looking value of a text (11 digits, separated at most by single `.`, `-` or
/// space), in the forms it could be printed: as written, compact and dotted. Enterprise
/// numbers (`kbo:` lines) are left out: they are public, and the kbo-length fixture
/// holds an 11-digit one on purpose.
fn insz_values(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        if line
            .trim_start()
            .trim_start_matches("- ")
            .starts_with("kbo:")
        {
            continue;
        }
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_digit()) {
                i += 1;
                continue;
            }
            let mut j = i;
            let mut digits = String::new();
            while j < b.len() {
                if b[j].is_ascii_digit() {
                    digits.push(b[j] as char);
                    j += 1;
                } else if matches!(b[j], b'.' | b'-' | b' ')
                    && j > i
                    && b[j - 1].is_ascii_digit()
                    && j + 1 < b.len()
                    && b[j + 1].is_ascii_digit()
                {
                    j += 1;
                } else {
                    break;
                }
            }
            if digits.len() == 11 {
                let d = &digits;
                found.insert(line[i..j].to_string());
                found.insert(format!(
                    "{}.{}.{}-{}.{}",
                    &d[0..2],
                    &d[2..4],
                    &d[4..6],
                    &d[6..9],
                    &d[9..11]
                ));
                found.insert(digits.clone());
            }
            i = j.max(i + 1);
        }
    }
    found
}

/// No output, text or JSON, shows a full INSZ of the input unless asked to.
#[test]
fn no_full_insz_in_any_output() {
    let mut files = Vec::new();
    yaml_files(&crate_root().join(FIXTURES), &mut files);
    yaml_files(&crate_root().join("examples"), &mut files);
    let mut targets: Vec<(String, BTreeSet<String>)> = Vec::new();
    let mut all_values = BTreeSet::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let values = insz_values(&text);
        all_values.extend(values.iter().cloned());
        let rel = path
            .strip_prefix(crate_root())
            .unwrap()
            .display()
            .to_string();
        targets.push((rel, values));
    }
    // The directories too, as one desired state each (cross-file diagnostics).
    for dir in [
        format!("{FIXTURES}/enterprise-duplicate/"),
        "examples/".to_string(),
    ] {
        targets.push((dir, all_values.clone()));
    }
    assert!(
        all_values.len() > 100,
        "the fixtures and examples hold many INSZ: {}",
        all_values.len()
    );
    let mut checked = 0;
    for (target, values) in &targets {
        for args in [
            vec!["validate", target.as_str()],
            vec!["validate", "--format", "json", target.as_str()],
        ] {
            let out = csamctl(&args);
            let all = format!("{}{}", stdout(&out), stderr(&out));
            for value in values {
                assert!(
                    !all.contains(value.as_str()),
                    "{args:?} shows the INSZ {value}:\n{all}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 80, "ran {checked} times");
}

/// With `--show-personal-data` the snippet shows the full INSZ (and the message still
/// does not).
#[test]
fn show_personal_data_shows_the_insz_in_the_snippet() {
    let path = format!("{FIXTURES}/insz-checksum.yaml");
    let out = csamctl(&["validate", "--show-personal-data", &path]);
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(r#"23 |           - insz: "68.08.21-305.65""#),
        "{text}"
    );
    assert!(
        text.contains("INSZ **.**.**-**5.65 has a wrong check number"),
        "{text}"
    );
    insta::assert_snapshot!("show-personal-data", text);

    let hidden = transcript(&csamctl(&["validate", &path]));
    assert!(!hidden.contains("68.08.21-305.65"), "{hidden}");
    assert!(hidden.contains(r#"- insz: "**.**.**-**5.65""#), "{hidden}");
}

// Generated inputs, run in a temporary directory so that their paths are relative.

fn run_generated(file: &str, bytes: &[u8]) -> (Output, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(file), bytes).unwrap();
    let out = csamctl_in(dir.path(), &["validate", file]);
    let json = csamctl_in(dir.path(), &["validate", "--format", "json", file]);
    let report = serde_json::from_slice(&json.stdout).expect("JSON");
    (out, report)
}

/// A desired-state text (the base of the fixtures) with a NUL-padded tail, as a crashed
/// editor or a truncated copy leaves it.
#[test]
fn input_binary() {
    let mut bytes = b"version: 1\nenterprises:\n".to_vec();
    bytes.extend_from_slice(&[0u8; 16]);
    let (out, report) = run_generated("input-binary.yaml", &bytes);
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("csam::input::binary: "), "{text}");
    assert_eq!(
        located(&report),
        vec![("csam::input::binary".to_string(), 3, 1)]
    );
    insta::assert_snapshot!("input-binary", text);
}

/// A file saved as Latin-1: the é of Céline is the byte 0xE9.
#[test]
fn input_encoding() {
    let text = std::fs::read_to_string(crate_root().join(FIXTURES).join("insz-checksum.yaml"))
        .unwrap()
        .replace("\"68.08.21-305.65\"", "\"68.08.21-305.64\"")
        .replace("first_name: Koen", "first_name: C\u{e9}line");
    let bytes: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    let (out, report) = run_generated("input-encoding.yaml", &bytes);
    let transcript = transcript(&out);
    assert_eq!(out.status.code(), Some(1), "{transcript}");
    assert!(
        transcript.contains("csam::input::encoding: "),
        "{transcript}"
    );
    // Line 26 is `            first_name: C\xE9line`: the bad byte is character 26.
    assert_eq!(
        located(&report),
        vec![("csam::input::encoding".to_string(), 26, 26)]
    );
    insta::assert_snapshot!("input-encoding", transcript);
}

/// "Billion laughs": nine levels of ten aliases each.
pub fn alias_bomb() -> String {
    let mut text = String::from("version: 1\nlol0: &lol0 \"lol\"\n");
    for level in 1..=9 {
        let refs = vec![format!("*lol{}", level - 1); 10].join(", ");
        text.push_str(&format!("lol{level}: &lol{level} [{refs}]\n"));
    }
    text.push_str("enterprises: []\n");
    text
}

#[test]
fn input_budget() {
    let (out, report) = run_generated("input-budget.yaml", alias_bomb().as_bytes());
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("csam::input::budget: "), "{text}");
    let codes: Vec<String> = located(&report).into_iter().map(|(c, _, _)| c).collect();
    assert_eq!(codes, ["csam::input::budget"]);
    insta::assert_snapshot!("input-budget", text);
}

#[test]
fn input_not_found() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let mut text = String::new();
    for args in [
        vec!["validate", "csam-typo.yaml"],
        vec!["validate", "empty"],
        // No paths, and neither csam.yaml nor csam/ here.
        vec!["validate"],
    ] {
        let out = csamctl_in(dir.path(), &args);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("csam::input::not_found: "),
            "{args:?}"
        );
        text.push_str(&format!(
            "$ csamctl {}\n{}\n",
            args.join(" "),
            transcript(&out)
        ));
    }
    insta::assert_snapshot!("input-not_found", text);
    // In JSON the missing path is the diagnostic's file, for CI annotations.
    let out = csamctl_in(
        dir.path(),
        &["validate", "--format", "json", "csam-typo.yaml"],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["diagnostics"][0]["file"], "csam-typo.yaml",
        "{report}"
    );
}

/// A `.yaml` entry of a directory that cannot be read: a dangling symbolic link.
#[cfg(unix)]
#[test]
fn input_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("csam")).unwrap();
    std::os::unix::fs::symlink("../gone/unit.yaml", dir.path().join("csam/unit.yaml")).unwrap();
    let out = csamctl_in(dir.path(), &["validate", "csam"]);
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("csam::input::read: "), "{text}");
    insta::assert_snapshot!("input-read", text);
    let out = csamctl_in(dir.path(), &["validate", "--format", "json", "csam"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["diagnostics"][0]["file"], "csam/unit.yaml",
        "{report}"
    );
}

/// Every code the validator can emit is exercised by a test in this file or in
/// validate_lib.rs.
#[test]
fn every_code_is_tested() {
    let mut codes = BTreeSet::new();
    for entry in std::fs::read_dir(crate_root().join("src/config")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for part in text.split("\"csam::").skip(1) {
            let code: String = part
                .chars()
                .take_while(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == ':'
                })
                .collect();
            if part[code.len()..].starts_with('"') {
                codes.insert(format!("csam::{code}"));
            }
        }
    }
    assert!(codes.len() >= 40, "found {} codes", codes.len());
    let tests = [
        include_str!("validate_cli.rs"),
        include_str!("validate_lib.rs"),
    ]
    .concat();
    let untested: Vec<&String> = codes
        .iter()
        .filter(|c| !tests.contains(&format!("\"{c}\"")) && !tests.contains(&format!("\"{c}: ")))
        .collect();
    assert!(untested.is_empty(), "codes without a test: {untested:?}");
}
