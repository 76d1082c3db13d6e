//! Changes: what `diff` finds between the desired and the live state, object by object.
//!
//! A [`Change`] names one registry object ([`Object`]), says what happens to it
//! ([`ChangeKind`]), carries the object's value before and after ([`ObjectValue`]) and the
//! field-level differences ([`FieldChange`]) for people to review. The planner turns
//! changes into registry writes and orders them; the renderer shows them. Findings
//! ([`Finding`]) are the warnings and errors found on the way.
//!
//! Plain data: no I/O, no async. Serde only, because saved plans carry changes.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::desired::{AccessManager, Representative};
use super::ids::{Hco, Insz, Kbo, PasswordRef, Username};
use super::live::LiveAdministrator;
use super::user::{User, UserDetails};
use super::values::{Applications, CapacityType, Email, Function};

/// The level a user record lives on. Only the site level gives access (R4). The registry
/// contract uses this type too (as `Level`).
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(tag = "level", rename_all = "snake_case")]
#[schemars(rename = "Level")]
pub enum UserLevel {
    /// The capacity of an enterprise.
    Capacity {
        /// The enterprise.
        kbo: Kbo,
        /// The capacity type.
        kind: CapacityType,
    },
    /// A subdivision.
    Subdivision {
        /// Its HCO number.
        hco: Hco,
    },
    /// A site.
    Site {
        /// Its HCO number.
        hco: Hco,
    },
}

impl UserLevel {
    /// The site's HCO number, for a user on a site.
    pub fn site(&self) -> Option<&Hco> {
        match self {
            UserLevel::Site { hco } => Some(hco),
            _ => None,
        }
    }
}

impl fmt::Display for UserLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserLevel::Capacity { kind, .. } => write!(f, "capacity {kind}"),
            UserLevel::Subdivision { hco } => write!(f, "subdivision {hco}"),
            UserLevel::Site { hco } => write!(f, "site {hco}"),
        }
    }
}

/// One registry object of an enterprise: the address a change is about.
///
/// The derived order is the order of the tree (managers, capacity, subdivisions, sites,
/// users), which is also the order in which changes are listed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "object", rename_all = "snake_case")]
pub enum Object {
    /// The main access manager (HTB) and its designation (R7).
    MainAccessManager {
        /// The HTB.
        insz: Insz,
    },
    /// An access manager (TB).
    AccessManager {
        /// The access manager.
        insz: Insz,
    },
    /// A capacity.
    Capacity {
        /// Its type.
        kind: CapacityType,
    },
    /// A subdivision.
    Subdivision {
        /// Its HCO number.
        hco: Hco,
    },
    /// A site.
    Site {
        /// Its HCO number.
        hco: Hco,
    },
    /// A user record: one person on one level.
    User {
        /// The level.
        level: UserLevel,
        /// The person.
        insz: Insz,
    },
}

impl Object {
    /// A short description without personal data (`site 71977101`, `user on site …`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Object::MainAccessManager { .. } => "main access manager",
            Object::AccessManager { .. } => "access manager",
            Object::Capacity { .. } => "capacity",
            Object::Subdivision { .. } => "subdivision",
            Object::Site { .. } => "site",
            Object::User { .. } => "user",
        }
    }

    /// The person the object is, for managers and users.
    pub fn person(&self) -> Option<&Insz> {
        match self {
            Object::MainAccessManager { insz }
            | Object::AccessManager { insz }
            | Object::User { insz, .. } => Some(insz),
            _ => None,
        }
    }
}

/// What happens to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Created (`+`).
    Create,
    /// Changed in place (`~`).
    Update,
    /// Deleted and created again, because the registry cannot change it in place (`±`).
    Replace,
    /// Deleted (`-`).
    Delete,
}

impl ChangeKind {
    /// The symbol used in plan output.
    pub fn symbol(self) -> &'static str {
        match self {
            ChangeKind::Create => "+",
            ChangeKind::Update => "~",
            ChangeKind::Replace => "±",
            ChangeKind::Delete => "-",
        }
    }

    /// The word used in plan output.
    pub fn verb(self) -> &'static str {
        match self {
            ChangeKind::Create => "create",
            ChangeKind::Update => "update",
            ChangeKind::Replace => "replace",
            ChangeKind::Delete => "delete",
        }
    }
}

/// Why a change is a deletion or a replacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The registry has it; the desired state does not declare it.
    NotDeclared,
    /// A user record on the capacity or subdivision level: it gives no access (R4) and
    /// must be deleted before the tree is re-registered (S3.6).
    WrongLevel,
    /// The desired username differs: usernames are immutable, so the user is deleted and
    /// created again, and the account's history is lost.
    UsernameChanged,
    /// The site sits under another subdivision in the registry; a site's parent cannot
    /// change, so it is deleted and created again.
    SiteMoved,
    /// The site the user record lives on is replaced.
    SiteReplaced,
    /// The registry cannot change an access manager in place: removed and added again.
    NoUpdateInRegistry,
}

impl Cause {
    /// A one-line explanation for plan output.
    pub fn explain(self) -> &'static str {
        match self {
            Cause::NotDeclared => "not in the desired state: will be deleted",
            Cause::WrongLevel => "user at the wrong level: gives no access (R4)",
            Cause::UsernameChanged => {
                "username changed: usernames are immutable, the account's history is lost"
            }
            Cause::SiteMoved => "site under another subdivision: a site cannot move",
            Cause::SiteReplaced => "its site is replaced",
            Cause::NoUpdateInRegistry => "the registry cannot change an access manager in place",
        }
    }
}

/// A capacity's registry value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacityValue {
    /// Contact e-mail.
    pub email: Email,
    /// Local administrator.
    pub local_administrator: LiveAdministrator,
    /// Secured applications.
    pub applications: Applications,
    /// Active or not.
    pub active: bool,
}

/// A subdivision's registry value (without its sites).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubdivisionValue {
    /// The capacity it belongs to.
    pub capacity: CapacityType,
    /// Name.
    pub name: String,
    /// Contact e-mail.
    pub email: Email,
    /// Administrator.
    pub administrator: LiveAdministrator,
    /// Secured applications.
    pub applications: Applications,
    /// Active or not.
    pub active: bool,
}

/// A site's registry value (without its users).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteValue {
    /// The parent subdivision.
    pub subdivision: Hco,
    /// Name.
    pub name: String,
    /// Contact e-mail.
    pub email: Option<Email>,
    /// Administrator.
    pub administrator: LiveAdministrator,
    /// Secured applications.
    pub applications: Applications,
    /// Active or not.
    pub active: bool,
}

/// A user record's registry value: a [`User`] without its INSZ (the key of its
/// [`Object::User`]) and, on the desired side, with where a new account's password is
/// read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserValue {
    /// The person's username.
    pub username: Username,
    /// Names, title, language and e-mail addresses.
    #[serde(flatten)]
    pub details: UserDetails,
    /// Active or not.
    pub active: bool,
    /// Secured applications.
    pub applications: Applications,
    /// Functions on this level.
    pub functions: BTreeSet<Function>,
    /// Where the password is read if the account must be created (desired side only;
    /// never the password itself, and never compared).
    pub password: Option<PasswordRef>,
}

impl UserValue {
    /// A live user's value (no password reference: the registry never has one).
    pub fn of_live(user: &User) -> Self {
        let User {
            username,
            details,
            active,
            applications,
            functions,
            ..
        } = user.clone();
        UserValue {
            username,
            details,
            active,
            applications,
            functions,
            password: None,
        }
    }

    /// The user this value is for the person `insz` (the password reference stays
    /// behind: it travels beside the write).
    pub fn user(&self, insz: Insz) -> User {
        let UserValue {
            username,
            details,
            active,
            applications,
            functions,
            password: _,
        } = self.clone();
        User {
            insz,
            username,
            details,
            active,
            applications,
            functions,
        }
    }
}

/// The designation request of a main access manager (R7, S1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesignationValue {
    /// The HTB to be.
    pub main_access_manager: Representative,
    /// The legal representative who signs.
    pub legal_representative: Representative,
}

/// An object's value, as the registry holds it (or would hold it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "value", rename_all = "snake_case")]
pub enum ObjectValue {
    /// A requested main access manager (boxed: two people's details, and rare, so
    /// that every other value stays small).
    MainAccessManager(Box<DesignationValue>),
    /// An access manager.
    AccessManager(AccessManager),
    /// A capacity.
    Capacity(CapacityValue),
    /// A subdivision.
    Subdivision(SubdivisionValue),
    /// A site.
    Site(SiteValue),
    /// A user record.
    User(UserValue),
}

/// A field's value, typed so that renderers can mask personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum FieldValue {
    /// No value.
    Absent,
    /// Text.
    Text(String),
    /// A national register number (personal data: masked unless asked for).
    Insz(Insz),
    /// A list of words (applications, functions, domains).
    List(Vec<String>),
    /// Yes or no.
    Flag(bool),
    /// An administrator: `self`, a person, or an account.
    Administrator(LiveAdministrator),
    /// A secret, never shown: only where it is read at apply time.
    Secret(PasswordRef),
}

impl FieldValue {
    /// True for no value or an empty list.
    pub fn is_empty(&self) -> bool {
        match self {
            FieldValue::Absent => true,
            FieldValue::List(items) => items.is_empty(),
            _ => false,
        }
    }
}

fn text(s: &str) -> FieldValue {
    FieldValue::Text(s.to_string())
}

fn opt_text<T: ToString>(s: &Option<T>) -> FieldValue {
    s.as_ref()
        .map(|v| FieldValue::Text(v.to_string()))
        .unwrap_or(FieldValue::Absent)
}

fn list<T: ToString>(items: impl IntoIterator<Item = T>) -> FieldValue {
    FieldValue::List(items.into_iter().map(|i| i.to_string()).collect())
}

fn representative_fields(
    names: [&'static str; 8],
    r: &Representative,
    out: &mut Vec<(&'static str, FieldValue)>,
) {
    let values = [
        FieldValue::Insz(r.insz),
        text(&r.last_name),
        text(&r.first_name),
        opt_text(&r.quality),
        opt_text(&r.email),
        opt_text(&r.phone),
        opt_text(&r.mobile),
        opt_text(&r.fax),
    ];
    out.extend(names.into_iter().zip(values));
}

impl ObjectValue {
    /// The value's fields, in the desired-state format's order and spelling.
    pub fn fields(&self) -> Vec<(&'static str, FieldValue)> {
        let mut out: Vec<(&'static str, FieldValue)> = Vec::with_capacity(11);
        match self {
            ObjectValue::MainAccessManager(d) => {
                representative_fields(
                    [
                        "main_access_manager.insz",
                        "main_access_manager.last_name",
                        "main_access_manager.first_name",
                        "main_access_manager.quality",
                        "main_access_manager.email",
                        "main_access_manager.phone",
                        "main_access_manager.mobile",
                        "main_access_manager.fax",
                    ],
                    &d.main_access_manager,
                    &mut out,
                );
                representative_fields(
                    [
                        "legal_representative.insz",
                        "legal_representative.last_name",
                        "legal_representative.first_name",
                        "legal_representative.quality",
                        "legal_representative.email",
                        "legal_representative.phone",
                        "legal_representative.mobile",
                        "legal_representative.fax",
                    ],
                    &d.legal_representative,
                    &mut out,
                );
            }
            ObjectValue::AccessManager(am) => {
                out.push(("insz", FieldValue::Insz(am.insz)));
                out.push(("last_name", text(&am.last_name)));
                out.push(("first_name", text(&am.first_name)));
                out.push(("email", text(am.email.as_str())));
                out.push(("domains", list(&am.domains)));
            }
            ObjectValue::Capacity(c) => {
                out.push(("email", text(c.email.as_str())));
                out.push((
                    "local_administrator",
                    FieldValue::Administrator(c.local_administrator.clone()),
                ));
                out.push(("applications", list(&c.applications)));
                out.push(("active", FieldValue::Flag(c.active)));
            }
            ObjectValue::Subdivision(s) => {
                out.push(("name", text(&s.name)));
                out.push(("email", text(s.email.as_str())));
                out.push((
                    "administrator",
                    FieldValue::Administrator(s.administrator.clone()),
                ));
                out.push(("applications", list(&s.applications)));
                out.push(("active", FieldValue::Flag(s.active)));
            }
            ObjectValue::Site(s) => {
                out.push(("subdivision", text(s.subdivision.as_str())));
                out.push(("name", text(&s.name)));
                out.push(("email", opt_text(&s.email)));
                out.push((
                    "administrator",
                    FieldValue::Administrator(s.administrator.clone()),
                ));
                out.push(("applications", list(&s.applications)));
                out.push(("active", FieldValue::Flag(s.active)));
            }
            ObjectValue::User(u) => {
                out.push(("username", text(u.username.as_str())));
                out.push(("last_name", text(&u.details.last_name)));
                out.push(("first_name", text(&u.details.first_name)));
                out.push(("title", opt_text(&u.details.title)));
                out.push(("language", text(u.details.language.as_str())));
                out.push(("email", text(u.details.email.as_str())));
                out.push(("local_email", opt_text(&u.details.local_email)));
                out.push(("active", FieldValue::Flag(u.active)));
                out.push(("applications", list(&u.applications)));
                out.push(("functions", list(&u.functions)));
                if let Some(p) = &u.password {
                    out.push(("password", FieldValue::Secret(p.clone())));
                }
            }
        }
        out
    }
}

/// One field that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The field's name as in the desired-state format.
    pub field: String,
    /// The value in the registry ([`FieldValue::Absent`] for a creation).
    pub before: FieldValue,
    /// The desired value ([`FieldValue::Absent`] for a deletion).
    pub after: FieldValue,
}

/// One object to create, change, replace or delete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The enterprise.
    pub kbo: Kbo,
    /// The object.
    pub object: Object,
    /// What happens to it.
    pub kind: ChangeKind,
    /// Why, for deletions and replacements.
    pub cause: Option<Cause>,
    /// The registry's value (none for a creation).
    pub before: Option<ObjectValue>,
    /// The desired value (none for a deletion).
    pub after: Option<ObjectValue>,
    /// For an update or replacement, the fields that differ. Empty for a creation or
    /// deletion, whose fields are its value's: see [`Change::shown_fields`].
    pub fields: Vec<FieldChange>,
}

impl Change {
    /// The fields to show: the differing ones of an update or replacement, every
    /// non-empty field of a creation (as `after`) or deletion (as `before`).
    pub fn shown_fields(&self) -> Cow<'_, [FieldChange]> {
        let all = |v: &ObjectValue, created: bool| {
            v.fields()
                .into_iter()
                .filter(|(_, value)| !value.is_empty())
                .map(|(field, value)| FieldChange {
                    field: field.to_string(),
                    before: if created {
                        FieldValue::Absent
                    } else {
                        value.clone()
                    },
                    after: if created { value } else { FieldValue::Absent },
                })
                .collect::<Vec<_>>()
        };
        match (&self.before, &self.after) {
            (None, Some(after)) => Cow::Owned(all(after, true)),
            (Some(before), None) => Cow::Owned(all(before, false)),
            _ => Cow::Borrowed(&self.fields),
        }
    }

    /// A user change's record: the desired one, or the live one of a deletion.
    fn user_value(&self) -> Option<&UserValue> {
        match (&self.after, &self.before) {
            (Some(ObjectValue::User(u)), _) | (None, Some(ObjectValue::User(u))) => Some(u),
            _ => None,
        }
    }

    /// The names and username of a user change's record (after, or before a deletion).
    pub fn person_name(&self) -> Option<super::PersonName> {
        self.user_value()
            .map(|u| u.details.person_name(&u.username))
    }

    /// The username of a user change (the desired one when there is one).
    pub fn username(&self) -> Option<&Username> {
        self.user_value().map(|u| &u.username)
    }
}

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The plan can go ahead; a reviewer should know.
    Warning,
    /// The plan cannot be applied.
    Error,
}

/// A warning or error found while diffing or planning, with a stable code.
///
/// Messages name people by masked INSZ only (through `Insz`'s `Display`) or by username;
/// the `person` field lets a renderer show the full number when asked to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Warning or error.
    pub severity: Severity,
    /// Stable code, e.g. `diff::username_changed`.
    pub code: String,
    /// The enterprise it is about.
    pub kbo: Option<Kbo>,
    /// The object it is about.
    pub object: Option<Object>,
    /// One line, without personal data beyond masked numbers.
    pub message: String,
}

impl Finding {
    /// A warning.
    pub fn warning(code: &str, kbo: Option<Kbo>, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Warning,
            code: code.to_string(),
            kbo,
            object: None,
            message: message.into(),
        }
    }

    /// An error.
    pub fn error(code: &str, kbo: Option<Kbo>, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Error,
            code: code.to_string(),
            kbo,
            object: None,
            message: message.into(),
        }
    }

    /// The same finding, about this object.
    pub fn about(mut self, object: Object) -> Self {
        self.object = Some(object);
        self
    }
}
