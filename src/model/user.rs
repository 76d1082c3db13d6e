//! A user record, and its details: the part that desired, live and planned users share.
//!
//! A user record on a level is one [`User`], live or to be created. The six detail
//! fields (names, title, language, e-mail addresses) are one [`UserDetails`] wherever a
//! user appears. The desired-state, live-state and change values flatten it
//! (`#[serde(flatten)]`), so their serde form stays flat; the writes
//! ([`Write::UpdateUser`], [`Write::CreateUser`]) carry it whole, under `details`.
//!
//! No I/O, no async; serde and schemars only.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::ids::{Insz, Username};
use super::live::PersonName;
use super::values::{Applications, Email, Function, Language};
#[cfg(doc)]
use super::{Person, UserValue, Write};

/// The editable details of a user record. The registry contract uses this type too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserDetails {
    /// Family name.
    pub last_name: String,
    /// Given name.
    pub first_name: String,
    /// Title.
    pub title: Option<String>,
    /// Account language.
    pub language: Language,
    /// E-mail address.
    pub email: Email,
    /// Local e-mail address.
    pub local_email: Option<Email>,
}

/// A user record: one person on one level (normally a site), as the registry holds it
/// (in a live state) and as a write creates it ([`Write::CreateUser`]).
///
/// The one user type of the registry contract; it differs from its neighbours only where
/// they really do: a planned value ([`UserValue`]) is keyed by the INSZ and carries a
/// password reference instead, a desired [`Person`] works at several sites with optional
/// applications. Its serde form is flat (the details beside the other fields), the form
/// of live states and their digests; a write carries it with the details nested under
/// `details`, the journal's and the wire's form (see [`Write::CreateUser`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Read errors name it as the contract's schema does (`LiveUser`), as they always have.
#[serde(expecting = "struct LiveUser")]
pub struct User {
    /// National register number.
    pub insz: Insz,
    /// The person's CSAM username (the same on every level): new, or the one the person
    /// already has.
    pub username: Username,
    /// Names, title, language and e-mail addresses.
    #[serde(flatten)]
    pub details: UserDetails,
    /// Whether the user is active.
    pub active: bool,
    /// Secured applications enabled for the user.
    pub applications: Applications,
    /// Functions on this level; on any level but a site they give no access (R4). A
    /// planned new user has none: functions follow in a later session (S4.9).
    pub functions: BTreeSet<Function>,
}

impl UserDetails {
    /// How reports name the person with these details and `username`.
    pub fn person_name(&self, username: &Username) -> PersonName {
        PersonName {
            last_name: self.last_name.clone(),
            first_name: self.first_name.clone(),
            username: username.clone(),
        }
    }
}

impl User {
    /// The names and username of this record.
    pub fn person_name(&self) -> PersonName {
        self.details.person_name(&self.username)
    }
}

#[cfg(test)]
mod tests {
    //! The serde forms a user has in each format, byte for byte: saved plans, the live
    //! digests in a plan's id, the journal and the idempotency fingerprint hash or store
    //! exactly these bytes, so folding the user types must not change them.
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::model::{
        Application, Function, Hco, Insz, PasswordRef, Person, User, UserLevel, UserValue,
        Username, WithPassword, Write,
    };

    fn details() -> UserDetails {
        UserDetails {
            last_name: "Peeters".into(),
            first_name: "An".into(),
            title: None,
            language: Language::Dutch,
            email: Email::parse("an.peeters@example.org").expect("valid e-mail"),
            local_email: None,
        }
    }

    fn insz() -> Insz {
        Insz::parse_as_of("85.07.30-033.28", 2026).expect("valid INSZ")
    }

    fn username() -> Username {
        Username::parse("apeeters").expect("valid username")
    }

    const DETAILS: &str = r#""last_name":"Peeters","first_name":"An","title":null,"language":"nl","email":"an.peeters@example.org","local_email":null"#;

    #[test]
    fn live_user_and_user_value_stay_flat() {
        let live = User {
            insz: insz(),
            username: username(),
            details: details(),
            active: true,
            applications: [Application::Heracles].into(),
            functions: [Function::Technologist].into(),
        };
        let json = serde_json::to_string(&live).expect("serialises");
        assert_eq!(
            json,
            format!(
                r#"{{"insz":"85073003328","username":"apeeters",{DETAILS},"active":true,"applications":["heracles"],"functions":["technologist"]}}"#
            )
        );
        assert_eq!(serde_json::from_str::<User>(&json).expect("reads"), live);

        let value = UserValue {
            username: username(),
            details: details(),
            active: true,
            applications: [Application::Heracles].into(),
            functions: BTreeSet::new(),
            password: Some(PasswordRef::Env("PW".into())),
        };
        let json = serde_json::to_string(&value).expect("serialises");
        assert_eq!(
            json,
            format!(
                r#"{{"username":"apeeters",{DETAILS},"active":true,"applications":["heracles"],"functions":[],"password":{{"env":"PW"}}}}"#
            )
        );
        assert_eq!(
            serde_json::from_str::<UserValue>(&json).expect("reads"),
            value
        );
    }

    #[test]
    fn a_person_stays_flat() {
        let person = Person {
            insz: insz(),
            username: username(),
            details: details(),
            password: None,
            active: true,
            applications: None,
            sites: BTreeMap::from([(
                Hco::parse("71977101").expect("valid HCO"),
                BTreeSet::from([Function::Technologist]),
            )]),
        };
        assert_eq!(
            serde_json::to_string(&person).expect("serialises"),
            format!(
                r#"{{"insz":"85073003328","username":"apeeters",{DETAILS},"password":null,"active":true,"applications":null,"sites":{{"71977101":["technologist"]}}}}"#
            )
        );
    }

    #[test]
    fn a_new_user_keeps_its_details_nested_on_the_wire_and_in_the_fingerprint() {
        let write = Write::CreateUser {
            level: UserLevel::Site {
                hco: Hco::parse("71977101").expect("valid HCO"),
            },
            user: User {
                insz: insz(),
                username: username(),
                details: details(),
                active: true,
                applications: [Application::Heracles].into(),
                functions: BTreeSet::new(),
            },
        };
        let user = format!(
            r#""insz":"85073003328","username":"apeeters","details":{{{DETAILS}}},"active":true,"applications":["heracles"],"functions":[]"#
        );
        let level = r#""level":{"level":"site","hco":"71977101"}"#;
        // The journal's form.
        let json = serde_json::to_string(&write).expect("serialises");
        assert_eq!(
            json,
            format!(r#"{{"change":"create_user",{level},"user":{{{user}}}}}"#)
        );
        assert_eq!(serde_json::from_str::<Write>(&json).expect("reads"), write);
        // The bytes of the idempotency fingerprint (`embedded::write_print`).
        let mut bytes = Vec::new();
        WithPassword::<PasswordRef>::serialize_parts(
            &write,
            None,
            &mut serde_json::Serializer::new(&mut bytes),
        )
        .expect("serialises");
        assert_eq!(
            String::from_utf8(bytes).expect("UTF-8"),
            format!(r#"{{"change":"create_user",{level},"user":{{{user},"password":null}}}}"#)
        );
    }

    #[test]
    fn read_errors_name_the_contracts_schemas() {
        let bad_write =
            r#"{"change":"create_user","level":{"level":"site","hco":"71977101"},"user":5}"#;
        let error = serde_json::from_str::<Write>(bad_write).expect_err("refused");
        assert!(
            error.to_string().contains("expected struct NewUser"),
            "{error}"
        );
        let error = serde_json::from_str::<User>("5").expect_err("refused");
        assert!(
            error.to_string().contains("expected struct LiveUser"),
            "{error}"
        );
    }
}
