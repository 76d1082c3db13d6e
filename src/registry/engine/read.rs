//! Reads: an enterprise's tree as a session sees it (R1), users page by page, and the
//! effective-access checklist.

use super::*;
use crate::model::PersonName;

impl World {
    /// One enterprise's tree as the session sees it. Anyone with a role in the
    /// enterprise (or a party to its designation) may read its structure; user records
    /// only where the caller has authority over them (docs/rules.md, "Who may read what"): the
    /// others are left out and their levels listed in `unreadable_users`.
    pub(crate) fn snapshot(
        &self,
        caller: &Insz,
        session: &SessionId,
        kbo: &Kbo,
    ) -> Result<LiveState, RegistryError> {
        let h = self.open_session(caller, session)?.sees;
        let dir = self.directory(kbo)?;
        if !self.has_any_role(kbo, h, caller) && !self.is_ticket_party(kbo, caller) {
            return Err(not_authorised(format!("no role in enterprise {kbo}")));
        }
        let mut walk = TreeWalk {
            caller,
            h,
            version: 0,
            unreadable: Vec::new(),
        };
        let htb = self.htb.get(kbo).and_then(|v| walk.value(v).cloned());
        let htb_status = if htb.is_some() {
            HtbStatus::Validated
        } else if let Some(t) = self.pending_ticket(kbo) {
            HtbStatus::Pending {
                ticket: t.id.clone(),
            }
        } else {
            HtbStatus::None
        };
        let access_managers = self
            .access_managers
            .get(kbo)
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(|v| walk.value(v).cloned())
            .collect();
        let capacities = CapacityType::ALL
            .iter()
            .filter_map(|kind| self.live_capacity(&mut walk, *kbo, *kind))
            .collect();
        Ok(LiveState {
            version: walk.version,
            enterprise: LiveEnterprise {
                kbo: *kbo,
                name: dir.name.clone(),
                address: dir.address.clone(),
                htb_status,
                main_access_manager: htb,
                access_managers,
                capacities,
                unreadable_users: walk.unreadable,
            },
            recognised_units: Some(
                dir.recognised
                    .iter()
                    .map(|(sub, sites)| RecognisedUnit {
                        subdivision: sub.clone(),
                        sites: sites.iter().cloned().collect(),
                    })
                    .collect(),
            ),
        })
    }

    /// A capacity as the walk's session sees it, with its subdivisions and the users
    /// the caller may read; `None` when it does not exist (for the session).
    fn live_capacity(
        &self,
        walk: &mut TreeWalk<'_>,
        kbo: Kbo,
        kind: CapacityType,
    ) -> Option<LiveCapacity> {
        let key = (kbo, kind);
        let cap = walk.value(self.capacities.get(&key)?)?;
        let subdivisions = self
            .subdivisions_of
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|hco| self.live_subdivision(walk, hco))
            .collect();
        Some(LiveCapacity {
            kind,
            email: cap.email.clone(),
            local_administrator: cap.local_administrator.clone(),
            applications: cap.applications.clone(),
            active: cap.active,
            subdivisions,
            wrong_level_users: self.walk_users(walk, UserLevel::Capacity { kbo, kind }),
        })
    }

    /// A subdivision as the walk's session sees it, with its sites.
    fn live_subdivision(&self, walk: &mut TreeWalk<'_>, hco: &Hco) -> Option<LiveSubdivision> {
        let sub = walk.value(&self.subdivisions.get(hco)?.versions)?;
        let sites = self
            .sites_of
            .get(hco)
            .into_iter()
            .flatten()
            .filter_map(|site| self.live_site(walk, site))
            .collect();
        Some(LiveSubdivision {
            hco: hco.clone(),
            name: sub.name.clone(),
            email: sub.email.clone(),
            administrator: sub.administrator.clone(),
            applications: sub.applications.clone(),
            active: sub.active,
            sites,
            wrong_level_users: self.walk_users(walk, UserLevel::Subdivision { hco: hco.clone() }),
        })
    }

    /// A site as the walk's session sees it, with its users.
    fn live_site(&self, walk: &mut TreeWalk<'_>, hco: &Hco) -> Option<LiveSite> {
        let site = walk.value(&self.sites.get(hco)?.versions)?;
        Some(LiveSite {
            hco: hco.clone(),
            name: site.name.clone(),
            email: site.email.clone(),
            administrator: site.administrator.clone(),
            applications: site.applications.clone(),
            active: site.active,
            users: self.walk_users(walk, UserLevel::Site { hco: hco.clone() }),
        })
    }

    /// The users of a level the walk's caller may read (the level listed as unreadable
    /// otherwise).
    fn walk_users(&self, walk: &mut TreeWalk<'_>, level: UserLevel) -> Vec<User> {
        let TreeWalk {
            caller,
            h,
            version,
            unreadable,
        } = walk;
        let mut seen = |processing: Option<u64>| TreeWalk::bump(version, processing);
        self.readable_users(caller, level, *h, &mut seen, unreadable)
    }

    /// True when `caller` may read the user records of `level` now: the authority
    /// that writing them needs.
    pub(super) fn may_read_users(&self, caller: &Insz, level: &UserLevel, h: u64) -> bool {
        self.level_kbo(level)
            .is_ok_and(|kbo| self.holds(&kbo, h, caller, &rules::level_scope(level)))
    }

    /// The users of a level, when the caller may read them; otherwise none, and the
    /// level is listed in `unreadable`.
    fn readable_users(
        &self,
        caller: &Insz,
        level: UserLevel,
        h: u64,
        seen: &mut impl FnMut(Option<u64>),
        unreadable: &mut Vec<UserLevel>,
    ) -> Vec<User> {
        if self.may_read_users(caller, &level, h) {
            self.live_users(&level, h, seen)
        } else {
            unreadable.push(level);
            Vec::new()
        }
    }

    fn live_users(
        &self,
        level: &UserLevel,
        h: u64,
        seen: &mut impl FnMut(Option<u64>),
    ) -> Vec<User> {
        let mut out = Vec::new();
        for (insz, v) in self.users.get(level).into_iter().flatten() {
            let e = v.effective(Some(h));
            seen(e.and_then(|e| e.processing));
            let (Some(u), Some(username)) =
                (e.and_then(|e| e.value.as_ref()), self.accounts.get(insz))
            else {
                continue;
            };
            out.push(u.user(*insz, username.clone()));
        }
        out
    }

    /// The levels of an enterprise that carry users, as a session at `h` sees them, in
    /// the order of the snapshot's tree: per capacity, per subdivision its sites and
    /// then the subdivision itself, then the capacity itself (see
    /// [`UserPage::from_live`]).
    fn visible_levels(&self, kbo: &Kbo, h: u64) -> Vec<UserLevel> {
        let mut out = Vec::new();
        for kind in CapacityType::ALL {
            let key = (*kbo, *kind);
            if self.capacities.get(&key).and_then(|v| v.seen(h)).is_none() {
                continue;
            }
            for sub_hco in self.subdivisions_of.get(&key).into_iter().flatten() {
                let visible = self
                    .subdivisions
                    .get(sub_hco)
                    .is_some_and(|n| n.versions.seen(h).is_some());
                if !visible {
                    continue;
                }
                for site_hco in self.sites_of.get(sub_hco).into_iter().flatten() {
                    if self
                        .sites
                        .get(site_hco)
                        .is_some_and(|n| n.versions.seen(h).is_some())
                    {
                        out.push(UserLevel::Site {
                            hco: site_hco.clone(),
                        });
                    }
                }
                out.push(UserLevel::Subdivision {
                    hco: sub_hco.clone(),
                });
            }
            out.push(UserLevel::Capacity {
                kbo: *kbo,
                kind: *kind,
            });
        }
        out
    }

    /// One page of an enterprise's user records as the session sees them (those the
    /// caller may read, as in the snapshot), in the snapshot's order, skipping `offset` records; `next` is the offset of the page
    /// after, if there is one. A session's view never changes while it is open (R1), so
    /// offsets are stable cursors for the whole listing.
    pub(crate) fn users_page(
        &self,
        caller: &Insz,
        session: &SessionId,
        kbo: &Kbo,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<LevelUser>, Option<usize>), RegistryError> {
        let h = self.open_session(caller, session)?.sees;
        self.directory(kbo)?;
        if !self.has_any_role(kbo, h, caller) && !self.is_ticket_party(kbo, caller) {
            return Err(not_authorised(format!("no role in enterprise {kbo}")));
        }
        let mut skipped = 0usize;
        let mut out = Vec::with_capacity(limit.min(4096));
        for level in self.visible_levels(kbo, h) {
            if !self.may_read_users(caller, &level, h) {
                continue;
            }
            for (insz, v) in self.users.get(&level).into_iter().flatten() {
                let (Some(u), Some(username)) = (v.seen(h), self.accounts.get(insz)) else {
                    continue;
                };
                if skipped < offset {
                    skipped += 1;
                    continue;
                }
                if out.len() == limit {
                    return Ok((out, Some(offset + limit)));
                }
                out.push(LevelUser {
                    level: level.clone(),
                    user: u.user(*insz, username.clone()),
                });
            }
        }
        Ok((out, None))
    }

    // ----- the coordination centre (R9) -------------------------------------------

    /// R9: the head radiologists of a site (users on the site with the head-radiologist
    /// function) as seen at `horizon` (`None`: every acknowledged write), each with
    /// whether the coordination centre is recorded to know them. The one definition
    /// behind both the checklist's condition and the pending notices.
    fn head_radiologists(&self, site: &Hco, horizon: Option<u64>) -> Vec<HeadRadiologist<'_>> {
        self.users
            .get(&UserLevel::Site { hco: site.clone() })
            .into_iter()
            .flatten()
            .filter_map(|(insz, v)| {
                let user = v.effective(horizon).and_then(|v| v.value.as_ref())?;
                user.functions
                    .contains(&Function::HeadRadiologist)
                    .then(|| HeadRadiologist {
                        person: *insz,
                        user,
                        known: self.notified.contains(&(site.clone(), *insz)),
                    })
            })
            .collect()
    }

    /// R9: the head radiologists of the enterprise's sites whose number the
    /// coordination centre is not yet recorded to know, on every site whose users the
    /// caller has authority over. Counts every acknowledged write, also of sessions not
    /// yet processed (they will be: by log-out or idle expiry), so that a notice is
    /// owed from the moment the head radiologist's write is acknowledged and no crash
    /// between that write and the notice can lose it.
    pub(crate) fn pending_notices(
        &self,
        caller: &Insz,
        kbo: &Kbo,
    ) -> Result<Vec<PendingNotice>, RegistryError> {
        let h = self.processing;
        self.directory(kbo)?;
        let roles = self.roles_of(kbo, h, caller);
        if !roles.any() {
            return Err(not_authorised(format!("no role in enterprise {kbo}")));
        }
        let parent_of = self.parent_of();
        let mut out = Vec::new();
        for kind in CapacityType::ALL {
            for sub in self
                .subdivisions_of
                .get(&(*kbo, *kind))
                .into_iter()
                .flatten()
            {
                for site in self.sites_of.get(sub).into_iter().flatten() {
                    let exists = self
                        .sites
                        .get(site)
                        .is_some_and(|n| n.versions.truth().is_some());
                    if !exists || !roles.holds(&Scope::SiteUsers(site.clone()), &parent_of) {
                        continue;
                    }
                    for head in self.head_radiologists(site, None) {
                        let Some(username) = self.accounts.get(&head.person) else {
                            continue;
                        };
                        if head.known {
                            continue;
                        }
                        out.push(PendingNotice {
                            kbo: *kbo,
                            site: site.clone(),
                            person: head.person,
                            username: username.clone(),
                            last_name: head.user.details.last_name.clone(),
                            first_name: head.user.details.first_name.clone(),
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| (&a.site, &a.username).cmp(&(&b.site, &b.username)));
        Ok(out)
    }

    // ----- effective access -------------------------------------------------------

    /// The manual's troubleshooting checklist for `person`, against what is processed
    /// now. Units the caller has no authority over (and is not the person) are left out.
    pub(crate) fn evaluate_access(
        &self,
        caller: &Insz,
        person: &Insz,
        site: Option<&Hco>,
        now: Millis,
    ) -> Result<AccessReport, RegistryError> {
        let h = self.processing;
        let levels: Vec<UserLevel> = match site {
            Some(hco) => {
                self.site_node(hco)?;
                vec![UserLevel::Site { hco: hco.clone() }]
            }
            None => self
                .levels_of
                .get(person)
                .into_iter()
                .flatten()
                .filter(|l| {
                    self.user_versions(l, person)
                        .and_then(|v| v.seen(h))
                        .is_some()
                })
                .cloned()
                .collect(),
        };
        let allowed = |level: &UserLevel| {
            caller == person
                || self
                    .level_kbo(level)
                    .is_ok_and(|kbo| self.holds(&kbo, h, caller, &rules::level_scope(level)))
        };
        let mut units = Vec::new();
        for level in &levels {
            if !allowed(level) {
                if site.is_some() {
                    return Err(not_authorised(format!(
                        "no authority over the users of {level}"
                    )));
                }
                continue;
            }
            units.push(self.evaluate_level(person, level, h, now)?);
        }
        // The names come from the evaluated units, else from any other user record of
        // the person the caller may see (a site where they have no user yet).
        let name = units.iter().find_map(|u| u.user.clone()).or_else(|| {
            self.levels_of
                .get(person)
                .into_iter()
                .flatten()
                .filter(|l| allowed(l))
                .find_map(|l| self.person_name(l, person, h))
        });
        Ok(AccessReport {
            person: *person,
            evaluated_at_ms: now,
            units,
            name,
        })
    }

    /// The names and username of the person's user record on `level`, as `h` sees it.
    fn person_name(&self, level: &UserLevel, person: &Insz, h: u64) -> Option<PersonName> {
        let u = self.user_versions(level, person)?.seen(h)?;
        let username = self.accounts.get(person)?;
        Some(u.details.person_name(username))
    }

    /// The effective-access checklist for one person on one level, as `h` sees it at
    /// `now`: one check per group of access conditions (the structure above the site,
    /// the user record on the site, propagation, the head radiologist).
    fn evaluate_level(
        &self,
        person: &Insz,
        level: &UserLevel,
        h: u64,
        now: Millis,
    ) -> Result<UnitAccess, RegistryError> {
        let mut checked = Checked::new();
        let (kbo, kind, sub_hco, site_hco) = self.level_chain(level)?;
        self.check_structure(
            &mut checked,
            (kbo, kind),
            sub_hco.as_ref(),
            site_hco.as_ref(),
            h,
        );
        let user_version = self
            .user_versions(level, person)
            .and_then(|v| v.effective(Some(h)));
        let user = user_version.and_then(|v| v.value.as_ref());
        let on_site = site_hco.is_some() && user.is_some();
        let detail = match (site_hco.is_some(), user.is_some()) {
            (true, true) => "the user exists on the site".into(),
            (false, _) => format!("the user exists on the {level}, which gives no access (R4)"),
            (true, false) => {
                let wrong = self.wrong_levels(person, kbo, h);
                if wrong.is_empty() {
                    "no user on this site".into()
                } else {
                    format!(
                        "no user on this site; the user exists on {}, which gives no access (R4)",
                        wrong.join(", ")
                    )
                }
            }
        };
        checked.put(AccessCondition::UserOnSite, on_site, detail);
        let mut effective_from = None;
        match user.filter(|_| on_site) {
            None => {
                for c in [
                    AccessCondition::UserActive,
                    AccessCondition::UserApplications,
                    AccessCondition::UserFunction,
                    AccessCondition::Propagated,
                ] {
                    checked.put(c, false, "no user on the site".into());
                }
            }
            Some(u) => {
                check_site_user(&mut checked, u);
                let processed_at = user_version.and_then(|v| v.processed_at).unwrap_or(now);
                effective_from = self.check_propagated(&mut checked, processed_at, now);
            }
        }
        self.check_head_radiologist(&mut checked, site_hco.as_ref(), h);
        let conditions = checked.in_order();
        Ok(UnitAccess {
            kbo,
            site: site_hco,
            has_access: conditions.iter().all(|c| c.passed),
            conditions,
            effective_from_ms: effective_from,
            user: self.person_name(level, person, h),
        })
    }

    /// The enterprise, capacity type, subdivision and site a level lies in (the
    /// subdivision and site as far as the level goes).
    fn level_chain(
        &self,
        level: &UserLevel,
    ) -> Result<(Kbo, CapacityType, Option<Hco>, Option<Hco>), RegistryError> {
        Ok(match level {
            UserLevel::Capacity { kbo, kind } => (*kbo, *kind, None, None),
            UserLevel::Subdivision { hco } => {
                let (kbo, kind) = self.subdivision_node(hco)?.parent;
                (kbo, kind, Some(hco.clone()), None)
            }
            UserLevel::Site { hco } => {
                let sub = self.site_node(hco)?.parent.clone();
                let (kbo, kind) = self.subdivision_node(&sub)?.parent;
                (kbo, kind, Some(sub), Some(hco.clone()))
            }
        })
    }

    /// The capacity, subdivision and site conditions: each exists and is active, and
    /// has the applications a structure level needs (R5).
    fn check_structure(
        &self,
        checked: &mut Checked,
        capacity: (Kbo, CapacityType),
        sub_hco: Option<&Hco>,
        site_hco: Option<&Hco>,
        h: u64,
    ) {
        let cap = self.capacities.get(&capacity).and_then(|v| v.seen(h));
        checked.structure(
            "capacity",
            cap.map(|c| (c.active, &c.applications)),
            AccessCondition::CapacityActive,
            AccessCondition::CapacityApplications,
        );
        let sub = sub_hco
            .and_then(|s| self.subdivisions.get(s))
            .and_then(|n| n.versions.seen(h));
        checked.structure(
            "subdivision",
            sub.map(|s| (s.active, &s.applications)),
            AccessCondition::SubdivisionActive,
            AccessCondition::SubdivisionApplications,
        );
        let site = site_hco
            .and_then(|s| self.sites.get(s))
            .and_then(|n| n.versions.seen(h));
        checked.structure(
            "site",
            site.map(|s| (s.active, &s.applications)),
            AccessCondition::SiteActive,
            AccessCondition::SiteApplications,
        );
    }

    /// The levels of the enterprise other than sites where the person has a user
    /// record (which gives no access, R4).
    fn wrong_levels(&self, person: &Insz, kbo: Kbo, h: u64) -> Vec<String> {
        self.levels_of
            .get(person)
            .into_iter()
            .flatten()
            .filter(|l| !matches!(l, UserLevel::Site { .. }))
            .filter(|l| self.level_kbo(l).is_ok_and(|k| k == kbo))
            .filter(|l| {
                self.user_versions(l, person)
                    .and_then(|v| v.seen(h))
                    .is_some()
            })
            .map(ToString::to_string)
            .collect()
    }

    /// R6: the last change of the user record has propagated; when it has not, the
    /// moment it will.
    fn check_propagated(
        &self,
        checked: &mut Checked,
        processed_at: Millis,
        now: Millis,
    ) -> Option<Millis> {
        let from = processed_at
            .saturating_add(i64::try_from(self.config.propagation_delay_ms).unwrap_or(i64::MAX));
        let done = now >= from;
        let detail = if done {
            "the last change has propagated".into()
        } else {
            format!(
                "the last change takes effect {} s from now (R6)",
                (from - now + 999) / 1000
            )
        };
        checked.put(AccessCondition::Propagated, done, detail);
        (!done).then_some(from)
    }

    /// R9: the site has a head radiologist whom the coordination centre knows.
    fn check_head_radiologist(&self, checked: &mut Checked, site_hco: Option<&Hco>, h: u64) {
        let head = site_hco.map(|s| {
            let heads = self.head_radiologists(s, Some(h));
            (heads.is_empty(), heads.iter().any(|head| head.known))
        });
        let (passed, detail) = match head {
            None => (false, "not a site".into()),
            Some((true, _)) => (false, "the site has no head radiologist".into()),
            Some((false, true)) => (
                true,
                "the head radiologist is known to the coordination centre".into(),
            ),
            Some((false, false)) => (
                false,
                "the head radiologist's national register number has not been sent to the coordination centre (R9)".into(),
            ),
        };
        checked.put(AccessCondition::HeadRadiologistKnown, passed, detail);
    }
}

/// The access conditions evaluated so far, each with whether it holds and what was
/// found.
struct Checked(BTreeMap<AccessCondition, (bool, String)>);

impl Checked {
    fn new() -> Self {
        Checked(BTreeMap::new())
    }

    fn put(&mut self, condition: AccessCondition, passed: bool, detail: String) {
        self.0.insert(condition, (passed, detail));
    }

    /// A structure level's two conditions: it exists and is active, and it has
    /// Heracles and eHealthBox (R5).
    fn structure(
        &mut self,
        label: &str,
        found: Option<(bool, &Applications)>,
        active: AccessCondition,
        applications: AccessCondition,
    ) {
        let (is_active, detail) = match found {
            None => (false, format!("the {label} does not exist")),
            Some((false, _)) => (false, format!("the {label} is inactive")),
            Some((true, _)) => (true, format!("the {label} is active")),
        };
        self.put(active, is_active, detail);
        let (has_apps, detail) = match found {
            None => (false, format!("the {label} does not exist")),
            Some((_, apps)) => {
                let missing: Vec<&str> =
                    rules::missing_applications(rules::AppLevel::Structure, apps)
                        .iter()
                        .map(|a| a.as_str())
                        .collect();
                if missing.is_empty() {
                    (true, format!("the {label} has heracles and ehealthbox"))
                } else {
                    (false, format!("the {label} lacks {}", missing.join(", ")))
                }
            }
        };
        self.put(applications, has_apps, detail);
    }

    /// Every condition in [`AccessCondition::ALL`] order; one not evaluated fails.
    fn in_order(mut self) -> Vec<ConditionResult> {
        AccessCondition::ALL
            .iter()
            .map(|c| {
                let (passed, detail) = self.0.remove(c).unwrap_or((false, "not evaluated".into()));
                ConditionResult {
                    condition: *c,
                    passed,
                    detail,
                }
            })
            .collect()
    }
}

/// The user record's own conditions on the site: active, the applications its
/// functions need (R5), at least one function (R4).
fn check_site_user(checked: &mut Checked, u: &UserRec) {
    let detail = if u.active {
        "the user is active"
    } else {
        "the user is inactive"
    };
    checked.put(AccessCondition::UserActive, u.active, detail.into());
    let missing: Vec<&str> = rules::missing_applications(
        rules::AppLevel::User(&u.functions.set()),
        &u.applications.set(),
    )
    .iter()
    .map(|a| a.as_str())
    .collect();
    let detail = if missing.is_empty() {
        "the user has the applications needed".into()
    } else {
        format!("the user lacks {}", missing.join(", "))
    };
    checked.put(
        AccessCondition::UserApplications,
        missing.is_empty(),
        detail,
    );
    let detail = if u.functions.is_empty() {
        "the user has no function on this site".into()
    } else {
        let names: Vec<&str> = u.functions.iter().map(|f| f.as_str()).collect();
        format!("functions on the site: {}", names.join(", "))
    };
    checked.put(
        AccessCondition::UserFunction,
        !u.functions.is_empty(),
        detail,
    );
}

/// What one snapshot collects while it walks an enterprise's tree as a session sees it:
/// the highest processing number among what it read (the tree's version) and the
/// levels whose users the caller may not read.
struct TreeWalk<'a> {
    caller: &'a Insz,
    h: u64,
    version: u64,
    unreadable: Vec<UserLevel>,
}

impl TreeWalk<'_> {
    fn bump(version: &mut u64, processing: Option<u64>) {
        if let Some(n) = processing {
            *version = (*version).max(n);
        }
    }

    /// The value the session sees, counting its version.
    fn value<'v, T>(&mut self, versions: &'v Versioned<T>) -> Option<&'v T> {
        let e = versions.effective(Some(self.h));
        Self::bump(&mut self.version, e.and_then(|e| e.processing));
        e.and_then(|e| e.value.as_ref())
    }
}
