//! The registry's HTTP API as data: every [`Operation`] with its method, path, who may
//! call it, what it takes and what it answers, and which HTTP status each
//! [`RegistryError`] is sent with. The server builds its router from this table, the
//! client its URLs, and [`document`] the OpenAPI 3.1 document (committed at
//! `schemas/registry-api.openapi.json`, served at `/openapi.json`), so the three cannot
//! drift apart.
//!
//! Schemas come from schemars (JSON Schema 2020-12, which OpenAPI 3.1 takes as is). The
//! model's tree types carry no schema of their own, so this module describes them
//! through mirror definitions: each mirror also derives serde's remote `Deserialize`,
//! which builds the model type from the mirror's fields, so a field added to or removed
//! from the model stops the build until its mirror follows.
//!
//! May use `model`, the contract types, serde, serde_json and schemars.

use std::borrow::Cow;
use std::collections::BTreeSet;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::RegistryError;
use super::api::*;
use crate::model::{
    AccessManager, Address, Applications, CapacityType, Email, Function, Hco, HtbStatus, Insz, Kbo,
    KnownAccounts, Language, LiveAccount, LiveAdministrator, LiveCapacity, LiveEnterprise,
    LiveSite, LiveState, LiveSubdivision, RecognisedUnit, Representative, User, Username,
};

/// The name of the idempotency header of writes.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// Who may call an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Anyone.
    Public,
    /// The bearer of a person's token (`registry token`).
    Person,
    /// The bearer of the server's operator token (`--admin-token-file`).
    Operator,
}

/// One operation of the HTTP API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// This document.
    OpenApi,
    /// Readiness.
    Health,
    /// `Registry::limits`.
    Limits,
    /// `Registry::whoami`.
    Me,
    /// `Registry::open_session`.
    OpenSession,
    /// `Registry::list_sessions`.
    ListSessions,
    /// `Registry::close_session`.
    CloseSession,
    /// `Registry::snapshot`.
    Snapshot,
    /// `Registry::list_users`.
    ListUsers,
    /// `Registry::write`.
    Write,
    /// `Registry::write_batch`.
    WriteBatch,
    /// `Registry::look_up_accounts`.
    LookUpAccounts,
    /// `Registry::tickets`.
    Tickets,
    /// `Registry::pending_notices`.
    PendingNotices,
    /// `Registry::evaluate_access`.
    EvaluateAccess,
    /// `Registry::acquire_lease`.
    AcquireLease,
    /// `Registry::release_lease`.
    ReleaseLease,
    /// `RegistryOperator::issue_token`.
    IssueToken,
    /// `RegistryOperator::all_tickets`.
    AllTickets,
    /// `RegistryOperator::validate_ticket`.
    ValidateTicket,
    /// `RegistryOperator::notify_head_radiologist`.
    NotifyHeadRadiologist,
    /// `RegistryOperator::advance_clock`.
    AdvanceClock,
    /// `RegistryOperator::stats`.
    Stats,
    /// `RegistryOperator::load_reference`.
    LoadReference,
}

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

fn any_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object" })
}

impl Operation {
    /// Every operation, in the order of the document.
    pub const ALL: [Operation; 24] = [
        Operation::OpenApi,
        Operation::Health,
        Operation::Limits,
        Operation::Me,
        Operation::OpenSession,
        Operation::ListSessions,
        Operation::CloseSession,
        Operation::Snapshot,
        Operation::ListUsers,
        Operation::Write,
        Operation::WriteBatch,
        Operation::LookUpAccounts,
        Operation::Tickets,
        Operation::PendingNotices,
        Operation::EvaluateAccess,
        Operation::AcquireLease,
        Operation::ReleaseLease,
        Operation::IssueToken,
        Operation::AllTickets,
        Operation::ValidateTicket,
        Operation::NotifyHeadRadiologist,
        Operation::AdvanceClock,
        Operation::Stats,
        Operation::LoadReference,
    ];

    /// The HTTP method.
    pub fn method(self) -> &'static str {
        use Operation::*;
        match self {
            OpenApi | Health | Limits | Me | ListSessions | Snapshot | ListUsers | Tickets
            | PendingNotices | AllTickets | Stats => "GET",
            OpenSession
            | Write
            | WriteBatch
            | LookUpAccounts
            | EvaluateAccess
            | AcquireLease
            | IssueToken
            | ValidateTicket
            | NotifyHeadRadiologist
            | AdvanceClock
            | LoadReference => "POST",
            CloseSession | ReleaseLease => "DELETE",
        }
    }

    /// The path template, with `{parameters}` as axum and OpenAPI write them.
    pub fn path(self) -> &'static str {
        use Operation::*;
        match self {
            OpenApi => "/openapi.json",
            Health => "/v1/health",
            Limits => "/v1/limits",
            Me => "/v1/me",
            OpenSession | ListSessions => "/v1/sessions",
            CloseSession => "/v1/sessions/{session}",
            Snapshot => "/v1/sessions/{session}/enterprises/{kbo}",
            ListUsers => "/v1/sessions/{session}/enterprises/{kbo}/users",
            Write => "/v1/sessions/{session}/writes",
            WriteBatch => "/v1/sessions/{session}/write-batches",
            LookUpAccounts => "/v1/accounts/lookup",
            Tickets => "/v1/enterprises/{kbo}/tickets",
            PendingNotices => "/v1/enterprises/{kbo}/head-radiologist-notices",
            EvaluateAccess => "/v1/access-evaluations",
            AcquireLease => "/v1/enterprises/{kbo}/lease",
            ReleaseLease => "/v1/leases/{lease}",
            IssueToken => "/v1/admin/tokens",
            AllTickets => "/v1/admin/tickets",
            ValidateTicket => "/v1/admin/tickets/{ticket}/validate",
            NotifyHeadRadiologist => "/v1/admin/head-radiologists",
            AdvanceClock => "/v1/admin/clock",
            Stats => "/v1/admin/stats",
            LoadReference => "/v1/admin/reference",
        }
    }

    /// Who may call it.
    pub fn auth(self) -> Auth {
        use Operation::*;
        match self {
            OpenApi | Health => Auth::Public,
            Limits | Me | OpenSession | ListSessions | CloseSession | Snapshot | ListUsers
            | Write | WriteBatch | LookUpAccounts | Tickets | PendingNotices | EvaluateAccess
            | AcquireLease | ReleaseLease => Auth::Person,
            IssueToken
            | AllTickets
            | ValidateTicket
            | NotifyHeadRadiologist
            | AdvanceClock
            | Stats
            | LoadReference => Auth::Operator,
        }
    }

    /// The `operationId`.
    pub fn id(self) -> &'static str {
        use Operation::*;
        match self {
            OpenApi => "openapi",
            Health => "health",
            Limits => "limits",
            Me => "whoami",
            OpenSession => "open_session",
            ListSessions => "list_sessions",
            CloseSession => "close_session",
            Snapshot => "snapshot",
            ListUsers => "list_users",
            Write => "write",
            WriteBatch => "write_batch",
            LookUpAccounts => "look_up_accounts",
            Tickets => "tickets",
            PendingNotices => "pending_notices",
            EvaluateAccess => "evaluate_access",
            AcquireLease => "acquire_lease",
            ReleaseLease => "release_lease",
            IssueToken => "issue_token",
            AllTickets => "all_tickets",
            ValidateTicket => "validate_ticket",
            NotifyHeadRadiologist => "notify_head_radiologist",
            AdvanceClock => "advance_clock",
            Stats => "stats",
            LoadReference => "load_reference",
        }
    }

    fn summary(self) -> &'static str {
        use Operation::*;
        match self {
            OpenApi => "This OpenAPI document.",
            Health => "Readiness: answers 200 as soon as the server accepts requests.",
            Limits => {
                "The registry's limits (sessions per person, processing, propagation and idle delays)."
            }
            Me => {
                "Who the bearer of the token is: the person (INSZ, names), their roles in every enterprise where they have one or are a party to a designation request, and the registry's current time. An unknown token answers 401."
            }
            OpenSession => {
                "Log in: a session that sees the registry as processed now (R1). With an Idempotency-Key, a repeated log-in returns the session the first one opened (as it is now) and opens none."
            }
            ListSessions => "The caller's open sessions.",
            CloseSession => {
                "Log out: the session's writes are processed after the processing delay."
            }
            Snapshot => {
                "One enterprise's whole tree as the session sees it. The ETag changes whenever the tree does; If-None-Match answers 304."
            }
            ListUsers => {
                "One page of the enterprise's user records as the session sees them; follow `next` until it is null."
            }
            Write => {
                "Carry out one change in the session. The Idempotency-Key header is required: a repeated key returns the first answer and changes nothing."
            }
            WriteBatch => {
                "Carry out many changes in the session in one request (1 to 500), in order, each exactly as if sent alone right after the one before: its own rules, its own `idempotency_key` (the same key as a single write's Idempotency-Key header) and its own result. The answer is 200 with one result per write, in order: `acknowledged` with the receipt, or `refused` with the problem document (and status) the write alone would have got; a refusal does not stop the writes after it. A non-200 answer is about the request as a whole (malformed, unavailable): repeating the same batch is safe, since acknowledged writes answer with their first receipt."
            }
            LookUpAccounts => {
                "Which of the asked people have an account (with its username, kept for good) and which of the asked usernames someone who is none of the asked people holds (S3.4), in any enterprise, as the registry is now. Only what was asked is answered, at most 10000 people and 10000 usernames a request. Any person may ask: the answer names only people the caller named, and says of a username only that someone else holds it. The planner asks it for the people and usernames a desired state declares."
            }
            Tickets => {
                "The HTB designation tickets of an enterprise the caller acts for or requested."
            }
            PendingNotices => {
                "R9: the enterprise's head radiologists whose national register number the coordination centre is not yet recorded to know, on the sites whose users the caller has authority over (acknowledged writes count, processed or not)."
            }
            EvaluateAccess => {
                "The manual's troubleshooting checklist for one person (in the body, so that no INSZ appears in a URL)."
            }
            AcquireLease => "Take, or renew with `renew`, the enterprise's apply lease.",
            ReleaseLease => "Give a lease back before it expires.",
            IssueToken => "Operator: a new bearer token for a person (only its hash is stored).",
            AllTickets => "Operator: every HTB designation ticket.",
            ValidateTicket => {
                "Operator: mark a ticket validated, as the signed, mailed document does (R7)."
            }
            NotifyHeadRadiologist => {
                "Operator: the coordination centre knows this head radiologist for this site (R9)."
            }
            AdvanceClock => {
                "Operator: move the virtual clock forward (recorded, without effect, on the wall clock)."
            }
            Stats => "Operator: journal and audit counters and the registry's time.",
            LoadReference => {
                "Operator: load (merge) reference data: the KBO directory and the recognised units."
            }
        }
    }

    /// The status of a successful answer.
    pub fn success(self) -> u16 {
        use Operation::*;
        match self {
            OpenSession | IssueToken => 201,
            ReleaseLease | NotifyHeadRadiologist | LoadReference => 204,
            _ => 200,
        }
    }

    /// The largest request body taken, in bytes; a larger one is answered 413. A write
    /// or a query is a few kilobytes (8 MiB leaves room for batches); reference data
    /// (the KBO directory) may be as large as the files csamctl reads (64 MiB).
    pub fn body_limit(self) -> usize {
        match self {
            Operation::LoadReference => 64 << 20,
            _ => 8 << 20,
        }
    }

    fn request(self) -> Option<SchemaFn> {
        use Operation::*;
        match self {
            Write => Some(schema::<super::Write>),
            WriteBatch => Some(schema::<BatchRequest>),
            EvaluateAccess => Some(schema::<AccessQuery>),
            LookUpAccounts => Some(schema::<AccountQuery>),
            AcquireLease => Some(schema::<LeaseRequest>),
            IssueToken => Some(schema::<TokenRequest>),
            NotifyHeadRadiologist => Some(schema::<KnownHeadRadiologist>),
            AdvanceClock => Some(schema::<ClockAdvance>),
            LoadReference => Some(schema::<Reference>),
            _ => None,
        }
    }

    fn response(self) -> Option<SchemaFn> {
        use Operation::*;
        match self {
            OpenApi => Some(any_object),
            Health => Some(schema::<super::Health>),
            Limits => Some(schema::<super::Limits>),
            Me => Some(schema::<super::Me>),
            OpenSession => Some(schema::<SessionInfo>),
            ListSessions => Some(schema::<Vec<SessionInfo>>),
            CloseSession => Some(schema::<CloseReceipt>),
            Snapshot => Some(schema::<LiveState>),
            ListUsers => Some(schema::<UserPage>),
            Write => Some(schema::<WriteReceipt>),
            WriteBatch => Some(schema::<BatchResponse>),
            LookUpAccounts => Some(schema::<KnownAccounts>),
            Tickets | AllTickets => Some(schema::<Vec<Ticket>>),
            PendingNotices => Some(schema::<Vec<PendingNotice>>),
            EvaluateAccess => Some(schema::<AccessReport>),
            AcquireLease => Some(schema::<Lease>),
            IssueToken => Some(schema::<IssuedToken>),
            ValidateTicket => Some(schema::<Ticket>),
            AdvanceClock => Some(schema::<ClockReading>),
            Stats => Some(schema::<RegistryStats>),
            ReleaseLease | NotifyHeadRadiologist | LoadReference => None,
        }
    }

    /// The statuses of refusals this operation can answer with (besides 401, 500 and
    /// 503, which any authenticated operation can).
    fn refusals(self) -> &'static [u16] {
        use Operation::*;
        match self {
            OpenApi | Health | Limits | Me | ListSessions | AllTickets | Stats => &[],
            OpenSession => &[400, 429],
            CloseSession => &[403, 409],
            Snapshot | ListUsers => &[400, 403, 404, 409],
            Write => &[400, 403, 404, 409, 422],
            WriteBatch => &[400],
            LookUpAccounts => &[400],
            Tickets | ReleaseLease => &[403, 404],
            PendingNotices => &[400, 403, 404],
            EvaluateAccess => &[400, 403, 404],
            AcquireLease => &[400, 403, 404, 409],
            IssueToken | NotifyHeadRadiologist | AdvanceClock => &[400],
            LoadReference => &[400, 404, 409],
            ValidateTicket => &[404, 409],
        }
    }

    /// The path with its parameters filled in, in order, percent-encoded.
    pub fn url_path(self, params: &[&str]) -> String {
        let mut out = String::new();
        let mut params = params.iter();
        let mut rest = self.path();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            out.push_str(&percent_encode(params.next().copied().unwrap_or_default()));
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        out
    }

    fn path_parameters(self) -> Vec<&'static str> {
        self.path()
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect()
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The HTTP status an error is sent with. Authentication failures (no or an unknown
/// bearer token) are 401 with `not_authorised`; the server decides those itself.
pub(crate) fn status_of(error: &RegistryError) -> u16 {
    use RegistryError::*;
    match error {
        SessionClosed { .. }
        | SessionStale { .. }
        | ParentNotVisible { .. }
        | OneSitePerSession
        | StructureAfterUsers
        | UsernameTaken { .. }
        | UsernameImmutable { .. }
        | GatePending { .. }
        | Conflict { .. }
        | LeaseHeld { .. } => 409,
        NotAuthorised { .. } => 403,
        CapacityNotRecognised { .. }
        | SubdivisionNotRecognised { .. }
        | SiteNotRecognised { .. }
        | PasswordRequired
        | IdempotencyKeyReused { .. } => 422,
        NotFound { .. } => 404,
        TooManySessions { .. } => 429,
        InvalidRequest { .. } => 400,
        Unavailable { .. } => 503,
        Internal { .. } => 500,
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No content",
        304 => "Not modified: the tree still has the ETag given in If-None-Match",
        400 => "Bad request (`invalid_request`)",
        401 => "No or an unknown bearer token (`not_authorised`)",
        403 => "Refused: no authority (`not_authorised`)",
        404 => "Not found (`not_found`)",
        405 => "This method is not offered on this path (`invalid_request`)",
        413 => "The request body is larger than this operation takes (`invalid_request`)",
        409 => {
            "Refused by the registry's state or rules (`session_closed`, `session_stale`, `parent_not_visible`, `one_site_per_session`, `structure_after_users`, `username_taken`, `username_immutable`, `gate_pending`, `conflict`, `lease_held`)"
        }
        422 => {
            "Refused by reference data or field rules (`capacity_not_recognised`, `subdivision_not_recognised`, `site_not_recognised`, `password_required`, `idempotency_key_reused`)"
        }
        429 => "Too many open sessions (`too_many_sessions`); see Retry-After",
        500 => "Internal error (`internal`)",
        503 => "Unavailable now (`unavailable`); retry after Retry-After seconds",
        _ => "",
    }
}

// ----- schemas of the model's types ---------------------------------------------------

macro_rules! string_schemas {
    ($($ty:ty => $name:literal, $schema:tt;)+) => {
        $(
            impl JsonSchema for $ty {
                fn schema_name() -> Cow<'static, str> {
                    $name.into()
                }

                fn schema_id() -> Cow<'static, str> {
                    concat!("csamctl::model::", $name).into()
                }

                fn json_schema(_: &mut SchemaGenerator) -> Schema {
                    json_schema!($schema)
                }
            }
        )+
    };
}

string_schemas! {
    Insz => "Insz", {
        "type": "string",
        "format": "insz",
        "pattern": "^[0-9]{11}$",
        "description": "A national register or BIS number (INSZ): 11 digits without separators. Format `insz`: the last two digits are 97 minus the first nine modulo 97 (for people born from 2000 on, of 2 followed by the first nine), and the month (digits 3-4) is 00-12, or 20-32 or 40-52 for BIS numbers. A number that fails these checks is refused with 400. Personal data."
    };
    Kbo => "Kbo", {
        "type": "string",
        "format": "kbo",
        "pattern": "^[01][0-9]{9}$",
        "description": "An enterprise number (KBO): 10 digits without separators. Format `kbo`: the last two digits are 97 minus the first eight modulo 97. A number that fails this check is refused with 400."
    };
    Hco => "Hco", {
        "type": "string",
        "pattern": "^[0-9]{1,16}$",
        "description": "An HCO number (subdivision or site): digits only."
    };
    Username => "Username", {
        "type": "string",
        "pattern": "^[a-z0-9]{8,30}$",
        "description": "A CSAM username in its one spelling, lower case: 8 to 30 of a-z and 0-9. Upper case is refused (400), not folded. Unique case-insensitively, immutable."
    };
    Email => "Email", {
        "type": "string",
        "format": "email",
        "maxLength": 254,
        "description": "An e-mail address (the HTML rule, with a dotted domain)."
    };
}

macro_rules! schema_via_mirror {
    ($($ty:ty => $mirror:ty;)+) => {
        $(
            impl JsonSchema for $ty {
                fn schema_name() -> Cow<'static, str> {
                    <$mirror>::schema_name()
                }

                fn schema_id() -> Cow<'static, str> {
                    <$mirror>::schema_id()
                }

                fn json_schema(generator: &mut SchemaGenerator) -> Schema {
                    <$mirror>::json_schema(generator)
                }
            }
        )+
    };
}

schema_via_mirror! {
    LiveState => LiveStateDef;
    LiveEnterprise => LiveEnterpriseDef;
    Address => AddressDef;
    HtbStatus => HtbStatusDef;
    Representative => LiveRepresentativeDef;
    AccessManager => LiveAccessManagerDef;
    LiveAdministrator => LiveAdministratorDef;
    LiveCapacity => LiveCapacityDef;
    LiveSubdivision => LiveSubdivisionDef;
    LiveSite => LiveSiteDef;
    User => LiveUserDef;
    RecognisedUnit => RecognisedUnitDef;
    LiveAccount => LiveAccountDef;
    KnownAccounts => KnownAccountsDef;
}

/// One enterprise's tree as one session sees it, with the version of that view.
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "LiveState")]
#[allow(dead_code)]
struct LiveStateDef {
    /// Changes whenever a processed change to this enterprise becomes visible.
    version: u64,
    /// The enterprise and everything under it.
    enterprise: LiveEnterprise,
    /// The programme's recognised units of this enterprise (R8).
    #[serde(default)]
    recognised_units: Option<Vec<RecognisedUnit>>,
}

/// A recognised unit (R8): a subdivision and its sites.
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "RecognisedUnit")]
#[allow(dead_code)]
struct RecognisedUnitDef {
    /// The subdivision's HCO number.
    subdivision: Hco,
    /// The HCO numbers of its sites (none when left out).
    #[serde(default)]
    sites: Vec<Hco>,
}

/// The answer of the account look-up: only what was asked.
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "KnownAccounts")]
#[allow(dead_code)]
struct KnownAccountsDef {
    /// The asked people who have an account, with its username (kept for good).
    accounts: Vec<LiveAccount>,
    /// The asked usernames that belong to a person who is none of the asked people: it
    /// says that someone else holds them, not who.
    taken: Vec<Username>,
}

/// A person's account: the username they keep for good.
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "LiveAccount")]
#[allow(dead_code)]
struct LiveAccountDef {
    /// National register number.
    insz: Insz,
    /// CSAM username.
    username: Username,
}

/// An enterprise with its access managers and capacities.
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "LiveEnterprise")]
#[allow(dead_code)]
struct LiveEnterpriseDef {
    /// The enterprise number.
    kbo: Kbo,
    /// The name in the KBO directory.
    name: String,
    /// The address in the KBO directory.
    address: Address,
    /// Where the main access manager designation stands (R7).
    htb_status: HtbStatus,
    /// The validated main access manager, if any.
    main_access_manager: Option<Representative>,
    /// Access managers appointed by the HTB (the HTB itself is not listed).
    access_managers: Vec<AccessManager>,
    /// Activated capacities.
    capacities: Vec<LiveCapacity>,
    /// The levels whose user records the caller has no authority to read: their user
    /// lists are empty because they were not read. Absent when every level was read.
    #[serde(default)]
    unreadable_users: Vec<crate::model::UserLevel>,
}

/// A postal address from the KBO directory.
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "Address")]
#[allow(dead_code)]
struct AddressDef {
    /// Street name.
    street: String,
    /// House number (with box).
    number: String,
    /// Postal code.
    postcode: String,
    /// Municipality.
    municipality: String,
    /// ISO country code.
    country: String,
}

/// Where an enterprise's main access manager designation stands (R7).
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "HtbStatus", tag = "state", rename_all = "snake_case")]
#[allow(dead_code)]
enum HtbStatusDef {
    /// No designation has been requested.
    None,
    /// A designation was requested; nothing else is possible until it is validated.
    Pending {
        /// The ticket number (`3Y0-000ZRF5-00-J`).
        ticket: String,
    },
    /// The HTB is validated.
    Validated,
}

/// A person acting for the enterprise (the HTB, or a legal representative).
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "Representative")]
#[schemars(rename = "LiveRepresentative")]
#[allow(dead_code)]
struct LiveRepresentativeDef {
    /// National register number.
    insz: Insz,
    /// Family name.
    last_name: String,
    /// Given name.
    first_name: String,
    /// Role within the enterprise.
    quality: Option<String>,
    /// E-mail address.
    email: Option<Email>,
    /// Telephone.
    phone: Option<String>,
    /// Mobile telephone.
    mobile: Option<String>,
    /// Fax.
    fax: Option<String>,
}

/// An access manager (toegangsbeheerder).
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "AccessManager")]
#[schemars(rename = "LiveAccessManager")]
#[allow(dead_code)]
struct LiveAccessManagerDef {
    /// National register number.
    insz: Insz,
    /// Family name.
    last_name: String,
    /// Given name.
    first_name: String,
    /// E-mail address.
    email: Email,
    /// Domains managed.
    domains: Vec<String>,
}

/// Who administers a capacity, subdivision or site.
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "LiveAdministrator", tag = "kind", rename_all = "snake_case")]
#[allow(dead_code)]
enum LiveAdministratorDef {
    /// Administered by whoever manages the level above.
    Itself,
    /// An existing person (the capacity's local administrator).
    Person {
        /// National register number.
        insz: Insz,
    },
    /// An administrator account (subdivision or site administrator).
    Account {
        /// CSAM username.
        username: Username,
        /// National register number.
        insz: Insz,
        /// Family name.
        last_name: String,
        /// Given name.
        first_name: String,
        /// E-mail address.
        email: Email,
        /// Account language.
        language: Language,
    },
}

/// An activated capacity (hoedanigheid).
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "LiveCapacity")]
#[allow(dead_code)]
struct LiveCapacityDef {
    /// The capacity type.
    kind: CapacityType,
    /// Contact e-mail.
    email: Email,
    /// Local administrator.
    local_administrator: LiveAdministrator,
    /// Secured applications enabled.
    applications: Applications,
    /// Whether the capacity is active.
    active: bool,
    /// Subdivisions.
    subdivisions: Vec<LiveSubdivision>,
    /// Users on the capacity level: they exist but never get access (R4).
    wrong_level_users: Vec<User>,
}

/// A subdivision (subafdeling).
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "LiveSubdivision")]
#[allow(dead_code)]
struct LiveSubdivisionDef {
    /// HCO number.
    hco: Hco,
    /// Name.
    name: String,
    /// Contact e-mail.
    email: Email,
    /// Administrator.
    administrator: LiveAdministrator,
    /// Secured applications enabled.
    applications: Applications,
    /// Whether the subdivision is active.
    active: bool,
    /// Sites.
    sites: Vec<LiveSite>,
    /// Users on the subdivision level: they exist but never get access (R4).
    wrong_level_users: Vec<User>,
}

/// A site (subafdeling-site): one mammography unit.
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "LiveSite")]
#[allow(dead_code)]
struct LiveSiteDef {
    /// HCO number.
    hco: Hco,
    /// Name.
    name: String,
    /// Contact e-mail.
    email: Option<Email>,
    /// Administrator.
    administrator: LiveAdministrator,
    /// Secured applications enabled.
    applications: Applications,
    /// Whether the site is active.
    active: bool,
    /// Users of this site.
    users: Vec<User>,
}

/// A user record: one person on one level (normally a site).
#[derive(Deserialize, JsonSchema)]
#[serde(remote = "User")]
#[schemars(rename = "LiveUser")]
#[allow(dead_code)]
struct LiveUserDef {
    /// National register number.
    insz: Insz,
    /// The person's CSAM username (the same on every level).
    username: Username,
    /// Names, title, language and e-mail addresses.
    #[serde(flatten)]
    details: UserDetails,
    /// Whether the user is active.
    active: bool,
    /// Secured applications enabled for the user.
    applications: Applications,
    /// Functions on this level; on any level but a site they give no access (R4).
    functions: BTreeSet<Function>,
}

// ----- the document -------------------------------------------------------------------

fn problem_response(g: &mut SchemaGenerator, status: u16) -> Value {
    let mut response = json!({
        "description": status_text(status),
        "content": { Problem::MEDIA_TYPE: { "schema": g.subschema_for::<Problem>() } },
    });
    if matches!(status, 429 | 503) {
        response["headers"] = json!({
            "Retry-After": {
                "description": "Seconds to wait before repeating the request.",
                "schema": { "type": "integer", "minimum": 0 }
            }
        });
    }
    response
}

fn parameter(
    name: &str,
    location: &str,
    required: bool,
    description: &str,
    schema: Schema,
) -> Value {
    json!({
        "name": name,
        "in": location,
        "required": required,
        "description": description,
        "schema": schema,
    })
}

/// 1 to 200 printable ASCII characters (`IdempotencyKey::new`).
fn idempotency_key_schema() -> Schema {
    json_schema!({ "type": "string", "pattern": "^[!-~]{1,200}$" })
}

fn operation_object(op: Operation, g: &mut SchemaGenerator) -> Value {
    let mut parameters = Vec::new();
    for name in op.path_parameters() {
        let (description, schema) = match name {
            "kbo" => ("The enterprise number.", g.subschema_for::<Kbo>()),
            "session" => ("The session (`s-000042`).", g.subschema_for::<SessionId>()),
            "lease" => ("The lease.", g.subschema_for::<LeaseId>()),
            _ => ("The ticket number.", json_schema!({ "type": "string" })),
        };
        parameters.push(parameter(name, "path", true, description, schema));
    }
    match op {
        Operation::Write => parameters.push(parameter(
            IDEMPOTENCY_KEY,
            "header",
            true,
            "1-200 printable ASCII characters chosen by the client; a repeated key returns the first answer and writes nothing.",
            idempotency_key_schema(),
        )),
        Operation::OpenSession => parameters.push(parameter(
            IDEMPOTENCY_KEY,
            "header",
            false,
            "1-200 printable ASCII characters chosen by the client; a repeated key returns the session the first log-in opened and opens none.",
            idempotency_key_schema(),
        )),
        Operation::Snapshot => parameters.push(parameter(
            "If-None-Match",
            "header",
            false,
            "The ETag of a tree read before: 304 when it has not changed.",
            json_schema!({ "type": "string" }),
        )),
        Operation::ListUsers => {
            parameters.push(parameter(
                "after",
                "query",
                false,
                "The `next` cursor of the previous page. Opaque to clients; this registry's are `o` and an offset, and anything else is refused with 400.",
                json_schema!({ "type": "string", "pattern": "^o[0-9]{1,18}$" }),
            ));
            parameters.push(parameter(
                "limit",
                "query",
                false,
                "Page size, 1 to 10000 (default 1000).",
                json_schema!({ "type": "integer", "minimum": 1, "maximum": PageRequest::MAX_LIMIT, "default": PageRequest::DEFAULT_LIMIT }),
            ));
        }
        _ => {}
    }

    let mut responses = Map::new();
    let mut ok = json!({ "description": status_text(op.success()) });
    if let Some(schema) = op.response() {
        ok["content"] = json!({ "application/json": { "schema": schema(g) } });
    }
    if op == Operation::Snapshot {
        ok["headers"] = json!({
            "ETag": {
                "description": "Identifies this tree exactly; changes whenever it does.",
                "schema": { "type": "string" }
            }
        });
        responses.insert("304".into(), json!({ "description": status_text(304) }));
    }
    responses.insert(op.success().to_string(), ok);
    let mut refusals: BTreeSet<u16> = op.refusals().iter().copied().collect();
    if op.auth() != Auth::Public {
        refusals.extend([401, 500, 503]);
    }
    if op.auth() == Auth::Operator {
        refusals.insert(403);
    }
    if op.request().is_some() {
        refusals.extend([400, 413]);
    }
    if !op.path_parameters().is_empty() {
        // A parameter that is not a KBO number, session or lease id.
        refusals.insert(400);
    }
    for status in refusals {
        responses.insert(status.to_string(), problem_response(g, status));
    }

    let mut object = json!({
        "operationId": op.id(),
        "summary": op.summary(),
        "responses": responses,
    });
    if !parameters.is_empty() {
        object["parameters"] = Value::Array(parameters);
    }
    if let Some(schema) = op.request() {
        object["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": schema(g) } },
        });
    }
    match op.auth() {
        Auth::Public => object["security"] = json!([]),
        Auth::Person => object["security"] = json!([{ "person": [] }]),
        Auth::Operator => object["security"] = json!([{ "operator": [] }]),
    }
    if op.auth() == Auth::Operator {
        object["tags"] = json!(["operator"]);
    } else if op.auth() == Auth::Person {
        object["tags"] = json!(["registry"]);
    }
    object
}

/// A new account's initial password travels beside the write in the code
/// ([`WithPassword`]) and inside the new user on the wire: the `NewUser` the wire carries
/// has the optional `password` that the model's [`User`] has not.
fn wire_password(schemas: &mut Map<String, Value>, password: Schema) {
    let mut password = password.to_value();
    password["description"] = json!(
        "The initial password, needed only when the person has no account yet: the secret itself, never stored."
    );
    if let Some(properties) = schemas
        .get_mut("NewUser")
        .and_then(|user| user.get_mut("properties"))
        .and_then(Value::as_object_mut)
    {
        properties.insert("password".into(), password);
    }
}

/// The contract's sets (applications, functions) are read as sets, as the registry's
/// own types are: a repeated item counts once. The document says so instead of
/// claiming `uniqueItems`, which no side enforces.
fn sets_take_repeats(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.remove("uniqueItems").is_some() {
                let note = "A set: a repeated item counts once.";
                let description = match map.get("description").and_then(Value::as_str) {
                    Some(d) => format!("{d} {note}"),
                    None => note.to_string(),
                };
                map.insert("description".into(), Value::String(description));
            }
            map.values_mut().for_each(sets_take_repeats);
        }
        Value::Array(items) => items.iter_mut().for_each(sets_take_repeats),
        _ => {}
    }
}

/// The OpenAPI 3.1 document of the registry's HTTP API.
pub fn document() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    let mut g = settings.into_generator();

    let mut paths = Map::new();
    for op in Operation::ALL {
        let object = operation_object(op, &mut g);
        let item = paths
            .entry(op.path().to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        item[op.method().to_ascii_lowercase()] = object;
    }
    let password = g.subschema_for::<Option<AccountPassword>>();
    let mut schemas = g.take_definitions(true);
    wire_password(&mut schemas, password);
    schemas.values_mut().for_each(sets_take_repeats);
    paths.values_mut().for_each(sets_take_repeats);

    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "csamctl registry API",
            "version": "1",
            "description": concat!(
                "The contract between csamctl and a CSAM registry (docs/registry-api.md in csamctl's repository): ",
                "`csamctl registry serve` implements it over csamctl's own engine, and a gateway ",
                "to the real system would implement the same.\n\n",
                "Authentication: `Authorization: Bearer <token>`. Person tokens come from ",
                "`csamctl registry token` or `POST /v1/admin/tokens`; every request is authorised ",
                "against that person's authority. The operator surface (`/v1/admin/...`) takes the ",
                "server's operator token, which `registry serve` reads from (or creates in) its ",
                "`--admin-token-file` (default: the database path plus `.admin-token`, mode 0600).\n\n",
                "Errors are RFC 9457 problem documents (`application/problem+json`) whose `code` ",
                "is stable. 503 and 429 carry Retry-After. Writes require an Idempotency-Key; ",
                "a batch of writes carries one per write."
            ),
        },
        "tags": [
            { "name": "registry", "description": "What a person's token may do." },
            { "name": "operator", "description": "The operator-only surface." },
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "person": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A person's token (csamctl registry token)."
                },
                "operator": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The server's operator token (--admin-token-file)."
                },
            },
        },
    })
}

/// The document as committed: pretty JSON with a final newline.
pub fn document_json() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_a_unique_method_and_path() {
        let mut seen = BTreeSet::new();
        for op in Operation::ALL {
            assert!(
                seen.insert((op.method(), op.path())),
                "{op:?} shares its route"
            );
        }
        assert_eq!(
            Operation::Snapshot.url_path(&["s-000001", "0198765470"]),
            "/v1/sessions/s-000001/enterprises/0198765470"
        );
        assert_eq!(
            Operation::ValidateTicket.url_path(&["3Y0/1 2"]),
            "/v1/admin/tickets/3Y0%2F1%202/validate"
        );
    }

    #[test]
    fn statuses_follow_the_kind_of_refusal() {
        assert_eq!(status_of(&RegistryError::OneSitePerSession), 409);
        assert_eq!(
            status_of(&RegistryError::NotAuthorised { reason: "x".into() }),
            403
        );
        assert_eq!(
            status_of(&RegistryError::TooManySessions {
                limit: 4,
                now_ms: 0
            }),
            429
        );
        assert_eq!(
            status_of(&RegistryError::Unavailable { reason: "x".into() }),
            503
        );
    }

    /// The mirrors read what the model writes: a real tree goes through both.
    #[test]
    fn mirrors_agree_with_the_model() {
        let text = r#"{
            "version": 3,
            "enterprise": {
                "kbo": "0198765470", "name": "AZ", "address": {"street": "s", "number": "1",
                "postcode": "8930", "municipality": "Menen", "country": "BE"},
                "htb_status": {"state": "pending", "ticket": "3Y0-000ZRF5-00-J"},
                "main_access_manager": null, "access_managers": [],
                "capacities": [{"kind": "mammography-unit", "email": "a@b.example",
                    "local_administrator": {"kind": "person", "insz": "82120926312"},
                    "applications": ["heracles"], "active": true, "wrong_level_users": [],
                    "subdivisions": [{"hco": "71977100", "name": "n", "email": "a@b.example",
                        "administrator": {"kind": "itself"}, "applications": [], "active": true,
                        "wrong_level_users": [], "sites": [{"hco": "71977101", "name": "m",
                        "email": null, "administrator": {"kind": "itself"}, "applications": [],
                        "active": true, "users": [{"insz": "82120926312", "username": "geertvandamme",
                        "last_name": "V", "first_name": "G", "title": null, "language": "nl",
                        "email": "g@v.example", "local_email": null, "active": true,
                        "applications": ["heracles"], "functions": ["radiologist"]}]}]}]}]
            }
        }"#;
        let model: LiveState = serde_json::from_str(text).expect("model reads it");
        let mirror = LiveStateDef::deserialize(&mut serde_json::Deserializer::from_str(text))
            .expect("mirror reads it");
        assert_eq!(mirror, model);
    }

    #[test]
    fn sets_are_documented_as_sets_not_unique_items() {
        let text = document_json();
        assert!(!text.contains("uniqueItems"));
        assert!(text.contains("A set: a repeated item counts once."));
    }

    #[test]
    fn document_names_every_operation_and_schema() {
        let doc = document();
        for op in Operation::ALL {
            let method = op.method().to_ascii_lowercase();
            assert_eq!(
                doc["paths"][op.path()][&method]["operationId"],
                op.id(),
                "{op:?}"
            );
        }
        for name in ["LiveState", "Write", "Problem", "UserPage", "Insz"] {
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "schema {name} missing"
            );
        }
        let text = serde_json::to_string(&doc).expect("json");
        assert!(
            !text.contains("#/$defs"),
            "every reference points into components"
        );
    }
}
