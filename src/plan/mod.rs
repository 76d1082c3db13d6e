//! Planning: the diff's changes as registry writes, ordered into sessions separated by
//! log-out barriers, with the HTB gate (R7), the coordination-centre notices (R9) and
//! the propagation wait (R6); authority checked for every write; a time estimate.
//!
//! # The session order, and why it is the fewest sessions the rules allow
//!
//! Sessions never span enterprises: leases, stale-plan fingerprints, failure isolation
//! and the review unit are all per enterprise. An enterprise without a validated HTB
//! starts with the designation in a session of its own, then the gate; nothing else is
//! possible before it clears (R7). After the gate the writes are laid out in *rounds*:
//! a round is one or more sessions that may run side by side (at most *k*, the
//! registry's sessions-per-person limit), and every session of a round is logged out and
//! processed before the next round logs in (R1). A write goes into the earliest round
//! its dependencies allow:
//!
//! | writes | round |
//! |---|---|
//! | access managers, the capacity, every change to an existing object, wrong-level users (R4) | 0 |
//! | new subdivisions | 0 if the capacity exists, else 1 (R1: the capacity must be visible) |
//! | a new site, one per session (R2) | from the round after its subdivision is visible, as early as possible, at most *k* per round |
//! | new users | after every structure write (R3 as the manual has it: all subdivisions and sites of a capacity before any user, S3/S4 intro): in the last structure session itself when that round has one session and creates no site they go on, else the next round |
//! | functions of new users | the round after the users (S4.9: log out before assigning functions) |
//! | leftovers not declared | the last round, children first |
//!
//! Only site rounds have several sessions, so the count is
//! `designation + new sites + site-free rounds`. Each site-free round is forced: with
//! no subdivision visible yet, the capacity's round and the first subdivisions' round
//! cannot create a site (R1); after the last site, its users need a session that logs in
//! once the site is processed, and their functions yet another (S4.9). Sites are placed
//! as soon as they are available, so their rounds leave no gap. One refinement: when a
//! new site gets no new users, the latest such site is kept back to be created alone,
//! last, with the users written after it in the same session, when that saves a session.
//! [`session_lower_bound`] computes the bound from the changes alone, independently of
//! the scheduler; the tests check that plans meet it (the examples, and random desired
//! states against random partly-built registries).
//!
//! Deletions go children first: users, then sites, then subdivisions. Those that must
//! precede a creation (the users and site of a moved site, the old record of a renamed
//! user) share the session of that creation, before it: the registry checks existence
//! against every acknowledged write, so delete-then-create in one session is allowed.
//! Wrong-level users go first (S3.6). Leftovers go last, once the new access is in
//! place, so that nobody loses access while their new records are being made.
//!
//! Inside a session, writes follow `rank`: what clears the way, managers and the
//! capacity, updates, structure, users, functions, leftovers.
//!
//! Before anything runs, every write is checked with the rules the engine enforces
//! (`rules`): the actor's authority, usernames (immutable, unique) and the
//! programme's recognised units (R8). A write the registry would refuse is a plan
//! error, so that what `plan` accepts, `apply` completes.
//!
//! Pure: may use `model` and `rules` only (and sha2 for digests).

pub(crate) mod fingerprint;

pub use fingerprint::Stale;

use std::collections::{BTreeMap, BTreeSet};

use crate::diff::{self, Diff, EnterpriseDiff};
use crate::model::{
    CapacityType, Cause, Change, ChangeKind, DesiredState, EnterprisePlan, Estimate, Finding,
    Function, Hco, HeadRadiologistNotice, HtbStatus, Insz, Kbo, KnownAccounts, LiveAdministrator,
    LiveState, Object, ObjectValue, PasswordRef, Phase, Plan, PlanLimits, Session, Step, StepId,
    User, UserLevel, UserValue, Username, Write, WriteTarget,
};

use crate::rules::{self, Roles};

/// Diffs and plans in one call: what `csamctl plan` does.
///
/// `accounts` is what the registry's account look-up said about the declared people
/// and usernames (`reconcile::read_live` asks it); without it (empty) the planner
/// knows only the accounts the live trees show.
pub fn plan(
    desired: &DesiredState,
    live: &[LiveState],
    accounts: &KnownAccounts,
    actor: Option<Insz>,
    limits: &PlanLimits,
) -> Plan {
    // The plan's id hashes the whole desired state on one core (0.1 s for the 100×
    // fleet): beside the diff, which the other cores share.
    let (id, diff) = crate::parallel::join(
        || fingerprint::plan_id(desired, live),
        || diff::diff(desired, live),
    );
    plan_diff(diff, live, accounts, actor, limits, id)
}

/// Plans a diff (taking its changes). `live` gives the actor's roles, `accounts` the
/// account look-up's answer; `id` becomes [`Plan::id`].
pub(crate) fn plan_diff(
    diff: Diff,
    live: &[LiveState],
    accounts: &KnownAccounts,
    actor: Option<Insz>,
    limits: &PlanLimits,
    id: String,
) -> Plan {
    let by_kbo: BTreeMap<_, _> = live.iter().map(|l| (l.enterprise.kbo, l)).collect();
    let looked_up = AccountIndex::from_answer(accounts);
    let mut findings = diff.findings;
    if actor.is_none() {
        findings.push(Finding::warning(
            "plan::actor_unknown",
            None,
            "no acting person was given to the planner, so authority was not checked (csamctl itself always asks the registry who acts)",
        ));
    }
    let mut enterprises = Vec::new();
    let each = crate::parallel::map(diff.enterprises, |e| {
        let mut findings = Vec::new();
        let live = by_kbo.get(&e.kbo).copied();
        let accounts = Accounts {
            looked_up: &looked_up,
            tree: AccountIndex::from_tree(live),
        };
        let p = plan_enterprise(e, live, &accounts, actor.as_ref(), limits, &mut findings);
        (p, findings)
    });
    for (p, mut found) in each {
        findings.append(&mut found);
        if !p.changes.is_empty() || p.phases.iter().any(|ph| matches!(ph, Phase::Gate { .. })) {
            enterprises.push(p);
        }
    }
    let mut estimate = enterprises
        .iter()
        .map(|e| e.estimate.clone())
        .max_by_key(|e| (e.gates, e.ready_ms))
        .unwrap_or_default();
    // Every chain runs side by side, but all sessions are the acting person's: their
    // requests share the sessions-per-person limit.
    estimate.session_requests = enterprises
        .iter()
        .map(|e| e.estimate.session_requests)
        .sum();
    let critical = enterprises
        .iter()
        .map(|e| e.estimate.apply_ms)
        .max()
        .unwrap_or(0);
    let shared = shared_places_bound_ms(
        &enterprises,
        limits,
        u64::from(limits.sessions_per_person.max(1)),
    );
    estimate.apply_ms = critical.max(shared);
    Plan {
        id,
        actor,
        limits: limits.clone(),
        enterprises,
        findings,
        estimate,
    }
}

/// Where a write goes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    /// Before the gate.
    Designation,
    /// Round 0, first session.
    First,
    /// The round in which subdivisions are created.
    Subdivisions,
    /// The session that creates this site.
    Site(Hco),
    /// The users round.
    Users,
    /// The round after the users.
    Functions,
    /// The last round.
    Late,
}

/// A write with its place, before sessions exist.
#[derive(Clone, Debug)]
struct Work {
    change: usize,
    slot: Slot,
    /// Order inside a session, see [`rank`].
    rank: Rank,
    write: Write,
    /// A new account's initial password reference, beside a [`Write::CreateUser`].
    password: Option<PasswordRef>,
}

/// The order of writes inside a session (the declaration order): the deletions that
/// clear the way (wrong-level users, then a moved site's users and the site), managers
/// and the capacity, updates, structure (subdivisions, then the site), users (a renamed
/// user's old record first), functions, and the leftovers children first (users, sites,
/// subdivisions, managers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    /// The designation of the main access manager; users at the wrong level, deleted
    /// before anything else.
    Opening,
    /// A moved (replaced) site's users, deleted to clear the way.
    MovedSiteUsers,
    /// The moved site itself, deleted once its users are gone.
    MovedSite,
    /// Adding and removing access managers.
    Managers,
    /// Activating or updating the capacity.
    Capacity,
    /// Other updates (details, applications, status, functions of existing users).
    Updates,
    /// Creating subdivisions.
    Subdivisions,
    /// Creating a site.
    Sites,
    /// A replaced user's old record, deleted just before it is created again.
    ReplacedUsers,
    /// Creating users.
    Users,
    /// The functions of the users created in the round before.
    Functions,
    /// Leftover users, deleted.
    LeftoverUsers,
    /// Leftover sites, deleted.
    LeftoverSites,
    /// Leftover subdivisions, deleted.
    LeftoverSubdivisions,
    /// Leftover access managers, removed.
    LeftoverManagers,
}

impl Rank {
    /// A deletion of what the desired state no longer has.
    fn is_leftover(self) -> bool {
        self >= Rank::LeftoverUsers
    }

    /// A deletion that makes room for what replaces it.
    fn clears_the_way(self) -> bool {
        matches!(self, Rank::MovedSiteUsers | Rank::MovedSite)
    }
}

fn rank(slot: &Slot, write: &Write) -> Rank {
    match (slot, write) {
        (_, Write::DesignateMainAccessManager { .. }) => Rank::Opening,
        (Slot::First, Write::DeleteUser { .. }) => Rank::Opening,
        (Slot::Site(_), Write::DeleteUser { .. }) => Rank::MovedSiteUsers,
        (Slot::Site(_), Write::DeleteSite { .. }) => Rank::MovedSite,
        (Slot::Late, Write::DeleteUser { .. }) => Rank::LeftoverUsers,
        (Slot::Late, Write::DeleteSite { .. }) => Rank::LeftoverSites,
        (Slot::Late, Write::DeleteSubdivision { .. }) => Rank::LeftoverSubdivisions,
        (Slot::Late, Write::RemoveAccessManager { .. }) => Rank::LeftoverManagers,
        (_, Write::RemoveAccessManager { .. } | Write::AddAccessManager { .. }) => Rank::Managers,
        (_, Write::ActivateCapacity { .. } | Write::UpdateCapacity { .. }) => Rank::Capacity,
        (_, Write::CreateSubdivision { .. }) => Rank::Subdivisions,
        (_, Write::CreateSite { .. }) => Rank::Sites,
        (Slot::Users, Write::DeleteUser { .. }) => Rank::ReplacedUsers,
        (_, Write::CreateUser { .. }) => Rank::Users,
        (Slot::Functions, Write::SetFunctions { .. }) => Rank::Functions,
        _ => Rank::Updates,
    }
}

fn local_admin(a: &LiveAdministrator) -> Option<Insz> {
    a.insz().copied()
}

/// The writes that carry out one change, each with its slot: one function per kind of
/// object.
fn writes_for(
    index: usize,
    c: &Change,
    replaced_sites: &BTreeSet<Hco>,
    accounts: &Accounts<'_>,
) -> Vec<Work> {
    let kbo = c.kbo;
    let mut out = Vec::new();
    let mut push = |slot: Slot, write: Write| {
        out.push(Work {
            change: index,
            rank: rank(&slot, &write),
            slot,
            write,
            password: None,
        })
    };
    match (&c.object, &c.before, &c.after) {
        (Object::MainAccessManager { .. }, _, Some(ObjectValue::MainAccessManager(d)))
            if c.kind == ChangeKind::Create =>
        {
            push(
                Slot::Designation,
                Write::DesignateMainAccessManager {
                    kbo,
                    main_access_manager: d.main_access_manager.clone(),
                    legal_representative: d.legal_representative.clone(),
                },
            );
        }
        (Object::AccessManager { insz }, before, after) => {
            access_manager_writes(&mut push, kbo, *insz, c.kind, before, after);
        }
        (Object::Capacity { kind }, before, Some(ObjectValue::Capacity(a))) => {
            capacity_writes(&mut push, kbo, *kind, before, a);
        }
        (Object::Subdivision { hco }, before, after) => {
            subdivision_writes(&mut push, kbo, hco, before, after);
        }
        (Object::Site { hco }, before, after) => site_writes(&mut push, hco, c.kind, before, after),
        (Object::User { level, insz }, before, after) => {
            let user = UserChange {
                level,
                insz: *insz,
                kind: c.kind,
                cause: c.cause,
            };
            user_writes(&mut push, &user, before, after, replaced_sites);
            // A person without an account gets one with the user record, and needs its
            // initial password.
            if let Some(ObjectValue::User(a)) = after
                && !accounts.has_account(insz)
            {
                for w in &mut out {
                    if matches!(w.write, Write::CreateUser { .. }) {
                        w.password = a.password.clone();
                    }
                }
            }
        }
        _ => {}
    }
    out
}

type Push<'a> = dyn FnMut(Slot, Write) + 'a;

fn access_manager_writes(
    push: &mut Push<'_>,
    kbo: Kbo,
    insz: Insz,
    kind: ChangeKind,
    before: &Option<ObjectValue>,
    after: &Option<ObjectValue>,
) {
    if before.is_some() {
        let slot = if kind == ChangeKind::Delete {
            Slot::Late
        } else {
            Slot::First
        };
        push(slot, Write::RemoveAccessManager { kbo, insz });
    }
    if let Some(ObjectValue::AccessManager(am)) = after {
        push(
            Slot::First,
            Write::AddAccessManager {
                kbo,
                access_manager: am.clone(),
            },
        );
    }
}

fn capacity_writes(
    push: &mut Push<'_>,
    kbo: Kbo,
    kind: CapacityType,
    before: &Option<ObjectValue>,
    a: &crate::model::CapacityValue,
) {
    match before {
        None => push(
            Slot::First,
            Write::ActivateCapacity {
                kbo,
                kind,
                email: a.email.clone(),
                local_administrator: local_admin(&a.local_administrator),
                applications: a.applications.clone(),
            },
        ),
        Some(ObjectValue::Capacity(b)) => {
            if b.email != a.email || b.local_administrator != a.local_administrator {
                push(
                    Slot::First,
                    Write::UpdateCapacity {
                        kbo,
                        kind,
                        email: a.email.clone(),
                        local_administrator: local_admin(&a.local_administrator),
                    },
                );
            }
            let target = WriteTarget::Capacity { kbo, kind };
            set_apps_active(
                push,
                target,
                (&b.applications, b.active),
                (&a.applications, a.active),
            );
        }
        Some(_) => {}
    }
}

fn subdivision_writes(
    push: &mut Push<'_>,
    kbo: Kbo,
    hco: &Hco,
    before: &Option<ObjectValue>,
    after: &Option<ObjectValue>,
) {
    match (before, after) {
        (None, Some(ObjectValue::Subdivision(a))) => push(
            Slot::Subdivisions,
            Write::CreateSubdivision {
                kbo,
                kind: a.capacity,
                hco: hco.clone(),
                name: a.name.clone(),
                email: a.email.clone(),
                administrator: a.administrator.clone(),
                applications: a.applications.clone(),
            },
        ),
        (Some(ObjectValue::Subdivision(b)), Some(ObjectValue::Subdivision(a))) => {
            if b.name != a.name || b.email != a.email || b.administrator != a.administrator {
                push(
                    Slot::First,
                    Write::UpdateSubdivision {
                        hco: hco.clone(),
                        name: a.name.clone(),
                        email: a.email.clone(),
                        administrator: a.administrator.clone(),
                    },
                );
            }
            set_apps_active(
                push,
                WriteTarget::Subdivision { hco: hco.clone() },
                (&b.applications, b.active),
                (&a.applications, a.active),
            );
        }
        (Some(_), None) => push(Slot::Late, Write::DeleteSubdivision { hco: hco.clone() }),
        _ => {}
    }
}

fn site_writes(
    push: &mut Push<'_>,
    hco: &Hco,
    kind: ChangeKind,
    before: &Option<ObjectValue>,
    after: &Option<ObjectValue>,
) {
    let create = |a: &crate::model::SiteValue| Write::CreateSite {
        subdivision: a.subdivision.clone(),
        hco: hco.clone(),
        name: a.name.clone(),
        email: a.email.clone(),
        administrator: a.administrator.clone(),
        applications: a.applications.clone(),
    };
    match (kind, before, after) {
        (ChangeKind::Create, _, Some(ObjectValue::Site(a))) => {
            push(Slot::Site(hco.clone()), create(a));
        }
        (ChangeKind::Replace, _, Some(ObjectValue::Site(a))) => {
            push(
                Slot::Site(hco.clone()),
                Write::DeleteSite { hco: hco.clone() },
            );
            push(Slot::Site(hco.clone()), create(a));
        }
        (ChangeKind::Update, Some(ObjectValue::Site(b)), Some(ObjectValue::Site(a))) => {
            if b.name != a.name || b.email != a.email || b.administrator != a.administrator {
                push(
                    Slot::First,
                    Write::UpdateSite {
                        hco: hco.clone(),
                        name: a.name.clone(),
                        email: a.email.clone(),
                        administrator: a.administrator.clone(),
                    },
                );
            }
            set_apps_active(
                push,
                WriteTarget::Site { hco: hco.clone() },
                (&b.applications, b.active),
                (&a.applications, a.active),
            );
        }
        (ChangeKind::Delete, _, _) => push(Slot::Late, Write::DeleteSite { hco: hco.clone() }),
        _ => {}
    }
}

/// The user a change is about.
struct UserChange<'a> {
    level: &'a UserLevel,
    insz: Insz,
    kind: ChangeKind,
    cause: Option<Cause>,
}

fn user_writes(
    push: &mut Push<'_>,
    user: &UserChange<'_>,
    before: &Option<ObjectValue>,
    after: &Option<ObjectValue>,
    replaced_sites: &BTreeSet<Hco>,
) {
    let level = user.level;
    let insz = user.insz;
    let on_replaced_site = level.site().filter(|h| replaced_sites.contains(*h));
    let delete = Write::DeleteUser {
        level: level.clone(),
        insz,
    };
    let create = |push: &mut dyn FnMut(Slot, Write), a: &UserValue| {
        push(
            Slot::Users,
            Write::CreateUser {
                level: level.clone(),
                // Functions follow in a later session (S4.9).
                user: User {
                    functions: BTreeSet::new(),
                    ..a.user(insz)
                },
            },
        );
        if !a.functions.is_empty() {
            push(
                Slot::Functions,
                Write::SetFunctions {
                    level: level.clone(),
                    insz,
                    functions: a.functions.clone(),
                },
            );
        }
    };
    match (user.kind, before, after) {
        (ChangeKind::Create, _, Some(ObjectValue::User(a))) => create(push, a),
        (ChangeKind::Replace, _, Some(ObjectValue::User(a))) => {
            match on_replaced_site {
                Some(site) => push(Slot::Site(site.clone()), delete),
                None => push(Slot::Users, delete),
            }
            create(push, a);
        }
        (ChangeKind::Update, Some(ObjectValue::User(b)), Some(ObjectValue::User(a))) => {
            if a.details != b.details {
                push(
                    Slot::First,
                    Write::UpdateUser {
                        level: level.clone(),
                        insz,
                        details: a.details.clone(),
                    },
                );
            }
            set_apps_active(
                push,
                WriteTarget::User {
                    level: level.clone(),
                    insz,
                },
                (&b.applications, b.active),
                (&a.applications, a.active),
            );
            if a.functions != b.functions {
                push(
                    Slot::First,
                    Write::SetFunctions {
                        level: level.clone(),
                        insz,
                        functions: a.functions.clone(),
                    },
                );
            }
        }
        (ChangeKind::Delete, _, _) => match (on_replaced_site, user.cause) {
            (Some(site), _) => push(Slot::Site(site.clone()), delete),
            (None, Some(Cause::WrongLevel)) => push(Slot::First, delete),
            (None, _) => push(Slot::Late, delete),
        },
        _ => {}
    }
}

fn set_apps_active(
    push: &mut dyn FnMut(Slot, Write),
    target: WriteTarget,
    before: (&crate::model::Applications, bool),
    after: (&crate::model::Applications, bool),
) {
    if before.0 != after.0 {
        push(
            Slot::First,
            Write::SetApplications {
                target: target.clone(),
                applications: after.0.clone(),
            },
        );
    }
    if before.1 != after.1 {
        push(
            Slot::First,
            Write::SetActive {
                target,
                active: after.1,
            },
        );
    }
}

/// Who holds which account, as one source tells it.
#[derive(Default)]
struct AccountIndex {
    account_of: BTreeMap<Insz, Username>,
    owner_of: BTreeMap<Username, Insz>,
    /// Usernames someone holds who is not among the people in `account_of`.
    taken: BTreeSet<Username>,
}

impl AccountIndex {
    fn new(pairs: impl IntoIterator<Item = (Insz, Username)>, taken: BTreeSet<Username>) -> Self {
        let account_of: BTreeMap<Insz, Username> = pairs.into_iter().collect();
        let owner_of = account_of.iter().map(|(i, u)| (u.clone(), *i)).collect();
        AccountIndex {
            account_of,
            owner_of,
            taken,
        }
    }

    /// The account look-up's answer.
    fn from_answer(known: &KnownAccounts) -> Self {
        Self::new(
            known.accounts.iter().map(|a| (a.insz, a.username.clone())),
            known.taken.iter().cloned().collect(),
        )
    }

    /// The accounts of the visible user records and administrator accounts of a tree.
    fn from_tree(live: Option<&LiveState>) -> Self {
        let Some(live) = live else {
            return Self::default();
        };
        let admin = |a: &LiveAdministrator| match a {
            LiveAdministrator::Account { insz, username, .. } => Some((*insz, username.clone())),
            _ => None,
        };
        let mut pairs = Vec::new();
        for cap in &live.enterprise.capacities {
            pairs.extend(
                cap.wrong_level_users
                    .iter()
                    .map(|u| (u.insz, u.username.clone())),
            );
            for sub in &cap.subdivisions {
                pairs.extend(
                    sub.wrong_level_users
                        .iter()
                        .map(|u| (u.insz, u.username.clone())),
                );
                pairs.extend(admin(&sub.administrator));
                for site in &sub.sites {
                    pairs.extend(site.users.iter().map(|u| (u.insz, u.username.clone())));
                    pairs.extend(admin(&site.administrator));
                }
            }
        }
        Self::new(pairs, BTreeSet::new())
    }
}

/// Every account the planner knows of for one enterprise: the account look-up's answer
/// (accounts are global) and the enterprise's tree.
struct Accounts<'a> {
    looked_up: &'a AccountIndex,
    tree: AccountIndex,
}

impl Accounts<'_> {
    /// The username of `person`'s account, if they have one.
    fn account_of(&self, person: &Insz) -> Option<Username> {
        self.tree
            .account_of
            .get(person)
            .or_else(|| self.looked_up.account_of.get(person))
            .cloned()
    }

    /// Whether someone other than `person` holds `username`.
    fn held_by_other(&self, username: &Username, person: &Insz) -> bool {
        match self
            .tree
            .owner_of
            .get(username)
            .or_else(|| self.looked_up.owner_of.get(username))
        {
            Some(owner) => owner != person,
            None => self.looked_up.taken.contains(username),
        }
    }

    /// Whether `person` has an account: their new user records need no password.
    fn has_account(&self, person: &Insz) -> bool {
        self.tree.account_of.contains_key(person) || self.looked_up.account_of.contains_key(person)
    }
}

/// A step's id: the enterprise, the session's label and the step's place in it
/// (`0198765470:3a:1`). The same inputs give the same plan, so the id is stable for a
/// plan; together with the plan's id (a digest of its inputs) it makes an idempotency
/// key. It names no person, so it can be shown.
fn step_id(kbo: &crate::model::Kbo, label: &str, index: usize) -> StepId {
    StepId(format!("{}:{label}:{}", kbo.compact(), index + 1))
}

/// Where the structure and the users go: the round (and session within it) of every
/// new site, and the users' and functions' rounds.
#[derive(Clone, Debug, Default)]
struct RoundLayout {
    site_at: BTreeMap<Hco, (usize, usize)>,
    sites_in: BTreeMap<usize, usize>,
    users_round: usize,
    functions_round: usize,
}

/// What the layout needs to know about an enterprise's writes.
struct Needs<'a> {
    /// New sites with the first round their subdivision is visible in.
    sites: &'a [(usize, Hco)],
    /// New sites that get new users.
    sites_with_users: &'a BTreeSet<Hco>,
    /// The subdivisions' round, if any are created.
    sub_round: Option<usize>,
    /// Whether round 0 has work of its own.
    first: bool,
    /// Whether users are created, and functions set for them.
    users: bool,
    functions: bool,
    /// Sessions per person.
    k: usize,
}

impl RoundLayout {
    /// Sites as early as possible, at most `k` per round, except `reserved`, which is
    /// created alone after every other structure so that the users can follow it in the
    /// same session.
    fn new(n: &Needs<'_>, reserved: Option<&Hco>) -> RoundLayout {
        let mut l = RoundLayout::default();
        let place = |l: &mut RoundLayout, hco: &Hco, from: usize, k: usize| {
            let mut r = from;
            while l.sites_in.get(&r).copied().unwrap_or(0) >= k {
                r += 1;
            }
            let slot = l.sites_in.entry(r).or_insert(0);
            l.site_at.insert(hco.clone(), (r, *slot));
            *slot += 1;
        };
        for (available, hco) in n.sites.iter().filter(|(_, h)| Some(h) != reserved) {
            place(&mut l, hco, *available, n.k);
        }
        let last_other = l.site_at.values().map(|(r, _)| *r).chain(n.sub_round).max();
        if let Some(hco) = reserved
            && let Some((available, _)) = n.sites.iter().find(|(_, h)| h == hco)
        {
            let from = last_other.map_or(*available, |r| (r + 1).max(*available));
            place(&mut l, hco, from, 1);
        }
        let last_structure = l.site_at.values().map(|(r, _)| *r).chain(n.sub_round).max();
        l.users_round = match last_structure {
            None => 0,
            Some(last) => {
                // Users may follow the structure in the last structure session when
                // that round has one session and creates no site they go on.
                let single = l.sites_in.get(&last).copied().unwrap_or(0) <= 1;
                let on_new = l
                    .site_at
                    .iter()
                    .any(|(hco, (r, _))| *r == last && n.sites_with_users.contains(hco));
                if single && !on_new { last } else { last + 1 }
            }
        };
        l.functions_round = l.users_round + 1;
        l
    }

    /// The number of sessions this layout takes.
    fn sessions(&self, n: &Needs<'_>) -> (usize, usize) {
        let mut rounds: BTreeSet<usize> = self.sites_in.keys().copied().collect();
        rounds.extend(n.sub_round);
        if n.first {
            rounds.insert(0);
        }
        if n.users {
            rounds.insert(self.users_round);
        }
        if n.functions {
            rounds.insert(self.functions_round);
        }
        let sessions = rounds
            .iter()
            .map(|r| self.sites_in.get(r).copied().unwrap_or(0).max(1))
            .sum();
        (sessions, rounds.len())
    }
}

/// The rounds of an enterprise's writes after the gate: round → sessions → writes.
fn schedule(
    works: Vec<Work>,
    site_parent_new: &BTreeMap<Hco, bool>,
    cap_new: bool,
    k: usize,
) -> Vec<Vec<Vec<Work>>> {
    let cv = usize::from(cap_new);
    let mut sites: Vec<(usize, Hco)> = site_parent_new
        .iter()
        .map(|(hco, parent_new)| (if *parent_new { cv + 1 } else { 0 }, hco.clone()))
        .collect();
    sites.sort();
    let sites_with_users: BTreeSet<Hco> = works
        .iter()
        .filter_map(|w| match &w.write {
            Write::CreateUser {
                level: UserLevel::Site { hco },
                ..
            } if site_parent_new.contains_key(hco) => Some(hco.clone()),
            _ => None,
        })
        .collect();
    let has = |s: &Slot| works.iter().any(|w| w.slot == *s);
    let needs = Needs {
        sites: &sites,
        sites_with_users: &sites_with_users,
        sub_round: has(&Slot::Subdivisions).then_some(cv),
        first: has(&Slot::First),
        users: has(&Slot::Users),
        functions: has(&Slot::Functions),
        k: k.max(1),
    };
    // A site without new users, created last and alone, can carry the users' session;
    // the latest-available such site is the one that costs nothing elsewhere.
    let reservable = sites
        .iter()
        .rev()
        .find(|(_, h)| !sites_with_users.contains(h))
        .map(|(_, h)| h.clone());
    let plain = RoundLayout::new(&needs, None);
    let layout = match reservable.filter(|_| needs.users) {
        Some(r) => {
            let reserved = RoundLayout::new(&needs, Some(&r));
            if reserved.sessions(&needs) < plain.sessions(&needs) {
                reserved
            } else {
                plain
            }
        }
        None => plain,
    };

    let mut last = 0;
    let mut placed: Vec<(usize, usize, Work)> = Vec::new();
    let mut late = Vec::new();
    for w in works {
        let (round, session) = match &w.slot {
            Slot::Designation => continue,
            Slot::First => (0, 0),
            Slot::Subdivisions => (cv, 0),
            Slot::Site(hco) => layout.site_at.get(hco).copied().unwrap_or((0, 0)),
            Slot::Users => (layout.users_round, 0),
            Slot::Functions => (layout.functions_round, 0),
            Slot::Late => {
                late.push(w);
                continue;
            }
        };
        last = last.max(round);
        placed.push((round, session, w));
    }
    if !late.is_empty() {
        // Leftovers go with the last round's first session, unless a subdivision is
        // deleted there while a parallel session of that round still deletes a moved
        // site (which may hang under it): the subdivision must wait for it.
        let races = late
            .iter()
            .any(|w| matches!(w.write, Write::DeleteSubdivision { .. }))
            && placed.iter().any(|(r, session, w)| {
                *r == last && *session > 0 && matches!(w.write, Write::DeleteSite { .. })
            });
        if races {
            last += 1;
        }
        placed.extend(late.into_iter().map(|w| (last, 0, w)));
    }
    let mut rounds: BTreeMap<usize, BTreeMap<usize, Vec<Work>>> = BTreeMap::new();
    for (r, s, w) in placed {
        rounds.entry(r).or_default().entry(s).or_default().push(w);
    }
    rounds
        .into_values()
        .map(|sessions| {
            sessions
                .into_values()
                .map(|mut ws| {
                    ws.sort_by_key(|w| (w.rank, w.change));
                    ws
                })
                .collect()
        })
        .collect()
}

/// A few words on what a session does.
fn purpose(works: &[Work]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut add = |s: String| {
        if !parts.contains(&s) {
            parts.push(s);
        }
    };
    for w in works {
        let s = match &w.write {
            Write::DesignateMainAccessManager { .. } => {
                "designation of the main access manager".into()
            }
            Write::AddAccessManager { .. } | Write::RemoveAccessManager { .. }
                if w.rank == Rank::Managers =>
            {
                "access managers".into()
            }
            Write::ActivateCapacity { .. } => "capacity".into(),
            Write::CreateSubdivision { .. } => "subdivisions".into(),
            Write::CreateSite { hco, .. } => format!("site {hco}"),
            Write::CreateUser { .. } => "users".into(),
            Write::SetFunctions { .. } if w.rank == Rank::Functions => {
                "functions of the new users".into()
            }
            Write::DeleteUser { .. } if w.rank == Rank::Opening => "wrong-level users".into(),
            _ if w.rank.is_leftover() => "deleting what is not in the desired state".into(),
            _ if w.rank.clears_the_way() => "clearing the way".into(),
            _ => "changes".into(),
        };
        add(s);
    }
    parts.join(", ")
}

fn round_label(n: usize, parallel: usize, i: usize) -> String {
    if parallel > 1 {
        let letter = char::from(b'a' + (i % 26) as u8);
        format!("{n}{letter}")
    } else {
        n.to_string()
    }
}

fn plan_enterprise(
    e: EnterpriseDiff,
    live: Option<&LiveState>,
    accounts: &Accounts<'_>,
    actor: Option<&Insz>,
    limits: &PlanLimits,
    findings: &mut Vec<Finding>,
) -> EnterprisePlan {
    let EnterpriseDiff {
        kbo,
        name,
        htb_status,
        declared_htb,
        changes,
        ..
    } = e;
    let replaced_sites: BTreeSet<Hco> = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Replace)
        .filter_map(|c| match &c.object {
            Object::Site { hco } => Some(hco.clone()),
            _ => None,
        })
        .collect();
    let works: Vec<Work> = changes
        .iter()
        .enumerate()
        .flat_map(|(i, c)| writes_for(i, c, &replaced_sites, accounts))
        .collect();

    let parent = site_parents(live, &changes);
    let site_parent_new = site_parent_new(&changes, &works);
    let cap_new = changes
        .iter()
        .any(|c| c.kind == ChangeKind::Create && matches!(c.object, Object::Capacity { .. }));

    if let Some(actor) = actor {
        let roles = Roles::of(actor, live, Some(&declared_htb));
        check_authority(kbo, &roles, actor, &changes, &works, &parent, findings);
    }
    check_administrators(kbo, &changes, &works, findings);
    check_registry_rules(kbo, live, accounts, &changes, &works, findings);
    let touches_users = works.iter().any(|w| w.write.touches_user());

    let mut phases = Vec::new();
    let mut label = 1usize;
    let make_session = |label: String, ws: Vec<Work>| Session {
        purpose: purpose(&ws),
        steps: ws
            .into_iter()
            .enumerate()
            .map(|(i, w)| Step {
                id: step_id(&kbo, &label, i),
                change: w.change,
                write: w.write,
                password: w.password,
            })
            .collect(),
        label,
    };
    let (designation, works): (Vec<Work>, Vec<Work>) =
        works.into_iter().partition(|w| w.slot == Slot::Designation);
    let mut gates = 0;
    if !designation.is_empty() {
        phases.push(Phase::Sessions {
            sessions: vec![make_session(label.to_string(), designation)],
        });
        label += 1;
    }
    match &htb_status {
        HtbStatus::Validated => {}
        HtbStatus::Pending { ticket } => {
            gates += 1;
            phases.push(Phase::Gate {
                ticket: Some(ticket.clone()),
                expected_ms: limits.gate_ms,
            });
        }
        HtbStatus::None => {
            gates += 1;
            phases.push(Phase::Gate {
                ticket: None,
                expected_ms: limits.gate_ms,
            });
        }
    }
    let k = usize::try_from(limits.sessions_per_person).unwrap_or(1);
    for round in schedule(works, &site_parent_new, cap_new, k) {
        let n = round.len();
        let sessions = round
            .into_iter()
            .enumerate()
            .map(|(i, ws)| make_session(round_label(label, n, i), ws))
            .collect();
        phases.push(Phase::Sessions { sessions });
        label += 1;
    }
    let notices = notices(&changes);
    if !notices.is_empty() {
        phases.push(Phase::Notices { notices });
    }
    if touches_users {
        phases.push(Phase::Propagation {
            wait_ms: limits.propagation_delay_ms,
        });
    }
    // A gate with nothing behind it (an enterprise that only waits) is still shown.
    let estimate = estimate(&phases, limits, gates);
    EnterprisePlan {
        kbo,
        name,
        changes,
        phases,
        estimate,
    }
}

/// Where every site hangs (live or desired), for authority and visibility.
fn site_parents(live: Option<&LiveState>, changes: &[Change]) -> BTreeMap<Hco, Hco> {
    let mut parent: BTreeMap<Hco, Hco> = BTreeMap::new();
    if let Some(l) = live {
        for sub in l.enterprise.capacities.iter().flat_map(|c| &c.subdivisions) {
            for site in &sub.sites {
                parent.insert(site.hco.clone(), sub.hco.clone());
            }
        }
    }
    for c in changes {
        if let (Object::Site { hco }, Some(ObjectValue::Site(v))) = (&c.object, &c.after) {
            parent.insert(hco.clone(), v.subdivision.clone());
        }
    }
    parent
}

/// For each site created, whether its subdivision is created by the same plan.
fn site_parent_new(changes: &[Change], works: &[Work]) -> BTreeMap<Hco, bool> {
    let new_subdivisions: BTreeSet<Hco> = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Create)
        .filter_map(|c| match &c.object {
            Object::Subdivision { hco } => Some(hco.clone()),
            _ => None,
        })
        .collect();
    works
        .iter()
        .filter_map(|w| match &w.write {
            Write::CreateSite {
                subdivision, hco, ..
            } => Some((hco.clone(), new_subdivisions.contains(subdivision))),
            _ => None,
        })
        .collect()
}

/// Every change some write of which is outside the actor's authority, as an error.
fn check_authority(
    kbo: crate::model::Kbo,
    roles: &Roles,
    actor: &Insz,
    changes: &[Change],
    works: &[Work],
    parent: &BTreeMap<Hco, Hco>,
    findings: &mut Vec<Finding>,
) {
    let parent_of = |h: &Hco| parent.get(h).cloned();
    let mut reported = BTreeSet::new();
    for w in works {
        let Err(scope) = rules::authorised(actor, roles, &w.write, &parent_of) else {
            continue;
        };
        if reported.insert(w.change) {
            let c = &changes[w.change];
            findings.push(
                Finding::error(
                    "plan::not_authorised",
                    Some(kbo),
                    format!(
                        "{} {} of {}: the acting person {} may not do this; it needs {}",
                        c.kind.verb(),
                        object_words(&c.object, c.username()),
                        kbo,
                        actor,
                        scope.holders()
                    ),
                )
                .about(c.object.clone()),
            );
        }
    }
}

/// The writes the registry would refuse by a rule the live state and the account
/// look-up let the planner check: a username that is not the person's for good, or
/// someone else's (S3.4), a new account without its initial password, and a capacity,
/// subdivision or site that is not a recognised unit (R8).
fn check_registry_rules(
    kbo: crate::model::Kbo,
    live: Option<&LiveState>,
    accounts: &Accounts<'_>,
    changes: &[Change],
    works: &[Work],
    findings: &mut Vec<Finding>,
) {
    let units = live.and_then(LiveState::recognised);
    let mut reported = BTreeSet::new();
    for w in works {
        let c = &changes[w.change];
        let account = match &w.write {
            Write::CreateUser { user, .. } => Some((user.insz, &user.username)),
            Write::CreateSubdivision { administrator, .. }
            | Write::UpdateSubdivision { administrator, .. }
            | Write::CreateSite { administrator, .. }
            | Write::UpdateSite { administrator, .. } => match administrator {
                LiveAdministrator::Account { insz, username, .. } => Some((*insz, username)),
                _ => None,
            },
            _ => None,
        };
        if let Some((insz, username)) = account
            && let Err(problem) = rules::check_username(
                &insz,
                username,
                |p| accounts.account_of(p),
                |u| accounts.held_by_other(u, &insz),
            )
            && reported.insert((w.change, "username"))
        {
            let (code, way_out) = match &problem {
                rules::UsernameProblem::Immutable { .. } => (
                    "plan::username_immutable",
                    "; the registry cannot rename an account, and deleting the user records would not free the old name",
                ),
                rules::UsernameProblem::Taken { .. } => (
                    "plan::username_taken",
                    "; choose another username for this person",
                ),
            };
            findings.push(
                Finding::error(
                    code,
                    Some(kbo),
                    format!(
                        "{} {} of {kbo}: {problem}{way_out}",
                        c.kind.verb(),
                        object_words(&c.object, None),
                    ),
                )
                .about(c.object.clone()),
            );
        }
        if let Write::CreateUser { user, .. } = &w.write
            && rules::password_required(accounts.has_account(&user.insz), w.password.is_some())
            && reported.insert((w.change, "password"))
        {
            findings.push(
                Finding::error(
                    "plan::password_required",
                    Some(kbo),
                    format!(
                        "{} {} of {kbo}: {} has no account in the registry and no `password` reference, and the registry refuses a new account without its initial password; add `password: {{ env: ... }}` (or `file:`), or, when CSAM already holds the account, record it from the users export (`csamctl drift --record`)",
                        c.kind.verb(),
                        object_words(&c.object, None),
                        user.username,
                    ),
                )
                .about(c.object.clone()),
            );
        }
        if let Some(units) = &units
            && let Err(e) = rules::check_recognised(units, &w.write)
            && reported.insert((w.change, "recognised"))
        {
            findings.push(
                Finding::error(
                    "plan::not_recognised",
                    Some(kbo),
                    format!(
                        "{} {} of {kbo}: {e} (R8), so the registry would refuse it; declare only the units the programme lists for this enterprise, or ask the coordination centre to add it",
                        c.kind.verb(),
                        object_words(&c.object, None),
                    ),
                )
                .about(c.object.clone()),
            );
        }
    }
}

/// The registry takes `self` or an account as a subdivision or site administrator.
fn check_administrators(
    kbo: crate::model::Kbo,
    changes: &[Change],
    works: &[Work],
    findings: &mut Vec<Finding>,
) {
    let mut reported = BTreeSet::new();
    for w in works {
        let admin = match &w.write {
            Write::CreateSubdivision { administrator, .. }
            | Write::UpdateSubdivision { administrator, .. }
            | Write::CreateSite { administrator, .. }
            | Write::UpdateSite { administrator, .. } => Some(administrator),
            _ => None,
        };
        if let Some(LiveAdministrator::Person { .. }) = admin
            && reported.insert(w.change)
        {
            let c = &changes[w.change];
            findings.push(
                Finding::error(
                    "plan::administrator_form",
                    Some(kbo),
                    format!(
                        "{}: a subdivision or site administrator is `self` or an account (username, insz, names, email, language) in the registry, not a bare INSZ",
                        object_words(&c.object, None)
                    ),
                )
                .about(c.object.clone()),
            );
        }
    }
}

/// Words for an object without personal data: `site 71977101`, `user jdoe on site …`.
pub(crate) fn object_words(o: &Object, username: Option<&crate::model::Username>) -> String {
    match o {
        Object::MainAccessManager { insz } => format!("main access manager {insz}"),
        Object::AccessManager { insz } => format!("access manager {insz}"),
        Object::Capacity { kind } => format!("capacity {kind}"),
        Object::Subdivision { hco } => format!("subdivision {hco}"),
        Object::Site { hco } => format!("site {hco}"),
        Object::User { level, insz } => match username {
            Some(u) => format!("user {u} on {level}"),
            None => format!("user {insz} on {level}"),
        },
    }
}

/// R9: every site whose head radiologist is new there.
fn notices(changes: &[Change]) -> Vec<HeadRadiologistNotice> {
    let head = |v: &Option<ObjectValue>| match v {
        Some(ObjectValue::User(u)) => u.functions.contains(&Function::HeadRadiologist),
        _ => false,
    };
    let mut out: Vec<HeadRadiologistNotice> = changes
        .iter()
        .filter(|c| c.kind != ChangeKind::Delete)
        .filter_map(|c| match (&c.object, &c.after) {
            (
                Object::User {
                    level: UserLevel::Site { hco },
                    insz,
                },
                Some(ObjectValue::User(u)),
            ) if head(&c.after) && (c.kind == ChangeKind::Replace || !head(&c.before)) => {
                Some(HeadRadiologistNotice {
                    site: hco.clone(),
                    insz: *insz,
                    username: u.username.clone(),
                })
            }
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| (&a.site, &a.username).cmp(&(&b.site, &b.username)));
    out
}

/// The critical path, the apply's physical floor: per round the busiest session's
/// requests (log-in, its writes in batches of at most [`crate::model::BATCH_WRITES`],
/// log-out) and a processing delay per barrier, the propagation wait at the end; and
/// the requests of every session, for the plan's sessions-per-person bound.
fn estimate(phases: &[Phase], limits: &PlanLimits, gates: u32) -> Estimate {
    let mut est = Estimate {
        gates,
        gate_ms: u64::from(gates) * limits.gate_ms,
        ..Estimate::default()
    };
    let mut propagation = 0;
    for p in phases {
        match p {
            Phase::Sessions { sessions } => {
                let busiest = sessions.iter().map(Session::requests).max().unwrap_or(2);
                est.session_requests += sessions.iter().map(Session::requests).sum::<u64>();
                est.chain_sessions += 1;
                est.barriers += 1;
                est.requests += u32::try_from(busiest).unwrap_or(u32::MAX);
            }
            Phase::Propagation { wait_ms } => propagation = *wait_ms,
            Phase::Gate { .. } | Phase::Notices { .. } => {}
        }
    }
    est.apply_ms = u64::from(est.requests) * limits.request_ms
        + u64::from(est.barriers) * limits.processing_delay_ms;
    est.ready_ms = est.apply_ms + propagation;
    est
}

/// A lower bound on the wall time of carrying `plan` out with at most `parallelism`
/// sessions open at once (a session from log-in to log-out; waiting for its processing
/// holds no place): the plan's own bound ([`Estimate::apply_ms`]), or the sessions'
/// requests shared over `parallelism` places when that is fewer than the person's
/// limit, whichever is longer.
pub(crate) fn apply_bound_ms(plan: &Plan, parallelism: usize) -> u64 {
    let parallelism = u64::try_from(parallelism.max(1)).unwrap_or(u64::MAX);
    let places = parallelism.min(u64::from(plan.limits.sessions_per_person.max(1)));
    plan.estimate.apply_ms.max(shared_places_bound_ms(
        &plan.enterprises,
        &plan.limits,
        places,
    ))
}

/// A lower bound on carrying out these enterprises' plans with at most `places`
/// sessions open at once (every session is the acting person's, whatever its
/// enterprise): every session's requests shared over the places; and, for each round
/// `k`, the requests of every enterprise's round-`k` sessions shared over the places,
/// after the shortest way to round `k` and before the processing and the shortest way
/// from there to the end. The second is what a round of many parallel sessions (one a
/// site, R2) costs against a small sessions-per-person limit: none of its sessions
/// can start before the first enterprise gets there, and the enterprise whose session
/// logs out last still has its processing and its later rounds ahead.
fn shared_places_bound_ms(enterprises: &[EnterprisePlan], limits: &PlanLimits, places: u64) -> u64 {
    let places = places.max(1);
    // Per enterprise, per round of sessions: (the round's least time, its requests' time).
    let rounds: Vec<Vec<(u64, u64)>> = enterprises
        .iter()
        .map(|e| {
            e.phases
                .iter()
                .filter_map(|p| match p {
                    Phase::Sessions { sessions } => {
                        let busiest = sessions.iter().map(Session::requests).max().unwrap_or(2);
                        let work: u64 = sessions.iter().map(Session::requests).sum();
                        Some((
                            busiest * limits.request_ms + limits.processing_delay_ms,
                            work * limits.request_ms,
                        ))
                    }
                    _ => None,
                })
                .collect()
        })
        .collect();
    let all: u64 = rounds.iter().flatten().map(|(_, work)| work).sum();
    let depth = rounds.iter().map(Vec::len).max().unwrap_or(0);
    (0..depth)
        .map(|k| {
            let with_k = || rounds.iter().filter(|r| r.len() > k);
            let time = |rounds: &[(u64, u64)]| rounds.iter().map(|(time, _)| time).sum::<u64>();
            let before = with_k().map(|r| time(&r[..k])).min().unwrap_or(0);
            let after = with_k().map(|r| time(&r[k + 1..])).min().unwrap_or(0);
            let work: u64 = with_k().map(|r| r[k].1).sum();
            before + work / places + limits.processing_delay_ms + after
        })
        .fold(all / places, u64::max)
}

/// A lower bound on the sessions any order obeying R1–R3 and R7 needs for an
/// enterprise's changes, computed from the changes alone (see the module docs for the
/// argument): the designation; one session per new site (R2); the site-free sessions
/// before the first site can be created (the capacity's, then the first subdivisions');
/// after the last site, the users' session (unless a site without new users can carry
/// it) and the functions' session (S4.9). Without new sites it is the length of the
/// dependency chain capacity → subdivisions → users → functions. The planner meets it
/// whenever every new site gets new users, which validation expects of a unit (its head
/// radiologist).
pub fn session_lower_bound(e: &EnterpriseDiff) -> u32 {
    let created = |c: &Change| matches!(c.kind, ChangeKind::Create | ChangeKind::Replace);
    let designation = u32::from(e.changes.iter().any(|c| {
        c.kind == ChangeKind::Create && matches!(c.object, Object::MainAccessManager { .. })
    }));
    let cap_new = e
        .changes
        .iter()
        .any(|c| c.kind == ChangeKind::Create && matches!(c.object, Object::Capacity { .. }));
    let new_subs: BTreeSet<&Hco> = e
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Create)
        .filter_map(|c| match &c.object {
            Object::Subdivision { hco } => Some(hco),
            _ => None,
        })
        .collect();
    let new_sites: BTreeMap<&Hco, &Change> = e
        .changes
        .iter()
        .filter(|c| created(c))
        .filter_map(|c| match &c.object {
            Object::Site { hco } => Some((hco, c)),
            _ => None,
        })
        .collect();
    let new_users: Vec<&Change> = e
        .changes
        .iter()
        .filter(|c| created(c) && matches!(c.object, Object::User { .. }))
        .collect();
    let functions = u32::from(
        new_users
            .iter()
            .any(|c| matches!(&c.after, Some(ObjectValue::User(u)) if !u.functions.is_empty())),
    );
    // Writes that need a session of their own when nothing else is planned: anything
    // but the designation, sites and new users.
    let other = e.changes.iter().any(|c| match c.object {
        Object::MainAccessManager { .. } => false,
        Object::Site { .. } | Object::User { .. } => !created(c),
        _ => true,
    });
    let sub_depth = if new_subs.is_empty() {
        0
    } else {
        1 + u32::from(cap_new)
    };
    if new_sites.is_empty() {
        let base = sub_depth.max(u32::from(other || cap_new));
        let chain = if new_users.is_empty() {
            0
        } else {
            // Users may follow the last subdivisions in their session (R3 holds).
            sub_depth.max(1) + functions
        };
        return designation + base.max(chain);
    }
    // Site-free sessions before the first site: the capacity's and the first
    // subdivisions' when the site hangs under a new subdivision.
    let available = |c: &Change| match &c.after {
        Some(ObjectValue::Site(s)) if new_subs.contains(&s.subdivision) => sub_depth,
        _ => 0,
    };
    let has_users = |site: &Hco| {
        new_users.iter().any(
            |c| matches!(&c.object, Object::User { level: UserLevel::Site { hco }, .. } if hco == site),
        )
    };
    let gap = |without: Option<&Hco>| {
        new_sites
            .iter()
            .filter(|(h, _)| Some(**h) != without)
            .map(|(_, c)| available(c))
            .min()
    };
    let sites = u32::try_from(new_sites.len()).unwrap_or(u32::MAX);
    let Some(gap_all) = gap(None) else {
        return designation;
    };
    if new_users.is_empty() {
        return designation + sites + gap_all;
    }
    // After the last site, the users' session and the functions' — unless a site
    // without new users is created last, alone, and the users follow it in its session;
    // that site then cannot also fill a site-free round at the start.
    let plain = gap_all + 1 + functions;
    let carried = new_sites
        .iter()
        .filter(|(h, _)| !has_users(h))
        .map(|(h, c)| gap(Some(*h)).unwrap_or_else(|| available(c)) + functions)
        .min();
    designation + sites + carried.map_or(plain, |c| c.min(plain))
}

#[cfg(test)]
mod tests;
