//! Applying facts: how the world changes by one journal entry (already decided; never
//! refuses). Replaying the journal through here rebuilds the same world.

use super::*;

impl World {
    /// Changes the world by one journal entry (already decided; never refuses).
    pub(crate) fn apply(&mut self, seq: u64, fact: &Fact) {
        self.journal_seq = self.journal_seq.max(seq);
        match fact {
            Fact::ReferenceLoaded { reference } => self.apply_reference(reference),
            Fact::SessionOpened { id, person, at } => {
                self.session_counter += 1;
                self.sessions.insert(
                    id.clone(),
                    SessionRec {
                        person: *person,
                        opened_at: *at,
                        last_activity: *at,
                        read_at: 0,
                        sees: self.processing,
                        state: SessionState::Open,
                        sites_created: 0,
                        users_created: false,
                        touched: Vec::new(),
                    },
                );
            }
            Fact::Wrote {
                session,
                at,
                write,
                ticket,
            } => self.apply_write(session, *at, write, ticket.as_deref()),
            Fact::SessionClosed { id, process_at, .. } => {
                if let Some(s) = self.sessions.get_mut(id) {
                    s.state = SessionState::Closing {
                        process_at: *process_at,
                    };
                }
            }
            Fact::SessionProcessed { id, at } => {
                if let Some(s) = self.sessions.remove(id) {
                    self.processing += 1;
                    let n = self.processing;
                    for key in s.touched {
                        self.process_entity(&key, id, n, *at);
                    }
                }
            }
            Fact::TicketValidated { ticket, at } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.state = TicketState::Validated;
                    t.validated_at_ms = Some(*at);
                    let kbo = t.kbo;
                    let htb = t.main_access_manager.clone();
                    self.processing += 1;
                    self.htb.entry(kbo).or_default().push(
                        None,
                        Some((self.processing, *at)),
                        Some(htb),
                    );
                }
            }
            Fact::HeadRadiologistNotified { site, person, .. } => {
                self.notified.insert((site.clone(), *person));
            }
            Fact::ClockAdvanced { by_ms } => {
                self.clock_advanced_ms = self.clock_advanced_ms.saturating_add(*by_ms);
            }
            Fact::LeaseTaken { person, lease } => {
                if self
                    .leases
                    .get(&lease.kbo)
                    .is_none_or(|(_, l)| l.id != lease.id)
                {
                    self.lease_counter += 1;
                }
                self.leases.insert(lease.kbo, (*person, lease.clone()));
            }
            Fact::LeaseReleased { id } => {
                self.leases.retain(|_, (_, l)| l.id != *id);
            }
        }
    }

    fn apply_reference(&mut self, reference: &Reference) {
        for a in &reference.accounts {
            self.create_account(&a.insz, &a.username);
        }
        let mut bumped = false;
        for e in &reference.enterprises {
            let entry = self.directory.entry(e.kbo).or_default();
            entry.name = e.name.clone();
            entry.address = e.address.clone();
            for unit in &e.recognised_units {
                entry
                    .recognised
                    .entry(unit.subdivision.clone())
                    .or_default()
                    .extend(unit.sites.iter().cloned());
            }
            if let Some(insz) = e.main_access_manager {
                let v = self.htb.entry(e.kbo).or_default();
                if v.truth().is_none() {
                    if !bumped {
                        self.processing += 1;
                        bumped = true;
                    }
                    // The reference file names the HTB by INSZ only.
                    v.push(
                        None,
                        Some((self.processing, 0)),
                        Some(Representative {
                            insz,
                            last_name: String::new(),
                            first_name: String::new(),
                            quality: None,
                            email: None,
                            phone: None,
                            mobile: None,
                            fax: None,
                        }),
                    );
                }
            }
        }
    }

    fn process_entity(&mut self, key: &EntityKey, id: &SessionId, n: u64, at: Millis) {
        match key {
            EntityKey::AccessManager(kbo, insz) => {
                if let Some(v) = self
                    .access_managers
                    .get_mut(kbo)
                    .and_then(|m| m.get_mut(insz))
                {
                    v.process(id, n, at);
                }
            }
            EntityKey::Capacity(kbo, kind) => {
                if let Some(v) = self.capacities.get_mut(&(*kbo, *kind)) {
                    v.process(id, n, at);
                }
            }
            EntityKey::Subdivision(hco) => {
                if let Some(node) = self.subdivisions.get_mut(hco) {
                    node.versions.process(id, n, at);
                }
            }
            EntityKey::Site(hco) => {
                if let Some(node) = self.sites.get_mut(hco) {
                    node.versions.process(id, n, at);
                }
            }
            EntityKey::User(level, insz) => {
                if let Some(v) = self.users.get_mut(level).and_then(|m| m.get_mut(insz)) {
                    v.process(id, n, at);
                }
            }
        }
    }

    fn create_account(&mut self, insz: &Insz, username: &Username) {
        if !self.accounts.contains_key(insz) {
            self.accounts.insert(*insz, username.clone());
            self.usernames.insert(username.clone(), *insz);
        }
    }

    fn account_of_admin(&mut self, admin: &LiveAdministrator) {
        if let LiveAdministrator::Account { insz, username, .. } = admin {
            self.create_account(insz, username);
        }
    }

    fn apply_write(
        &mut self,
        session: &SessionId,
        at: Millis,
        write: &Write,
        ticket: Option<&str>,
    ) {
        let touched = match write {
            Write::DesignateMainAccessManager { .. }
            | Write::AddAccessManager { .. }
            | Write::RemoveAccessManager { .. } => {
                self.apply_manager_write(session, at, ticket, write)
            }
            Write::ActivateCapacity { .. }
            | Write::UpdateCapacity { .. }
            | Write::CreateSubdivision { .. }
            | Write::UpdateSubdivision { .. }
            | Write::DeleteSubdivision { .. }
            | Write::CreateSite { .. }
            | Write::UpdateSite { .. }
            | Write::DeleteSite { .. } => self.apply_structure_write(session, write),
            Write::CreateUser { .. }
            | Write::UpdateUser { .. }
            | Write::DeleteUser { .. }
            | Write::SetFunctions { .. } => self.apply_user_write(session, write),
            Write::SetApplications {
                target,
                applications,
            } => self.modify_target(session, target, |apps, _| *apps = applications.clone()),
            Write::SetActive { target, active } => {
                self.modify_target(session, target, |_, a| *a = *active)
            }
        };
        if let Some(s) = self.sessions.get_mut(session) {
            s.last_activity = s.last_activity.max(at);
            if let Some(key) = touched {
                s.touched.push(key);
            }
        }
    }

    /// A designation request, pending until the operator validates its ticket (R7).
    fn submit_ticket(
        &mut self,
        id: &str,
        at: Millis,
        kbo: &Kbo,
        main_access_manager: &Representative,
        legal_representative: &Representative,
    ) {
        self.tickets.insert(
            id.to_string(),
            Ticket {
                id: id.to_string(),
                kbo: *kbo,
                state: TicketState::Pending,
                submitted_at_ms: at,
                validated_at_ms: None,
                main_access_manager: main_access_manager.clone(),
                legal_representative: legal_representative.clone(),
            },
        );
    }

    fn create_subdivision(
        &mut self,
        session: &SessionId,
        parent: (Kbo, CapacityType),
        hco: &Hco,
        rec: SubdivisionRec,
    ) -> EntityKey {
        self.subdivisions
            .entry(hco.clone())
            .or_insert_with(|| Child {
                parent,
                versions: Versioned::default(),
            })
            .versions
            .push(Some(session), None, Some(rec));
        self.subdivisions_of
            .entry(parent)
            .or_default()
            .insert(hco.clone());
        EntityKey::Subdivision(hco.clone())
    }

    fn create_site(
        &mut self,
        session: &SessionId,
        subdivision: &Hco,
        hco: &Hco,
        rec: SiteRec,
    ) -> EntityKey {
        self.sites
            .entry(hco.clone())
            .or_insert_with(|| Child {
                parent: subdivision.clone(),
                versions: Versioned::default(),
            })
            .versions
            .push(Some(session), None, Some(rec));
        self.sites_of
            .entry(subdivision.clone())
            .or_default()
            .insert(hco.clone());
        if let Some(s) = self.sessions.get_mut(session) {
            s.sites_created += 1;
        }
        EntityKey::Site(hco.clone())
    }

    fn create_user(
        &mut self,
        session: &SessionId,
        level: &crate::model::UserLevel,
        user: &User,
    ) -> EntityKey {
        self.create_account(&user.insz, &user.username);
        self.users
            .entry(level.clone())
            .or_default()
            .entry(user.insz)
            .or_default()
            .push(Some(session), None, Some(UserRec::of(user)));
        self.levels_of
            .entry(user.insz)
            .or_default()
            .insert(level.clone());
        if let Some(s) = self.sessions.get_mut(session) {
            s.users_created = true;
        }
        EntityKey::User(level.clone(), user.insz)
    }

    /// Applies a designation or an access-manager write; the entity it touched, if any.
    fn apply_manager_write(
        &mut self,
        session: &SessionId,
        at: Millis,
        ticket: Option<&str>,
        write: &Write,
    ) -> Option<EntityKey> {
        let sid = Some(session);
        let mut touched: Option<EntityKey> = None;
        match write {
            Write::DesignateMainAccessManager {
                kbo,
                main_access_manager,
                legal_representative,
            } => {
                if let Some(id) = ticket {
                    self.submit_ticket(id, at, kbo, main_access_manager, legal_representative);
                }
            }
            Write::AddAccessManager {
                kbo,
                access_manager,
            } => {
                self.access_managers
                    .entry(*kbo)
                    .or_default()
                    .entry(access_manager.insz)
                    .or_default()
                    .push(sid, None, Some(access_manager.clone()));
                touched = Some(EntityKey::AccessManager(*kbo, access_manager.insz));
            }
            Write::RemoveAccessManager { kbo, insz } => {
                if let Some(v) = self
                    .access_managers
                    .get_mut(kbo)
                    .and_then(|m| m.get_mut(insz))
                {
                    v.push(sid, None, None);
                }
                touched = Some(EntityKey::AccessManager(*kbo, *insz));
            }
            _ => {}
        }
        touched
    }

    /// Applies a write to the capacity, a subdivision or a site; the entity it touched, if any.
    fn apply_structure_write(&mut self, session: &SessionId, write: &Write) -> Option<EntityKey> {
        let sid = Some(session);
        let mut touched: Option<EntityKey> = None;
        match write {
            Write::ActivateCapacity {
                kbo,
                kind,
                email,
                local_administrator,
                applications,
            } => {
                self.capacities.entry((*kbo, *kind)).or_default().push(
                    sid,
                    None,
                    Some(CapacityValue {
                        email: email.clone(),
                        local_administrator: local_admin(local_administrator),
                        applications: applications.clone(),
                        active: true,
                    }),
                );
                touched = Some(EntityKey::Capacity(*kbo, *kind));
            }
            Write::UpdateCapacity {
                kbo,
                kind,
                email,
                local_administrator,
            } => {
                touched = self.modify_capacity(session, kbo, *kind, |c| {
                    c.email = email.clone();
                    c.local_administrator = local_admin(local_administrator);
                });
            }
            Write::CreateSubdivision {
                kbo,
                kind,
                hco,
                name,
                email,
                administrator,
                applications,
            } => {
                self.account_of_admin(administrator);
                let rec = SubdivisionRec {
                    name: name.clone(),
                    email: email.clone(),
                    administrator: administrator.clone(),
                    applications: applications.clone(),
                    active: true,
                };
                touched = Some(self.create_subdivision(session, (*kbo, *kind), hco, rec));
            }
            Write::UpdateSubdivision {
                hco,
                name,
                email,
                administrator,
            } => {
                self.account_of_admin(administrator);
                touched = self.modify_subdivision(session, hco, |s| {
                    s.name = name.clone();
                    s.email = email.clone();
                    s.administrator = administrator.clone();
                });
            }
            Write::DeleteSubdivision { hco } => {
                if let Some(node) = self.subdivisions.get_mut(hco) {
                    node.versions.push(sid, None, None);
                }
                touched = Some(EntityKey::Subdivision(hco.clone()));
            }
            Write::CreateSite {
                subdivision,
                hco,
                name,
                email,
                administrator,
                applications,
            } => {
                self.account_of_admin(administrator);
                let rec = SiteRec {
                    name: name.clone(),
                    email: email.clone(),
                    administrator: administrator.clone(),
                    applications: applications.clone(),
                    active: true,
                };
                touched = Some(self.create_site(session, subdivision, hco, rec));
            }
            Write::UpdateSite {
                hco,
                name,
                email,
                administrator,
            } => {
                self.account_of_admin(administrator);
                touched = self.modify_site(session, hco, |s| {
                    s.name = name.clone();
                    s.email = email.clone();
                    s.administrator = administrator.clone();
                });
            }
            Write::DeleteSite { hco } => {
                if let Some(node) = self.sites.get_mut(hco) {
                    node.versions.push(sid, None, None);
                }
                touched = Some(EntityKey::Site(hco.clone()));
            }
            _ => {}
        }
        touched
    }

    /// Applies a write to a user record; the entity it touched, if any.
    fn apply_user_write(&mut self, session: &SessionId, write: &Write) -> Option<EntityKey> {
        let sid = Some(session);
        let mut touched: Option<EntityKey> = None;
        match write {
            Write::CreateUser { level, user } => {
                touched = Some(self.create_user(session, level, user));
            }
            Write::UpdateUser {
                level,
                insz,
                details,
            } => {
                touched = self.modify_user(session, level, insz, |u| {
                    u.details = std::sync::Arc::new(details.clone());
                });
            }
            Write::DeleteUser { level, insz } => {
                if let Some(v) = self.users.get_mut(level).and_then(|m| m.get_mut(insz)) {
                    v.push(sid, None, None);
                }
                touched = Some(EntityKey::User(level.clone(), *insz));
            }
            Write::SetFunctions {
                level,
                insz,
                functions,
            } => {
                touched = self.modify_user(session, level, insz, |u| {
                    u.functions = record::Bits::of(functions)
                });
            }
            _ => {}
        }
        touched
    }

    fn modify_capacity(
        &mut self,
        session: &SessionId,
        kbo: &Kbo,
        kind: CapacityType,
        f: impl FnOnce(&mut CapacityValue),
    ) -> Option<EntityKey> {
        let v = self.capacities.get_mut(&(*kbo, kind))?;
        let mut rec = v.truth()?.clone();
        f(&mut rec);
        v.push(Some(session), None, Some(rec));
        Some(EntityKey::Capacity(*kbo, kind))
    }

    fn modify_subdivision(
        &mut self,
        session: &SessionId,
        hco: &Hco,
        f: impl FnOnce(&mut SubdivisionRec),
    ) -> Option<EntityKey> {
        let v = &mut self.subdivisions.get_mut(hco)?.versions;
        let mut rec = v.truth()?.clone();
        f(&mut rec);
        v.push(Some(session), None, Some(rec));
        Some(EntityKey::Subdivision(hco.clone()))
    }

    fn modify_site(
        &mut self,
        session: &SessionId,
        hco: &Hco,
        f: impl FnOnce(&mut SiteRec),
    ) -> Option<EntityKey> {
        let v = &mut self.sites.get_mut(hco)?.versions;
        let mut rec = v.truth()?.clone();
        f(&mut rec);
        v.push(Some(session), None, Some(rec));
        Some(EntityKey::Site(hco.clone()))
    }

    fn modify_user(
        &mut self,
        session: &SessionId,
        level: &UserLevel,
        insz: &Insz,
        f: impl FnOnce(&mut UserRec),
    ) -> Option<EntityKey> {
        let v = self.users.get_mut(level)?.get_mut(insz)?;
        let mut rec = v.truth()?.clone();
        f(&mut rec);
        v.push(Some(session), None, Some(rec));
        Some(EntityKey::User(level.clone(), *insz))
    }

    fn modify_target(
        &mut self,
        session: &SessionId,
        target: &WriteTarget,
        f: impl FnOnce(&mut Applications, &mut bool),
    ) -> Option<EntityKey> {
        match target {
            WriteTarget::Capacity { kbo, kind } => self.modify_capacity(session, kbo, *kind, |c| {
                f(&mut c.applications, &mut c.active)
            }),
            WriteTarget::Subdivision { hco } => {
                self.modify_subdivision(session, hco, |s| f(&mut s.applications, &mut s.active))
            }
            WriteTarget::Site { hco } => {
                self.modify_site(session, hco, |s| f(&mut s.applications, &mut s.active))
            }
            WriteTarget::User { level, insz } => {
                self.modify_user(session, level, insz, |u| u.modify_applications(f))
            }
        }
    }
}
