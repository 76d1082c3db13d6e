//! YAML scalars that read back as exactly the string written: shared by everything that
//! writes desired-state text (`export`, and `import-csv`'s merge).
//!
//! Plain when that is unambiguous, double-quoted with escapes otherwise: a name read from
//! a CSV or a registry can hold anything, a line break included, and must never become
//! YAML structure or a different type (`yes`, `null`, `12345678`).

use std::fmt::Write as _;

/// A YAML scalar that reads back as `s`.
pub(crate) fn scalar(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_string()
    } else {
        quoted(s)
    }
}

/// True when `s` may be written plain: it starts with a letter, is no YAML keyword, has
/// no `: `, ` #`, trailing `:` or space, no double space, and only letters, digits and
/// `space . - _ @ + / ( ) ' &` (enough for names, e-mail addresses and usernames; a
/// comma is quoted, so the text stays the same even inside a flow collection).
fn is_plain_safe(s: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !first.is_alphabetic() || s.ends_with(' ') || s.contains("  ") {
        return false;
    }
    if KEYWORDS.contains(&s.to_ascii_lowercase().as_str()) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    s.chars()
        .all(|c| c.is_alphanumeric() || " .-_@+/()'&".contains(c))
}

/// A double-quoted YAML scalar, with escapes for quotes, backslashes, control
/// characters and the Unicode line and paragraph separators and byte-order mark.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_addresses_and_usernames_stay_plain() {
        assert_eq!(scalar("AZ Zeevaart"), "AZ Zeevaart");
        assert_eq!(scalar("D'HONDT"), "D'HONDT");
        assert_eq!(scalar("Van de Velde"), "Van de Velde");
        assert_eq!(scalar("me@zeevaart.example"), "me@zeevaart.example");
    }

    #[test]
    fn what_yaml_would_misread_is_quoted() {
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("Null"), "\"Null\"");
        assert_eq!(scalar("71012817"), "\"71012817\"");
        assert_eq!(scalar("'t Kint"), "\"'t Kint\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("x #y"), "\"x #y\"");
        assert_eq!(scalar("two  spaces"), "\"two  spaces\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("+32 50 00 00 00"), "\"+32 50 00 00 00\"");
        assert_eq!(scalar("DUMOULIN, dit DUMO"), "\"DUMOULIN, dit DUMO\"");
    }

    #[test]
    fn escapes_keep_the_string_on_one_line() {
        assert_eq!(quoted("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(scalar("line\nbreak \"q\""), "\"line\\nbreak \\\"q\\\"\"");
        assert_eq!(quoted("x\u{2028}y\r"), "\"x\\u2028y\\r\"");
    }
}
