//! Desired state against live state: which registry objects to create, update, replace
//! or delete, with the fields that differ.
//!
//! Both sides are first flattened into maps from [`Object`] to [`ObjectValue`], with the
//! format's defaults applied on the desired side (applications per level and per user's
//! functions) and people expanded into one user record per site. Comparing two maps is
//! then one walk, in the maps' order, so the result is deterministic. The same walk
//! compares two live states (`drift`), which is how a stale saved plan explains what
//! moved.
//!
//! Decisions written down here because the manual is silent:
//!
//! - Only what sits under a *declared* capacity is managed. A capacity the registry has
//!   and the file does not declare is left alone with everything under it (a warning),
//!   and enterprises the file does not declare are never looked at.
//! - Accounts named by `ignore` are left out of both sides.
//! - The main access manager is compared by INSZ only: the registry has no write that
//!   changes an HTB's details, and a different validated HTB is a warning (a new
//!   designation is a legal act outside this tool).
//! - Access managers cannot be changed in place in the registry; different details mean
//!   remove and add again (a replacement, in the same session).
//! - A declared enterprise with no live state (the acting person may not read it: no
//!   role and no designation requested yet) is planned as not registered at all, with a
//!   warning saying so.
//!
//! Pure: may use `model` only.

pub(crate) mod drift;
mod objects;

use objects::{Objects, Unsorted};

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{
    Administrator, Cause, Change, ChangeKind, DesignationValue, DesiredState, Enterprise,
    FieldChange, FieldValue, Finding, HtbStatus, Insz, Kbo, LiveAdministrator, LiveCapacity,
    LiveState, Object, ObjectValue, SiteValue, SubdivisionValue, User, UserLevel, UserValue,
    Username,
};
use crate::model::{CapacityType, CapacityValue};

/// The diff of one declared enterprise.
#[derive(Clone, Debug, PartialEq)]
pub struct EnterpriseDiff {
    /// The enterprise.
    pub kbo: Kbo,
    /// The registry's name when readable, else the declared one.
    pub name: String,
    /// Where the HTB designation stands (`None` also when the tree is not readable).
    pub htb_status: HtbStatus,
    /// The declared main access manager (who becomes HTB once a gate clears).
    pub declared_htb: Insz,
    /// Whether the acting person could read the enterprise's live state.
    pub readable: bool,
    /// The changes, in tree order.
    pub changes: Vec<Change>,
}

/// The diff of a whole desired state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diff {
    /// One entry per declared enterprise, in declaration order (also those without
    /// changes, so that the planner sees every gate).
    pub enterprises: Vec<EnterpriseDiff>,
    /// Warnings and errors found on the way.
    pub findings: Vec<Finding>,
}

impl Diff {
    /// Every change.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.enterprises.iter().flat_map(|e| &e.changes)
    }
}

/// Compares the desired state with the live states of (some of) its enterprises.
/// Live states of enterprises the desired state does not declare are ignored.
pub fn diff(desired: &DesiredState, live: &[LiveState]) -> Diff {
    let by_kbo: BTreeMap<Kbo, &LiveState> = live.iter().map(|l| (l.enterprise.kbo, l)).collect();
    let each = crate::parallel::map(desired.enterprises.iter().collect(), |enterprise| {
        let mut findings = Vec::new();
        let live = by_kbo.get(&enterprise.kbo).copied();
        let d = diff_enterprise(enterprise, live, &mut findings);
        (d, findings)
    });
    let mut out = Diff::default();
    for (d, mut findings) in each {
        out.enterprises.push(d);
        out.findings.append(&mut findings);
    }
    out
}

fn diff_enterprise(
    e: &Enterprise,
    live: Option<&LiveState>,
    findings: &mut Vec<Finding>,
) -> EnterpriseDiff {
    let kbo = e.kbo;
    let mut changes = Vec::new();
    let htb_status = live
        .map(|l| l.enterprise.htb_status.clone())
        .unwrap_or(HtbStatus::None);
    match live {
        None => findings.push(Finding::warning(
            "diff::not_readable",
            Some(kbo),
            format!(
                "the acting person cannot read enterprise {kbo} in the registry; the plan assumes it is not registered yet (no main access manager designated)"
            ),
        )),
        Some(l) => {
            if normalise_name(&l.enterprise.name) != normalise_name(&e.name) {
                findings.push(Finding::warning(
                    "diff::kbo_name",
                    Some(kbo),
                    format!(
                        "the declared name {:?} differs from the KBO data {:?}; the registry takes the name from the KBO and cannot change it",
                        e.name, l.enterprise.name
                    ),
                ));
            }
        }
    }
    if !e.co_main_access_managers.is_empty() {
        findings.push(Finding::warning(
            "diff::co_main_unsupported",
            Some(kbo),
            "co-main access managers are declared, but the registry contract has no write for them; they are not planned",
        ));
    }
    diff_htb(e, live, &htb_status, &mut changes, findings);

    let mut desired_objects = desired_objects(e, findings);
    if let Some(l) = live {
        leave_unreadable_users_alone(&mut desired_objects, l, findings);
    }
    let ignored = &e.ignore.usernames;
    let declared_kinds: BTreeSet<CapacityType> = e.capacities.iter().map(|c| c.kind).collect();
    let live_objects = match live {
        Some(l) => {
            for cap in &l.enterprise.capacities {
                if !declared_kinds.contains(&cap.kind) {
                    findings.push(Finding::warning(
                        "diff::capacity_not_declared",
                        Some(kbo),
                        format!(
                            "capacity {} is active in the registry but not declared; it and everything under it are left alone",
                            cap.kind
                        ),
                    ));
                }
            }
            live_objects(l, |kind| declared_kinds.contains(&kind), ignored)
        }
        None => Objects::default(),
    };
    // The users of a site that will be replaced, taken before the maps are consumed.
    let on_moved_sites = users_on_moved_sites(&desired_objects, &live_objects);
    changes.extend(compare(kbo, desired_objects, live_objects));
    mark_users_of_replaced_sites(kbo, &mut changes, on_moved_sites);
    sort_changes(&mut changes);
    EnterpriseDiff {
        kbo,
        name: live
            .map(|l| l.enterprise.name.clone())
            .unwrap_or_else(|| e.name.clone()),
        htb_status,
        declared_htb: e.main_access_manager.insz,
        readable: live.is_some(),
        changes,
    }
}

/// The warning of a plan that left the users of some levels alone because the acting
/// person may not read them: such a plan is about what it shows, and says so.
pub(crate) const USERS_NOT_READABLE: &str = "diff::users_not_readable";

/// The registry shows user records only where the reader has authority over them (a
/// site administrator reads that site's users); the other levels are listed as
/// unreadable, with empty user lists. The users declared there are taken out of the
/// comparison, so that they are neither created (they may well exist) nor changed, and a
/// warning says which levels were left alone. The live side holds no users there, so
/// nothing is deleted either.
fn leave_unreadable_users_alone(
    desired: &mut Objects,
    live: &LiveState,
    findings: &mut Vec<Finding>,
) {
    let unreadable: BTreeSet<&UserLevel> = live.enterprise.unreadable_users.iter().collect();
    if unreadable.is_empty() {
        return;
    }
    let mut left_alone: BTreeMap<&UserLevel, usize> = BTreeMap::new();
    desired.retain(|object| match object {
        Object::User { level, .. } => match unreadable.get(level) {
            Some(level) => {
                *left_alone.entry(level).or_default() += 1;
                false
            }
            None => true,
        },
        _ => true,
    });
    if left_alone.is_empty() {
        return;
    }
    const SHOWN: usize = 5;
    let mut levels: Vec<String> = left_alone
        .iter()
        .take(SHOWN)
        .map(|(level, n)| format!("{level} ({n} declared)"))
        .collect();
    if left_alone.len() > SHOWN {
        levels.push(format!("{} more", left_alone.len() - SHOWN));
    }
    findings.push(Finding::warning(
        USERS_NOT_READABLE,
        Some(live.enterprise.kbo),
        format!(
            "the acting person has no authority to read the users of {}; the users declared there are left alone (not created, changed or deleted): plan them as someone with authority over them",
            levels.join(", ")
        ),
    ));
}

/// Compares names as people do: case, surrounding and repeated white space aside.
fn normalise_name(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// R7: a designation when none is requested; nothing while one is pending; a warning
/// when another person is the validated HTB.
fn diff_htb(
    e: &Enterprise,
    live: Option<&LiveState>,
    status: &HtbStatus,
    changes: &mut Vec<Change>,
    findings: &mut Vec<Finding>,
) {
    let kbo = e.kbo;
    let declared = &e.main_access_manager;
    match status {
        HtbStatus::None => {
            let Some(legal) = &e.legal_representative else {
                findings.push(
                    Finding::error(
                        "diff::legal_representative_missing",
                        Some(kbo),
                        format!(
                            "enterprise {kbo} has no validated main access manager, and the designation needs the legal representative: declare `legal_representative`"
                        ),
                    )
                    .about(Object::MainAccessManager {
                        insz: declared.insz,
                    }),
                );
                return;
            };
            let value = DesignationValue {
                main_access_manager: declared.clone(),
                legal_representative: legal.clone(),
            };
            let after = ObjectValue::MainAccessManager(Box::new(value));
            changes.push(Change {
                kbo,
                object: Object::MainAccessManager {
                    insz: declared.insz,
                },
                kind: ChangeKind::Create,
                cause: None,
                fields: Vec::new(),
                before: None,
                after: Some(after),
            });
        }
        HtbStatus::Pending { .. } => {}
        HtbStatus::Validated => {
            let current = live.and_then(|l| l.enterprise.main_access_manager.as_ref());
            if let Some(current) = current
                && current.insz != declared.insz
            {
                findings.push(
                    Finding::warning(
                        "diff::htb_differs",
                        Some(kbo),
                        format!(
                            "the registry's validated main access manager is {}, the file declares {}; changing the HTB is a new designation by the legal representative, outside this tool",
                            current.insz, declared.insz
                        ),
                    )
                    .about(Object::MainAccessManager {
                        insz: declared.insz,
                    }),
                );
            }
        }
    }
}

fn administrator(a: &Administrator) -> LiveAdministrator {
    match a {
        Administrator::Itself => LiveAdministrator::Itself,
        Administrator::Person(insz) => LiveAdministrator::Person { insz: *insz },
        Administrator::Account(acc) => LiveAdministrator::Account {
            username: acc.username.clone(),
            insz: acc.insz,
            last_name: acc.last_name.clone(),
            first_name: acc.first_name.clone(),
            email: acc.email.clone(),
            language: acc.language,
        },
    }
}

/// The desired enterprise as registry objects, defaults applied, people expanded.
fn desired_objects(e: &Enterprise, findings: &mut Vec<Finding>) -> Objects {
    let mut out = Unsorted::default();
    let htb = e.main_access_manager.insz;
    for am in &e.access_managers {
        // The HTB is automatically an access manager; listing it changes nothing.
        if am.insz == htb {
            continue;
        }
        out.insert(
            Object::AccessManager { insz: am.insz },
            ObjectValue::AccessManager(am.clone()),
        );
    }
    for cap in &e.capacities {
        out.insert(
            Object::Capacity { kind: cap.kind },
            ObjectValue::Capacity(CapacityValue {
                email: cap.email.clone(),
                local_administrator: administrator(&cap.local_administrator),
                applications: cap.applications.clone(),
                active: true,
            }),
        );
        for sub in &cap.subdivisions {
            out.insert(
                Object::Subdivision {
                    hco: sub.hco.clone(),
                },
                ObjectValue::Subdivision(SubdivisionValue {
                    capacity: cap.kind,
                    name: sub.name.clone(),
                    email: sub.email.clone(),
                    administrator: administrator(&sub.administrator),
                    applications: sub.applications.clone(),
                    active: true,
                }),
            );
            for site in &sub.sites {
                out.insert(
                    Object::Site {
                        hco: site.hco.clone(),
                    },
                    ObjectValue::Site(SiteValue {
                        subdivision: sub.hco.clone(),
                        name: site.name.clone(),
                        email: site.email.clone(),
                        administrator: administrator(&site.administrator),
                        applications: site.applications.clone(),
                        active: true,
                    }),
                );
            }
        }
        for person in &cap.people {
            if e.ignore.usernames.contains(&person.username) {
                findings.push(Finding::warning(
                    "diff::ignored_person",
                    Some(e.kbo),
                    format!(
                        "{} is both declared and named by `ignore`; it is left alone",
                        person.username
                    ),
                ));
                continue;
            }
            for (site, functions) in &person.sites {
                out.insert(
                    Object::User {
                        level: UserLevel::Site { hco: site.clone() },
                        insz: person.insz,
                    },
                    ObjectValue::User(UserValue {
                        username: person.username.clone(),
                        details: person.details.clone(),
                        active: person.active,
                        applications: person.applications_on(functions),
                        functions: functions.clone(),
                        password: person.password.clone(),
                    }),
                );
            }
        }
    }
    out.sorted()
}

/// A live enterprise as registry objects: the capacities `managed` accepts and
/// everything under them, without users whose username is `ignored`.
pub(crate) fn live_objects(
    live: &LiveState,
    managed: impl Fn(CapacityType) -> bool,
    ignored: &BTreeSet<Username>,
) -> Objects {
    let e = &live.enterprise;
    let mut out = Unsorted::default();
    for am in &e.access_managers {
        out.insert(
            Object::AccessManager { insz: am.insz },
            ObjectValue::AccessManager(am.clone()),
        );
    }
    let users = |out: &mut Unsorted, level: UserLevel, list: &[User]| {
        for u in list.iter().filter(|u| !ignored.contains(&u.username)) {
            out.insert(
                Object::User {
                    level: level.clone(),
                    insz: u.insz,
                },
                ObjectValue::User(UserValue::of_live(u)),
            );
        }
    };
    for cap in e.capacities.iter().filter(|c| managed(c.kind)) {
        out.insert(Object::Capacity { kind: cap.kind }, capacity_value(cap));
        users(
            &mut out,
            UserLevel::Capacity {
                kbo: e.kbo,
                kind: cap.kind,
            },
            &cap.wrong_level_users,
        );
        for sub in &cap.subdivisions {
            out.insert(
                Object::Subdivision {
                    hco: sub.hco.clone(),
                },
                ObjectValue::Subdivision(SubdivisionValue {
                    capacity: cap.kind,
                    name: sub.name.clone(),
                    email: sub.email.clone(),
                    administrator: sub.administrator.clone(),
                    applications: sub.applications.clone(),
                    active: sub.active,
                }),
            );
            users(
                &mut out,
                UserLevel::Subdivision {
                    hco: sub.hco.clone(),
                },
                &sub.wrong_level_users,
            );
            for site in &sub.sites {
                out.insert(
                    Object::Site {
                        hco: site.hco.clone(),
                    },
                    ObjectValue::Site(SiteValue {
                        subdivision: sub.hco.clone(),
                        name: site.name.clone(),
                        email: site.email.clone(),
                        administrator: site.administrator.clone(),
                        applications: site.applications.clone(),
                        active: site.active,
                    }),
                );
                users(
                    &mut out,
                    UserLevel::Site {
                        hco: site.hco.clone(),
                    },
                    &site.users,
                );
            }
        }
    }
    out.sorted()
}

fn capacity_value(cap: &LiveCapacity) -> ObjectValue {
    ObjectValue::Capacity(CapacityValue {
        email: cap.email.clone(),
        local_administrator: cap.local_administrator.clone(),
        applications: cap.applications.clone(),
        active: cap.active,
    })
}

/// Walks two object maps (taking their values): creations, deletions, replacements
/// and updates. Creations and deletions carry no field list: their fields are the
/// value's ([`Change::shown_fields`]).
fn compare(kbo: Kbo, desired: Objects, live: Objects) -> Vec<Change> {
    let mut out = Vec::new();
    let mut gone = Vec::new();
    let mut live = live.into_sorted().into_iter().peekable();
    for (object, after) in desired.into_sorted() {
        // Both sides are in address order: the live objects before this one are gone.
        while let Some((before_object, _)) = live.peek()
            && *before_object < object
        {
            gone.extend(live.next());
        }
        let before = match live.peek() {
            Some((o, _)) if *o == object => live.next().map(|(_, v)| v),
            _ => None,
        };
        out.extend(change_of(kbo, object, before, after));
    }
    gone.extend(live);
    for (object, before) in gone {
        let wrong_level = matches!(
            object,
            Object::User {
                level: UserLevel::Capacity { .. } | UserLevel::Subdivision { .. },
                ..
            }
        );
        out.push(Change {
            kbo,
            object,
            kind: ChangeKind::Delete,
            cause: Some(if wrong_level {
                Cause::WrongLevel
            } else {
                Cause::NotDeclared
            }),
            fields: Vec::new(),
            before: Some(before),
            after: None,
        });
    }
    out
}

/// The change that makes `before` (none: a creation) into `after`, if any.
fn change_of(
    kbo: Kbo,
    object: Object,
    before: Option<ObjectValue>,
    after: ObjectValue,
) -> Option<Change> {
    let Some(before) = before else {
        return Some(Change {
            kbo,
            object,
            kind: ChangeKind::Create,
            cause: None,
            before: None,
            fields: Vec::new(),
            after: Some(after),
        });
    };
    if same(&before, &after) {
        return None;
    }
    let fields = fields_between(&before, &after);
    let cause = match (&before, &after) {
        (ObjectValue::Site(b), ObjectValue::Site(a)) if b.subdivision != a.subdivision => {
            Some(Cause::SiteMoved)
        }
        (ObjectValue::User(b), ObjectValue::User(a)) if b.username != a.username => {
            Some(Cause::UsernameChanged)
        }
        (ObjectValue::AccessManager(_), ObjectValue::AccessManager(_)) => {
            Some(Cause::NoUpdateInRegistry)
        }
        _ => None,
    };
    Some(Change {
        kbo,
        object,
        kind: if cause.is_some() {
            ChangeKind::Replace
        } else {
            ChangeKind::Update
        },
        cause,
        before: Some(before),
        after: Some(after),
        fields,
    })
}

/// The live users of every site the desired state puts under another subdivision.
fn users_on_moved_sites(desired: &Objects, live: &Objects) -> Vec<(Object, ObjectValue)> {
    let moved: BTreeSet<&crate::model::Hco> = desired
        .iter()
        .filter_map(|(o, after)| match (o, after, live.get(o)) {
            (Object::Site { hco }, ObjectValue::Site(a), Some(ObjectValue::Site(b)))
                if a.subdivision != b.subdivision =>
            {
                Some(hco)
            }
            _ => None,
        })
        .collect();
    if moved.is_empty() {
        return Vec::new();
    }
    live.iter()
        .filter(|(o, _)| matches!(o, Object::User { level: UserLevel::Site { hco }, .. } if moved.contains(hco)))
        .map(|(o, v)| (o.clone(), v.clone()))
        .collect()
}

/// The users of a replaced site go with it: every user still wanted there is created
/// again on the new site.
fn mark_users_of_replaced_sites(
    kbo: Kbo,
    changes: &mut Vec<Change>,
    on_moved: Vec<(Object, ObjectValue)>,
) {
    if on_moved.is_empty() {
        return;
    }
    let affected: BTreeSet<&Object> = on_moved.iter().map(|(o, _)| o).collect();
    let mut present = BTreeSet::new();
    for c in changes.iter_mut() {
        if affected.contains(&c.object) {
            present.insert(c.object.clone());
            if c.kind == ChangeKind::Update {
                c.kind = ChangeKind::Replace;
                c.cause = Some(Cause::SiteReplaced);
            }
        }
    }
    // Users unchanged on a replaced site have no change yet.
    for (object, value) in on_moved {
        if !present.contains(&object) {
            changes.push(Change {
                kbo,
                object,
                kind: ChangeKind::Replace,
                cause: Some(Cause::SiteReplaced),
                before: Some(value.clone()),
                after: Some(value),
                fields: Vec::new(),
            });
        }
    }
}

/// Tree order: managers, capacity, subdivisions, sites, then users by level and
/// username (readable and stable), then the national number as a tie-break.
fn sort_changes(changes: &mut [Change]) {
    changes.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
}

fn sort_key(c: &Change) -> (u8, Option<&UserLevel>, Option<&Username>, &Object) {
    let rank = match &c.object {
        Object::MainAccessManager { .. } => 0,
        Object::AccessManager { .. } => 1,
        Object::Capacity { .. } => 2,
        Object::Subdivision { .. } => 3,
        Object::Site { .. } => 4,
        Object::User { .. } => 5,
    };
    let level = match &c.object {
        Object::User { level, .. } => Some(level),
        _ => None,
    };
    (rank, level, c.username(), &c.object)
}

/// What changed between two live states of one enterprise (for stale saved plans):
/// creations are what appeared, deletions what disappeared.
pub(crate) fn drift(before: &LiveState, after: &LiveState) -> Vec<Change> {
    let none = BTreeSet::new();
    let old = live_objects(before, |_| true, &none);
    let new = live_objects(after, |_| true, &none);
    let mut changes = compare(after.enterprise.kbo, new, old);
    // `compare` names the map it is given first "desired": swap the viewpoint back so
    // that a deletion is what disappeared.
    for c in &mut changes {
        c.cause = None;
        if c.kind == ChangeKind::Replace {
            c.kind = ChangeKind::Update;
        }
    }
    if before.enterprise.htb_status != after.enterprise.htb_status {
        let insz = after
            .enterprise
            .main_access_manager
            .as_ref()
            .or(before.enterprise.main_access_manager.as_ref())
            .map(|r| r.insz);
        if let Some(insz) = insz {
            changes.push(Change {
                kbo: after.enterprise.kbo,
                object: Object::MainAccessManager { insz },
                kind: ChangeKind::Update,
                cause: None,
                before: None,
                after: None,
                fields: vec![FieldChange {
                    field: "htb_status".into(),
                    before: FieldValue::Text(htb_word(&before.enterprise.htb_status).into()),
                    after: FieldValue::Text(htb_word(&after.enterprise.htb_status).into()),
                }],
            });
        }
    }
    sort_changes(&mut changes);
    changes
}

fn htb_word(s: &HtbStatus) -> &'static str {
    match s {
        HtbStatus::None => "none",
        HtbStatus::Pending { .. } => "pending",
        HtbStatus::Validated => "validated",
    }
}

// ----- fields ------------------------------------------------------------------------

/// The fields that differ between two values of the same object. Password references
/// are never compared: the registry never reveals a password.
fn fields_between(before: &ObjectValue, after: &ObjectValue) -> Vec<FieldChange> {
    let b = before.fields();
    let mut out = Vec::new();
    for (field, value) in after.fields() {
        if matches!(value, FieldValue::Secret(_)) {
            continue;
        }
        let old = b
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.clone())
            .unwrap_or(FieldValue::Absent);
        if old != value {
            out.push(FieldChange {
                field: field.to_string(),
                before: old,
                after: value,
            });
        }
    }
    out
}

/// Whether two values hold the same registry data (a desired user's password reference
/// is not registry data).
fn same(before: &ObjectValue, after: &ObjectValue) -> bool {
    match (before, after) {
        (ObjectValue::User(b), ObjectValue::User(a)) => {
            b.username == a.username
                && b.details == a.details
                && b.active == a.active
                && b.applications == a.applications
                && b.functions == a.functions
        }
        _ => before == after,
    }
}

#[cfg(test)]
pub(crate) mod tests;
