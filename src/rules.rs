//! The rules of the manual that more than one side needs, defined once.
//!
//! The registry engine enforces them, the planner predicts the engine with them, and
//! validation and export check the desired state against them. A plan is a promise:
//! what `plan` accepts, `apply` completes. That holds only while both sides call the
//! same function, so a rule that both need lives here and nowhere else.
//!
//! - [`required_scope`]: the authority each write needs (docs/rules.md, "Who may do what"), and
//!   [`Roles::holds`]: whether a person's roles in an enterprise give it.
//! - [`required_applications`] / [`missing_applications`]: the secured applications
//!   each level needs (R5), physicians included.
//! - [`check_username`]: a person keeps the username of their first account forever,
//!   and a username belongs to one person (S3.4); [`password_required`]: only a new
//!   account needs an initial password.
//! - [`check_recognised`]: only the programme's recognised units may be activated or
//!   created (R8).
//!
//! Pure: uses `model` only.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{
    Application, Applications, Function, Hco, HtbStatus, Insz, LiveState, UserLevel, Username,
    Write, WriteTarget, default_structure_applications, default_user_applications,
};

// ----- authority ------------------------------------------------------------------------

/// The roles of a person in one enterprise.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Roles {
    /// Main access manager (or will be, once the pending designation is validated).
    pub htb: bool,
    /// Access manager.
    pub access_manager: bool,
    /// Local administrator of the capacity. The format knows one capacity type, so
    /// "the capacity" is the enterprise's only one.
    pub local_administrator: bool,
    /// Administrator of these subdivisions.
    pub subdivisions: BTreeSet<Hco>,
    /// Administrator of these sites.
    pub sites: BTreeSet<Hco>,
}

/// What a write needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
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
    pub(crate) fn holders(&self) -> String {
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
    /// A person's roles in an enterprise as `live` shows it (`None`: not readable).
    /// `declared_htb` is who becomes HTB when a designation is validated: while an
    /// enterprise waits for its designation (R7), the planner treats the declared HTB
    /// as the HTB for what follows the gate, because the validation makes them so.
    pub(crate) fn of(
        person: &Insz,
        live: Option<&LiveState>,
        declared_htb: Option<&Insz>,
    ) -> Roles {
        let Some(live) = live else {
            return Roles {
                htb: Some(person) == declared_htb,
                ..Roles::default()
            };
        };
        let e = &live.enterprise;
        let htb = match &e.htb_status {
            HtbStatus::Validated => e
                .main_access_manager
                .as_ref()
                .is_some_and(|r| r.insz == *person),
            HtbStatus::None | HtbStatus::Pending { .. } => Some(person) == declared_htb,
        };
        let mut roles = Roles {
            htb,
            access_manager: e.access_managers.iter().any(|a| a.insz == *person),
            ..Roles::default()
        };
        for cap in &e.capacities {
            if cap.local_administrator.insz() == Some(person) {
                roles.local_administrator = true;
            }
            for sub in &cap.subdivisions {
                if sub.administrator.insz() == Some(person) {
                    roles.subdivisions.insert(sub.hco.clone());
                }
                for site in &sub.sites {
                    if site.administrator.insz() == Some(person) {
                        roles.sites.insert(site.hco.clone());
                    }
                }
            }
        }
        roles
    }

    /// Whether the roles cover a scope; `parent_of` gives a site's subdivision. The
    /// designation is not a role: see [`may_designate`].
    pub(crate) fn holds(&self, scope: &Scope, parent_of: &impl Fn(&Hco) -> Option<Hco>) -> bool {
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

    /// True when the person has any role at all (what reading an enterprise needs).
    pub(crate) fn any(&self) -> bool {
        self.htb
            || self.access_manager
            || self.local_administrator
            || !self.subdivisions.is_empty()
            || !self.sites.is_empty()
    }
}

/// Whether `person` may request the designation: the future HTB or the legal
/// representative named in it.
pub(crate) fn may_designate(person: &Insz, write: &Write) -> bool {
    match write {
        Write::DesignateMainAccessManager {
            main_access_manager,
            legal_representative,
            ..
        } => *person == main_access_manager.insz || *person == legal_representative.insz,
        _ => false,
    }
}

/// Whether `person`, with `roles` in the write's enterprise, may make `write`.
pub(crate) fn authorised(
    person: &Insz,
    roles: &Roles,
    write: &Write,
    parent_of: &impl Fn(&Hco) -> Option<Hco>,
) -> Result<(), Scope> {
    let scope = required_scope(write, parent_of);
    let ok = match scope {
        Scope::Designation => may_designate(person, write),
        _ => roles.holds(&scope, parent_of),
    };
    if ok { Ok(()) } else { Err(scope) }
}

/// The scope writes to users on a level need.
pub(crate) fn level_scope(level: &UserLevel) -> Scope {
    match level {
        UserLevel::Capacity { .. } => Scope::CapacityContent,
        UserLevel::Subdivision { hco } => Scope::Subdivision(hco.clone()),
        UserLevel::Site { hco } => Scope::SiteUsers(hco.clone()),
    }
}

/// The scope a write needs. `parent_of` gives a site's subdivision: a site is managed
/// by whoever manages its subdivision, its users also by the site's administrator.
pub(crate) fn required_scope(write: &Write, parent_of: &impl Fn(&Hco) -> Option<Hco>) -> Scope {
    let site_scope = |hco: &Hco| match parent_of(hco) {
        Some(sub) => Scope::Subdivision(sub),
        None => Scope::CapacityContent,
    };
    match write {
        Write::DesignateMainAccessManager { .. } => Scope::Designation,
        Write::AddAccessManager { .. } | Write::RemoveAccessManager { .. } => Scope::Enterprise,
        Write::ActivateCapacity { .. } | Write::UpdateCapacity { .. } => Scope::Capacity,
        Write::CreateSubdivision { .. } | Write::DeleteSubdivision { .. } => Scope::CapacityContent,
        Write::UpdateSubdivision { hco, .. } => Scope::Subdivision(hco.clone()),
        Write::CreateSite { subdivision, .. } => Scope::Subdivision(subdivision.clone()),
        Write::UpdateSite { hco, .. } | Write::DeleteSite { hco } => site_scope(hco),
        Write::CreateUser { level, .. }
        | Write::UpdateUser { level, .. }
        | Write::DeleteUser { level, .. }
        | Write::SetFunctions { level, .. } => level_scope(level),
        Write::SetApplications { target, .. } | Write::SetActive { target, .. } => match target {
            WriteTarget::Capacity { .. } => Scope::Capacity,
            WriteTarget::Subdivision { hco } => Scope::Subdivision(hco.clone()),
            WriteTarget::Site { hco } => site_scope(hco),
            WriteTarget::User { level, .. } => level_scope(level),
        },
    }
}

// ----- secured applications (R5) ---------------------------------------------------------

/// What carries secured applications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AppLevel<'a> {
    /// The capacity, a subdivision or a site.
    Structure,
    /// A user with these functions on a site.
    User(&'a BTreeSet<Function>),
}

/// R5: Heracles and eHealthBox on the capacity, every subdivision and site; Heracles on
/// every user, plus eHealthBox on physicians (head radiologists and radiologists).
/// The format's defaults are exactly these sets, so `model` defines them (the desired
/// state fills defaults without depending on this module) and this is their one name
/// for the rule.
pub(crate) fn required_applications(level: AppLevel<'_>) -> Applications {
    match level {
        AppLevel::Structure => default_structure_applications(),
        AppLevel::User(functions) => default_user_applications(functions),
    }
}

/// The applications R5 requires that `apps` lacks, in a stable order.
pub(crate) fn missing_applications(level: AppLevel<'_>, apps: &Applications) -> Vec<Application> {
    required_applications(level)
        .into_iter()
        .filter(|a| !apps.contains(a))
        .collect()
}

// ----- usernames (S3.4) -------------------------------------------------------------------

/// Why a username cannot be given to a person.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UsernameProblem {
    /// The person has (or had) an account with another username.
    #[error(
        "usernames are immutable (S3.4): this person's account is {existing}; keep `username: {existing}`"
    )]
    Immutable {
        /// The account's username.
        existing: Username,
    },
    /// The username is someone else's.
    #[error("username {username} belongs to another person's account (usernames are unique)")]
    Taken {
        /// The username.
        username: Username,
    },
}

/// Whether `person` may hold `username`: the username of their account if they have or
/// had one (an account outlives its user records), otherwise one nobody else holds.
/// `account_of` gives a person's username, `held_by_other` whether someone else holds a username.
pub(crate) fn check_username(
    person: &Insz,
    username: &Username,
    account_of: impl FnOnce(&Insz) -> Option<Username>,
    held_by_other: impl FnOnce(&Username) -> bool,
) -> Result<(), UsernameProblem> {
    if let Some(existing) = account_of(person) {
        if existing != *username {
            return Err(UsernameProblem::Immutable { existing });
        }
        return Ok(());
    }
    if held_by_other(username) {
        return Err(UsernameProblem::Taken {
            username: username.clone(),
        });
    }
    Ok(())
}

/// Whether creating a user record is refused for want of an initial password: only a
/// person without an account needs one (an account outlives its user records, and one
/// CSAM already holds, learned from its users export, needs none either).
pub(crate) fn password_required(has_account: bool, password_given: bool) -> bool {
    !has_account && !password_given
}

// ----- recognised units (R8) --------------------------------------------------------------

/// An enterprise's recognised units: subdivision HCO → its site HCOs.
pub(crate) type RecognisedUnits = BTreeMap<Hco, BTreeSet<Hco>>;

/// Why the programme's list refuses a write (R8).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NotRecognised {
    /// The enterprise is not on the list: its capacity may not be activated (S2.7).
    #[error("the enterprise is not on the programme's list of recognised mammography units")]
    Capacity,
    /// The subdivision's HCO number is not one of the enterprise's recognised units.
    #[error("subdivision {0} is not one of the enterprise's recognised units")]
    Subdivision(Hco),
    /// The site's HCO number is not recognised under that subdivision (S3.6).
    #[error("site {site} is not one of the recognised sites of subdivision {subdivision}")]
    Site {
        /// The site.
        site: Hco,
        /// Its subdivision.
        subdivision: Hco,
    },
}

/// R8: a write that creates a capacity, subdivision or site must name a recognised unit.
pub(crate) fn check_recognised(
    units: &RecognisedUnits,
    write: &Write,
) -> Result<(), NotRecognised> {
    match write {
        Write::ActivateCapacity { .. } if units.is_empty() => Err(NotRecognised::Capacity),
        Write::CreateSubdivision { hco, .. } if !units.contains_key(hco) => {
            Err(NotRecognised::Subdivision(hco.clone()))
        }
        Write::CreateSite {
            subdivision, hco, ..
        } if !units.get(subdivision).is_some_and(|s| s.contains(hco)) => Err(NotRecognised::Site {
            site: hco.clone(),
            subdivision: subdivision.clone(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hco(s: &str) -> Hco {
        Hco::parse(s).expect("hco")
    }

    #[test]
    fn a_site_administrator_manages_users_but_not_the_site() {
        let roles = Roles {
            sites: [hco("71977101")].into(),
            ..Roles::default()
        };
        let parent = |_: &Hco| Some(hco("71977100"));
        assert!(roles.holds(&Scope::SiteUsers(hco("71977101")), &parent));
        assert!(!roles.holds(&Scope::Subdivision(hco("71977100")), &parent));
        assert!(!roles.any() || roles.holds(&Scope::SiteUsers(hco("71977101")), &parent));
    }

    #[test]
    fn physicians_need_ehealthbox() {
        let radiologist: BTreeSet<Function> = [Function::Radiologist].into();
        let technologist: BTreeSet<Function> = [Function::Technologist].into();
        let heracles: Applications = [Application::Heracles].into();
        assert_eq!(
            missing_applications(AppLevel::User(&radiologist), &heracles),
            vec![Application::EHealthBox]
        );
        assert!(missing_applications(AppLevel::User(&technologist), &heracles).is_empty());
        assert_eq!(
            missing_applications(AppLevel::Structure, &heracles),
            vec![Application::EHealthBox]
        );
    }

    #[test]
    fn an_account_keeps_its_username_and_a_username_its_person() {
        let a = Insz::parse("82120926312").expect("insz");
        let b = Insz::parse("66021958551").expect("insz");
        let alpha = Username::parse("alphaalpha").expect("username");
        let beta = Username::parse("betabetabeta").expect("username");
        assert_eq!(
            check_username(&a, &beta, |_| Some(alpha.clone()), |_| false),
            Err(UsernameProblem::Immutable {
                existing: alpha.clone()
            })
        );
        assert_eq!(
            check_username(&b, &alpha, |_| None, |_| true),
            Err(UsernameProblem::Taken {
                username: alpha.clone()
            })
        );
        assert!(check_username(&a, &alpha, |_| Some(alpha.clone()), |_| false).is_ok());
        // A person without an account may take a username nobody else holds.
        assert!(check_username(&b, &beta, |_| None, |_| false).is_ok());
    }
}
