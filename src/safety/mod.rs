//! Safety rules: a plan that would delete too much, leave a level without an
//! administrator, or take away the acting person's own access is refused. A refusal is
//! a value naming the rule and the objects; only an explicit flag overrides one.
//!
//! - **Deletion ratio** (octoDNS's 30 % over 10 records, peribolos's
//!   `--maximum-removal-delta`): more than `max_deletion_ratio` (25 %) of a capacity's
//!   existing user records, or of its sites, once it has at least 8 of them. Overridden
//!   by `--force-deletions` only. Replacements are not counted: the object comes back.
//! - **Last administrator**: a level's administrators are the people with authority over
//!   it (docs/rules.md, "Who may do what") other than the main access manager, who is a formal
//!   designation this tool cannot change and often not someone who manages access day
//!   to day. A plan may not take a capacity, subdivision or site that keeps existing
//!   from having such an administrator to having none. Never overridden: appoint the
//!   new administrator first (or in the same plan).
//! - **Self-removal** (peribolos's `--require-self`): the acting person's roles (access
//!   manager, local, subdivision or site administrator) and their own user records are
//!   not removed or suspended, unless `--allow-self-removal`.
//!
//! Pure: may use `model` only.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::model::{
    CapacityType, ChangeKind, Hco, Insz, Kbo, LiveAdministrator, LiveState, Object, ObjectValue,
    Plan, UserLevel,
};
use crate::plan::object_words;

/// The thresholds and overrides.
#[derive(Clone, Debug, PartialEq)]
pub struct SafetyOptions {
    /// The largest share of a capacity's users or sites a plan may delete.
    pub max_deletion_ratio: f64,
    /// The ratio applies once a capacity has at least this many users (or sites).
    pub min_existing: usize,
    /// `--force-deletions`: lift the ratio.
    pub force_deletions: bool,
    /// `--allow-self-removal`.
    pub allow_self_removal: bool,
}

impl Default for SafetyOptions {
    fn default() -> Self {
        SafetyOptions {
            max_deletion_ratio: 0.25,
            min_existing: 8,
            force_deletions: false,
            allow_self_removal: false,
        }
    }
}

/// Which rule refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Too large a share of a capacity's users or sites deleted.
    DeletionRatio,
    /// A level left without an administrator.
    LastAdministrator,
    /// The acting person's own access removed.
    SelfRemoval,
}

impl Rule {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Rule::DeletionRatio => "safety::deletion_ratio",
            Rule::LastAdministrator => "safety::last_administrator",
            Rule::SelfRemoval => "safety::self_removal",
        }
    }

    /// The flag that overrides the rule, if any.
    pub fn override_flag(self) -> Option<&'static str> {
        match self {
            Rule::DeletionRatio => Some("--force-deletions"),
            Rule::LastAdministrator => None,
            Rule::SelfRemoval => Some("--allow-self-removal"),
        }
    }
}

/// A refused plan: the rule, the enterprise, the objects, and a message without
/// personal data beyond masked numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Refusal {
    /// The rule.
    pub rule: Rule,
    /// The enterprise.
    pub kbo: Kbo,
    /// The objects the refusal is about.
    pub objects: Vec<Object>,
    /// What and why, in one line.
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule.code(), self.message)?;
        if let Some(flag) = self.rule.override_flag() {
            write!(f, " (override with {flag})")?;
        }
        Ok(())
    }
}

/// Checks a plan; an empty list means it may go ahead.
pub fn check(plan: &Plan, live: &[LiveState], opts: &SafetyOptions) -> Vec<Refusal> {
    let by_kbo: BTreeMap<Kbo, &LiveState> = live.iter().map(|l| (l.enterprise.kbo, l)).collect();
    let mut out = Vec::new();
    for e in &plan.enterprises {
        let Some(l) = by_kbo.get(&e.kbo).copied() else {
            continue;
        };
        if !opts.force_deletions {
            deletion_ratio(e.kbo, l, &e.changes, opts, &mut out);
        }
        last_administrator(e.kbo, l, &e.changes, &mut out);
        if let (false, Some(actor)) = (opts.allow_self_removal, &plan.actor) {
            self_removal(e.kbo, l, &e.changes, actor, &mut out);
        }
    }
    out
}

fn words(o: &Object, changes: &[crate::model::Change]) -> String {
    let username = changes
        .iter()
        .find(|c| &c.object == o)
        .and_then(|c| c.username());
    object_words(o, username)
}

fn list_words(objects: &[Object], changes: &[crate::model::Change]) -> String {
    const SHOWN: usize = 10;
    let mut names: Vec<String> = objects
        .iter()
        .take(SHOWN)
        .map(|o| words(o, changes))
        .collect();
    if objects.len() > SHOWN {
        names.push(format!("and {} more", objects.len() - SHOWN));
    }
    names.join(", ")
}

fn deletion_ratio(
    kbo: Kbo,
    live: &LiveState,
    changes: &[crate::model::Change],
    opts: &SafetyOptions,
    out: &mut Vec<Refusal>,
) {
    for cap in &live.enterprise.capacities {
        let mut levels: BTreeSet<UserLevel> = BTreeSet::new();
        levels.insert(UserLevel::Capacity {
            kbo,
            kind: cap.kind,
        });
        let mut sites: BTreeSet<&Hco> = BTreeSet::new();
        let mut users = cap.wrong_level_users.len();
        for sub in &cap.subdivisions {
            levels.insert(UserLevel::Subdivision {
                hco: sub.hco.clone(),
            });
            users += sub.wrong_level_users.len();
            for site in &sub.sites {
                levels.insert(UserLevel::Site {
                    hco: site.hco.clone(),
                });
                sites.insert(&site.hco);
                users += site.users.len();
            }
        }
        let deleted = |f: &dyn Fn(&Object) -> bool| -> Vec<Object> {
            changes
                .iter()
                .filter(|c| c.kind == ChangeKind::Delete && f(&c.object))
                .map(|c| c.object.clone())
                .collect()
        };
        let deleted_users =
            deleted(&|o| matches!(o, Object::User { level, .. } if levels.contains(level)));
        let deleted_sites = deleted(&|o| matches!(o, Object::Site { hco } if sites.contains(hco)));
        for (what, existing, gone) in [
            ("user records", users, deleted_users),
            ("sites", sites.len(), deleted_sites),
        ] {
            if existing < opts.min_existing || gone.is_empty() {
                continue;
            }
            let ratio = gone.len() as f64 / existing as f64;
            if ratio > opts.max_deletion_ratio {
                out.push(Refusal {
                    rule: Rule::DeletionRatio,
                    kbo,
                    message: format!(
                        "the plan deletes {} of the {existing} {what} of capacity {} of {kbo} ({:.0} %, more than {:.0} %): {}",
                        gone.len(),
                        cap.kind,
                        ratio * 100.0,
                        opts.max_deletion_ratio * 100.0,
                        list_words(&gone, changes)
                    ),
                    objects: gone,
                });
            }
        }
    }
}

/// The administrators of each level as the live state has them and as the plan leaves
/// them (the HTB left out, see the module docs).
#[derive(Default)]
struct Administrators {
    access_managers: BTreeSet<Insz>,
    local: BTreeMap<CapacityType, Option<Insz>>,
    subdivisions: BTreeMap<Hco, (CapacityType, Option<Insz>)>,
    sites: BTreeMap<Hco, (Hco, Option<Insz>)>,
}

impl Administrators {
    fn of(live: &LiveState) -> Self {
        let e = &live.enterprise;
        let mut a = Administrators {
            access_managers: e.access_managers.iter().map(|m| m.insz).collect(),
            ..Administrators::default()
        };
        for cap in &e.capacities {
            a.local
                .insert(cap.kind, cap.local_administrator.insz().copied());
            for sub in &cap.subdivisions {
                a.subdivisions.insert(
                    sub.hco.clone(),
                    (cap.kind, sub.administrator.insz().copied()),
                );
                for site in &sub.sites {
                    a.sites.insert(
                        site.hco.clone(),
                        (sub.hco.clone(), site.administrator.insz().copied()),
                    );
                }
            }
        }
        a
    }

    fn apply(&mut self, changes: &[crate::model::Change]) {
        let admin = |a: &LiveAdministrator| a.insz().copied();
        for c in changes {
            match (&c.object, c.kind, &c.after) {
                (Object::AccessManager { insz }, ChangeKind::Delete, _) => {
                    self.access_managers.remove(insz);
                }
                (Object::AccessManager { insz }, _, Some(_)) => {
                    self.access_managers.insert(*insz);
                }
                (Object::Capacity { kind }, _, Some(ObjectValue::Capacity(v))) => {
                    self.local.insert(*kind, admin(&v.local_administrator));
                }
                (Object::Subdivision { hco }, ChangeKind::Delete, _) => {
                    self.subdivisions.remove(hco);
                }
                (Object::Subdivision { hco }, _, Some(ObjectValue::Subdivision(v))) => {
                    self.subdivisions
                        .insert(hco.clone(), (v.capacity, admin(&v.administrator)));
                }
                (Object::Site { hco }, ChangeKind::Delete, _) => {
                    self.sites.remove(hco);
                }
                (Object::Site { hco }, _, Some(ObjectValue::Site(v))) => {
                    self.sites.insert(
                        hco.clone(),
                        (v.subdivision.clone(), admin(&v.administrator)),
                    );
                }
                _ => {}
            }
        }
    }

    fn capacity_level(&self, kind: CapacityType) -> BTreeSet<Insz> {
        let mut s = self.access_managers.clone();
        s.extend(self.local.get(&kind).copied().flatten());
        s
    }

    fn subdivision_level(&self, hco: &Hco) -> BTreeSet<Insz> {
        match self.subdivisions.get(hco) {
            Some((kind, own)) => {
                let mut s = self.capacity_level(*kind);
                s.extend(*own);
                s
            }
            None => BTreeSet::new(),
        }
    }

    fn site_level(&self, hco: &Hco) -> BTreeSet<Insz> {
        match self.sites.get(hco) {
            Some((sub, own)) => {
                let mut s = self.subdivision_level(sub);
                s.extend(*own);
                s
            }
            None => BTreeSet::new(),
        }
    }
}

fn last_administrator(
    kbo: Kbo,
    live: &LiveState,
    changes: &[crate::model::Change],
    out: &mut Vec<Refusal>,
) {
    let before = Administrators::of(live);
    let mut after = Administrators::of(live);
    after.apply(changes);
    // The changes that took administrators away, to name in the refusal.
    let culprits: Vec<Object> = changes
        .iter()
        .filter(|c| match (&c.object, c.kind) {
            (Object::AccessManager { .. }, ChangeKind::Delete) => true,
            (
                Object::Capacity { .. } | Object::Subdivision { .. } | Object::Site { .. },
                ChangeKind::Update,
            ) => c.fields.iter().any(|f| f.field.ends_with("administrator")),
            _ => false,
        })
        .map(|c| c.object.clone())
        .collect();
    let mut refuse = |level: String, object: Object| {
        let mut objects = vec![object];
        objects.extend(culprits.iter().cloned());
        out.push(Refusal {
            rule: Rule::LastAdministrator,
            kbo,
            message: format!(
                "{level} of {kbo} would be left without an administrator besides the main access manager: {}",
                list_words(&culprits, changes)
            ),
            objects,
        });
    };
    for kind in before.local.keys() {
        if after.local.contains_key(kind)
            && !before.capacity_level(*kind).is_empty()
            && after.capacity_level(*kind).is_empty()
        {
            refuse(format!("capacity {kind}"), Object::Capacity { kind: *kind });
        }
    }
    for hco in before.subdivisions.keys() {
        if after.subdivisions.contains_key(hco)
            && !before.subdivision_level(hco).is_empty()
            && after.subdivision_level(hco).is_empty()
        {
            refuse(
                format!("subdivision {hco}"),
                Object::Subdivision { hco: hco.clone() },
            );
        }
    }
    for hco in before.sites.keys() {
        if after.sites.contains_key(hco)
            && !before.site_level(hco).is_empty()
            && after.site_level(hco).is_empty()
        {
            refuse(format!("site {hco}"), Object::Site { hco: hco.clone() });
        }
    }
}

fn self_removal(
    kbo: Kbo,
    live: &LiveState,
    changes: &[crate::model::Change],
    actor: &Insz,
    out: &mut Vec<Refusal>,
) {
    let before = Administrators::of(live);
    let mut after = Administrators::of(live);
    after.apply(changes);
    let mut lost: Vec<Object> = Vec::new();
    if before.access_managers.contains(actor) && !after.access_managers.contains(actor) {
        lost.push(Object::AccessManager { insz: *actor });
    }
    for (kind, lb) in &before.local {
        if lb.as_ref() == Some(actor) && after.local.get(kind).copied().flatten() != Some(*actor) {
            lost.push(Object::Capacity { kind: *kind });
        }
    }
    for (hco, (_, admin)) in &before.subdivisions {
        if admin.as_ref() == Some(actor)
            && after.subdivisions.get(hco).and_then(|(_, a)| *a) != Some(*actor)
        {
            lost.push(Object::Subdivision { hco: hco.clone() });
        }
    }
    for (hco, (_, admin)) in &before.sites {
        if admin.as_ref() == Some(actor)
            && after.sites.get(hco).and_then(|(_, a)| *a) != Some(*actor)
        {
            lost.push(Object::Site { hco: hco.clone() });
        }
    }
    for c in changes {
        let Object::User { insz, .. } = &c.object else {
            continue;
        };
        if insz != actor {
            continue;
        }
        let suspended = matches!(
            (&c.before, &c.after),
            (Some(ObjectValue::User(b)), Some(ObjectValue::User(a))) if b.active && !a.active
        );
        if c.kind == ChangeKind::Delete || suspended {
            lost.push(c.object.clone());
        }
    }
    if !lost.is_empty() {
        out.push(Refusal {
            rule: Rule::SelfRemoval,
            kbo,
            message: format!(
                "the plan removes the acting person's own access in {kbo}: {}",
                list_words(&lost, changes)
            ),
            objects: lost,
        });
    }
}

#[cfg(test)]
mod tests;
