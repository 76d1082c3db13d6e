//! The closed vocabularies of the format (languages, functions, secured applications,
//! capacity types) and e-mail addresses.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Declares a closed vocabulary: an enum whose YAML spelling is fixed, with `ALL`,
/// `as_str`, `FromStr` (returning the list of valid spellings on failure) and `Display`.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling used in the desired-state format.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { allowed: &[$($text),+] }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A value outside a closed vocabulary; `allowed` lists the valid spellings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// The valid spellings.
    pub allowed: &'static [&'static str],
}

vocabulary! {
    /// The language of a user's CSAM account.
    // Each variant is its code (`nl` Dutch, `fr` French, `de` German, `en` English). No
    // doc per variant: schemars would turn each into a `oneOf` branch and change the
    // committed OpenAPI document and schemas.
    #[allow(missing_docs)]
    Language { Dutch = "nl", French = "fr", German = "de", English = "en" }
}

vocabulary! {
    /// A function on a site (only meaningful there, R4).
    Function {
        /// Hoofdradioloog; a physician.
        HeadRadiologist = "head-radiologist",
        /// Radioloog; a physician.
        Radiologist = "radiologist",
        /// Laborant.
        Technologist = "technologist",
        /// Administratief medewerker.
        Administrative = "administrative",
    }
}

vocabulary! {
    /// A secured application that is enabled per level (R5).
    Application {
        /// The screening application itself.
        Heracles = "heracles",
        /// The eHealth mailbox.
        EHealthBox = "ehealthbox",
        /// eHealth certificate manager.
        EHealthCertificateManager = "ehealth-certificate-manager",
        /// EBMPracticeNet.
        EbmPracticeNet = "ebmpracticenet",
    }
}

vocabulary! {
    /// The capacity (hoedanigheid) type; version 1 knows only the mammography unit.
    CapacityType {
        /// "Mammografische eenheid kankerbevolkingsonderzoek".
        MammographyUnit = "mammography-unit",
    }
}

impl Function {
    /// Physicians (head radiologist, radiologist) also need eHealthBox (R5).
    pub fn is_physician(self) -> bool {
        matches!(self, Function::HeadRadiologist | Function::Radiologist)
    }
}

/// A set of secured applications.
pub type Applications = BTreeSet<Application>;

/// The default applications of a capacity, subdivision or site: Heracles and eHealthBox.
pub fn default_structure_applications() -> Applications {
    [Application::Heracles, Application::EHealthBox].into()
}

/// The default applications of a user with these functions on a site: Heracles, plus
/// eHealthBox for physicians.
pub fn default_user_applications<'a>(
    functions: impl IntoIterator<Item = &'a Function>,
) -> Applications {
    let mut apps: Applications = [Application::Heracles].into();
    if functions.into_iter().any(|f| f.is_physician()) {
        apps.insert(Application::EHealthBox);
    }
    apps
}

/// Why a written e-mail address is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Not of the form `local@domain`.
    #[error("an e-mail address has the form name@domain.tld")]
    Shape,
    /// A character a web form's e-mail field refuses.
    #[error("{0:?} is not allowed in an e-mail address")]
    Character(char),
    /// Longer than 254 characters.
    #[error("an e-mail address has at most 254 characters")]
    Length,
}

/// An e-mail address, checked as the HTML "valid e-mail address" rule (the rule a web
/// application's e-mail field, such as CSAM's, applies), with a dotted domain required.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Email(String);

/// Written as the string it is, without the copy `into = "String"` would make.
impl Serialize for Email {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl Email {
    /// Parses an e-mail address; surrounding white space is ignored.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        Email::check(input).map(|s| Email(s.to_string()))
    }

    /// The address `input` holds (white space around it removed), when it is one.
    fn check(input: &str) -> Result<&str, EmailError> {
        let s = input.trim();
        if s.len() > 254 {
            return Err(EmailError::Length);
        }
        let (local, domain) = s.split_once('@').ok_or(EmailError::Shape)?;
        if local.is_empty() || domain.is_empty() {
            return Err(EmailError::Shape);
        }
        const LOCAL_SPECIALS: &str = ".!#$%&'*+/=?^_`{|}~-";
        // Bytes, not `str::contains`: its searcher showed when reading a registry
        // checkpoint, which holds hundreds of thousands of addresses.
        let special = |c: char| c.is_ascii() && LOCAL_SPECIALS.as_bytes().contains(&(c as u8));
        if let Some(c) = local
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && !special(*c))
        {
            return Err(EmailError::Character(c));
        }
        if !domain.contains('.') {
            return Err(EmailError::Shape);
        }
        for label in domain.split('.') {
            if label.is_empty()
                || label.len() > 63
                || label.starts_with('-')
                || label.ends_with('-')
            {
                return Err(EmailError::Shape);
            }
            if let Some(c) = label
                .chars()
                .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
            {
                return Err(EmailError::Character(c));
            }
        }
        Ok(s)
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    /// Keeps the string when it needs no trimming (no copy: a registry checkpoint holds
    /// hundreds of thousands of addresses).
    fn try_from(s: String) -> Result<Self, EmailError> {
        let checked = Email::check(&s)?;
        if checked.len() == s.len() {
            Ok(Email(s))
        } else {
            Ok(Email(checked.to_string()))
        }
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_round_trip() {
        for f in Function::ALL {
            assert_eq!(f.as_str().parse::<Function>().unwrap(), *f);
        }
        let err = "surgeon".parse::<Function>().unwrap_err();
        assert!(err.allowed.contains(&"head-radiologist"));
    }

    #[test]
    fn user_application_defaults_follow_r5() {
        assert_eq!(
            default_user_applications(&[Function::Technologist]),
            [Application::Heracles].into()
        );
        assert_eq!(
            default_user_applications(&[Function::Administrative, Function::Radiologist]),
            [Application::Heracles, Application::EHealthBox].into()
        );
    }

    #[test]
    fn emails() {
        assert!(Email::parse("me.oostende@zeevaart.example").is_ok());
        assert_eq!(Email::parse("me@localhost"), Err(EmailError::Shape));
        assert_eq!(Email::parse("no-at-sign.example"), Err(EmailError::Shape));
        assert_eq!(
            Email::parse("a b@x.example"),
            Err(EmailError::Character(' '))
        );
        assert_eq!(
            Email::parse("a@x_y.example"),
            Err(EmailError::Character('_'))
        );
    }
}

/// The listing's "Type" column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    /// `LB`: the local administrator of the capacity.
    LocalAdministrator,
    /// `SB`: the administrator of a subdivision or site.
    SubdivisionAdministrator,
    /// `USER`: an ordinary user.
    User,
}

impl AccountType {
    /// The code the listing's Type column shows.
    pub fn code(self) -> &'static str {
        match self {
            AccountType::LocalAdministrator => "LB",
            AccountType::SubdivisionAdministrator => "SB",
            AccountType::User => "USER",
        }
    }
}

impl fmt::Display for AccountType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
