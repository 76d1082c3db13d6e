//! Who may do what (docs/rules.md, "Who may do what"), decided before anything runs.
//!
//! The acting person's roles are read from the live state as the registry shows it; the
//! planner checks every write against them, the way the engine will. One thing is
//! anticipated: while an enterprise waits for its HTB designation (R7), the declared
//! main access manager is treated as the HTB for what follows the gate, because that is
//! who the validation makes HTB. Nothing else a plan does can widen the actor's
//! authority: only the HTB appoints access managers, and only holders of the capacity
//! appoint local administrators.

use std::collections::BTreeSet;

use crate::model::{Hco, HtbStatus, Insz, LiveState, StepWrite, UserLevel, WriteTarget};

/// The roles of the acting person in one enterprise.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roles {
    /// Main access manager (or will be, once the pending designation is validated).
    pub htb: bool,
    /// Access manager.
    pub access_manager: bool,
    /// Local administrator of the capacity.
    pub local_administrator: bool,
    /// Administrator of these subdivisions.
    pub subdivisions: BTreeSet<Hco>,
    /// Administrator of these sites.
    pub sites: BTreeSet<Hco>,
}

/// What a write needs (the engine's scopes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Only the future HTB or the legal representative request a designation.
    Designation,
    /// The HTB: access managers.
    Enterprise,
    /// HTB and access managers: the capacity itself.
    Capacity,
    /// Plus the local administrator: subdivisions and capacity-level users.
    CapacityContent,
    /// Plus the subdivision's administrator: the subdivision, its sites and their users.
    Subdivision(Hco),
    /// Plus the site's administrator: the site's users.
    SiteUsers(Hco),
}

impl Scope {
    /// Who holds this scope, for messages.
    pub fn holders(&self) -> String {
        match self {
            Scope::Designation => {
                "the future main access manager or the legal representative".into()
            }
            Scope::Enterprise => "the main access manager".into(),
            Scope::Capacity => "the main access manager or an access manager".into(),
            Scope::CapacityContent => {
                "the main access manager, an access manager or the capacity's local administrator"
                    .into()
            }
            Scope::Subdivision(hco) => format!(
                "the administrator of subdivision {hco}, the capacity's local administrator, an access manager or the main access manager"
            ),
            Scope::SiteUsers(hco) => format!(
                "the administrator of site {hco} or of its subdivision, the capacity's local administrator, an access manager or the main access manager"
            ),
        }
    }
}

impl Roles {
    /// The actor's roles in an enterprise as `live` shows it (`None`: not readable).
    /// `declared_htb` is who becomes HTB when a designation is validated.
    pub fn of(actor: &Insz, live: Option<&LiveState>, declared_htb: &Insz) -> Roles {
        let Some(live) = live else {
            return Roles {
                htb: actor == declared_htb,
                ..Roles::default()
            };
        };
        let e = &live.enterprise;
        let htb = match &e.htb_status {
            HtbStatus::Validated => e
                .main_access_manager
                .as_ref()
                .is_some_and(|r| r.insz == *actor),
            HtbStatus::None | HtbStatus::Pending { .. } => actor == declared_htb,
        };
        let mut roles = Roles {
            htb,
            access_manager: e.access_managers.iter().any(|a| a.insz == *actor),
            ..Roles::default()
        };
        for cap in &e.capacities {
            if cap.local_administrator.insz() == Some(actor) {
                roles.local_administrator = true;
            }
            for sub in &cap.subdivisions {
                if sub.administrator.insz() == Some(actor) {
                    roles.subdivisions.insert(sub.hco.clone());
                }
                for site in &sub.sites {
                    if site.administrator.insz() == Some(actor) {
                        roles.sites.insert(site.hco.clone());
                    }
                }
            }
        }
        roles
    }

    /// Whether the roles cover a scope; `parent_of` gives a site's subdivision.
    pub fn holds(&self, scope: &Scope, parent_of: &impl Fn(&Hco) -> Option<Hco>) -> bool {
        match scope {
            Scope::Designation => false,
            Scope::Enterprise => self.htb,
            Scope::Capacity => self.htb || self.access_manager,
            Scope::CapacityContent => {
                self.holds(&Scope::Capacity, parent_of) || self.local_administrator
            }
            Scope::Subdivision(hco) => {
                self.holds(&Scope::CapacityContent, parent_of) || self.subdivisions.contains(hco)
            }
            Scope::SiteUsers(hco) => {
                self.sites.contains(hco)
                    || parent_of(hco)
                        .is_some_and(|sub| self.holds(&Scope::Subdivision(sub), parent_of))
            }
        }
    }

    /// True when the person has any role at all.
    pub fn any(&self) -> bool {
        self.htb
            || self.access_manager
            || self.local_administrator
            || !self.subdivisions.is_empty()
            || !self.sites.is_empty()
    }
}

fn level_scope(level: &UserLevel) -> Scope {
    match level {
        UserLevel::Capacity { .. } => Scope::CapacityContent,
        UserLevel::Subdivision { hco } => Scope::Subdivision(hco.clone()),
        UserLevel::Site { hco } => Scope::SiteUsers(hco.clone()),
    }
}

/// The scope a write needs, as the engine decides it. `parent_of` gives a site's
/// subdivision (sites are managed by whoever manages their subdivision).
pub fn scope_of(write: &StepWrite, parent_of: &impl Fn(&Hco) -> Option<Hco>) -> Scope {
    let site_scope = |hco: &Hco| match parent_of(hco) {
        Some(sub) => Scope::Subdivision(sub),
        None => Scope::CapacityContent,
    };
    match write {
        StepWrite::DesignateMainAccessManager { .. } => Scope::Designation,
        StepWrite::AddAccessManager { .. } | StepWrite::RemoveAccessManager { .. } => {
            Scope::Enterprise
        }
        StepWrite::ActivateCapacity { .. } | StepWrite::UpdateCapacity { .. } => Scope::Capacity,
        StepWrite::CreateSubdivision { .. } | StepWrite::DeleteSubdivision { .. } => {
            Scope::CapacityContent
        }
        StepWrite::UpdateSubdivision { hco, .. } => Scope::Subdivision(hco.clone()),
        StepWrite::CreateSite { subdivision, .. } => Scope::Subdivision(subdivision.clone()),
        StepWrite::UpdateSite { hco, .. } | StepWrite::DeleteSite { hco } => site_scope(hco),
        StepWrite::CreateUser { level, .. }
        | StepWrite::UpdateUser { level, .. }
        | StepWrite::DeleteUser { level, .. }
        | StepWrite::SetFunctions { level, .. } => level_scope(level),
        StepWrite::SetApplications { target, .. } | StepWrite::SetActive { target, .. } => {
            match target {
                WriteTarget::Capacity { .. } => Scope::Capacity,
                WriteTarget::Subdivision { hco } => Scope::Subdivision(hco.clone()),
                WriteTarget::Site { hco } => site_scope(hco),
                WriteTarget::User { level, .. } => level_scope(level),
            }
        }
    }
}
