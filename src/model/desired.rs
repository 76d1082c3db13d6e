//! The desired state: what the operator's YAML files declare, validated and normalised.
//!
//! Only `config` builds a [`DesiredState`]; everything downstream (diff, plan, render)
//! reads it. Defaults of the format are already applied to the structure levels
//! (capacity, subdivision, site applications); a person's applications stay as written
//! (`None` = the default), because the default depends on the functions at each site.
//!
//! The types serialise (never deserialise) so that a saved plan can carry a digest of
//! the desired state it was made from; password references, not passwords, are all a
//! desired state ever holds.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::ids::{Hco, Insz, Kbo, PasswordRef, Username};
use super::user::UserDetails;
use super::values::{
    Applications, CapacityType, Email, Function, Language, default_user_applications,
};

/// Every enterprise the files declare; enterprises they do not declare are never touched.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DesiredState {
    /// Declared enterprises, in the order the files declare them.
    pub enterprises: Vec<Enterprise>,
}

/// An enterprise (onderneming), keyed by its KBO number.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Enterprise {
    /// The enterprise number.
    pub kbo: Kbo,
    /// The name as the operator expects it in the KBO data (checked, never written).
    pub name: String,
    /// The main access manager (HTB).
    pub main_access_manager: Representative,
    /// Signs the HTB designation (R7); needed only when the HTB is not validated yet.
    pub legal_representative: Option<Representative>,
    /// Co-main access managers.
    pub co_main_access_managers: Vec<Representative>,
    /// Access managers (TB).
    pub access_managers: Vec<AccessManager>,
    /// Capacities (hoedanigheden).
    pub capacities: Vec<Capacity>,
    /// Accounts present in the registry that the desired state never touches.
    pub ignore: Ignore,
}

/// A person acting for the enterprise: the HTB, a co-HTB, or the legal representative
/// (as declared and as the registry holds it: one type for both).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Representative {
    /// National register number.
    pub insz: Insz,
    /// Family name.
    pub last_name: String,
    /// Given name.
    pub first_name: String,
    /// Role within the enterprise ("hoedanigheid" of the person, e.g. ICT-directeur).
    pub quality: Option<String>,
    /// E-mail address.
    pub email: Option<Email>,
    /// Telephone.
    pub phone: Option<String>,
    /// Mobile telephone.
    pub mobile: Option<String>,
    /// Fax.
    pub fax: Option<String>,
}

/// An access manager (toegangsbeheerder) appointed by the HTB (as declared and as the
/// registry holds it: one type for both).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessManager {
    /// National register number.
    pub insz: Insz,
    /// Family name.
    pub last_name: String,
    /// Given name.
    pub first_name: String,
    /// E-mail address.
    pub email: Email,
    /// Domains (groups of applications) the access manager manages.
    pub domains: Vec<String>,
}

/// Who administers a capacity, subdivision or site.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Administrator {
    /// `self`: the level is administered by whoever manages the level above.
    Itself,
    /// An existing person, named by INSZ (capacity local administrator).
    Person(Insz),
    /// A new administrator account (subdivision or site administrator).
    Account(AdministratorAccount),
}

/// An administrator account that the registry creates with the level.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdministratorAccount {
    /// CSAM username.
    pub username: Username,
    /// National register number.
    pub insz: Insz,
    /// Family name.
    pub last_name: String,
    /// Given name.
    pub first_name: String,
    /// E-mail address.
    pub email: Email,
    /// Account language.
    pub language: Language,
}

/// A capacity (hoedanigheid) of the enterprise.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Capacity {
    /// The capacity type.
    pub kind: CapacityType,
    /// Contact e-mail (required by the registry).
    pub email: Email,
    /// Local administrator (LB).
    pub local_administrator: Administrator,
    /// Secured applications (default applied).
    pub applications: Applications,
    /// Subdivisions, one per HCO number of the hospital or organisation.
    pub subdivisions: Vec<Subdivision>,
    /// People working at the capacity's sites, one entry per person.
    pub people: Vec<Person>,
}

/// A subdivision (subafdeling) of type "Mammografische eenheid".
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Subdivision {
    /// HCO number.
    pub hco: Hco,
    /// Name.
    pub name: String,
    /// Contact e-mail (required).
    pub email: Email,
    /// Administrator (SB).
    pub administrator: Administrator,
    /// Secured applications (default applied).
    pub applications: Applications,
    /// The mammography units as sites.
    pub sites: Vec<Site>,
}

/// A site (subafdeling-site) of type "Mammografische eenheid site": one unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Site {
    /// HCO number.
    pub hco: Hco,
    /// Name.
    pub name: String,
    /// Contact e-mail.
    pub email: Option<Email>,
    /// Administrator (SB).
    pub administrator: Administrator,
    /// Secured applications (default applied).
    pub applications: Applications,
}

/// A person working at one or more sites; the registry holds one user per site.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Person {
    /// National register number.
    pub insz: Insz,
    /// CSAM username, the same at every site.
    pub username: Username,
    /// Names, title, language (default `nl`) and e-mail addresses (e-mail required).
    #[serde(flatten)]
    pub details: UserDetails,
    /// Where the password is read when the account is created.
    pub password: Option<PasswordRef>,
    /// `false` keeps the account but suspends access.
    pub active: bool,
    /// Explicit applications; `None` means the default per site.
    pub applications: Option<Applications>,
    /// Site HCO → functions on that site.
    pub sites: BTreeMap<Hco, BTreeSet<Function>>,
}

impl Person {
    /// The applications of this person's user on a site with these functions: the
    /// explicit list when given, otherwise the default for the functions (R5).
    pub fn applications_on(&self, functions: &BTreeSet<Function>) -> Applications {
        self.applications
            .clone()
            .unwrap_or_else(|| default_user_applications(functions))
    }

    /// True when the person is a physician at any site.
    pub fn is_physician_anywhere(&self) -> bool {
        self.sites.values().flatten().any(|f| f.is_physician())
    }
}

/// Accounts a file never touches.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Ignore {
    /// Usernames never created, changed or deleted.
    pub usernames: BTreeSet<Username>,
}

impl Capacity {
    /// Every site of every subdivision.
    pub fn sites(&self) -> impl Iterator<Item = &Site> {
        self.subdivisions.iter().flat_map(|s| s.sites.iter())
    }
}

impl DesiredState {
    /// The number of people over all capacities.
    pub fn people_count(&self) -> usize {
        self.enterprises
            .iter()
            .flat_map(|e| &e.capacities)
            .map(|c| c.people.len())
            .sum()
    }
}
