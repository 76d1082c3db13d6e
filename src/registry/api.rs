//! Request and response types of the registry contract. They are plain serde data: the
//! embedded registry passes them in-process, the HTTP API sends them as JSON.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::diagnostic::{mask_text, mask_written_insz};
use crate::model::{
    Address, Hco, Insz, Kbo, LiveState, Password, PersonName, Representative, Username,
};

/// The registry's limits (one type with the engine's and the planner's source).
pub use crate::model::Limits;
/// A recognised unit (R8) of an enterprise's reference data: the model's record.
pub use crate::model::RecognisedUnit;
/// A user record on a level, live or new ([`Write::CreateUser`]); a new account's
/// initial password travels beside the write.
pub use crate::model::User;
/// The editable details of a user record.
pub use crate::model::UserDetails;
/// The level a user record lives on (the model's type: the plan names levels the same
/// way). Only `UserLevel::Site` gives access (R4).
pub use crate::model::UserLevel;
/// A write with a new account's password beside it: the body of a write request.
pub use crate::model::WithPassword;
/// Every change the registry carries out (the planner's writes, one type for both).
pub use crate::model::Write;
/// What a [`Write::SetApplications`] or [`Write::SetActive`] changes.
pub use crate::model::WriteTarget;

/// Milliseconds since the Unix epoch, in registry time (wall clock or virtual clock).
pub type Millis = i64;

/// Identifies a session (`s-000042`).
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct SessionId(pub String);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identifies a lease on an enterprise.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct LeaseId(pub String);

/// A client-chosen key that makes a write idempotent: 1–200 printable ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct IdempotencyKey(
    #[schemars(length(min = 1, max = IdempotencyKey::MAX_LEN), regex(pattern = r"^[!-~]+$"))]
    String,
);

impl IdempotencyKey {
    /// The longest key accepted.
    pub const MAX_LEN: usize = 200;

    /// Checks and wraps a key.
    pub fn new(key: impl Into<String>) -> Result<Self, super::RegistryError> {
        let key = key.into();
        if key.is_empty() || key.len() > Self::MAX_LEN || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(super::RegistryError::InvalidRequest {
                reason: "an idempotency key has 1-200 printable ASCII characters".into(),
            });
        }
        Ok(IdempotencyKey(key))
    }

    /// A fresh random key for one log-in: the same key is sent again when the log-in
    /// is retried, so that a lost answer does not leave a second session open.
    pub fn log_in() -> Self {
        IdempotencyKey(format!("login-{}", hex::encode(rand::random::<[u8; 16]>())))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for IdempotencyKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        IdempotencyKey::new(s).map_err(serde::de::Error::custom)
    }
}

/// An open session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionInfo {
    /// The session.
    pub id: SessionId,
    /// When it was opened.
    pub opened_at_ms: Millis,
    /// When it was last used.
    pub last_activity_ms: Millis,
    /// When it will expire if left idle.
    pub expires_at_ms: Millis,
    /// The processing number the session sees: everything processed up to it.
    pub sees_processing: u64,
}

/// The answer to a log-out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CloseReceipt {
    /// The session.
    pub id: SessionId,
    /// True when the session's writes are already processed.
    pub processed: bool,
    /// When its writes are (or were) processed.
    pub processed_at_ms: Millis,
}

/// A password on its way to the one request that creates an account.
///
/// Serialises to the secret (the wire needs it), but its `Debug` is redacted and the
/// engine never stores it: the journal keeps the write with the password removed.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountPassword(pub Password);

impl fmt::Debug for AccountPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountPassword(<redacted>)")
    }
}

impl Serialize for AccountPassword {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.expose())
    }
}

impl JsonSchema for AccountPassword {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AccountPassword".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // The rules of `Password::new`: 10 to 15 letters, digits and the manual's
        // special characters, at least 2 of them digits or special characters.
        let strong = format!("[0-9{}]", Password::SPECIALS);
        let allowed = format!("^[A-Za-z0-9{}]{{10,15}}$", Password::SPECIALS);
        schemars::json_schema!({
            "type": "string",
            "format": "password",
            "writeOnly": true,
            "minLength": 10,
            "maxLength": 15,
            "allOf": [
                { "pattern": allowed },
                { "pattern": format!("{strong}.*{strong}") }
            ],
            "description": "The new account's password (S3.4 rules: 10 to 15 letters, digits and the special characters ;,:=?./*$%><&@#'(!{})_-, at least 2 of them digits or special characters); sent once, never stored."
        })
    }
}

impl<'de> Deserialize<'de> for AccountPassword {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Password::new(s)
            .map(AccountPassword)
            .map_err(serde::de::Error::custom)
    }
}

/// The acknowledgement of a write: durable from now on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WriteReceipt {
    /// The journal position of the write.
    pub journal_seq: u64,
    /// When the registry acknowledged it.
    pub acknowledged_at_ms: Millis,
    /// The ticket, for a designation request.
    pub ticket: Option<Ticket>,
}

/// The state of an HTB designation ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    /// Waiting for the signed document (S1.10: about 48 hours).
    Pending,
    /// Validated: the HTB is designated.
    Validated,
}

/// An HTB designation ticket (R7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Ticket {
    /// The ticket number, like `3Y0-000ZRF5-00-J`.
    pub id: String,
    /// The enterprise.
    pub kbo: Kbo,
    /// Pending or validated.
    pub state: TicketState,
    /// When it was submitted.
    pub submitted_at_ms: Millis,
    /// When it was validated.
    pub validated_at_ms: Option<Millis>,
    /// The HTB to be.
    pub main_access_manager: Representative,
    /// The legal representative who signs.
    pub legal_representative: Representative,
}

/// One condition of the effective-access checklist (docs/rules.md, the manual's
/// troubleshooting section).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AccessCondition {
    /// The capacity exists and is active.
    CapacityActive,
    /// The capacity has Heracles and eHealthBox (R5).
    CapacityApplications,
    /// The subdivision exists and is active.
    SubdivisionActive,
    /// The subdivision has Heracles and eHealthBox (R5).
    SubdivisionApplications,
    /// The site exists and is active.
    SiteActive,
    /// The site has Heracles and eHealthBox (R5).
    SiteApplications,
    /// The person has a user record on the site itself (R4).
    UserOnSite,
    /// The user is active.
    UserActive,
    /// The user has Heracles, plus eHealthBox when a physician (R5).
    UserApplications,
    /// The user has at least one function on the site (R4).
    UserFunction,
    /// The propagation delay has passed since the last change (R6).
    Propagated,
    /// The site's head radiologist is known to the coordination centre (R9).
    HeadRadiologistKnown,
}

impl AccessCondition {
    /// Every condition, in the order the checklist is evaluated.
    pub const ALL: [AccessCondition; 12] = [
        AccessCondition::CapacityActive,
        AccessCondition::CapacityApplications,
        AccessCondition::SubdivisionActive,
        AccessCondition::SubdivisionApplications,
        AccessCondition::SiteActive,
        AccessCondition::SiteApplications,
        AccessCondition::UserOnSite,
        AccessCondition::UserActive,
        AccessCondition::UserApplications,
        AccessCondition::UserFunction,
        AccessCondition::Propagated,
        AccessCondition::HeadRadiologistKnown,
    ];
}

/// One evaluated condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConditionResult {
    /// Which condition.
    pub condition: AccessCondition,
    /// Whether it holds.
    pub passed: bool,
    /// What was found, in English, without personal data.
    pub detail: String,
}

/// The checklist for one person on one unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnitAccess {
    /// The enterprise.
    pub kbo: Kbo,
    /// The site (unit); `None` for a user record on another level with no site.
    pub site: Option<Hco>,
    /// Every condition, in [`AccessCondition::ALL`] order.
    pub conditions: Vec<ConditionResult>,
    /// True when every condition holds.
    pub has_access: bool,
    /// When the last change propagates (R6), if it has not yet.
    pub effective_from_ms: Option<Millis>,
    /// The names and username of the person's user record on this unit, when one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<PersonName>,
}

/// The effective-access evaluation for one person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccessReport {
    /// The person.
    pub person: Insz,
    /// Registry time of the evaluation.
    pub evaluated_at_ms: Millis,
    /// One entry per unit the caller may see.
    pub units: Vec<UnitAccess>,
    /// The person's names and username, from any user record of theirs the caller may
    /// see (also when the evaluated site has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<PersonName>,
}

/// A request for an apply lease.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LeaseRequest {
    /// How long the lease lasts: at most the registry's `max_lease_ms` (`GET /v1/limits`;
    /// one hour unless the registry is configured otherwise).
    #[schemars(range(min = 1, max = 3_600_000))]
    pub ttl_ms: u64,
    /// Who holds it, for the message another apply gets (`ci-runner-3 apply #42`).
    pub holder: String,
    /// The caller's current lease, to renew it.
    pub renew: Option<LeaseId>,
    /// Whether a lease held now by someone else is taken over (default: no, the
    /// request is refused with `lease_held`). The audit log records every take-over,
    /// with the holder it was taken from.
    #[serde(default)]
    pub take_over: TakeOver,
}

/// Which held lease a lease request may take over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TakeOver {
    /// None: a held lease is refused.
    #[default]
    None,
    /// One the caller holds (an apply of theirs that died).
    Own,
    /// Anyone's (breaking another person's lease, `lease release --force`).
    Any,
}

/// An apply lease on an enterprise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Lease {
    /// The lease.
    pub id: LeaseId,
    /// The enterprise.
    pub kbo: Kbo,
    /// Who holds it.
    pub holder: String,
    /// When it expires.
    pub expires_at_ms: Millis,
}

/// Who the caller is, as the registry knows them (`GET /v1/me`): the person a bearer
/// token belongs to, their roles, and the registry's time, so that a client never has
/// to be told whose a token is, nor guess the time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Me {
    /// The person the token belongs to (personal data).
    pub person: Insz,
    /// Family name, when the registry knows the person's name (from a role or an
    /// account); `None` for someone it has no record of.
    pub last_name: Option<String>,
    /// Given name, likewise.
    pub first_name: Option<String>,
    /// The enterprises where the person has a role or is a party to a designation
    /// request, in enterprise-number order, as processed now.
    pub roles: Vec<EnterpriseRoles>,
    /// Registry time of the answer (wall clock or virtual clock).
    pub now_ms: Millis,
}

impl Me {
    /// The person's roles in one enterprise, if any.
    pub fn roles_in(&self, kbo: &Kbo) -> Option<&EnterpriseRoles> {
        self.roles.iter().find(|r| r.kbo == *kbo)
    }
}

/// One person's roles in one enterprise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EnterpriseRoles {
    /// The enterprise.
    pub kbo: Kbo,
    /// Its name in the KBO directory.
    pub name: String,
    /// The validated main access manager (HTB).
    pub main_access_manager: bool,
    /// An access manager.
    pub access_manager: bool,
    /// The local administrator of the capacity.
    pub local_administrator: bool,
    /// Administrator of these subdivisions (HCO numbers).
    pub subdivisions: Vec<Hco>,
    /// Administrator of these sites (HCO numbers).
    pub sites: Vec<Hco>,
    /// The future main access manager or the legal representative named in a
    /// designation request for this enterprise (pending or validated).
    pub designation_party: bool,
}

/// Counters of the durable store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegistryStats {
    /// Journal entries (acknowledged writes, session events, operator actions).
    pub journal_entries: u64,
    /// Audit log entries.
    pub audit_entries: u64,
    /// Registry time.
    pub now_ms: Millis,
}

/// Reference data the registry does not create (docs/registry-api.md, "Reference data").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reference {
    /// The KBO directory entries and the programme's recognised units.
    pub enterprises: Vec<ReferenceEnterprise>,
    /// Accounts that already exist in CSAM, as a users export of the CSAM web
    /// application lists them: a user record for such a person needs no initial
    /// password (an account outlives its records). Optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<ReferenceAccount>,
}

/// An account that already exists in CSAM: a national register number and the
/// username it keeps for good (S3.4), and the enterprise whose users export listed it
/// (whose readers may see that account).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReferenceAccount {
    /// The enterprise (in the directory) whose users export listed the account.
    pub enterprise: Kbo,
    /// The person.
    pub insz: Insz,
    /// The account's username.
    pub username: crate::model::Username,
}

/// One enterprise of the reference data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReferenceEnterprise {
    /// The enterprise number.
    pub kbo: Kbo,
    /// The name in the KBO directory.
    pub name: String,
    /// The address in the KBO directory. Optional: the registry keeps what it is given
    /// (nothing csamctl plans depends on it), and reference data made from a list of
    /// enterprise numbers and names often has none.
    #[serde(default)]
    pub address: Address,
    /// An HTB already validated, if any.
    #[serde(default)]
    pub main_access_manager: Option<Insz>,
    /// The programme's recognised units (R8); empty when not recognised.
    #[serde(default)]
    pub recognised_units: Vec<RecognisedUnit>,
}

impl Reference {
    /// Reads the YAML reference format of docs/registry-api.md.
    pub fn from_yaml(text: &str) -> Result<Self, super::RegistryError> {
        serde_saphyr::from_str(text).map_err(|e| super::RegistryError::InvalidRequest {
            reason: format!("reference data: {}", mask_reference_error(&e.to_string())),
        })
    }
}

/// The parser's error quotes the lines around the mistake: national register numbers in
/// it are masked as `validate` masks them, both INSZ-shaped digit runs anywhere and
/// whatever is written as a `main_access_manager` (a mistyped number included).
fn mask_reference_error(rendered: &str) -> String {
    const KEY: &str = "main_access_manager:";
    let lines: Vec<String> = rendered
        .lines()
        .map(|line| {
            let line = match line.find(KEY) {
                Some(i) => {
                    let (head, rest) = line.split_at(i + KEY.len());
                    let end = rest.find([',', '}', '#']).unwrap_or(rest.len());
                    let (value, tail) = rest.split_at(end);
                    format!("{head}{}{tail}", mask_written_insz(value))
                }
                None => line.to_string(),
            };
            mask_text(&line)
        })
        .collect();
    lines.join("\n")
}

/// A request for one page of a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PageRequest {
    /// The `next` cursor of the previous page; `None` for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// How many entries at most (default [`PageRequest::DEFAULT_LIMIT`], at most
    /// [`PageRequest::MAX_LIMIT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl PageRequest {
    /// The page size when none is asked for.
    pub const DEFAULT_LIMIT: u32 = 1_000;
    /// The largest page size.
    pub const MAX_LIMIT: u32 = 10_000;

    /// The first page, of `limit` entries.
    pub fn first(limit: u32) -> Self {
        PageRequest {
            after: None,
            limit: Some(limit),
        }
    }

    /// The page after the one whose `next` cursor this is.
    pub fn after(cursor: impl Into<String>, limit: u32) -> Self {
        PageRequest {
            after: Some(cursor.into()),
            limit: Some(limit),
        }
    }

    /// The number of entries to skip: cursors are opaque to clients, but are offsets
    /// into the session's view (which never changes while the session is open, R1).
    pub fn offset(&self) -> Result<usize, super::RegistryError> {
        match &self.after {
            None => Ok(0),
            Some(cursor) => cursor
                .strip_prefix('o')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| super::RegistryError::InvalidRequest {
                    reason: "not a page cursor of this registry".into(),
                }),
        }
    }

    /// The page size, checked.
    pub fn page_size(&self) -> Result<usize, super::RegistryError> {
        let limit = self.limit.unwrap_or(Self::DEFAULT_LIMIT);
        if limit == 0 || limit > Self::MAX_LIMIT {
            return Err(super::RegistryError::InvalidRequest {
                reason: format!("a page holds 1 to {} entries", Self::MAX_LIMIT),
            });
        }
        Ok(limit as usize)
    }

    /// The cursor of the page that starts at `offset`.
    pub fn cursor(offset: usize) -> String {
        format!("o{offset}")
    }
}

/// A user record with the level it lives on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LevelUser {
    /// The level (a site, or a wrong level, R4).
    pub level: UserLevel,
    /// The user record.
    pub user: User,
}

/// One page of an enterprise's user records as a session sees them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserPage {
    /// The records, in the snapshot's order (see [`UserPage::from_live`]).
    pub users: Vec<LevelUser>,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<String>,
}

impl UserPage {
    /// Every user record of a snapshot in the listing order: per capacity, per
    /// subdivision the users of each site and then the subdivision's own (wrong-level)
    /// users, then the capacity's own users.
    pub fn all_from_live(live: &LiveState) -> Vec<LevelUser> {
        let mut out = Vec::new();
        for cap in &live.enterprise.capacities {
            for sub in &cap.subdivisions {
                for site in &sub.sites {
                    out.extend(site.users.iter().map(|u| LevelUser {
                        level: UserLevel::Site {
                            hco: site.hco.clone(),
                        },
                        user: u.clone(),
                    }));
                }
                out.extend(sub.wrong_level_users.iter().map(|u| LevelUser {
                    level: UserLevel::Subdivision {
                        hco: sub.hco.clone(),
                    },
                    user: u.clone(),
                }));
            }
            out.extend(cap.wrong_level_users.iter().map(|u| LevelUser {
                level: UserLevel::Capacity {
                    kbo: live.enterprise.kbo,
                    kind: cap.kind,
                },
                user: u.clone(),
            }));
        }
        out
    }

    /// One page cut from a whole snapshot: what a registry without a listing of its own
    /// answers.
    pub fn from_live(live: &LiveState, page: &PageRequest) -> Result<Self, super::RegistryError> {
        let offset = page.offset()?;
        let limit = page.page_size()?;
        let all = Self::all_from_live(live);
        let users: Vec<LevelUser> = all.iter().skip(offset).take(limit).cloned().collect();
        let end = offset.saturating_add(users.len());
        Ok(UserPage {
            next: (end < all.len()).then(|| PageRequest::cursor(end)),
            users,
        })
    }
}

/// An error as the HTTP API sends it: an RFC 9457 problem document
/// (`application/problem+json`) whose `code` and further members are the registry's
/// typed error itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    /// `urn:csamctl:registry:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened, in English, without personal data beyond masked INSZ.
    pub detail: String,
    /// The error, with its stable `code`.
    #[serde(flatten)]
    pub error: super::RegistryError,
}

impl Problem {
    /// The media type of problem documents.
    pub const MEDIA_TYPE: &'static str = "application/problem+json";

    /// The problem document of an error sent with `status`.
    pub fn new(error: super::RegistryError, status: u16) -> Self {
        let code = error.code();
        let mut title: String = code.replace('_', " ");
        if let Some(first) = title.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        Problem {
            kind: format!("urn:csamctl:registry:{code}"),
            title,
            status,
            detail: error.to_string(),
            error,
        }
    }
}

/// The server's answer to a health check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: String,
}

/// Who the effective-access evaluation is for (sent in a body, so that the INSZ never
/// appears in a URL or an access log).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccessQuery {
    /// The person.
    pub person: Insz,
    /// One site, or `None` for every unit where the person has a user record.
    #[serde(default)]
    pub site: Option<Hco>,
}

/// The account look-up (`POST /v1/accounts/lookup`): which of these people have an
/// account, and which of these usernames someone else holds. The planner asks it for the
/// people and usernames a desired state declares, so that it refuses a username the
/// registry would refuse (S3.4) across enterprises, without any snapshot listing the
/// accounts of people its reader may not see.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccountQuery {
    /// People (at most 10,000; may be empty).
    #[schemars(length(max = AccountQuery::MAX))]
    pub insz: Vec<Insz>,
    /// Usernames (at most 10,000; may be empty).
    #[schemars(length(max = AccountQuery::MAX))]
    pub usernames: Vec<Username>,
}

impl AccountQuery {
    /// The most people, and the most usernames, one look-up asks about; a client sends
    /// longer lists in several requests.
    pub const MAX: usize = 10_000;

    /// Refuses a query with a list longer than [`AccountQuery::MAX`].
    pub fn check_len(&self) -> Result<(), super::RegistryError> {
        if self.insz.len() > Self::MAX || self.usernames.len() > Self::MAX {
            return Err(super::RegistryError::InvalidRequest {
                reason: format!(
                    "an account look-up asks about at most {} people and {} usernames",
                    Self::MAX,
                    Self::MAX
                ),
            });
        }
        Ok(())
    }
}

/// An operator's request for a new bearer token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenRequest {
    /// The person the token acts for.
    pub person: Insz,
}

/// A newly issued bearer token: shown once, only its hash is stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IssuedToken {
    /// The token.
    pub token: String,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IssuedToken(<redacted>)")
    }
}

/// How far to move the virtual clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClockAdvance {
    /// Milliseconds.
    #[schemars(range(max = u64::MAX))]
    pub by_ms: u64,
}

/// The registry's time after a clock move.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClockReading {
    /// Milliseconds since the Unix epoch, registry time.
    pub now_ms: Millis,
}

/// The coordination centre's notice that it knows a site's head radiologist (R9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "HeadRadiologistNotice")]
pub struct KnownHeadRadiologist {
    /// The site.
    pub site: Hco,
    /// The head radiologist.
    pub person: Insz,
}

/// A head radiologist whose national register number has not yet been recorded as
/// known to the coordination centre (CvKO, R9): a user with the head-radiologist
/// function on a site, counting every acknowledged write (also of sessions not yet
/// processed), so that a notice is owed from the moment the write is acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PendingNotice {
    /// The enterprise.
    pub kbo: Kbo,
    /// The site (unit).
    pub site: Hco,
    /// The head radiologist.
    pub person: Insz,
    /// The head radiologist's username.
    pub username: crate::model::Username,
    /// Last name.
    pub last_name: String,
    /// First name.
    pub first_name: String,
}

/// One write of a batch: the change with its own idempotency key, which works exactly
/// as the `Idempotency-Key` header of a single write (the same key sent alone or in a
/// batch is the same key).
///
/// On the wire the password is inside the write's `user`, as in a single write's body
/// ([`WithPassword`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "BatchWriteForm", into = "BatchWriteForm")]
pub struct BatchWrite {
    /// 1 to 200 printable ASCII characters chosen by the client.
    pub idempotency_key: IdempotencyKey,
    /// The change.
    pub write: Write,
    /// A new account's initial password, for a [`Write::CreateUser`] (never stored).
    pub password: Option<AccountPassword>,
}

/// One write of a batch: the change with its own idempotency key, which works exactly
/// as the `Idempotency-Key` header of a single write (the same key sent alone or in a
/// batch is the same key).
#[derive(Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "BatchWrite")]
struct BatchWriteForm {
    /// 1 to 200 printable ASCII characters chosen by the client.
    idempotency_key: IdempotencyKey,
    /// The change.
    write: WithPassword<AccountPassword>,
}

impl From<BatchWriteForm> for BatchWrite {
    fn from(form: BatchWriteForm) -> Self {
        BatchWrite {
            idempotency_key: form.idempotency_key,
            write: form.write.write,
            password: form.write.password,
        }
    }
}

impl From<BatchWrite> for BatchWriteForm {
    fn from(w: BatchWrite) -> Self {
        BatchWriteForm {
            idempotency_key: w.idempotency_key,
            write: WithPassword {
                write: w.write,
                password: w.password,
            },
        }
    }
}

impl JsonSchema for BatchWrite {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        BatchWriteForm::schema_name()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        BatchWriteForm::json_schema(g)
    }
}

/// Many writes in one request (`POST /v1/sessions/{session}/write-batches`). The
/// registry carries them out in order, each exactly as if it had been sent alone right
/// after the one before: its own rules, its own idempotency, its own answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BatchRequest {
    /// 1 to [`BatchRequest::MAX_WRITES`] writes, in the order they are carried out.
    #[schemars(length(min = 1, max = crate::model::BATCH_WRITES))]
    pub writes: Vec<BatchWrite>,
}

impl BatchRequest {
    /// The most writes one batch holds (the planner counts requests with the same
    /// number).
    pub const MAX_WRITES: usize = crate::model::BATCH_WRITES;

    /// Checks the number of writes.
    pub fn check_len(len: usize) -> Result<(), super::RegistryError> {
        if len == 0 || len > Self::MAX_WRITES {
            return Err(super::RegistryError::InvalidRequest {
                reason: format!("a batch holds 1 to {} writes", Self::MAX_WRITES),
            });
        }
        Ok(())
    }
}

/// The answer to one write of a batch: its receipt, or the problem document a single
/// write would have been refused with (its `status` included).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BatchResult {
    /// Acknowledged: durable from now on (or acknowledged before, under the same key).
    Acknowledged {
        /// The receipt, the same a single write gets.
        receipt: Box<WriteReceipt>,
    },
    /// Refused, changing nothing; a refused write may be sent again under its key.
    Refused {
        /// Why, as a single write's problem document.
        problem: Problem,
    },
}

/// One answer per write of a batch, in the order of the request (see
/// [`super::Registry::write_batch`]).
pub type BatchOutcomes = Vec<Result<WriteReceipt, super::RegistryError>>;

/// The answer to a batch: one result per write, in the order of the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BatchResponse {
    /// One per write of the request, in the same order.
    pub results: Vec<BatchResult>,
}
