//! Identifiers of the domain: INSZ (national register and BIS numbers), KBO enterprise
//! numbers, HCO numbers, usernames, and references to secrets.
//!
//! Each type parses every written form that docs/rules.md lists, holds the normalised form,
//! and displays it. INSZ and KBO validity agree exactly with python-stdnum
//! (`stdnum.be.ssn`, `stdnum.be.vat`), the reference implementation the Belgian
//! administrations' own tooling is checked against. An [`Insz`] is personal data: its
//! `Display` and `Debug` show the masked form; the full number needs an explicit call.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::text::{compact, digits_value, is_digits};

/// Why a written INSZ is not a valid national register or BIS number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InszError {
    /// Something other than digits and the separators space, `.` and `-`.
    #[error("an INSZ holds only digits and the separators '.', '-' and space")]
    Format,
    /// Not 11 digits once separators are removed.
    #[error("an INSZ has 11 digits, this one has {0}")]
    Length(usize),
    /// The check number does not match the first nine digits for any possible century.
    #[error("wrong check number {found:02}")]
    Checksum {
        /// The check number as written.
        found: u8,
        /// The check number for a birth in the 1900s.
        expected_1900: u8,
        /// The check number for a birth in 2000 or later, when that year has passed.
        expected_2000: Option<u8>,
    },
    /// The month component is not a month of a national register number (00–12) or of a
    /// BIS number (20–32, 40–52).
    #[error("month component {0:02} is not a month (01–12, or 21–32 / 41–52 for a BIS number)")]
    Month(u8),
}

/// A Belgian INSZ / NISS: a national register number or a BIS number, 11 digits.
///
/// Written `850730 033 28`, `85.07.30-033.28` or `85073003328`; stored compact.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Insz([u8; 11]);

impl Insz {
    /// Parses and validates an INSZ, deciding the post-2000 rule against this year.
    pub fn parse(input: &str) -> Result<Self, InszError> {
        Self::parse_with_year(input, current_year)
    }

    /// Parses and validates an INSZ as python-stdnum would in `current_year`: a
    /// number may belong to someone born in 20yy only once 20yy has begun.
    pub fn parse_as_of(input: &str, current_year: i32) -> Result<Self, InszError> {
        Self::parse_with_year(input, || current_year)
    }

    /// [`Insz::parse_as_of`] with the year asked for only when the 1900s check number
    /// does not match (most numbers are of people born before 2000, and reading the
    /// clock for each of the hundreds of thousands in a registry checkpoint showed), and
    /// without a copy of a number written without separators.
    fn parse_with_year(input: &str, current_year: impl FnOnce() -> i32) -> Result<Self, InszError> {
        let compacted;
        let number = if is_digits(input) {
            input
        } else {
            compacted = compact(input, &[' ', '-', '.']);
            compacted.as_str()
        };
        if !is_digits(number) {
            return Err(InszError::Format);
        }
        if number.len() != 11 {
            return Err(InszError::Length(number.len()));
        }
        let first_nine = digits_value(&number[..9]);
        let found = digits_value(&number[9..]) as u8;
        let expected_1900 = insz_check(first_nine, false);
        if first_nine == 0 && found == 0 {
            return Err(InszError::Format);
        }
        if found != expected_1900 {
            let yy = digits_value(&number[..2]) as i32;
            let expected_2000 = (2000 + yy <= current_year()).then(|| insz_check(first_nine, true));
            if Some(found) != expected_2000 {
                return Err(InszError::Checksum {
                    found,
                    expected_1900,
                    expected_2000,
                });
            }
        }
        let month = digits_value(&number[2..4]) as u8;
        if !matches!(month, 0..=12 | 20..=32 | 40..=52) {
            return Err(InszError::Month(month));
        }
        let mut digits = [0u8; 11];
        digits.copy_from_slice(number.as_bytes());
        Ok(Insz(digits))
    }

    /// The 11 digits without separators: the form the registry stores. Personal data.
    pub fn compact(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The full number in the standard presentation `85.07.30-033.28`. Personal data:
    /// only for output the user asked for with `--show-personal-data` or for files that
    /// must hold it (mode 0600).
    pub fn formatted(&self) -> String {
        let d = self.compact();
        format!(
            "{}.{}.{}-{}.{}",
            &d[0..2],
            &d[2..4],
            &d[4..6],
            &d[6..9],
            &d[9..11]
        )
    }

    /// The masked presentation `**.**.**-**4.07`: only the last three digits show.
    pub fn masked(&self) -> String {
        let d = self.compact();
        format!("**.**.**-**{}.{}", &d[8..9], &d[9..11])
    }

    /// True for a BIS number (month component raised by 20 or 40).
    pub fn is_bis(&self) -> bool {
        matches!(self.0[2], b'2'..=b'5')
    }
}

/// The check number: 97 − (first nine digits mod 97), with a `2` prefixed to the nine
/// digits for people born in 2000 or later.
pub fn insz_check(first_nine: u64, born_2000_or_later: bool) -> u8 {
    let base = if born_2000_or_later {
        2_000_000_000 + first_nine
    } else {
        first_nine
    };
    (97 - base % 97) as u8
}

impl fmt::Display for Insz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Insz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Insz({})", self.masked())
    }
}

impl Serialize for Insz {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.compact())
    }
}

impl<'de> Deserialize<'de> for Insz {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        canonical(
            d,
            |s| all_digits(s, Some(11)),
            "an INSZ written as 11 digits",
            Insz::parse,
        )
    }
}

/// The current calendar year (UTC), from the system clock.
pub(crate) fn current_year() -> i32 {
    civil_year(jiff::Timestamp::now().as_second().div_euclid(86_400))
}

/// The proleptic Gregorian year (UTC) of a day counted from 1970-01-01. Plain
/// arithmetic (H. Hinnant's `civil_from_days`): every INSZ parsed asks for it, and a
/// registry checkpoint holds hundreds of thousands of them.
fn civil_year(days: i64) -> i32 {
    // Days from 0000-03-01, in 400-year eras of 146,097 days; years start in March.
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_based_month = (5 * day_of_year + 2) / 153;
    let year = era * 400 + year_of_era + i64::from(march_based_month >= 10);
    i32::try_from(year).unwrap_or(if year < 0 { i32::MIN } else { i32::MAX })
}

/// Why a written KBO enterprise number is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KboError {
    /// Something other than digits, separators and the `BE` prefix.
    #[error("an enterprise number holds only digits and the separators '.', '-', '/' and space")]
    Format,
    /// Not 10 digits (or the legacy 9) once separators are removed.
    #[error("an enterprise number has 10 digits (or 9 in the legacy form), this one has {0}")]
    Length(usize),
    /// The 10-digit form starts with something other than 0 or 1.
    #[error("an enterprise number starts with 0 or 1")]
    FirstDigit,
    /// The check number does not match.
    #[error("wrong check number {found:02}")]
    Checksum {
        /// As written.
        found: u8,
        /// 97 − (first eight digits mod 97).
        expected: u8,
    },
}

/// A KBO / BCE enterprise number: 10 digits, written `0474.603.083`; the legacy 9-digit
/// form `474.603.083` and a `BE` prefix are accepted and normalised.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kbo([u8; 10]);

impl Kbo {
    /// Parses and validates an enterprise number.
    pub fn parse(input: &str) -> Result<Self, KboError> {
        let mut number = compact(input, &[' ', '-', '.', '/']).to_uppercase();
        if let Some(rest) = number.strip_prefix("BE") {
            number = rest.to_string();
        }
        if let Some(rest) = number.strip_prefix("(0)") {
            number = format!("0{rest}");
        }
        if number.chars().count() == 9 {
            number.insert(0, '0');
        }
        if !is_digits(&number) || digits_value_saturating(&number) == 0 {
            return Err(KboError::Format);
        }
        if number.len() != 10 {
            return Err(KboError::Length(number.len()));
        }
        if !number.starts_with(['0', '1']) {
            return Err(KboError::FirstDigit);
        }
        let found = digits_value(&number[8..]) as u8;
        let first_eight = digits_value(&number[..8]);
        let expected = kbo_check(first_eight);
        // The reference implementation's test is (first eight + check) mod 97 == 0, which
        // also accepts 97, 98 and 99 for check numbers 0, 1 and 2; so does this one.
        if !(first_eight + u64::from(found)).is_multiple_of(97) {
            return Err(KboError::Checksum { found, expected });
        }
        let mut digits = [0u8; 10];
        digits.copy_from_slice(number.as_bytes());
        Ok(Kbo(digits))
    }

    /// The 10 digits without separators.
    pub fn compact(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// True when a digit string is zero; long strings are not zero when any digit is not.
fn digits_value_saturating(s: &str) -> u64 {
    u64::from(s.bytes().any(|b| b != b'0'))
}

/// The check number of an enterprise number: 97 − (first eight digits mod 97).
pub fn kbo_check(first_eight: u64) -> u8 {
    (97 - first_eight % 97) as u8
}

impl fmt::Display for Kbo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.compact();
        write!(f, "{}.{}.{}", &d[0..4], &d[4..7], &d[7..10])
    }
}

impl fmt::Debug for Kbo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kbo({self})")
    }
}

impl Serialize for Kbo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.compact())
    }
}

impl<'de> Deserialize<'de> for Kbo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        canonical(
            d,
            |s| all_digits(s, Some(10)),
            "an enterprise number written as 10 digits",
            Kbo::parse,
        )
    }
}

/// Why a written HCO number is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HcoError {
    /// Empty, or something other than digits.
    #[error("an HCO number holds digits only")]
    Format,
    /// Longer than any HCO number the registry issues.
    #[error("an HCO number has at most {max} digits, this one has {0}", max = Hco::MAX_DIGITS)]
    Length(usize),
}

/// An HCO number identifying a subdivision or site: digits only, unique per registry.
///
/// The manual's numbers have 8 digits; docs/rules.md only says "digits only", so any length
/// from 1 to [`Hco::MAX_DIGITS`] is accepted, and leading zeros are significant.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hco(String);

impl Hco {
    /// The longest HCO number accepted.
    pub const MAX_DIGITS: usize = 16;

    /// Parses an HCO number; surrounding white space is ignored.
    pub fn parse(input: &str) -> Result<Self, HcoError> {
        let number = input.trim();
        if !is_digits(number) {
            return Err(HcoError::Format);
        }
        if number.len() > Self::MAX_DIGITS {
            return Err(HcoError::Length(number.len()));
        }
        Ok(Hco(number.to_string()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Hco {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Hco {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hco({})", self.0)
    }
}

impl Serialize for Hco {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Hco {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        canonical(
            d,
            |s| all_digits(s, None),
            "an HCO number written as digits",
            Hco::parse,
        )
    }
}

/// Why a written username breaks the manual's rules (S3.4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// A character other than the letters a–z and the digits 0–9.
    #[error("a username holds only the letters a-z and digits, not {0:?}")]
    Character(char),
    /// Shorter than 8 or longer than 30 characters.
    #[error("a username has 8 to 30 characters, this one has {0}")]
    Length(usize),
}

/// A CSAM username: letters a–z and digits, 8–30 characters, unique in the registry
/// compared case-insensitively, immutable once assigned.
///
/// Stored in lower case, so that equality is the registry's case-insensitive comparison.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    /// The shortest username allowed.
    pub const MIN_LEN: usize = 8;
    /// The longest username allowed.
    pub const MAX_LEN: usize = 30;

    /// Parses a username; upper-case letters are accepted and folded to lower case.
    pub fn parse(input: &str) -> Result<Self, UsernameError> {
        if let Some(bad) = input.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(UsernameError::Character(bad));
        }
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&input.len()) {
            return Err(UsernameError::Length(input.len()));
        }
        Ok(Username(input.to_ascii_lowercase()))
    }

    /// The username in lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.0)
    }
}

impl Serialize for Username {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Username {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        canonical(
            d,
            |s| !s.bytes().any(|b| b.is_ascii_uppercase()),
            "a username written in lower case",
            Username::parse,
        )
    }
}

/// Deserialises an identifier from its one canonical spelling (the one its `Serialize`
/// writes), refusing the other spellings its `parse` takes from people (separators,
/// upper case). serde reads what machines wrote: the registry API, whose patterns name
/// that spelling, saved plans and the journal; people's files go through `parse`. The
/// message never repeats the value (it may be a national register number).
fn canonical<'de, D: Deserializer<'de>, T, E: fmt::Display>(
    d: D,
    is_canonical: fn(&str) -> bool,
    spelling: &'static str,
    parse: fn(&str) -> Result<T, E>,
) -> Result<T, D::Error> {
    /// Reads the text where the format has it (no copy into a `String` first: a
    /// registry checkpoint holds hundreds of thousands of identifiers).
    struct Canonical<T, E> {
        is_canonical: fn(&str) -> bool,
        spelling: &'static str,
        parse: fn(&str) -> Result<T, E>,
    }
    impl<T, E: fmt::Display> serde::de::Visitor<'_> for Canonical<T, E> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<Er: serde::de::Error>(self, s: &str) -> Result<T, Er> {
            if !(self.is_canonical)(s) {
                return Err(Er::custom(format!(
                    "expected {}, without separators or spaces",
                    self.spelling
                )));
            }
            (self.parse)(s).map_err(Er::custom)
        }
    }
    d.deserialize_str(Canonical {
        is_canonical,
        spelling,
        parse,
    })
}

fn all_digits(s: &str, len: Option<usize>) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && len.is_none_or(|n| s.len() == n)
}

/// Where a password is to be found when an account is created: never the password.
///
/// The desired state only ever holds this reference; the secret itself is read at
/// apply time, for accounts being created, and lives only in a [`Password`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordRef {
    /// The name of an environment variable holding the password.
    Env(String),
    /// A file whose content (trailing newline removed) is the password.
    File(PathBuf),
}

impl fmt::Display for PasswordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordRef::Env(name) => write!(f, "environment variable {name}"),
            PasswordRef::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// Why a password breaks the manual's rules (S3.4 "specificaties wachtwoord").
/// The messages never contain the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Not 10–15 characters.
    #[error("a password has 10 to 15 characters, this one has {0}")]
    Length(usize),
    /// Contains a space.
    #[error("a password may not contain spaces")]
    Space,
    /// A character that is neither a letter, a digit nor an allowed special character.
    #[error(
        "a password may only use letters, digits and the special characters {}",
        Password::SPECIALS
    )]
    Character,
    /// Fewer than two digits or special characters.
    #[error("a password needs at least 2 characters that are digits or special characters")]
    TooFewDigitsOrSpecials,
}

/// A password, resolved from its [`PasswordRef`] only to create an account.
///
/// It has no `Display`, no `Serialize`, and its `Debug` is redacted, so that it cannot
/// end up in output, logs or files by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The special characters the manual allows.
    pub const SPECIALS: &'static str = ";,:=?./*$%><&@#'(!{})_-";

    /// Checks the manual's rules and wraps the secret.
    pub fn new(secret: String) -> Result<Self, PasswordError> {
        let len = secret.chars().count();
        if !(10..=15).contains(&len) {
            return Err(PasswordError::Length(len));
        }
        if secret.chars().any(char::is_whitespace) {
            return Err(PasswordError::Space);
        }
        if secret
            .chars()
            .any(|c| !c.is_ascii_alphanumeric() && !Self::SPECIALS.contains(c))
        {
            return Err(PasswordError::Character);
        }
        let strong = secret
            .chars()
            .filter(|c| c.is_ascii_digit() || Self::SPECIALS.contains(*c))
            .count();
        if strong < 2 {
            return Err(PasswordError::TooFewDigitsOrSpecials);
        }
        Ok(Password(secret))
    }

    /// The secret, for the one request that creates the account.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_implementation_examples_are_valid() {
        // python-stdnum's documented examples for be.nn, be.bis and be.ssn.
        for (written, compact) in [
            ("85.07.30-033.28", "85073003328"),
            ("98.47.28-997.65", "98472899765"),
            ("17.07.30-033.84", "17073003384"),
            ("01.49.07-001.85", "01490700185"),
        ] {
            let insz = Insz::parse_as_of(written, 2026).unwrap();
            assert_eq!(insz.compact(), compact);
            assert_eq!(insz.formatted(), written);
        }
        assert!(Insz::parse_as_of("01.49.07-001.85", 2026).unwrap().is_bis());
        assert!(!Insz::parse_as_of("85.07.30-033.28", 2026).unwrap().is_bis());
    }

    #[test]
    fn every_written_form_of_an_insz() {
        for written in [
            "850730 033 28",
            "85.07.30-033.28",
            "85073003328",
            " 85073003328\n",
        ] {
            assert_eq!(
                Insz::parse_as_of(written, 2026).unwrap().compact(),
                "85073003328"
            );
        }
    }

    #[test]
    fn wrong_insz_check_number_says_which_was_expected() {
        // The example of a wrong check number that docs/format.md's diagnostics show.
        let err = Insz::parse_as_of("82.03.04-118.51", 2026).unwrap_err();
        assert_eq!(
            err,
            InszError::Checksum {
                found: 51,
                expected_1900: 50,
                expected_2000: None
            }
        );
    }

    #[test]
    fn post_2000_rule_applies_only_once_the_year_has_begun() {
        // 17.07.30-033.84 is valid only as a birth in 2017.
        assert!(Insz::parse_as_of("17.07.30-033.84", 2017).is_ok());
        assert!(matches!(
            Insz::parse_as_of("17.07.30-033.84", 2016),
            Err(InszError::Checksum {
                expected_2000: None,
                ..
            })
        ));
    }

    #[test]
    fn month_components() {
        // 13 is no month; 33 is no BIS month; 00 (unknown month) is accepted.
        for (nine, ok) in [
            ("851330033", false),
            ("853330033", false),
            ("850030033", true),
        ] {
            let check = insz_check(nine.parse().unwrap(), false);
            let number = format!("{nine}{check:02}");
            assert_eq!(Insz::parse_as_of(&number, 2026).is_ok(), ok, "{number}");
        }
    }

    #[test]
    fn insz_displays_masked() {
        let insz = Insz::parse_as_of("85.07.30-033.28", 2026).unwrap();
        assert_eq!(insz.to_string(), "**.**.**-**3.28");
        assert_eq!(format!("{insz:?}"), "Insz(**.**.**-**3.28)");
        assert!(!format!("{insz} {insz:?}").contains("850730"));
    }

    #[test]
    fn manual_enterprise_numbers() {
        let a = Kbo::parse("474.603.083").unwrap();
        assert_eq!(a.compact(), "0474603083");
        assert_eq!(a.to_string(), "0474.603.083");
        let b = Kbo::parse("410.561.210").unwrap();
        assert_eq!(b.to_string(), "0410.561.210");
        assert_eq!(Kbo::parse("BE 0410.561.210").unwrap(), b);
        assert_eq!(Kbo::parse("be0410561210").unwrap(), b);
        assert_eq!(
            Kbo::parse("0474.603.084"),
            Err(KboError::Checksum {
                found: 84,
                expected: 83
            })
        );
        assert_eq!(Kbo::parse("2474603083"), Err(KboError::FirstDigit));
    }

    #[test]
    fn serde_takes_the_canonical_spelling_only() {
        let insz: Insz = serde_json::from_str("\"82120926312\"").expect("canonical INSZ");
        assert_eq!(serde_json::to_string(&insz).unwrap(), "\"82120926312\"");
        let err = serde_json::from_str::<Insz>("\"82.12.09-263.12\"").unwrap_err();
        assert!(err.to_string().contains("11 digits"), "{err}");
        assert!(
            !err.to_string().contains("263"),
            "the number is not repeated: {err}"
        );
        assert!(serde_json::from_str::<Kbo>("\"0198765470\"").is_ok());
        for written in ["0198.765.470", "198765470", "BE0198765470"] {
            assert!(Kbo::parse(written).is_ok(), "people may write {written}");
            assert!(serde_json::from_str::<Kbo>(&format!("\"{written}\"")).is_err());
        }
        assert!(serde_json::from_str::<Hco>("\"71977101\"").is_ok());
        assert!(serde_json::from_str::<Hco>("\" 71977101\"").is_err());
    }

    #[test]
    fn kbo_check_numbers_congruent_mod_97_are_accepted() {
        // Regression: python-stdnum accepts 0575.733.6 99 (99 ≡ 2 mod 97).
        assert_eq!(Kbo::parse("575733699").unwrap().compact(), "0575733699");
        assert_eq!(Kbo::parse("0575733602").unwrap().compact(), "0575733602");
    }

    #[test]
    fn civil_year_boundaries() {
        assert_eq!(civil_year(0), 1970);
        assert_eq!(civil_year(10_956), 1999); // 1999-12-31
        assert_eq!(civil_year(10_957), 2000); // 2000-01-01
        assert_eq!(civil_year(20_785), 2026); // 2026-11-28
        // Every 997th day over ±2,000 years, against jiff's calendar.
        for days in (-730_000..730_000)
            .step_by(997)
            .chain([-719_468, -719_469, 11_016, 11_017])
        {
            let jiff = jiff::Timestamp::from_second(days * 86_400)
                .expect("in range")
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .year();
            assert_eq!(civil_year(days), i32::from(jiff), "day {days}");
        }
    }

    #[test]
    fn username_rules() {
        assert_eq!(
            Username::parse("AnnJanssens2").unwrap().as_str(),
            "annjanssens2"
        );
        assert_eq!(
            Username::parse("ann.jans"),
            Err(UsernameError::Character('.'))
        );
        assert_eq!(Username::parse("short1"), Err(UsernameError::Length(6)));
        // serde takes the canonical spelling only (what the API's pattern says).
        assert!(serde_json::from_str::<Username>("\"AnnJanssens2\"").is_err());
        assert_eq!(
            serde_json::from_str::<Username>("\"annjanssens2\"").ok(),
            Username::parse("AnnJanssens2").ok()
        );
        assert!(Username::parse(&"a".repeat(30)).is_ok());
        assert_eq!(
            Username::parse(&"a".repeat(31)),
            Err(UsernameError::Length(31))
        );
        assert_eq!(
            Username::parse("annjanßens"),
            Err(UsernameError::Character('ß'))
        );
    }

    #[test]
    fn password_rules_and_redaction() {
        let pw = Password::new("Mammo2026!x".to_string()).unwrap();
        assert_eq!(format!("{pw:?}"), "Password(<redacted>)");
        assert_eq!(
            Password::new("short1!".into()),
            Err(PasswordError::Length(7))
        );
        assert_eq!(
            Password::new("has space12".into()),
            Err(PasswordError::Space)
        );
        assert_eq!(
            Password::new("abcdefghij1".into()),
            Err(PasswordError::TooFewDigitsOrSpecials)
        );
        assert_eq!(
            Password::new("abcdefgh1~2".into()),
            Err(PasswordError::Character)
        );
    }

    #[test]
    fn hco_numbers() {
        assert_eq!(Hco::parse(" 71012817 ").unwrap().as_str(), "71012817");
        assert_eq!(Hco::parse("7101-2817"), Err(HcoError::Format));
        assert_eq!(Hco::parse(""), Err(HcoError::Format));
        assert_eq!(Hco::parse(&"1".repeat(17)), Err(HcoError::Length(17)));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn dotted(d: &str) -> String {
        format!(
            "{}.{}.{}-{}.{}",
            &d[0..2],
            &d[2..4],
            &d[4..6],
            &d[6..9],
            &d[9..11]
        )
    }

    proptest! {
        /// Any nine digits with a real month and the computed check number form a valid
        /// INSZ, in every written form, and the forms round-trip through display.
        #[test]
        fn insz_with_computed_check_round_trips(
            yy in 0u64..100, month in prop_oneof![0u64..=12, 20u64..=32, 40u64..=52],
            dd in 0u64..100, serial in 1u64..999, born_2000 in any::<bool>(),
        ) {
            let nine = yy * 10_000_000 + month * 100_000 + dd * 1000 + serial;
            let year = 2026;
            prop_assume!(!born_2000 || 2000 + yy as i32 <= year);
            let number = format!("{nine:09}{:02}", insz_check(nine, born_2000));
            let insz = Insz::parse_as_of(&number, year).unwrap();
            prop_assert_eq!(insz.compact(), number.as_str());
            prop_assert_eq!(Insz::parse_as_of(&insz.formatted(), year).unwrap(), insz);
            prop_assert_eq!(Insz::parse_as_of(&dotted(&number), year).unwrap(), insz);
            let spaced = format!("{} {} {}", &number[..6], &number[6..9], &number[9..]);
            prop_assert_eq!(Insz::parse_as_of(&spaced, year).unwrap(), insz);
            let tail = format!("{}.{}", &number[8..9], &number[9..]);
            prop_assert!(insz.masked().ends_with(&tail));
        }

        /// Changing the check number to anything but the computed ones makes it invalid.
        #[test]
        fn insz_with_any_other_check_is_refused(nine in 0u64..1_000_000_000, check in 0u8..100) {
            let year = 2026;
            let yy = (nine / 10_000_000) as i32;
            let c1900 = insz_check(nine, false);
            let c2000 = (2000 + yy <= year).then(|| insz_check(nine, true));
            prop_assume!(check != c1900 && Some(check) != c2000);
            let number = format!("{nine:09}{check:02}");
            let refused = matches!(Insz::parse_as_of(&number, year), Err(InszError::Checksum { .. }) | Err(InszError::Format));
            prop_assert!(refused);
        }

        /// The check arithmetic: 97 − (n mod 97) is in 1..=97 and makes n·100 + check ≡ 0
        /// (mod 97) when taken with the nine digits.
        #[test]
        fn insz_check_arithmetic(nine in 0u64..1_000_000_000, born_2000 in any::<bool>()) {
            let check = insz_check(nine, born_2000);
            prop_assert!((1..=97).contains(&check));
            let base = if born_2000 { 2_000_000_000 + nine } else { nine };
            prop_assert_eq!((base + u64::from(check)) % 97, 0);
        }

        /// KBO numbers: 9- and 10-digit forms with the computed check agree and display
        /// as 0xxx.xxx.xxx.
        #[test]
        fn kbo_round_trips(first_eight in 0u64..20_000_000) {
            prop_assume!(first_eight > 0);
            let number = format!("{first_eight:08}{:02}", kbo_check(first_eight));
            let kbo = Kbo::parse(&number).unwrap();
            prop_assert_eq!(Kbo::parse(&kbo.to_string()).unwrap(), kbo);
            if let Some(legacy) = number.strip_prefix('0') {
                prop_assert_eq!(Kbo::parse(legacy).unwrap(), kbo);
            }
        }

        /// Usernames: every 8-30 character a-z0-9 string parses, in any case, to itself
        /// in lower case.
        #[test]
        fn usernames_fold_case(name in "[a-zA-Z0-9]{8,30}") {
            let u = Username::parse(&name).unwrap();
            prop_assert_eq!(u.as_str(), name.to_ascii_lowercase());
            prop_assert_eq!(Username::parse(&name.to_ascii_uppercase()).unwrap(), u);
        }
    }
}
