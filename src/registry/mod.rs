//! The registry contract: the [`Registry`] trait that the planner and executor talk to,
//! the operator surface [`RegistryOperator`], their error type [`RegistryError`], and
//! the request/response types, which are also the HTTP wire format.
//!
//! The rules of `docs/rules.md` live only in `engine`; `sqlite` stores what the engine
//! decided; `embedded` ([`SqliteRegistry`]) joins the two into an in-process registry on
//! a SQLite file. `server` serves a registry file over HTTP (axum), and [`http`] is the client
//! (reqwest) that implements the same traits against it; both take their paths and
//! wire types from [`openapi`] and the types here.
//! This module may use `model` only (plus serde, schemars and async-trait for the
//! contract).

mod api;
mod checkpoint;
pub(crate) mod clock;
pub(crate) mod embedded;
pub(crate) mod engine;
pub mod http;
pub mod openapi;
pub(crate) mod server;
pub(crate) mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{Hco, Insz, Kbo, KnownAccounts, LiveState};

pub use api::*;
pub use clock::VirtualClock;
pub use embedded::{ClockKind, OpenOptions, SqliteRegistry};
pub use engine::is_ticket_number;

/// A registry as one person (the bearer of one token) sees it.
///
/// Object safe: the executor holds an `Arc<dyn Registry>`. Every write carries an
/// [`IdempotencyKey`]; repeating a write with the same key returns the first answer and
/// changes nothing.
#[async_trait]
pub trait Registry: Send + Sync {
    /// The registry's limits (sessions per person, processing and propagation delays).
    async fn limits(&self) -> Result<Limits, RegistryError>;

    /// Who the caller is (`GET /v1/me`): the person the token belongs to, their names and
    /// roles per enterprise, and the registry's current time. An unknown token is
    /// refused with `not_authorised`.
    async fn whoami(&self) -> Result<Me, RegistryError>;

    /// Logs in: opens a session that sees the registry as processed now (R1). Repeating
    /// a log-in with the same key returns the session the first one opened (as it is
    /// now), so a retried log-in whose answer was lost opens no second session.
    async fn open_session_keyed(&self, key: &IdempotencyKey) -> Result<SessionInfo, RegistryError>;

    /// Logs in once, with a key of its own (see [`Registry::open_session_keyed`]).
    async fn open_session(&self) -> Result<SessionInfo, RegistryError> {
        self.open_session_keyed(&IdempotencyKey::log_in()).await
    }

    /// The caller's open sessions.
    async fn list_sessions(&self) -> Result<Vec<SessionInfo>, RegistryError>;

    /// Logs out; the session's writes are processed after the processing delay.
    async fn close_session(&self, session: &SessionId) -> Result<CloseReceipt, RegistryError>;

    /// One enterprise's whole tree as this session sees it, with its version.
    async fn snapshot(&self, session: &SessionId, kbo: &Kbo) -> Result<LiveState, RegistryError>;

    /// One page of the enterprise's user records as this session sees them, in the order
    /// of [`UserPage::all_from_live`]. A session's view does not change while it is
    /// open, so paging through it is consistent. The default cuts the page from a
    /// snapshot; registries with an index of their own answer without building one.
    async fn list_users(
        &self,
        session: &SessionId,
        kbo: &Kbo,
        page: &PageRequest,
    ) -> Result<UserPage, RegistryError> {
        let live = self.snapshot(session, kbo).await?;
        UserPage::from_live(&live, page)
    }

    /// Carries out one change in a session. `password` is a new account's initial
    /// password, for a [`Write::CreateUser`] of a person with no account yet; the
    /// registry never stores it.
    async fn write(
        &self,
        session: &SessionId,
        key: &IdempotencyKey,
        write: &Write,
        password: Option<&AccountPassword>,
    ) -> Result<WriteReceipt, RegistryError>;

    /// Carries out many changes in a session in one request, in order, each exactly as
    /// if sent alone right after the one before: its own rules, its own idempotency key
    /// (a write acknowledged before under its key answers with its first receipt) and
    /// its own answer, one per write in the order given. A refusal of one write does not
    /// stop the others.
    ///
    /// The outer error is the request's as a whole: malformed or too long
    /// (`invalid_request`, nothing carried out), or unavailable or failed (nothing
    /// carried out, or an answer lost on the way after everything was). Because every
    /// write carries its key, repeating the whole batch is safe either way: what was
    /// acknowledged answers with its first receipt. The default sends the writes one by
    /// one, for registries without a batch request of their own.
    async fn write_batch(
        &self,
        session: &SessionId,
        writes: &[BatchWrite],
    ) -> Result<BatchOutcomes, RegistryError> {
        BatchRequest::check_len(writes.len())?;
        let mut out = Vec::with_capacity(writes.len());
        for w in writes {
            match self
                .write(session, &w.idempotency_key, &w.write, w.password.as_ref())
                .await
            {
                Err(e) if e.fails_request() => return Err(e),
                answer => out.push(answer),
            }
        }
        Ok(out)
    }

    /// The account look-up: of the asked people, those with an account and its
    /// username; of the asked usernames, those someone who is none of the asked people
    /// holds (S3.4). Accounts are not per enterprise, so the answer covers them all; it
    /// is answered as the registry is now (acknowledged writes count, as the rules
    /// check them). Any person may ask (a first onboarding has no role yet): the answer
    /// names only people the caller named. Refused with `invalid_request` for a list
    /// longer than [`AccountQuery::MAX`].
    async fn look_up_accounts(&self, query: &AccountQuery) -> Result<KnownAccounts, RegistryError>;

    /// The HTB designation tickets of an enterprise the caller acts for or requested.
    async fn tickets(&self, kbo: &Kbo) -> Result<Vec<Ticket>, RegistryError>;

    /// Evaluates the manual's troubleshooting checklist for one person, on one site or
    /// on every unit where the person has a user record.
    async fn evaluate_access(
        &self,
        person: &Insz,
        site: Option<&Hco>,
    ) -> Result<AccessReport, RegistryError>;

    /// R9: the head radiologists of the enterprise whose national register number the
    /// coordination centre is not yet recorded to know, on the sites whose users the
    /// caller has authority over ([`PendingNotice`]). Derived from the registry's state,
    /// so every notice owed can be written again at any time.
    async fn pending_notices(&self, kbo: &Kbo) -> Result<Vec<PendingNotice>, RegistryError>;

    /// Takes (or, with the id of the caller's current lease, renews) the apply lease of an
    /// enterprise, so that two applies never run on it at once.
    async fn acquire_lease(
        &self,
        kbo: &Kbo,
        request: &LeaseRequest,
    ) -> Result<Lease, RegistryError>;

    /// Gives a lease back before it expires.
    async fn release_lease(&self, lease: &LeaseId) -> Result<(), RegistryError>;
}

/// The operator-only surface: what the signed and mailed document, the coordination
/// centre and the passing of time do in reality, plus token issue.
#[async_trait]
pub trait RegistryOperator: Send + Sync {
    /// A new bearer token for this person; only its hash is stored.
    async fn issue_token(&self, person: &Insz) -> Result<String, RegistryError>;

    /// The registry as seen by the bearer of `token`.
    async fn connect(&self, token: &str) -> Result<Arc<dyn Registry>, RegistryError>;

    /// Every HTB designation ticket.
    async fn all_tickets(&self) -> Result<Vec<Ticket>, RegistryError>;

    /// Marks a ticket validated: its HTB becomes the enterprise's HTB (R7).
    async fn validate_ticket(&self, ticket: &str) -> Result<Ticket, RegistryError>;

    /// Records that the coordination centre (CvKO) knows this head radiologist for this
    /// site (R9: a manual notice outside CSAM).
    async fn notify_head_radiologist(&self, site: &Hco, person: &Insz)
    -> Result<(), RegistryError>;

    /// Moves the virtual clock forward; returns the registry's time afterwards. On a
    /// registry running on the wall clock the advance is recorded but has no effect.
    async fn advance_clock(&self, by_ms: u64) -> Result<i64, RegistryError>;

    /// Counters that let a test see that a replayed write changed nothing.
    async fn stats(&self) -> Result<RegistryStats, RegistryError>;

    /// Loads (merges) reference data: the KBO directory and the recognised units.
    async fn load_reference(&self, reference: &Reference) -> Result<(), RegistryError>;
}

/// Why the registry refused or failed a request. The `code` (the serde tag) is stable:
/// the HTTP API sends it in its problem documents and scripts may match on it.
#[derive(
    Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RegistryError {
    /// The session does not exist, was closed, or expired after the idle timeout.
    #[error("session {session} is closed or expired; log in again")]
    SessionClosed {
        /// The session.
        session: String,
    },
    /// The target exists but this session cannot see it yet: it was written by a
    /// session that had not been processed when this one logged in (R1).
    #[error("{what} is not visible in this session yet; log out and in again (R1)")]
    SessionStale {
        /// What was not visible.
        what: String,
    },
    /// A child was requested under a parent this session cannot see (R1).
    #[error("{parent} is not visible in this session yet; log out and in again (R1)")]
    ParentNotVisible {
        /// The parent.
        parent: String,
    },
    /// A session creates at most one site (R2).
    #[error("this session already created a site; log out before creating the next (R2)")]
    OneSitePerSession,
    /// A session that created a user may not create subdivisions or sites (R3).
    #[error("this session already created users; structure comes before users (R3)")]
    StructureAfterUsers,
    /// The caller has no authority for this change.
    #[error("not authorised: {reason}")]
    NotAuthorised {
        /// Which authority is missing.
        reason: String,
    },
    /// The enterprise is not on the programme's list of recognised units (R8, S2.7).
    #[error(
        "enterprise {kbo} may not activate the capacity: not a recognised mammography unit (R8)"
    )]
    CapacityNotRecognised {
        /// The enterprise number.
        kbo: String,
    },
    /// The HCO number is not a recognised subdivision of this enterprise (R8, S3).
    #[error("HCO {hco} is not a recognised subdivision of this enterprise (R8)")]
    SubdivisionNotRecognised {
        /// The HCO number.
        hco: String,
    },
    /// The HCO number is not a known site of this subdivision (R8, S3.6).
    #[error("HCO {hco} is not a known site of this subdivision (R8)")]
    SiteNotRecognised {
        /// The HCO number.
        hco: String,
    },
    /// The username belongs to someone else (compared case-insensitively).
    #[error("username {username} is already taken")]
    UsernameTaken {
        /// The username.
        username: String,
    },
    /// The person already has another username; usernames never change.
    #[error("this person's username is {existing}; usernames are immutable")]
    UsernameImmutable {
        /// The username the person has.
        existing: String,
    },
    /// Creating an account needs a password (S3.4).
    #[error("creating an account needs a password")]
    PasswordRequired,
    /// The enterprise has no validated main access manager yet (R7).
    #[error("enterprise {kbo} has no validated main access manager yet{}", ticket.as_ref().map(|t| format!(" (ticket {t} pending)")).unwrap_or_default())]
    GatePending {
        /// The enterprise number.
        kbo: String,
        /// The pending ticket, if a designation was requested.
        ticket: Option<String>,
    },
    /// The target does not exist.
    #[error("{what} does not exist")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// The change contradicts the registry's current state (already exists, has
    /// children, ...).
    #[error("conflict: {reason}")]
    Conflict {
        /// Why.
        reason: String,
    },
    /// The idempotency key was used before for a different request.
    #[error("idempotency key {key} was already used for a different request")]
    IdempotencyKeyReused {
        /// The key.
        key: String,
    },
    /// The person has as many open sessions as allowed.
    #[error("already {limit} open sessions; close one or wait for the idle timeout")]
    TooManySessions {
        /// The limit.
        limit: u32,
        /// Registry time of the refusal, so that the caller can tell which of its open
        /// sessions have been idle long (0 from registries that do not say).
        #[serde(default)]
        now_ms: Millis,
    },
    /// Another apply holds the enterprise's lease.
    #[error("enterprise {kbo} is leased until {expires_at_ms} by {holder}")]
    LeaseHeld {
        /// The enterprise number.
        kbo: String,
        /// When the lease expires (milliseconds since the epoch, registry time).
        expires_at_ms: i64,
        /// Who holds it, as the holder described itself when taking it.
        #[serde(default)]
        holder: String,
    },
    /// The request is malformed or breaks a field rule.
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// Why.
        reason: String,
    },
    /// The registry cannot answer now (storage busy, server overloaded); retry later.
    #[error("registry unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// The registry failed in a way a retry will not fix (corrupt store, bug).
    #[error("registry internal error: {reason}")]
    Internal {
        /// Why.
        reason: String,
    },
}

impl RegistryError {
    /// The stable machine-readable code (equal to the serde tag).
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::SessionClosed { .. } => "session_closed",
            RegistryError::SessionStale { .. } => "session_stale",
            RegistryError::ParentNotVisible { .. } => "parent_not_visible",
            RegistryError::OneSitePerSession => "one_site_per_session",
            RegistryError::StructureAfterUsers => "structure_after_users",
            RegistryError::NotAuthorised { .. } => "not_authorised",
            RegistryError::CapacityNotRecognised { .. } => "capacity_not_recognised",
            RegistryError::SubdivisionNotRecognised { .. } => "subdivision_not_recognised",
            RegistryError::SiteNotRecognised { .. } => "site_not_recognised",
            RegistryError::UsernameTaken { .. } => "username_taken",
            RegistryError::UsernameImmutable { .. } => "username_immutable",
            RegistryError::PasswordRequired => "password_required",
            RegistryError::GatePending { .. } => "gate_pending",
            RegistryError::NotFound { .. } => "not_found",
            RegistryError::Conflict { .. } => "conflict",
            RegistryError::IdempotencyKeyReused { .. } => "idempotency_key_reused",
            RegistryError::TooManySessions { .. } => "too_many_sessions",
            RegistryError::LeaseHeld { .. } => "lease_held",
            RegistryError::InvalidRequest { .. } => "invalid_request",
            RegistryError::Unavailable { .. } => "unavailable",
            RegistryError::Internal { .. } => "internal",
        }
    }

    /// True when repeating the same request later may succeed without any other change:
    /// the registry was unavailable, a lease is held, or the session limit is reached.
    /// Session errors are not retryable as such: the executor must log in again
    /// ([`RegistryError::needs_new_session`]).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            RegistryError::Unavailable { .. }
                | RegistryError::LeaseHeld { .. }
                | RegistryError::TooManySessions { .. }
        )
    }

    /// How long to wait before repeating a retryable request: what the HTTP API sends
    /// as `Retry-After` (1 s when unavailable, 5 s when the session limit is reached).
    /// A held lease names its own expiry instead.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            RegistryError::Unavailable { .. } => Some(std::time::Duration::from_secs(1)),
            RegistryError::TooManySessions { .. } => Some(std::time::Duration::from_secs(5)),
            _ => None,
        }
    }

    /// True for a failure of the registry rather than a decision about the request
    /// (`unavailable`, `internal`): in a batch it fails the whole request, never one
    /// write of it.
    pub fn fails_request(&self) -> bool {
        matches!(
            self,
            RegistryError::Unavailable { .. } | RegistryError::Internal { .. }
        )
    }

    /// True when the request may succeed in a new session (log out, log in, repeat).
    pub fn needs_new_session(&self) -> bool {
        matches!(
            self,
            RegistryError::SessionClosed { .. }
                | RegistryError::SessionStale { .. }
                | RegistryError::ParentNotVisible { .. }
                | RegistryError::OneSitePerSession
                | RegistryError::StructureAfterUsers
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_the_serde_tag() {
        let errors = [
            RegistryError::SessionStale { what: "x".into() },
            RegistryError::OneSitePerSession,
            RegistryError::GatePending {
                kbo: "0198765470".into(),
                ticket: None,
            },
            RegistryError::LeaseHeld {
                kbo: "0198765470".into(),
                expires_at_ms: 1,
                holder: "csamctl apply (pid 1)".into(),
            },
        ];
        for e in errors {
            let json = serde_json::to_value(&e).expect("errors serialise");
            assert_eq!(json["code"], e.code());
            let back: RegistryError = serde_json::from_value(json).expect("and come back");
            assert_eq!(back, e);
        }
    }

    #[test]
    fn only_transient_errors_are_retryable() {
        assert!(
            RegistryError::Unavailable {
                reason: "busy".into()
            }
            .is_retryable()
        );
        assert!(!RegistryError::OneSitePerSession.is_retryable());
        assert!(RegistryError::OneSitePerSession.needs_new_session());
        assert!(!RegistryError::NotAuthorised { reason: "x".into() }.needs_new_session());
    }
}
