use std::path::PathBuf;

use super::*;
use crate::config::load_bytes;
use crate::config::validate::tests::fleet;

/// The text as a writer adds it: the prefixes after the head and after each item of
/// the list (at indentation 2).
fn growing(text: &str) -> Vec<&str> {
    let mut ends: Vec<usize> = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if split::is_item(line, 2) {
            ends.push(at);
        }
        at += line.len();
    }
    ends.push(text.len());
    ends.into_iter().map(|end| &text[..end]).collect()
}

/// Checks `text` as it grows, in pieces of at least `piece_bytes`: the outcome from
/// its pieces, `None` when in doubt.
fn checked(text: &str, piece_bytes: usize) -> Option<Loaded> {
    let mut check = FileCheck::new(PathBuf::from("exported.yaml"), InputLimits::default());
    check.piece_bytes = piece_bytes;
    for so_far in growing(text) {
        check.grown(so_far);
    }
    check.finish_apart(text)
}

fn whole(text: &str) -> Loaded {
    load_bytes(
        &[(PathBuf::from("exported.yaml"), text.as_bytes().to_vec())],
        &InputLimits::default(),
    )
}

#[test]
fn a_file_checked_as_it_grows_loads_as_the_whole_file_does() {
    // Problems inside enterprises and across them (declared twice, HCO numbers reused,
    // usernames), in pieces of one enterprise, a few, or all of them at the end.
    let text = format!("# exported\n{}# the end\n", fleet(40));
    let expected = format!("{:?}", whole(&text));
    assert!(whole(&text).errors() > 0, "the fleet has problems to find");
    for piece_bytes in [1, 4096, 30_000, usize::MAX] {
        let mut check = FileCheck::new(PathBuf::from("exported.yaml"), InputLimits::default());
        check.piece_bytes = piece_bytes;
        for so_far in growing(&text) {
            check.grown(so_far);
        }
        assert!(check.list.is_some(), "the list is found");
        let pieces = check.work.lock().done.len();
        let loaded = check.finish_apart(&text).expect("loaded from its pieces");
        assert_eq!(
            format!("{loaded:?}"),
            expected,
            "pieces of {piece_bytes} bytes"
        );
        if piece_bytes == 1 {
            assert_eq!(pieces, 40, "one piece per enterprise");
        }
    }
}

#[test]
fn a_valid_file_checked_as_it_grows_has_no_error() {
    let example = include_str!("../../../examples/multi-campus.yaml");
    let loaded = checked(example, 1).expect("loaded from its pieces");
    assert_eq!(loaded.errors(), 0, "{:?}", loaded.diagnostics);
    assert_eq!(format!("{loaded:?}"), format!("{:?}", whole(example)));
}

#[test]
fn anything_in_doubt_is_loaded_whole() {
    let text = format!("# exported\n{}", fleet(12));
    let in_doubt = [
        // An alias, a tab, a control byte, a document marker.
        text.replace("name: ", "name: *x "),
        text.replacen("    name:", "    name:\t", 3),
        text.replacen("name: ", "name: \u{7}", 5),
        format!("{text}---\nversion: 1\n"),
        // A piece that does not parse, and text after the list.
        text.replacen("name: ", "name: \"", 9),
        format!("{text}extra: 1\n"),
        // The list is not where the cut looks for it.
        text.replace("enterprises:\n", "enterprises: # all\n  []\nother:\n"),
    ];
    for t in &in_doubt {
        assert_ne!(t, &text, "the variant differs");
        assert!(checked(t, 1).is_none(), "in doubt: {}", &t[..200]);
        let mut check = FileCheck::new(PathBuf::from("exported.yaml"), InputLimits::default());
        for so_far in growing(t) {
            check.grown(so_far);
        }
        assert_eq!(format!("{:?}", check.finish(t)), format!("{:?}", whole(t)));
    }
    // A problem at the top level is not a doubt: it is found as the whole load finds it.
    let version = text.replace("version: 1\n", "version: 2\n");
    let loaded = checked(&version, 1).expect("loaded from its pieces");
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.code == "csam::schema::version")
    );
    assert_eq!(format!("{loaded:?}"), format!("{:?}", whole(&version)));
}

#[test]
fn what_is_checked_is_the_complete_text() {
    // The complete text differs from what was handed over: it is loaded whole.
    let text = fleet(6);
    let mut check = FileCheck::new(PathBuf::from("exported.yaml"), InputLimits::default());
    check.piece_bytes = 1;
    for so_far in growing(&text) {
        check.grown(so_far);
    }
    let changed = text.replacen("kbo:", "kbo_:", 1);
    assert!(check.finish_apart(&changed).is_none(), "in doubt");
    let mut check = FileCheck::new(PathBuf::from("exported.yaml"), InputLimits::default());
    check.piece_bytes = 1;
    for so_far in growing(&text) {
        check.grown(so_far);
    }
    let loaded = check.finish(&changed);
    assert_eq!(format!("{loaded:?}"), format!("{:?}", whole(&changed)));
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.code == "csam::schema::unknown_key")
    );
}
