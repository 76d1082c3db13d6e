//! Normalisation of hand-written identifiers, shared by every identifier type.
//!
//! The reference implementation that INSZ and KBO validity must agree with (python-stdnum)
//! first maps look-alike Unicode characters to their ASCII form (dashes, spaces, dots,
//! slashes, full-width and mathematical digits), then deletes separators, then trims
//! whitespace. People paste numbers from Word documents and PDFs, so this matters: a
//! non-breaking space or an en dash in `85.07.30–033.28` must not make a valid number
//! invalid. Characters that map to other ASCII punctuation are irrelevant here: they fail
//! the digits-only check either way.

/// The ASCII character a look-alike maps to, for the characters that can matter in a
/// number: digits and the separators space, `-`, `.` and `/`.
fn ascii_lookalike(c: char) -> Option<char> {
    let u = c as u32;
    // Full-width digits and the five mathematical alphanumeric digit ranges.
    if (0xFF10..=0xFF19).contains(&u) {
        return char::from_digit(u - 0xFF10, 10);
    }
    if (0x1D7CE..=0x1D7FF).contains(&u) {
        return char::from_digit((u - 0x1D7CE) % 10, 10);
    }
    let mapped = match u {
        0x00A0 | 0x2000..=0x200A | 0x202F | 0x205F | 0x3000 => ' ',
        0x058A
        | 0x05BE
        | 0x2010..=0x2015
        | 0xFE63
        | 0xFF0D
        | 0x180A
        | 0x203E
        | 0x2043
        | 0x00AF
        | 0x02D7
        | 0xFFE3
        | 0x1680
        | 0x207B
        | 0x208B
        | 0x2212
        | 0x23AF
        | 0x23BA..=0x23BD
        | 0x23E4 => '-',
        0x00B7 | 0x0387 | 0x06D4 | 0x3002 | 0x0701 | 0x0702 | 0x0830 | 0x0F0B | 0x0F0C | 0x16EB
        | 0x2022 | 0x2024 | 0x2027 | 0x2E31 | 0x2E33 | 0x30FB | 0xFE52 | 0xFF0E | 0xFF65
        | 0x10101 | 0x1091F | 0x10A50 | 0x02D9 | 0xFBB2 | 0xFBB3 | 0x2219 | 0x22C5 => '.',
        0x083C | 0xFF0F | 0x2215 | 0x27CB | 0x29F8 | 0x2044 => '/',
        _ => return None,
    };
    Some(mapped)
}

/// Python's `str.isspace`: Unicode white space plus the four ASCII separators
/// U+001C..U+001F that Rust does not count as white space.
fn python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Maps look-alikes to ASCII, deletes every character in `separators`, and trims
/// surrounding white space: python-stdnum's `clean(number, separators).strip()`.
pub(crate) fn compact(input: &str, separators: &[char]) -> String {
    let cleaned: String = input
        .chars()
        .map(|c| ascii_lookalike(c).unwrap_or(c))
        .filter(|c| !separators.contains(c))
        .collect();
    cleaned.trim_matches(python_space).to_string()
}

/// True when `s` is non-empty and holds only ASCII digits.
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The value of a string of at most 18 ASCII digits (callers check `is_digits` first).
pub(crate) fn digits_value(s: &str) -> u64 {
    s.bytes()
        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalikes_become_ascii_before_separators_are_deleted() {
        assert_eq!(
            compact("85.07.30\u{2013}033.28", &[' ', '-', '.']),
            "85073003328"
        );
        assert_eq!(compact("\u{FF18}5 07\u{A0}30", &[' ', '-', '.']), "850730");
        assert_eq!(compact("\t850730\n", &[' ']), "850730");
        // A tab inside the number is not a separator: the digits check then fails.
        assert_eq!(compact("8507\t30", &[' ']), "8507\t30");
    }

    #[test]
    fn digits_only() {
        assert!(is_digits("0123"));
        assert!(!is_digits(""));
        assert!(!is_digits("12a"));
        assert!(!is_digits("١٢")); // Arabic-Indic digits are not ASCII digits
        assert_eq!(digits_value("0474603083"), 474_603_083);
    }
}
