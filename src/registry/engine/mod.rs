//! The registry engine: enforces the rules of `docs/rules.md` (R1–R9 and "Who may do
//! what").
//!
//! The rules the planner must predict (authority per write, usernames, recognised units,
//! R5) are defined once in [`crate::rules`] and called here; what only a registry can
//! decide (sessions and visibility, R2, R3, the gate) lives here alone.
//!
//! The engine is a deterministic state machine. [`World::decide_write`] and its siblings
//! look at the world and either refuse with a [`RegistryError`] or return the [`Fact`]
//! to record; [`World::apply`] changes the world by one fact. The store keeps the facts
//! in order (the journal), so replaying them rebuilds the same world. Nothing here does
//! I/O or reads a clock: the caller passes `now`.
//!
//! ## Snapshot visibility (R1)
//!
//! Every entity of the tree is a [`Versioned`] list of versions. A write appends a
//! version tagged with its session and no processing number. When the session is
//! processed (log-out plus the processing delay, or idle expiry) the registry's
//! processing counter goes up by one and every version the session wrote gets that
//! number. A session remembers the counter at log-in (`sees`); it sees, for each entity,
//! the version with the highest processing number not above `sees` — so nothing of
//! its own or any unprocessed writes, and nothing processed after it logged in.
//! Truth (for uniqueness and for the value an update starts from) ranks pending versions
//! above processed ones, in write order. Processing order decides which of two
//! concurrent writes wins, as the real registry applies sessions when it processes them.
//!
//! Depends on `model` and the contract types of `registry`; may not use storage.

mod apply;
mod parts;
mod read;
mod record;

pub(crate) use parts::WorldPart;
use record::{Levels, UserRec};

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::RegistryError;
use super::api::*;
use crate::model::{
    AccessManager, Address, Applications, CapacityType, CapacityValue, Email, Function, Hco,
    HtbStatus, Insz, Kbo, KnownAccounts, LiveAccount, LiveAdministrator, LiveCapacity,
    LiveEnterprise, LiveSite, LiveState, LiveSubdivision, RecognisedUnit, Representative, User,
    Username,
};
use crate::rules::{self, Roles, Scope};

/// One journal entry: something the engine decided. Passwords never appear in facts.
///
/// Facts are short-lived (decided, journalled, applied), so the size difference
/// between variants costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub(crate) enum Fact {
    /// Reference data was loaded (merged into the directory).
    ReferenceLoaded {
        /// The data.
        reference: Reference,
    },
    /// A person logged in.
    SessionOpened {
        /// The session.
        id: SessionId,
        /// Who.
        person: Insz,
        /// When.
        at: Millis,
    },
    /// An acknowledged write (password removed).
    Wrote {
        /// In which session.
        session: SessionId,
        /// When.
        at: Millis,
        /// The change.
        write: Write,
        /// The ticket number a designation request received.
        ticket: Option<String>,
    },
    /// A session ended by log-out or idle expiry.
    SessionClosed {
        /// The session.
        id: SessionId,
        /// When it ended.
        at: Millis,
        /// When its writes are processed.
        process_at: Millis,
        /// True for idle expiry.
        expired: bool,
    },
    /// A closed session's writes were processed.
    SessionProcessed {
        /// The session.
        id: SessionId,
        /// When.
        at: Millis,
    },
    /// An operator validated a ticket (the signed document arrived).
    TicketValidated {
        /// The ticket.
        ticket: String,
        /// When.
        at: Millis,
    },
    /// The coordination centre knows this head radiologist for this site (R9).
    HeadRadiologistNotified {
        /// The site.
        site: Hco,
        /// The head radiologist.
        person: Insz,
        /// When.
        at: Millis,
    },
    /// The virtual clock moved.
    ClockAdvanced {
        /// By how much.
        by_ms: u64,
    },
    /// A lease was taken or renewed.
    LeaseTaken {
        /// The holder.
        person: Insz,
        /// The lease.
        lease: Lease,
    },
    /// A lease was released.
    LeaseReleased {
        /// The lease.
        id: LeaseId,
    },
}

/// One version of an entity.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Version<T> {
    /// The session that wrote it, while it is pending: only processing reads it, so it
    /// is dropped then (a national fleet's world holds hundreds of thousands of
    /// processed versions, and every one kept a copy of its session's id).
    session: Option<SessionId>,
    processing: Option<u64>,
    processed_at: Option<Millis>,
    value: Option<T>,
}

/// An entity's history of versions; `None` values are deletions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Versioned<T> {
    versions: Vec<Version<T>>,
}

impl<T> Default for Versioned<T> {
    fn default() -> Self {
        Versioned {
            versions: Vec::new(),
        }
    }
}

impl<T> Versioned<T> {
    /// The version in effect at `horizon` (`None`: the truth, pending versions last).
    fn effective(&self, horizon: Option<u64>) -> Option<&Version<T>> {
        let mut best: Option<(u64, usize)> = None;
        for (i, v) in self.versions.iter().enumerate() {
            let rank = v.processing.unwrap_or(u64::MAX);
            if horizon.is_some_and(|h| rank > h) {
                continue;
            }
            if best.is_none_or(|b| (rank, i) >= b) {
                best = Some((rank, i));
            }
        }
        best.map(|(_, i)| &self.versions[i])
    }

    /// The value a session that sees `horizon` sees.
    fn seen(&self, horizon: u64) -> Option<&T> {
        self.effective(Some(horizon)).and_then(|v| v.value.as_ref())
    }

    /// The value including every acknowledged write.
    fn truth(&self) -> Option<&T> {
        self.effective(None).and_then(|v| v.value.as_ref())
    }

    fn push(
        &mut self,
        session: Option<&SessionId>,
        processed: Option<(u64, Millis)>,
        value: Option<T>,
    ) {
        self.versions.push(Version {
            session: session.cloned(),
            processing: processed.map(|p| p.0),
            processed_at: processed.map(|p| p.1),
            value,
        });
    }

    fn process(&mut self, session: &SessionId, number: u64, at: Millis) {
        for v in &mut self.versions {
            if v.processing.is_none() && v.session.as_ref() == Some(session) {
                v.session = None;
                v.processing = Some(number);
                v.processed_at = Some(at);
            }
        }
    }
}

/// A subdivision or site: its fixed parent and its versions.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Child<P, T> {
    parent: P,
    versions: Versioned<T>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SubdivisionRec {
    name: String,
    email: Email,
    administrator: LiveAdministrator,
    applications: Applications,
    active: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SiteRec {
    name: String,
    email: Option<Email>,
    administrator: LiveAdministrator,
    applications: Applications,
    active: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct DirectoryEntry {
    name: String,
    address: Address,
    /// Recognised subdivision HCO → its site HCOs (R8).
    recognised: BTreeMap<Hco, BTreeSet<Hco>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum SessionState {
    Open,
    Closing { process_at: Millis },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct SessionRec {
    person: Insz,
    opened_at: Millis,
    /// The last journalled activity: log-in or a write.
    last_activity: Millis,
    /// The last read in this process: not journalled (see the store docs), so not in a
    /// checkpoint either, which must be the world the journal alone rebuilds.
    #[serde(skip)]
    read_at: Millis,
    sees: u64,
    state: SessionState,
    sites_created: u32,
    users_created: bool,
    touched: Vec<EntityKey>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
enum EntityKey {
    AccessManager(Kbo, Insz),
    Capacity(Kbo, CapacityType),
    Subdivision(Hco),
    Site(Hco),
    User(UserLevel, Insz),
}

impl SessionRec {
    /// The last activity, journalled or read: the idle timer runs from it.
    fn active_at(&self) -> Millis {
        self.last_activity.max(self.read_at)
    }
}

/// A head radiologist of a site (R9), see [`World::head_radiologists`].
struct HeadRadiologist<'a> {
    person: Insz,
    user: &'a UserRec,
    known: bool,
}

/// The whole registry as the engine knows it.
///
/// Serialisable as a checkpoint of the journal: everything but the limits (which come
/// from whoever opens the registry) and reads (see [`SessionRec`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct World {
    #[serde(skip)]
    config: Limits,
    journal_seq: u64,
    processing: u64,
    directory: BTreeMap<Kbo, DirectoryEntry>,
    tickets: BTreeMap<String, Ticket>,
    htb: BTreeMap<Kbo, Versioned<Representative>>,
    access_managers: BTreeMap<Kbo, BTreeMap<Insz, Versioned<AccessManager>>>,
    #[serde(with = "pairs")]
    capacities: BTreeMap<(Kbo, CapacityType), Versioned<CapacityValue>>,
    subdivisions: BTreeMap<Hco, Child<(Kbo, CapacityType), SubdivisionRec>>,
    sites: BTreeMap<Hco, Child<Hco, SiteRec>>,
    #[serde(with = "pairs")]
    subdivisions_of: BTreeMap<(Kbo, CapacityType), BTreeSet<Hco>>,
    sites_of: BTreeMap<Hco, BTreeSet<Hco>>,
    #[serde(with = "pairs")]
    users: BTreeMap<UserLevel, BTreeMap<Insz, Versioned<UserRec>>>,
    levels_of: HashMap<Insz, Levels>,
    accounts: HashMap<Insz, Username>,
    usernames: HashMap<Username, Insz>,
    sessions: BTreeMap<SessionId, SessionRec>,
    session_counter: u64,
    notified: BTreeSet<(Hco, Insz)>,
    leases: BTreeMap<Kbo, (Insz, Lease)>,
    lease_counter: u64,
    clock_advanced_ms: u64,
}

/// Maps whose keys are not strings, written as lists of pairs (a JSON object's keys are
/// strings).
mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map)
    }

    pub(super) fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

fn not_authorised(reason: impl Into<String>) -> RegistryError {
    RegistryError::NotAuthorised {
        reason: reason.into(),
    }
}

/// The registry's refusal for a username rule ([`rules::check_username`]).
fn username_refused(problem: rules::UsernameProblem) -> RegistryError {
    match problem {
        rules::UsernameProblem::Immutable { existing } => RegistryError::UsernameImmutable {
            existing: existing.to_string(),
        },
        rules::UsernameProblem::Taken { username } => RegistryError::UsernameTaken {
            username: username.to_string(),
        },
    }
}

fn not_found(what: impl Into<String>) -> RegistryError {
    RegistryError::NotFound { what: what.into() }
}

fn conflict(reason: impl Into<String>) -> RegistryError {
    RegistryError::Conflict {
        reason: reason.into(),
    }
}

/// A target a session writes to must be visible to it and still exist.
fn require_visible<T>(
    v: &Versioned<T>,
    sees: u64,
    what: impl FnOnce() -> String,
) -> Result<&T, RegistryError> {
    match (v.seen(sees), v.truth()) {
        (Some(_), Some(t)) => Ok(t),
        (None, Some(_)) => Err(RegistryError::SessionStale { what: what() }),
        (Some(_), None) => Err(conflict(format!(
            "{} was deleted by a session not yet processed",
            what()
        ))),
        (None, None) => Err(not_found(what())),
    }
}

/// The ticket number of the `n`-th designation: `3Y0-` seven base-36 digits `-00-` and
/// a check letter, the shape of the manual's `3Y0-000ZRF5-00-J`.
fn ticket_number(n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut value = 1_654_877_u64.wrapping_add(n.wrapping_mul(7919)) % 36u64.pow(7);
    let mut body = [b'0'; 7];
    for slot in body.iter_mut().rev() {
        *slot = DIGITS[(value % 36) as usize];
        value /= 36;
    }
    let sum: u32 = body.iter().map(|b| u32::from(*b)).sum();
    let check = char::from(b'A' + (sum % 26) as u8);
    format!("3Y0-{}-00-{check}", String::from_utf8_lossy(&body))
}

/// True when a ticket number has the manual's shape.
pub fn is_ticket_number(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 4
        && parts[0].len() == 3
        && parts[1].len() == 7
        && parts[2].len() == 2
        && parts[3].len() == 1
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        })
}

impl World {
    /// An empty registry with these limits.
    pub(crate) fn new(config: Limits) -> Self {
        World {
            config,
            ..World::default()
        }
    }

    /// A world restored from a checkpoint, run with these limits (a checkpoint holds
    /// none: they belong to whoever opens the registry).
    pub(crate) fn with_config(self, config: Limits) -> Self {
        World { config, ..self }
    }

    /// The journal position of the last applied fact.
    pub(crate) fn journal_seq(&self) -> u64 {
        self.journal_seq
    }

    /// Total virtual clock advance recorded.
    pub(crate) fn clock_advanced_ms(&self) -> u64 {
        self.clock_advanced_ms
    }

    // ----- sessions ---------------------------------------------------------------

    /// Facts that time alone produces by `now`: idle sessions expire, closed sessions
    /// whose processing time has come are processed, in time order.
    pub(crate) fn tick(&self, now: Millis) -> Vec<Fact> {
        let idle = i64::try_from(self.config.idle_timeout_ms).unwrap_or(i64::MAX);
        let delay = i64::try_from(self.config.processing_delay_ms).unwrap_or(i64::MAX);
        let mut facts = Vec::new();
        let mut due: Vec<(Millis, SessionId)> = Vec::new();
        for (id, s) in &self.sessions {
            match s.state {
                SessionState::Open => {
                    let expires = s.active_at().saturating_add(idle);
                    if now >= expires {
                        let process_at = expires.saturating_add(delay);
                        facts.push(Fact::SessionClosed {
                            id: id.clone(),
                            at: expires,
                            process_at,
                            expired: true,
                        });
                        due.push((process_at, id.clone()));
                    }
                }
                SessionState::Closing { process_at } => due.push((process_at, id.clone())),
            }
        }
        due.sort();
        facts.extend(
            due.into_iter()
                .filter(|(t, _)| *t <= now)
                .map(|(at, id)| Fact::SessionProcessed { id, at }),
        );
        facts
    }

    /// Logging in (R1); refused beyond the per-person session limit.
    pub(crate) fn decide_open_session(
        &self,
        caller: &Insz,
        now: Millis,
    ) -> Result<Fact, RegistryError> {
        let open = self
            .sessions
            .values()
            .filter(|s| s.person == *caller && s.state == SessionState::Open)
            .count();
        if open >= self.config.sessions_per_person as usize {
            return Err(RegistryError::TooManySessions {
                limit: self.config.sessions_per_person,
                now_ms: now,
            });
        }
        Ok(Fact::SessionOpened {
            id: SessionId(format!("s-{:06}", self.session_counter + 1)),
            person: *caller,
            at: now,
        })
    }

    /// Logging out: processing follows after the processing delay.
    pub(crate) fn decide_close_session(
        &self,
        caller: &Insz,
        id: &SessionId,
        now: Millis,
    ) -> Result<Fact, RegistryError> {
        self.open_session(caller, id)?;
        let delay = i64::try_from(self.config.processing_delay_ms).unwrap_or(i64::MAX);
        Ok(Fact::SessionClosed {
            id: id.clone(),
            at: now,
            process_at: now.saturating_add(delay),
            expired: false,
        })
    }

    /// The session, if it is open and the caller's.
    fn open_session(&self, caller: &Insz, id: &SessionId) -> Result<&SessionRec, RegistryError> {
        let closed = || RegistryError::SessionClosed {
            session: id.0.clone(),
        };
        let s = self.sessions.get(id).ok_or_else(closed)?;
        if s.person != *caller {
            return Err(not_authorised("the session belongs to someone else"));
        }
        if s.state != SessionState::Open {
            return Err(closed());
        }
        Ok(s)
    }

    /// Marks a session used now (idle timer); not journalled, see the store docs.
    pub(crate) fn touch(
        &mut self,
        caller: &Insz,
        id: &SessionId,
        now: Millis,
    ) -> Result<(), RegistryError> {
        self.open_session(caller, id)?;
        if let Some(s) = self.sessions.get_mut(id) {
            s.read_at = s.read_at.max(now);
        }
        Ok(())
    }

    /// The caller's open sessions.
    pub(crate) fn sessions_of(&self, caller: &Insz) -> Vec<SessionInfo> {
        let idle = i64::try_from(self.config.idle_timeout_ms).unwrap_or(i64::MAX);
        self.sessions
            .iter()
            .filter(|(_, s)| s.person == *caller && s.state == SessionState::Open)
            .map(|(id, s)| SessionInfo {
                id: id.clone(),
                opened_at_ms: s.opened_at,
                last_activity_ms: s.active_at(),
                expires_at_ms: s.active_at().saturating_add(idle),
                sees_processing: s.sees,
            })
            .collect()
    }

    /// A session's description, while it is known.
    pub(crate) fn session_info(&self, id: &SessionId) -> Option<SessionInfo> {
        let idle = i64::try_from(self.config.idle_timeout_ms).unwrap_or(i64::MAX);
        self.sessions.get(id).map(|s| SessionInfo {
            id: id.clone(),
            opened_at_ms: s.opened_at,
            last_activity_ms: s.active_at(),
            expires_at_ms: s.active_at().saturating_add(idle),
            sees_processing: s.sees,
        })
    }

    /// When a closing session will be processed; `None` once processed (or unknown).
    pub(crate) fn pending_processing(&self, id: &SessionId) -> Option<Millis> {
        match self.sessions.get(id).map(|s| &s.state) {
            Some(SessionState::Closing { process_at }) => Some(*process_at),
            _ => None,
        }
    }

    // ----- roles ------------------------------------------------------------------

    fn is_htb(&self, kbo: &Kbo, h: u64, p: &Insz) -> bool {
        self.htb
            .get(kbo)
            .and_then(|v| v.seen(h))
            .is_some_and(|r| r.insz == *p)
    }

    /// The person's roles in an enterprise for a request in a session at `h`: those
    /// held in the session's view *and* still held in what is processed now. So a
    /// removed access manager or administrator loses the authority at their next
    /// request, also in a session opened before the removal; a role granted after
    /// log-in needs a new session, which is what seeing the granted structure needs
    /// anyway (R1).
    fn roles_of(&self, kbo: &Kbo, h: u64, p: &Insz) -> Roles {
        let then = self.roles_at(kbo, h, p);
        if h == self.processing {
            return then;
        }
        let now = self.roles_at(kbo, self.processing, p);
        Roles {
            htb: then.htb && now.htb,
            access_manager: then.access_manager && now.access_manager,
            local_administrator: then.local_administrator && now.local_administrator,
            subdivisions: then
                .subdivisions
                .intersection(&now.subdivisions)
                .cloned()
                .collect(),
            sites: then.sites.intersection(&now.sites).cloned().collect(),
        }
    }

    /// The person's roles in an enterprise as processed up to `h`.
    fn roles_at(&self, kbo: &Kbo, h: u64, p: &Insz) -> Roles {
        let mut roles = Roles {
            htb: self.is_htb(kbo, h, p),
            access_manager: self
                .access_managers
                .get(kbo)
                .and_then(|m| m.get(p))
                .and_then(|v| v.seen(h))
                .is_some(),
            ..Roles::default()
        };
        let is = |a: &LiveAdministrator| a.insz() == Some(p);
        for kind in CapacityType::ALL {
            let key = (*kbo, *kind);
            if let Some(cap) = self.capacities.get(&key).and_then(|v| v.seen(h)) {
                roles.local_administrator |= is(&cap.local_administrator);
            }
            for sub in self.subdivisions_of.get(&key).into_iter().flatten() {
                if let Some(s) = self.subdivisions.get(sub).and_then(|n| n.versions.seen(h))
                    && is(&s.administrator)
                {
                    roles.subdivisions.insert(sub.clone());
                }
                for site in self.sites_of.get(sub).into_iter().flatten() {
                    if let Some(s) = self.sites.get(site).and_then(|n| n.versions.seen(h))
                        && is(&s.administrator)
                    {
                        roles.sites.insert(site.clone());
                    }
                }
            }
        }
        roles
    }

    /// A site's subdivision.
    fn parent_of(&self) -> impl Fn(&Hco) -> Option<Hco> + '_ {
        |site| self.sites.get(site).map(|n| n.parent.clone())
    }

    /// Refuses `write` unless the caller's roles in `kbo` give the scope it needs
    /// ([`rules::required_scope`], the planner's definition too).
    fn authorise(&self, kbo: &Kbo, h: u64, p: &Insz, write: &Write) -> Result<(), RegistryError> {
        let roles = self.roles_of(kbo, h, p);
        rules::authorised(p, &roles, write, &self.parent_of())
            .map_err(|scope| not_authorised(format!("in {kbo} this needs {}", scope.holders())))
    }

    /// Whether the caller holds `scope` in `kbo` (for reads about one level).
    fn holds(&self, kbo: &Kbo, h: u64, p: &Insz, scope: &Scope) -> bool {
        self.roles_of(kbo, h, p).holds(scope, &self.parent_of())
    }

    /// True when the person has any role in the enterprise (for reads and leases).
    fn has_any_role(&self, kbo: &Kbo, h: u64, p: &Insz) -> bool {
        self.roles_of(kbo, h, p).any()
    }

    /// Who `caller` is (`GET /v1/me`): their roles in every enterprise of the directory
    /// as processed now, and the registry's time `now`.
    pub(crate) fn whoami(&self, caller: &Insz, now: Millis) -> Me {
        let h = self.processing;
        let roles = self
            .directory
            .iter()
            .filter_map(|(kbo, entry)| {
                let r = self.roles_of(kbo, h, caller);
                let designation_party = self.is_ticket_party(kbo, caller);
                (r.any() || designation_party).then(|| EnterpriseRoles {
                    kbo: *kbo,
                    name: entry.name.clone(),
                    main_access_manager: r.htb,
                    access_manager: r.access_manager,
                    local_administrator: r.local_administrator,
                    subdivisions: r.subdivisions.into_iter().collect(),
                    sites: r.sites.into_iter().collect(),
                    designation_party,
                })
            })
            .collect();
        let (last_name, first_name) = self.name_of(caller, h).unzip();
        Me {
            person: *caller,
            last_name,
            first_name,
            roles,
            now_ms: now,
        }
    }

    /// A person's name as some record of the registry gives it (user record, access
    /// manager, main access manager, designation request), family name first.
    fn name_of(&self, p: &Insz, h: u64) -> Option<(String, String)> {
        let pair = |last: &str, first: &str| (last.to_string(), first.to_string());
        let from_users = self
            .levels_of
            .get(p)
            .into_iter()
            .flatten()
            .find_map(|level| {
                self.user_versions(level, p)
                    .and_then(|v| v.seen(h))
                    .map(|u| pair(&u.details.last_name, &u.details.first_name))
            });
        let from_managers = || {
            self.access_managers.values().find_map(|m| {
                m.get(p)
                    .and_then(|v| v.seen(h))
                    .map(|a| pair(&a.last_name, &a.first_name))
            })
        };
        let from_htb = || {
            self.htb.values().find_map(|v| {
                v.seen(h)
                    .filter(|r| r.insz == *p)
                    .map(|r| pair(&r.last_name, &r.first_name))
            })
        };
        let from_tickets = || {
            self.tickets.values().find_map(|t| {
                [&t.main_access_manager, &t.legal_representative]
                    .into_iter()
                    .find(|r| r.insz == *p)
                    .map(|r| pair(&r.last_name, &r.first_name))
            })
        };
        from_users
            .or_else(from_managers)
            .or_else(from_htb)
            .or_else(from_tickets)
    }

    fn pending_ticket(&self, kbo: &Kbo) -> Option<&Ticket> {
        self.tickets
            .values()
            .find(|t| t.kbo == *kbo && t.state == TicketState::Pending)
    }

    fn is_ticket_party(&self, kbo: &Kbo, p: &Insz) -> bool {
        self.tickets.values().any(|t| {
            t.kbo == *kbo && (t.main_access_manager.insz == *p || t.legal_representative.insz == *p)
        })
    }

    /// R7: nothing but the designation is possible before a validated HTB is visible.
    fn gate(&self, kbo: &Kbo, h: u64) -> Result<(), RegistryError> {
        if self.htb.get(kbo).and_then(|v| v.seen(h)).is_some() {
            return Ok(());
        }
        Err(RegistryError::GatePending {
            kbo: kbo.compact().to_string(),
            ticket: self.pending_ticket(kbo).map(|t| t.id.clone()),
        })
    }

    fn directory(&self, kbo: &Kbo) -> Result<&DirectoryEntry, RegistryError> {
        self.directory
            .get(kbo)
            .ok_or_else(|| not_found(format!("enterprise {kbo} in the KBO directory")))
    }

    fn subdivision_node(
        &self,
        hco: &Hco,
    ) -> Result<&Child<(Kbo, CapacityType), SubdivisionRec>, RegistryError> {
        self.subdivisions
            .get(hco)
            .ok_or_else(|| not_found(format!("subdivision {hco}")))
    }

    fn site_node(&self, hco: &Hco) -> Result<&Child<Hco, SiteRec>, RegistryError> {
        self.sites
            .get(hco)
            .ok_or_else(|| not_found(format!("site {hco}")))
    }

    /// The enterprise a level belongs to.
    fn level_kbo(&self, level: &UserLevel) -> Result<Kbo, RegistryError> {
        match level {
            UserLevel::Capacity { kbo, .. } => Ok(*kbo),
            UserLevel::Subdivision { hco } => Ok(self.subdivision_node(hco)?.parent.0),
            UserLevel::Site { hco } => {
                let site = self.site_node(hco)?;
                Ok(self.subdivision_node(&site.parent)?.parent.0)
            }
        }
    }

    /// R1: a child can only be created under a parent the session sees.
    fn level_visible(&self, level: &UserLevel, h: u64) -> Result<(), RegistryError> {
        let (seen, exists) = match level {
            UserLevel::Capacity { kbo, kind } => {
                let v = self.capacities.get(&(*kbo, *kind));
                (
                    v.and_then(|v| v.seen(h)).is_some(),
                    v.and_then(Versioned::truth).is_some(),
                )
            }
            UserLevel::Subdivision { hco } => {
                let v = self.subdivision_node(hco)?;
                (v.versions.seen(h).is_some(), v.versions.truth().is_some())
            }
            UserLevel::Site { hco } => {
                let v = self.site_node(hco)?;
                (v.versions.seen(h).is_some(), v.versions.truth().is_some())
            }
        };
        match (seen, exists) {
            (true, true) => Ok(()),
            (false, true) => Err(RegistryError::ParentNotVisible {
                parent: level.to_string(),
            }),
            (true, false) => Err(conflict(format!(
                "{level} was deleted by a session not yet processed"
            ))),
            (false, false) => Err(not_found(level.to_string())),
        }
    }

    /// Username rules ([`rules::check_username`]): unique case-insensitively (the
    /// type folds case) and immutable; a new account needs a password.
    fn check_account(
        &self,
        insz: &Insz,
        username: &Username,
        password_given: Option<bool>,
    ) -> Result<(), RegistryError> {
        rules::check_username(
            insz,
            username,
            |p| self.accounts.get(p).cloned(),
            |u| self.usernames.get(u).is_some_and(|owner| owner != insz),
        )
        .map_err(username_refused)?;
        if password_given
            .is_some_and(|given| rules::password_required(self.accounts.contains_key(insz), given))
        {
            return Err(RegistryError::PasswordRequired);
        }
        Ok(())
    }

    /// Whether reference data may be loaded: every account it lists belongs to an
    /// enterprise of the directory (or of the same data) and keeps the username rules
    /// ([`rules::check_username`]) against the accounts there are and against the
    /// others it lists.
    pub(crate) fn check_reference(&self, reference: &Reference) -> Result<(), RegistryError> {
        let mut listed: HashMap<Insz, Username> = HashMap::new();
        let mut owners: HashMap<Username, Insz> = HashMap::new();
        for a in &reference.accounts {
            if !self.directory.contains_key(&a.enterprise)
                && !reference.enterprises.iter().any(|e| e.kbo == a.enterprise)
            {
                return Err(not_found(format!(
                    "enterprise {} in the KBO directory",
                    a.enterprise
                )));
            }
            rules::check_username(
                &a.insz,
                &a.username,
                |p| self.accounts.get(p).or(listed.get(p)).cloned(),
                |u| {
                    self.usernames
                        .get(u)
                        .or(owners.get(u))
                        .is_some_and(|owner| *owner != a.insz)
                },
            )
            .map_err(username_refused)?;
            listed.insert(a.insz, a.username.clone());
            owners.insert(a.username.clone(), a.insz);
        }
        Ok(())
    }

    /// A subdivision or site administrator: `self` or an account (which may be new;
    /// administrator accounts need no password, the registry mails an activation).
    fn check_administrator(&self, admin: &LiveAdministrator) -> Result<(), RegistryError> {
        match admin {
            LiveAdministrator::Itself => Ok(()),
            LiveAdministrator::Person { .. } => Err(RegistryError::InvalidRequest {
                reason: "a subdivision or site administrator is `self` or an account".into(),
            }),
            LiveAdministrator::Account { insz, username, .. } => {
                self.check_account(insz, username, None)
            }
        }
    }

    fn user_versions(&self, level: &UserLevel, insz: &Insz) -> Option<&Versioned<UserRec>> {
        self.users.get(level).and_then(|m| m.get(insz))
    }

    // ----- writes -----------------------------------------------------------------

    /// Decides one write by `caller` in `session`: the fact to record, or the refusal.
    pub(crate) fn decide_write(
        &self,
        caller: &Insz,
        session: &SessionId,
        write: &Write,
        has_password: bool,
        now: Millis,
    ) -> Result<Fact, RegistryError> {
        let s = self.open_session(caller, session)?;
        let h = s.sees;
        let mut ticket = None;
        match write {
            Write::DesignateMainAccessManager { kbo, .. } => {
                ticket = Some(self.decide_designation(caller, kbo, write)?);
            }
            Write::AddAccessManager {
                kbo,
                access_manager,
            } => self.check_add_access_manager(h, caller, kbo, &access_manager.insz, write)?,
            Write::RemoveAccessManager { kbo, insz } => {
                self.directory(kbo)?;
                self.gate(kbo, h)?;
                self.authorise(kbo, h, caller, write)?;
                let v = self
                    .access_managers
                    .get(kbo)
                    .and_then(|m| m.get(insz))
                    .ok_or_else(|| not_found(format!("access manager {insz} of {kbo}")))?;
                require_visible(v, h, || format!("access manager {insz} of {kbo}"))?;
            }
            Write::ActivateCapacity { kbo, kind, .. } => {
                self.check_activate_capacity(h, caller, kbo, *kind, write)?;
            }
            Write::UpdateCapacity { kbo, kind, .. } => {
                self.capacity_target(h, caller, kbo, *kind, write)?;
            }
            Write::CreateSubdivision {
                kbo,
                kind,
                hco,
                administrator,
                ..
            } => {
                self.check_create_subdivision(s, caller, (kbo, *kind), hco, write)?;
                self.check_administrator(administrator)?;
            }
            Write::UpdateSubdivision {
                hco, administrator, ..
            } => {
                self.subdivision_target(h, caller, hco, write)?;
                self.check_administrator(administrator)?;
            }
            Write::DeleteSubdivision { hco } => {
                self.check_delete_subdivision(h, caller, hco, write)?;
            }
            Write::CreateSite {
                subdivision,
                hco,
                administrator,
                ..
            } => {
                self.check_create_site(s, caller, subdivision, hco, write)?;
                self.check_administrator(administrator)?;
            }
            Write::UpdateSite {
                hco, administrator, ..
            } => {
                self.site_target(h, caller, hco, write)?;
                self.check_administrator(administrator)?;
            }
            Write::DeleteSite { hco } => {
                self.site_target(h, caller, hco, write)?;
                if self.has_users(&UserLevel::Site { hco: hco.clone() }) {
                    return Err(conflict(format!(
                        "site {hco} still has users; delete them first"
                    )));
                }
            }
            Write::CreateUser { level, user } => {
                self.check_create_user(h, caller, level, user, has_password, write)?;
            }
            Write::UpdateUser { level, insz, .. }
            | Write::DeleteUser { level, insz }
            | Write::SetFunctions { level, insz, .. } => {
                self.user_target(h, caller, level, insz, write)?;
            }
            Write::SetApplications { target, .. } | Write::SetActive { target, .. } => match target
            {
                WriteTarget::Capacity { kbo, kind } => {
                    self.capacity_target(h, caller, kbo, *kind, write)?
                }
                WriteTarget::Subdivision { hco } => {
                    self.subdivision_target(h, caller, hco, write)?
                }
                WriteTarget::Site { hco } => self.site_target(h, caller, hco, write)?,
                WriteTarget::User { level, insz } => {
                    self.user_target(h, caller, level, insz, write)?
                }
            },
        }
        Ok(Fact::Wrote {
            session: session.clone(),
            at: now,
            write: write.clone(),
            ticket,
        })
    }

    /// A designation request (R7): the enterprise exists, has no main access manager
    /// and no pending request, and the caller is the future main access manager or the
    /// legal representative. The ticket number it gets.
    fn decide_designation(
        &self,
        caller: &Insz,
        kbo: &Kbo,
        write: &Write,
    ) -> Result<String, RegistryError> {
        self.directory(kbo)?;
        if self.htb.get(kbo).and_then(Versioned::truth).is_some() {
            return Err(conflict(format!(
                "enterprise {kbo} already has a validated main access manager"
            )));
        }
        if let Some(t) = self.pending_ticket(kbo) {
            return Err(RegistryError::GatePending {
                kbo: kbo.compact().to_string(),
                ticket: Some(t.id.clone()),
            });
        }
        if !rules::may_designate(caller, write) {
            return Err(not_authorised(
                "the designation is requested by the future main access manager or the legal representative",
            ));
        }
        Ok(ticket_number(self.tickets.len() as u64 + 1))
    }

    fn check_add_access_manager(
        &self,
        h: u64,
        caller: &Insz,
        kbo: &Kbo,
        insz: &Insz,
        write: &Write,
    ) -> Result<(), RegistryError> {
        self.directory(kbo)?;
        self.gate(kbo, h)?;
        self.authorise(kbo, h, caller, write)?;
        let exists = self
            .access_managers
            .get(kbo)
            .and_then(|m| m.get(insz))
            .and_then(Versioned::truth)
            .is_some();
        if exists {
            return Err(conflict(format!(
                "{insz} is already an access manager of {kbo}"
            )));
        }
        Ok(())
    }

    fn check_activate_capacity(
        &self,
        h: u64,
        caller: &Insz,
        kbo: &Kbo,
        kind: CapacityType,
        write: &Write,
    ) -> Result<(), RegistryError> {
        let dir = self.directory(kbo)?;
        self.gate(kbo, h)?;
        self.authorise(kbo, h, caller, write)?;
        self.recognised(kbo, &dir.recognised, write)?;
        if self
            .capacities
            .get(&(*kbo, kind))
            .and_then(Versioned::truth)
            .is_some()
        {
            return Err(conflict(format!(
                "capacity {kind} of {kbo} is already active"
            )));
        }
        Ok(())
    }

    fn check_create_subdivision(
        &self,
        s: &SessionRec,
        caller: &Insz,
        (kbo, kind): (&Kbo, CapacityType),
        hco: &Hco,
        write: &Write,
    ) -> Result<(), RegistryError> {
        let h = s.sees;
        let dir = self.directory(kbo)?;
        self.gate(kbo, h)?;
        self.authorise(kbo, h, caller, write)?;
        self.level_visible(&UserLevel::Capacity { kbo: *kbo, kind }, h)?;
        if s.users_created {
            return Err(RegistryError::StructureAfterUsers);
        }
        self.recognised(kbo, &dir.recognised, write)?;
        if self
            .subdivisions
            .get(hco)
            .and_then(|n| n.versions.truth())
            .is_some()
        {
            return Err(conflict(format!("subdivision {hco} already exists")));
        }
        Ok(())
    }

    fn check_delete_subdivision(
        &self,
        h: u64,
        caller: &Insz,
        hco: &Hco,
        write: &Write,
    ) -> Result<(), RegistryError> {
        let node = self.subdivision_node(hco)?;
        let (kbo, _) = node.parent;
        self.gate(&kbo, h)?;
        self.authorise(&kbo, h, caller, write)?;
        require_visible(&node.versions, h, || format!("subdivision {hco}"))?;
        let live_sites = self.sites_of.get(hco).is_some_and(|sites| {
            sites.iter().any(|s| {
                self.sites
                    .get(s)
                    .is_some_and(|n| n.versions.truth().is_some())
            })
        });
        if live_sites || self.has_users(&UserLevel::Subdivision { hco: hco.clone() }) {
            return Err(conflict(format!(
                "subdivision {hco} still has sites or users; delete them first"
            )));
        }
        Ok(())
    }

    fn check_create_site(
        &self,
        s: &SessionRec,
        caller: &Insz,
        subdivision: &Hco,
        hco: &Hco,
        write: &Write,
    ) -> Result<(), RegistryError> {
        let h = s.sees;
        let parent = self.subdivision_node(subdivision)?;
        let kbo = parent.parent.0;
        self.gate(&kbo, h)?;
        self.authorise(&kbo, h, caller, write)?;
        self.level_visible(
            &UserLevel::Subdivision {
                hco: subdivision.clone(),
            },
            h,
        )?;
        if s.users_created {
            return Err(RegistryError::StructureAfterUsers);
        }
        if s.sites_created >= 1 {
            return Err(RegistryError::OneSitePerSession);
        }
        self.recognised(&kbo, &self.directory(&kbo)?.recognised, write)?;
        if self
            .sites
            .get(hco)
            .and_then(|n| n.versions.truth())
            .is_some()
        {
            return Err(conflict(format!("site {hco} already exists")));
        }
        Ok(())
    }

    fn check_create_user(
        &self,
        h: u64,
        caller: &Insz,
        level: &UserLevel,
        user: &User,
        has_password: bool,
        write: &Write,
    ) -> Result<(), RegistryError> {
        let kbo = self.level_kbo(level)?;
        self.gate(&kbo, h)?;
        self.authorise(&kbo, h, caller, write)?;
        self.level_visible(level, h)?;
        if self
            .user_versions(level, &user.insz)
            .and_then(Versioned::truth)
            .is_some()
        {
            return Err(conflict(format!(
                "user {} already exists on {level}",
                user.insz
            )));
        }
        self.check_account(&user.insz, &user.username, Some(has_password))
    }

    /// R8 ([`rules::check_recognised`], the planner's definition too).
    fn recognised(
        &self,
        kbo: &Kbo,
        units: &rules::RecognisedUnits,
        write: &Write,
    ) -> Result<(), RegistryError> {
        rules::check_recognised(units, write).map_err(|e| match e {
            rules::NotRecognised::Capacity => RegistryError::CapacityNotRecognised {
                kbo: kbo.compact().to_string(),
            },
            rules::NotRecognised::Subdivision(hco) => RegistryError::SubdivisionNotRecognised {
                hco: hco.to_string(),
            },
            rules::NotRecognised::Site { site, .. } => RegistryError::SiteNotRecognised {
                hco: site.to_string(),
            },
        })
    }

    fn has_users(&self, level: &UserLevel) -> bool {
        self.users
            .get(level)
            .is_some_and(|m| m.values().any(|v| v.truth().is_some()))
    }

    fn capacity_target(
        &self,
        h: u64,
        caller: &Insz,
        kbo: &Kbo,
        kind: CapacityType,
        write: &Write,
    ) -> Result<(), RegistryError> {
        self.directory(kbo)?;
        self.gate(kbo, h)?;
        self.authorise(kbo, h, caller, write)?;
        let v = self
            .capacities
            .get(&(*kbo, kind))
            .ok_or_else(|| not_found(format!("capacity {kind} of {kbo}")))?;
        require_visible(v, h, || format!("capacity {kind} of {kbo}"))?;
        Ok(())
    }

    fn subdivision_target(
        &self,
        h: u64,
        caller: &Insz,
        hco: &Hco,
        write: &Write,
    ) -> Result<(), RegistryError> {
        let node = self.subdivision_node(hco)?;
        self.gate(&node.parent.0, h)?;
        self.authorise(&node.parent.0, h, caller, write)?;
        require_visible(&node.versions, h, || format!("subdivision {hco}"))?;
        Ok(())
    }

    fn site_target(
        &self,
        h: u64,
        caller: &Insz,
        hco: &Hco,
        write: &Write,
    ) -> Result<(), RegistryError> {
        let node = self.site_node(hco)?;
        let kbo = self.subdivision_node(&node.parent)?.parent.0;
        self.gate(&kbo, h)?;
        self.authorise(&kbo, h, caller, write)?;
        require_visible(&node.versions, h, || format!("site {hco}"))?;
        Ok(())
    }

    fn user_target(
        &self,
        h: u64,
        caller: &Insz,
        level: &UserLevel,
        insz: &Insz,
        write: &Write,
    ) -> Result<(), RegistryError> {
        let kbo = self.level_kbo(level)?;
        self.gate(&kbo, h)?;
        self.authorise(&kbo, h, caller, write)?;
        let v = self
            .user_versions(level, insz)
            .ok_or_else(|| not_found(format!("user {insz} on {level}")))?;
        require_visible(v, h, || format!("user {insz} on {level}"))?;
        Ok(())
    }

    // ----- operator decisions -----------------------------------------------------

    /// Validating a ticket (what the signed, mailed document does).
    pub(crate) fn decide_validate_ticket(
        &self,
        id: &str,
        now: Millis,
    ) -> Result<Fact, RegistryError> {
        let t = self
            .tickets
            .get(id)
            .ok_or_else(|| not_found(format!("ticket {id}")))?;
        if t.state == TicketState::Validated {
            return Err(conflict(format!("ticket {id} is already validated")));
        }
        Ok(Fact::TicketValidated {
            ticket: id.to_string(),
            at: now,
        })
    }

    /// Every ticket.
    pub(crate) fn all_tickets(&self) -> Vec<Ticket> {
        self.tickets.values().cloned().collect()
    }

    /// One ticket.
    pub(crate) fn ticket(&self, id: &str) -> Option<&Ticket> {
        self.tickets.get(id)
    }

    /// The account look-up ([`AccountQuery`]). Accounts are global and kept for good
    /// (S3.4), so the answer is the same for every caller and checks exactly what
    /// [`World::check_account`] checks. Any person with a token may ask: the answer
    /// names only people the caller named, and says of a username only that someone
    /// else holds it, as the CSAM web application tells whoever creates a user.
    pub(crate) fn look_up_accounts(
        &self,
        query: &AccountQuery,
    ) -> Result<KnownAccounts, RegistryError> {
        query.check_len()?;
        let asked: BTreeSet<&Insz> = query.insz.iter().collect();
        let accounts = asked
            .iter()
            .filter_map(|insz| {
                self.accounts.get(*insz).map(|username| LiveAccount {
                    insz: **insz,
                    username: username.clone(),
                })
            })
            .collect();
        let taken = query
            .usernames
            .iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|u| self.usernames.get(*u).is_some_and(|o| !asked.contains(o)))
            .cloned()
            .collect();
        Ok(KnownAccounts { accounts, taken })
    }

    /// The tickets of an enterprise, for someone with a role in it or a party to them.
    pub(crate) fn tickets_for(
        &self,
        caller: &Insz,
        kbo: &Kbo,
    ) -> Result<Vec<Ticket>, RegistryError> {
        self.directory(kbo)?;
        if !self.has_any_role(kbo, self.processing, caller) && !self.is_ticket_party(kbo, caller) {
            return Err(not_authorised(format!("no role in enterprise {kbo}")));
        }
        Ok(self
            .tickets
            .values()
            .filter(|t| t.kbo == *kbo)
            .cloned()
            .collect())
    }

    // ----- leases -----------------------------------------------------------------

    /// Taking or renewing an enterprise's apply lease.
    pub(crate) fn decide_lease(
        &self,
        caller: &Insz,
        kbo: &Kbo,
        request: &LeaseRequest,
        now: Millis,
    ) -> Result<Fact, RegistryError> {
        self.directory(kbo)?;
        if !self.has_any_role(kbo, self.processing, caller) && !self.is_ticket_party(kbo, caller) {
            return Err(not_authorised(format!("no role in enterprise {kbo}")));
        }
        if request.ttl_ms == 0 || request.ttl_ms > self.config.max_lease_ms {
            return Err(RegistryError::InvalidRequest {
                reason: format!("a lease lasts 1 to {} ms", self.config.max_lease_ms),
            });
        }
        let expires_at_ms = now.saturating_add(i64::try_from(request.ttl_ms).unwrap_or(i64::MAX));
        let id = match self.leases.get(kbo) {
            Some((person, lease)) if lease.expires_at_ms > now => {
                // A renewal, or the same holder asking again (a retried request whose
                // answer was lost): the same lease, extended. A holder names one run, so
                // its renewal under an older id (the lease expired and was taken anew,
                // and that answer was lost) is the same lease too: refusing it would
                // leave the run releasing the old id while the new lease stays held.
                let same_holder = lease.holder == request.holder;
                let may_take_over = match request.take_over {
                    TakeOver::None => false,
                    TakeOver::Own => person == caller,
                    TakeOver::Any => true,
                };
                if person == caller && (request.renew.as_ref() == Some(&lease.id) || same_holder) {
                    lease.id.clone()
                } else if may_take_over && request.renew.is_none() {
                    LeaseId(format!("l-{:06}", self.lease_counter + 1))
                } else {
                    return Err(RegistryError::LeaseHeld {
                        kbo: kbo.compact().to_string(),
                        expires_at_ms: lease.expires_at_ms,
                        holder: lease.holder.clone(),
                    });
                }
            }
            _ => LeaseId(format!("l-{:06}", self.lease_counter + 1)),
        };
        Ok(Fact::LeaseTaken {
            person: *caller,
            lease: Lease {
                id,
                kbo: *kbo,
                holder: request.holder.clone(),
                expires_at_ms,
            },
        })
    }

    /// The lease held on an enterprise now, with the person holding it.
    pub(crate) fn lease_held(&self, kbo: &Kbo, now: Millis) -> Option<(&Insz, &Lease)> {
        self.leases
            .get(kbo)
            .filter(|(_, l)| l.expires_at_ms > now)
            .map(|(p, l)| (p, l))
    }

    /// Releasing a lease; `None` when it already expired (nothing to record).
    pub(crate) fn decide_release(
        &self,
        caller: &Insz,
        id: &LeaseId,
        now: Millis,
    ) -> Result<Option<Fact>, RegistryError> {
        let Some((holder, lease)) = self.leases.values().find(|(_, l)| l.id == *id) else {
            return Err(not_found(format!("lease {}", id.0)));
        };
        if holder != caller {
            return Err(not_authorised("the lease belongs to someone else"));
        }
        if lease.expires_at_ms <= now {
            return Ok(None);
        }
        Ok(Some(Fact::LeaseReleased { id: id.clone() }))
    }
}

fn local_admin(insz: &Option<Insz>) -> LiveAdministrator {
    match insz {
        Some(insz) => LiveAdministrator::Person { insz: *insz },
        None => LiveAdministrator::Itself,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_numbers_have_the_manual_shape() {
        assert!(is_ticket_number("3Y0-000ZRF5-00-J"));
        for n in 1..50 {
            let t = ticket_number(n);
            assert!(is_ticket_number(&t), "{t}");
            assert_ne!(t, ticket_number(n + 1));
        }
        assert!(!is_ticket_number("3Y0-000ZRF5-00"));
    }

    #[test]
    fn versions_respect_processing_order() {
        let a = SessionId("a".into());
        let b = SessionId("b".into());
        let mut v: Versioned<u32> = Versioned::default();
        v.push(Some(&a), None, Some(1));
        v.push(Some(&b), None, Some(2));
        assert_eq!(v.truth(), Some(&2));
        assert_eq!(v.seen(10), None);
        // b is processed first, a second: a's value wins, as processing applies it last.
        v.process(&b, 1, 0);
        assert_eq!(
            v.versions[1].session, None,
            "processed, it keeps no session"
        );
        assert_eq!(v.versions[0].session.as_ref(), Some(&a), "pending, it does");
        v.process(&a, 2, 0);
        assert_eq!(v.seen(1), Some(&2));
        assert_eq!(v.seen(2), Some(&1));
        assert_eq!(v.truth(), Some(&1));
    }
}
