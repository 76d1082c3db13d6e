//! The plan: changes ordered into sessions, log-out barriers, gates and waits.
//!
//! A [`Plan`] is plain data (like uv's installer plan or octoDNS's): `plan` builds it,
//! `safety` checks it, `render` prints it, a saved plan file stores it, and the executor
//! carries it out. Every [`Step`] holds the [`Write`] to send — the registry contract's
//! write, one type for both — with, beside it, a new account's password as a
//! [`PasswordRef`] resolved at apply time, and a [`StepId`], stable for the plan, from
//! which (with [`Plan::id`]) the executor derives the write's idempotency key.
//!
//! The write types ([`Write`], [`WriteTarget`]) live here
//! because data flows one way: `plan` may use `model` only, never the registry; the
//! registry contract uses them as they are. A saved plan stores a step's write with its
//! password reference inside `user` ([`WithPassword`]), the wire's form.
//!
//! No I/O, no async; serde only.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::change::{Change, Finding, Severity, UserLevel};
use super::desired::{AccessManager, Representative};
use super::ids::{Hco, Insz, Kbo, PasswordRef, Username};
use super::live::{LiveAdministrator, LiveState};
use super::user::{User, UserDetails};
use super::values::{Applications, CapacityType, Email, Function};

/// What a write of applications or of the active flag changes. The registry contract
/// uses this type too (as `Target`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "target", rename_all = "snake_case")]
#[schemars(rename = "Target")]
pub enum WriteTarget {
    /// A capacity.
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
    /// A user record on a level.
    User {
        /// The level.
        level: UserLevel,
        /// The person.
        insz: Insz,
    },
}

// A write carries its new user with the details nested under `details`: the form the
// journal, the wire, saved plans and the idempotency fingerprint have always had (a live
// state's `User` is flat). This serde mirror of `User` is the one place that knows it:
// `Write::CreateUser` reads and writes its user through it (`#[serde(with)]`), and it is
// the contract's `NewUser` schema (its doc comments are the schema's descriptions).

/// A new user record on a level. A new account's initial password travels beside the
/// write ([`WithPassword`]), on the wire inside the user as `password`.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(remote = "User", expecting = "struct NewUser")]
#[schemars(rename = "NewUser")]
struct NewUser {
    /// The person.
    insz: Insz,
    /// The person's username: new, or the one the person already has.
    username: Username,
    /// Names, language, e-mail.
    details: UserDetails,
    /// Whether the user is active.
    active: bool,
    /// Secured applications.
    applications: Applications,
    /// Functions on this level (a plan leaves them empty: functions follow in a later
    /// session, S4.9).
    functions: BTreeSet<Function>,
}

/// Every change the planner can make, as the registry carries it; the serde tag `change`
/// names it. A new account's initial password travels beside it ([`WithPassword`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Write {
    /// Requests the designation of a main access manager (S1); yields a ticket (R7).
    DesignateMainAccessManager {
        /// The enterprise.
        kbo: Kbo,
        /// The HTB to be.
        main_access_manager: Representative,
        /// The legal representative who signs the request.
        legal_representative: Representative,
    },
    /// Appoints an access manager (HTB only).
    AddAccessManager {
        /// The enterprise.
        kbo: Kbo,
        /// The access manager.
        access_manager: AccessManager,
    },
    /// Removes an access manager (HTB only).
    RemoveAccessManager {
        /// The enterprise.
        kbo: Kbo,
        /// The access manager.
        insz: Insz,
    },
    /// Activates a capacity (S2; R8).
    ActivateCapacity {
        /// The enterprise.
        kbo: Kbo,
        /// The capacity type.
        kind: CapacityType,
        /// Contact e-mail.
        email: Email,
        /// The local administrator; `None` is `self`.
        local_administrator: Option<Insz>,
        /// Secured applications.
        applications: Applications,
    },
    /// Changes a capacity's contact e-mail and local administrator.
    UpdateCapacity {
        /// The enterprise.
        kbo: Kbo,
        /// The capacity type.
        kind: CapacityType,
        /// Contact e-mail.
        email: Email,
        /// The local administrator; `None` is `self`.
        local_administrator: Option<Insz>,
    },
    /// Creates a subdivision under a capacity (S3.1–S3.5; R1, R3, R8).
    CreateSubdivision {
        /// The enterprise.
        kbo: Kbo,
        /// The capacity type.
        kind: CapacityType,
        /// The subdivision's HCO number.
        hco: Hco,
        /// Name.
        name: String,
        /// Contact e-mail.
        email: Email,
        /// `Itself` or an `Account`.
        administrator: LiveAdministrator,
        /// Secured applications.
        applications: Applications,
    },
    /// Changes a subdivision's name, e-mail and administrator.
    UpdateSubdivision {
        /// The subdivision.
        hco: Hco,
        /// Name.
        name: String,
        /// Contact e-mail.
        email: Email,
        /// `Itself` or an `Account`.
        administrator: LiveAdministrator,
    },
    /// Deletes a subdivision that has no sites and no users left.
    DeleteSubdivision {
        /// The subdivision.
        hco: Hco,
    },
    /// Creates a site under a subdivision (S3.6; R1, R2, R3, R8).
    CreateSite {
        /// The parent subdivision.
        subdivision: Hco,
        /// The site's HCO number.
        hco: Hco,
        /// Name.
        name: String,
        /// Contact e-mail.
        email: Option<Email>,
        /// `Itself` or an `Account`.
        administrator: LiveAdministrator,
        /// Secured applications.
        applications: Applications,
    },
    /// Changes a site's name, e-mail and administrator.
    UpdateSite {
        /// The site.
        hco: Hco,
        /// Name.
        name: String,
        /// Contact e-mail.
        email: Option<Email>,
        /// `Itself` or an `Account`.
        administrator: LiveAdministrator,
    },
    /// Deletes a site that has no users left.
    DeleteSite {
        /// The site.
        hco: Hco,
    },
    /// Creates a user record on a level (S4; R1, R3, R4); creates the person's account
    /// when the person has none.
    CreateUser {
        /// The level (a site, unless reproducing a wrong-level leftover).
        level: UserLevel,
        /// The user.
        #[serde(with = "NewUser")]
        #[schemars(with = "NewUser")]
        user: User,
    },
    /// Changes a user record's names, language and e-mail addresses.
    UpdateUser {
        /// The level.
        level: UserLevel,
        /// The person.
        insz: Insz,
        /// The new details.
        details: UserDetails,
    },
    /// Deletes a user record (the person's account and username remain).
    DeleteUser {
        /// The level.
        level: UserLevel,
        /// The person.
        insz: Insz,
    },
    /// Replaces a user record's functions (S4.9; meaningful only on a site, R4).
    SetFunctions {
        /// The level.
        level: UserLevel,
        /// The person.
        insz: Insz,
        /// The functions.
        functions: BTreeSet<Function>,
    },
    /// Replaces the secured applications of a level or user (R5).
    SetApplications {
        /// What to change.
        target: WriteTarget,
        /// The applications.
        applications: Applications,
    },
    /// Activates or suspends a level or user.
    SetActive {
        /// What to change.
        target: WriteTarget,
        /// Active or not.
        active: bool,
    },
}

impl Write {
    /// The write's name, as the serde tag (`create_site`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::DesignateMainAccessManager { .. } => "designate_main_access_manager",
            Self::AddAccessManager { .. } => "add_access_manager",
            Self::RemoveAccessManager { .. } => "remove_access_manager",
            Self::ActivateCapacity { .. } => "activate_capacity",
            Self::UpdateCapacity { .. } => "update_capacity",
            Self::CreateSubdivision { .. } => "create_subdivision",
            Self::UpdateSubdivision { .. } => "update_subdivision",
            Self::DeleteSubdivision { .. } => "delete_subdivision",
            Self::CreateSite { .. } => "create_site",
            Self::UpdateSite { .. } => "update_site",
            Self::DeleteSite { .. } => "delete_site",
            Self::CreateUser { .. } => "create_user",
            Self::UpdateUser { .. } => "update_user",
            Self::DeleteUser { .. } => "delete_user",
            Self::SetFunctions { .. } => "set_functions",
            Self::SetApplications { .. } => "set_applications",
            Self::SetActive { .. } => "set_active",
        }
    }

    /// True for the writes that create structure (R2, R3).
    pub fn is_structure_creation(&self) -> bool {
        matches!(
            self,
            Self::CreateSubdivision { .. } | Self::CreateSite { .. }
        )
    }

    /// True for the writes that create or change a user record (R6 applies).
    pub fn touches_user(&self) -> bool {
        matches!(
            self,
            Self::CreateUser { .. }
                | Self::UpdateUser { .. }
                | Self::SetFunctions { .. }
                | Self::SetApplications {
                    target: WriteTarget::User { .. },
                    ..
                }
                | Self::SetActive {
                    target: WriteTarget::User { .. },
                    ..
                }
        )
    }
}

/// A write and, beside it, a new account's initial password: a [`PasswordRef`] in a
/// saved plan, the secret itself on its way to the registry (never stored).
///
/// Its serde form is the write with the password inside its `user` (`null` when there
/// is none, and no `password` key for the other writes): the form a saved plan file and
/// the registry's wire have always carried, so neither changed when the password moved
/// out of the new user. Its JSON Schema is the [`Write`]'s (the registry's OpenAPI document
/// adds the password to `NewUser`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithPassword<P> {
    /// The write.
    pub write: Write,
    /// The initial password, for a [`Write::CreateUser`] of a person with no account yet.
    pub password: Option<P>,
}

/// The serde form of a [`Write::CreateUser`] with its password (see [`WithPassword`]).
#[derive(Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
enum CreateUserForm<'a, P> {
    CreateUser {
        level: &'a UserLevel,
        user: NewUserWithPassword<'a, P>,
    },
}

#[derive(Serialize)]
struct NewUserWithPassword<'a, P> {
    #[serde(flatten)]
    user: Nested<'a>,
    password: Option<&'a P>,
}

/// A user in the write's form ([`NewUser`]).
struct Nested<'a>(&'a User);

impl Serialize for Nested<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        NewUser::serialize(self.0, s)
    }
}

impl<P: Serialize> WithPassword<P> {
    /// Serialises a borrowed write and password in the form of [`WithPassword`].
    pub fn serialize_parts<S: serde::Serializer>(
        write: &Write,
        password: Option<&P>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match write {
            Write::CreateUser { level, user } => CreateUserForm::CreateUser {
                level,
                user: NewUserWithPassword {
                    user: Nested(user),
                    password,
                },
            }
            .serialize(s),
            other => other.serialize(s),
        }
    }
}

impl<P: Serialize> Serialize for WithPassword<P> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Self::serialize_parts(&self.write, self.password.as_ref(), s)
    }
}

impl<'de, P: serde::de::DeserializeOwned> Deserialize<'de> for WithPassword<P> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut value = serde_json::Value::deserialize(d)?;
        let password = match value.get_mut("user").and_then(|u| u.as_object_mut()) {
            Some(user) => match user.remove("password") {
                Some(p) => Option::<P>::deserialize(p).map_err(D::Error::custom)?,
                None => None,
            },
            None => None,
        };
        let write = Write::deserialize(value).map_err(D::Error::custom)?;
        Ok(WithPassword { write, password })
    }
}

impl<P> schemars::JsonSchema for WithPassword<P> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        Write::schema_name()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        g.subschema_for::<Write>()
    }
}

/// A step's identity within its plan: the enterprise, the session's label and the
/// step's place in it (`0198765470:3a:1`). The same inputs give the same plan, so a
/// re-run of the same plan derives the same idempotency keys (with [`Plan::id`]). It
/// names no person, so it may be shown.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepId(pub String);

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One registry write in a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StepForm", into = "StepForm")]
pub struct Step {
    /// Identity within the plan.
    pub id: StepId,
    /// The index of the change in [`EnterprisePlan::changes`] this step carries out.
    pub change: usize,
    /// What to send.
    pub write: Write,
    /// Where the executor reads a new account's initial password, for a
    /// [`Write::CreateUser`] of a person who has no account yet.
    pub password: Option<PasswordRef>,
}

/// A step as a saved plan stores it: the password reference inside the write's `user`.
#[derive(Serialize, Deserialize)]
struct StepForm {
    id: StepId,
    change: usize,
    write: WithPassword<PasswordRef>,
}

impl From<StepForm> for Step {
    fn from(form: StepForm) -> Self {
        Step {
            id: form.id,
            change: form.change,
            write: form.write.write,
            password: form.write.password,
        }
    }
}

impl From<Step> for StepForm {
    fn from(step: Step) -> Self {
        StepForm {
            id: step.id,
            change: step.change,
            write: WithPassword {
                write: step.write,
                password: step.password,
            },
        }
    }
}

/// One log-in … log-out of the acting person. Its writes become visible to later
/// sessions only once it is logged out and processed (R1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// `1`, `2`, `3a`, `3b`…: the round number, and a letter for parallel sessions.
    pub label: String,
    /// What the session is for, in a few words.
    pub purpose: String,
    /// The writes, in order.
    pub steps: Vec<Step>,
}

/// The most writes one request carries: the registry's batch write request takes 1 to
/// this many. The planner counts a session's requests with it and the executor sends a
/// session's writes in batches of at most this many.
pub const BATCH_WRITES: usize = 500;

impl Session {
    /// The requests this session takes: log-in, its writes in batches of at most
    /// [`BATCH_WRITES`], log-out.
    pub fn requests(&self) -> u64 {
        2 + u64::try_from(self.steps.len().div_ceil(BATCH_WRITES)).unwrap_or(u64::MAX)
    }
}

/// A coordination-centre notice (R9): the head radiologist's national register number
/// must reach the CvKO before anyone logs in to Heracles for the unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadRadiologistNotice {
    /// The site (unit).
    pub site: Hco,
    /// The head radiologist.
    pub insz: Insz,
    /// The head radiologist's username.
    pub username: Username,
}

/// One phase of an enterprise's plan; phases run in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Sessions that may run at the same time; every one ends with a log-out, and the
    /// next phase starts only once all are processed (the log-out barrier).
    Sessions {
        /// The sessions (at most the registry's sessions-per-person limit).
        sessions: Vec<Session>,
    },
    /// R7: nothing else is possible for the enterprise until the HTB designation is
    /// validated (signed by the legal representative and mailed; about 48 hours).
    Gate {
        /// The pending ticket, when it is already known.
        ticket: Option<String>,
        /// The expected wait.
        expected_ms: u64,
    },
    /// Manual notices to the coordination centre (R9); not registry writes.
    Notices {
        /// One per site whose head radiologist is new.
        notices: Vec<HeadRadiologistNotice>,
    },
    /// R6: user changes take effect for Heracles only after the propagation delay.
    Propagation {
        /// The delay.
        wait_ms: u64,
    },
}

/// The plan's time estimate: a lower bound along the critical path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Estimate {
    /// Sessions on the longest chain (one per phase of sessions).
    pub chain_sessions: u32,
    /// Log-out barriers on the longest chain.
    pub barriers: u32,
    /// Requests on the longest chain (log-ins, batches of writes, log-outs).
    pub requests: u32,
    /// Barriers × processing delay + requests × request time + propagation.
    pub ready_ms: u64,
    /// A lower bound on the apply's own wall time (gates and propagation aside), its
    /// physical floor: the critical path (barriers × processing delay + requests ×
    /// request time, a session's writes going in batches of [`BATCH_WRITES`]), or, for
    /// a whole plan, when that is longer, the sessions' requests over the sessions one
    /// person may have open at once (all of them, or one round's across every
    /// enterprise between the shortest way there and the shortest way on).
    #[serde(default)]
    pub apply_ms: u64,
    /// Requests of every session (log-ins, batches of writes, log-outs), on any chain.
    #[serde(default)]
    pub session_requests: u64,
    /// Gates on the way; their wait is not in `ready_ms`.
    pub gates: u32,
    /// The expected wait of the gates.
    pub gate_ms: u64,
}

// One type for what the engine enforces and the contract reports, with the one set of
// defaults; the planner's `PlanLimits` takes its part of it.
/// The registry's limits, for the planner (sessions) and `verify --wait` (propagation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Limits {
    /// How many sessions one person may have open at once.
    pub sessions_per_person: u32,
    /// How long after a log-out the session's writes become visible.
    pub processing_delay_ms: u64,
    /// How long after a processed user change Heracles honours it (R6: 20 minutes).
    pub propagation_delay_ms: u64,
    /// An idle session expires (and is processed) after this long.
    pub idle_timeout_ms: u64,
    /// The longest lease that can be taken at once.
    pub max_lease_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            sessions_per_person: 4,
            processing_delay_ms: 0,
            propagation_delay_ms: 20 * 60 * 1000,
            idle_timeout_ms: 30 * 60 * 1000,
            max_lease_ms: 60 * 60 * 1000,
        }
    }
}

/// What the planner works with: the part of the registry's [`Limits`] it plans with, and
/// its timing assumptions for the estimate. A saved plan stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLimits {
    /// Sessions one person may have open at once.
    pub sessions_per_person: u32,
    /// Time from log-out to processing.
    pub processing_delay_ms: u64,
    /// R6: 20 minutes.
    pub propagation_delay_ms: u64,
    /// The time one request takes, for the estimate (the command line measures the
    /// registry's round trip).
    pub request_ms: u64,
    /// The expected wait for an HTB validation (S1.10: at most 48 hours).
    pub gate_ms: u64,
}

impl PlanLimits {
    /// The request time assumed when none was measured.
    pub const DEFAULT_REQUEST_MS: u64 = 300;

    /// The planner's limits from the registry's and a measured request time.
    pub fn new(limits: &Limits, request_ms: u64) -> Self {
        PlanLimits {
            sessions_per_person: limits.sessions_per_person,
            processing_delay_ms: limits.processing_delay_ms,
            propagation_delay_ms: limits.propagation_delay_ms,
            request_ms,
            gate_ms: 48 * 60 * 60 * 1000,
        }
    }
}

impl Default for PlanLimits {
    /// The registry's default limits and the default request time.
    fn default() -> Self {
        PlanLimits::new(&Limits::default(), Self::DEFAULT_REQUEST_MS)
    }
}

/// The plan of one enterprise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterprisePlan {
    /// The enterprise.
    pub kbo: Kbo,
    /// Its name (from the registry when readable, else as declared).
    pub name: String,
    /// The changes, in tree order; steps point into this list.
    pub changes: Vec<Change>,
    /// The phases, in order.
    pub phases: Vec<Phase>,
    /// The estimate for this enterprise.
    pub estimate: Estimate,
}

impl EnterprisePlan {
    /// Every session, in order.
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.phases.iter().flat_map(|p| match p {
            Phase::Sessions { sessions } => sessions.as_slice(),
            _ => &[],
        })
    }

    /// Every step, in order.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.sessions().flat_map(|s| &s.steps)
    }
}

/// The whole plan: every declared enterprise with changes, and every finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// A digest of the desired state and the live states the plan was made from; the
    /// executor prefixes idempotency keys with it.
    pub id: String,
    /// The acting person; `None` when it could not be established (then authority was
    /// not checked, and a finding says so).
    pub actor: Option<Insz>,
    /// The limits planned with.
    pub limits: PlanLimits,
    /// Enterprises with changes, in declaration order.
    pub enterprises: Vec<EnterprisePlan>,
    /// Warnings and errors (authority, unsupported changes, ...).
    pub findings: Vec<Finding>,
    /// The estimate of the whole plan (enterprises run side by side).
    pub estimate: Estimate,
}

impl Plan {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.enterprises.iter().all(|e| e.changes.is_empty())
    }

    /// True when a finding is an error: such a plan must not be applied.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// Every change of every enterprise.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.enterprises.iter().flat_map(|e| &e.changes)
    }
}

/// What a saved plan remembers of one enterprise's live state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveFingerprint {
    /// The enterprise.
    pub kbo: Kbo,
    /// The registry's version of the tree; `None` when the actor could not read it.
    pub version: Option<u64>,
    /// SHA-256 of the tree's canonical JSON; `None` when not readable.
    pub digest: Option<String>,
}

/// A plan written by `plan --out`, read by `apply --plan`. Holds personal data (full
/// national register numbers, because the writes need them) but never a password: the
/// file is written with mode 0600.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    /// Always `csamctl-plan`.
    pub format: String,
    /// The saved-plan format version (1).
    pub version: u32,
    /// SHA-256 of the desired state's canonical JSON.
    pub desired_hash: String,
    /// Fingerprints of the live state of every enterprise the plan touches.
    pub live: Vec<LiveFingerprint>,
    /// The live trees those fingerprints were taken from, to explain what moved.
    pub snapshots: Vec<LiveState>,
    /// The plan.
    pub plan: Plan,
}

impl SavedPlan {
    /// The `format` value.
    pub const FORMAT: &'static str = "csamctl-plan";
    /// The current version.
    pub const VERSION: u32 = 1;
}

/// How one enterprise's live state moved since a saved plan was made: what
/// `apply --plan` shows when it refuses a stale plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseDrift {
    /// The enterprise.
    pub kbo: Kbo,
    /// The fingerprint in the saved plan.
    pub saved: LiveFingerprint,
    /// The fingerprint now.
    pub now: LiveFingerprint,
    /// What changed, object by object (creations appeared, deletions disappeared);
    /// empty when a side was not readable.
    pub changes: Vec<Change>,
}
