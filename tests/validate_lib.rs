//! Library-level tests of `csamctl::config::load` on generated inputs that are awkward
//! to commit or to run through the CLI: an alias bomb, binary data, invalid UTF-8, and
//! files over a (small, custom) size limit.

use std::path::{Path, PathBuf};

use csamctl::config::{self, DiagnosticSeverity, InputLimits, Loaded};

fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The valid base the invalid fixtures are made from (checked clean below).
fn base_text() -> String {
    std::fs::read_to_string(crate_root().join("tests/fixtures/invalid/insz-checksum.yaml"))
        .unwrap()
        .replace("\"68.08.21-305.65\"", "\"68.08.21-305.64\"")
}

fn load_bytes_as_file(
    name: &str,
    bytes: &[u8],
    limits: &InputLimits,
) -> (tempfile::TempDir, Loaded) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let loaded = config::load(&[path], limits);
    (dir, loaded)
}

/// (code, line, column) of every diagnostic.
fn located(loaded: &Loaded) -> Vec<(&'static str, u32, u32)> {
    loaded
        .diagnostics
        .iter()
        .map(|d| (d.code, d.place.pos.line, d.place.pos.column))
        .collect()
}

fn codes(loaded: &Loaded) -> Vec<&'static str> {
    loaded.diagnostics.iter().map(|d| d.code).collect()
}

#[test]
fn the_base_of_the_fixtures_is_clean() {
    let (_dir, loaded) =
        load_bytes_as_file("base.yaml", base_text().as_bytes(), &InputLimits::default());
    assert_eq!(codes(&loaded), Vec::<&str>::new());
    assert_eq!(loaded.state.enterprises.len(), 1);
}

/// "Billion laughs": nine levels of ten aliases each, 10^9 scalars once expanded.
fn alias_bomb() -> String {
    let mut text = String::from("version: 1\nlol0: &lol0 \"lol\"\n");
    for level in 1..=9 {
        let refs = vec![format!("*lol{}", level - 1); 10].join(", ");
        text.push_str(&format!("lol{level}: &lol{level} [{refs}]\n"));
    }
    text.push_str("enterprises: []\n");
    text
}

#[test]
fn an_alias_bomb_is_stopped_by_the_budget() {
    let (_dir, loaded) = load_bytes_as_file(
        "bomb.yaml",
        alias_bomb().as_bytes(),
        &InputLimits::default(),
    );
    assert_eq!(codes(&loaded), ["csam::input::budget"]);
    assert_eq!(loaded.diagnostics[0].severity, DiagnosticSeverity::Error);
    assert!(loaded.state.enterprises.is_empty());
}

/// A short alias chain stays within the budget: anchors are not refused as such.
#[test]
fn a_small_alias_is_within_the_budget() {
    let text = base_text().replace(
        "    name: RADIOLOGIE MANDELVALLEI BV\n",
        "    name: &name RADIOLOGIE MANDELVALLEI BV\n",
    );
    let (_dir, loaded) = load_bytes_as_file("alias.yaml", text.as_bytes(), &InputLimits::default());
    assert_eq!(codes(&loaded), Vec::<&str>::new());
}

#[test]
fn deep_nesting_is_stopped_by_the_budget() {
    let text = format!(
        "version: 1\nenterprises: {}{}\n",
        "[".repeat(200),
        "]".repeat(200)
    );
    let (_dir, loaded) = load_bytes_as_file("deep.yaml", text.as_bytes(), &InputLimits::default());
    assert_eq!(codes(&loaded), ["csam::input::budget"]);
    assert_eq!(loaded.diagnostics[0].place.pos.line, 2);
}

#[test]
fn nul_bytes_are_binary() {
    let mut bytes = b"version: 1\nenterprises:\n".to_vec();
    bytes.extend_from_slice(&[0u8; 16]);
    let (_dir, loaded) = load_bytes_as_file("nul.yaml", &bytes, &InputLimits::default());
    assert_eq!(located(&loaded), [("csam::input::binary", 3, 1)]);
}

#[test]
fn a_gzip_file_is_binary() {
    let bytes = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03];
    let (_dir, loaded) = load_bytes_as_file("csam.yaml", &bytes, &InputLimits::default());
    assert_eq!(located(&loaded), [("csam::input::binary", 1, 1)]);
}

#[test]
fn latin1_is_an_encoding_error_at_the_bad_byte() {
    let text = base_text().replace("first_name: Koen", "first_name: C\u{e9}line");
    let bytes: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    let (_dir, loaded) = load_bytes_as_file("latin1.yaml", &bytes, &InputLimits::default());
    // Line 26 is `            first_name: C\xE9line`.
    assert_eq!(located(&loaded), [("csam::input::encoding", 26, 26)]);
}

#[test]
fn utf16_is_an_encoding_error() {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in base_text().encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let (_dir, loaded) = load_bytes_as_file("utf16.yaml", &bytes, &InputLimits::default());
    assert_eq!(located(&loaded), [("csam::input::encoding", 1, 1)]);
}

#[test]
fn a_utf8_byte_order_mark_is_accepted() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(base_text().as_bytes());
    let (_dir, loaded) = load_bytes_as_file("bom.yaml", &bytes, &InputLimits::default());
    assert_eq!(codes(&loaded), Vec::<&str>::new());
}

#[test]
fn a_file_over_the_size_limit_is_too_large() {
    let limits = InputLimits {
        max_file_bytes: 1024,
        ..Default::default()
    };
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/single-unit.yaml");
    assert!(std::fs::metadata(&path).unwrap().len() > 1024);
    let loaded = config::load(&[path], &limits);
    assert_eq!(located(&loaded), [("csam::input::too_large", 1, 1)]);
    assert!(loaded.state.enterprises.is_empty());
}

#[test]
fn a_file_exactly_at_the_size_limit_is_read() {
    let text = base_text();
    let limits = InputLimits {
        max_file_bytes: text.len() as u64,
        ..Default::default()
    };
    let (_dir, loaded) = load_bytes_as_file("limit.yaml", text.as_bytes(), &limits);
    assert_eq!(codes(&loaded), Vec::<&str>::new());
    let over = InputLimits {
        max_file_bytes: text.len() as u64 - 1,
        ..Default::default()
    };
    let (_dir, loaded) = load_bytes_as_file("limit.yaml", text.as_bytes(), &over);
    assert_eq!(codes(&loaded), ["csam::input::too_large"]);
}

/// Only the too-large file of a directory is refused; the others are still validated.
#[test]
fn a_too_large_file_does_not_stop_the_others() {
    let limits = InputLimits {
        max_file_bytes: 2048,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-small.yaml"), base_text()).unwrap();
    let big = format!("{}{}", base_text(), "# padding\n".repeat(200));
    std::fs::write(dir.path().join("b-big.yaml"), big).unwrap();
    let loaded = config::load(&[dir.path().to_path_buf()], &limits);
    assert_eq!(codes(&loaded), ["csam::input::too_large"]);
    assert_eq!(loaded.state.enterprises.len(), 1);
}

// Regression (issue 11): a person with an invalid username was skipped whole, so the
// same INSZ listed again in the capacity went unreported.
#[test]
fn an_invalid_username_does_not_hide_a_person_listed_twice() {
    let person = "          - insz: \"68.08.21-305.64\"\n            username: koenverhaeghe\n";
    let base = base_text();
    assert!(base.contains(person));
    let twice = format!(
        "{base}{}",
        "          - insz: \"68.08.21-305.64\"\n            username: koen verhaeghe\n            last_name: VERHAEGHE\n            first_name: Koen\n            email: koen.verhaeghe@mandelvallei.example\n"
    );
    let (_dir, loaded) =
        load_bytes_as_file("twice.yaml", twice.as_bytes(), &InputLimits::default());
    let found = codes(&loaded);
    assert!(found.contains(&"csam::person::duplicate"), "{found:?}");
    assert!(
        found.iter().any(|c| c.starts_with("csam::username")),
        "{found:?}"
    );
}

// Regression (issue 11): one unknown function word made the whole site list unreadable,
// so a physician without eHealthBox escaped the R5 check.
#[test]
fn an_unknown_function_does_not_hide_the_physician_ehealthbox_check() {
    let text = base_text().replace(
        "\"71988411\": [head-radiologist]",
        "\"71988411\": [head-radiologist, chief]\n            applications: [heracles]",
    );
    let (_dir, loaded) = load_bytes_as_file("r5.yaml", text.as_bytes(), &InputLimits::default());
    let found = codes(&loaded);
    assert!(found.contains(&"csam::function::unknown"), "{found:?}");
    assert!(found.contains(&"csam::applications::r5"), "{found:?}");
}
