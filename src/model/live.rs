//! The live state: one enterprise's tree as a registry session sees it.
//!
//! Pure data read from the registry (`Registry::snapshot`), compared by `diff` with the
//! desired state. It also carries what the desired state never declares but the planner
//! must act on: the HTB validation state (R7), and users or functions at the wrong level
//! (R4), which exist in the registry but give no access and must be deleted.
//!
//! No I/O, no async; serde only, because the HTTP registry sends it as is.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::desired::{AccessManager, Representative};
use super::ids::{Hco, Insz, Kbo, Username};
use super::user::User;
use super::values::{Applications, CapacityType, Email, Language};

/// One enterprise's tree as one session sees it, with the version of that view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveState {
    /// Changes whenever a processed change to this enterprise becomes visible; equal
    /// versions mean equal trees, so a saved plan can detect that the live state moved.
    pub version: u64,
    /// The enterprise and everything under it.
    pub enterprise: LiveEnterprise,
    /// The programme's recognised units of this enterprise (R8), so that the planner
    /// refuses a capacity, subdivision or site the registry would refuse. `None` when
    /// the registry did not say (then the planner cannot check R8).
    #[serde(default)]
    pub recognised_units: Option<Vec<RecognisedUnit>>,
}

impl LiveState {
    /// The recognised units as a map, for `rules::check_recognised`.
    pub fn recognised(&self) -> Option<std::collections::BTreeMap<Hco, BTreeSet<Hco>>> {
        self.recognised_units.as_ref().map(|units| {
            units
                .iter()
                .map(|u| (u.subdivision.clone(), u.sites.iter().cloned().collect()))
                .collect()
        })
    }
}

/// A recognised unit of the programme's list (R8): a subdivision and its sites. The
/// same record in a live state and in the registry's reference data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecognisedUnit {
    /// The subdivision's HCO number.
    pub subdivision: Hco,
    /// The HCO numbers of its sites (none when left out).
    #[serde(default)]
    pub sites: Vec<Hco>,
}

/// What the registry's account look-up said about the people and usernames a desired
/// state declares: accounts are global and outlive their records (S3.4), so no
/// enterprise's tree shows them all, and the planner needs them to refuse a username
/// the registry would refuse and to know that a new user record needs no password.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownAccounts {
    /// The asked people who have an account, with its username.
    pub accounts: Vec<LiveAccount>,
    /// The asked usernames that belong to a person who is none of the asked people: it
    /// says that someone else holds them, not who.
    pub taken: Vec<Username>,
}

impl KnownAccounts {
    /// Adds the answer to another part of the same question.
    pub fn extend(&mut self, other: KnownAccounts) {
        self.accounts.extend(other.accounts);
        self.taken.extend(other.taken);
    }
}

/// A person's account: the username they keep for good (S3.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveAccount {
    /// National register number.
    pub insz: Insz,
    /// CSAM username.
    pub username: Username,
}

/// An enterprise with its access managers and capacities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveEnterprise {
    /// The enterprise number.
    pub kbo: Kbo,
    /// The name in the KBO directory.
    pub name: String,
    /// The address in the KBO directory.
    pub address: Address,
    /// Where the main access manager designation stands (R7).
    pub htb_status: HtbStatus,
    /// The validated main access manager, if any.
    pub main_access_manager: Option<Representative>,
    /// Access managers appointed by the HTB. The HTB itself is not listed, although it
    /// is automatically an access manager.
    pub access_managers: Vec<AccessManager>,
    /// Activated capacities.
    pub capacities: Vec<LiveCapacity>,
    /// The levels whose user records the reader has no authority to read (a site
    /// administrator reads only that site's users): their user lists are empty here
    /// because they were not read, not because they have no users. The planner leaves
    /// the users of these levels alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable_users: Vec<super::change::UserLevel>,
}

/// A postal address from the KBO directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Street name.
    pub street: String,
    /// House number (with box).
    pub number: String,
    /// Postal code.
    pub postcode: String,
    /// Municipality.
    pub municipality: String,
    /// ISO country code.
    pub country: String,
}

/// Where an enterprise's main access manager designation stands (R7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HtbStatus {
    /// No designation has been requested.
    None,
    /// A designation was requested; nothing else is possible until it is validated.
    Pending {
        /// The ticket number (`3Y0-000ZRF5-00-J`).
        ticket: String,
    },
    /// The HTB is validated.
    Validated,
}

/// Who administers a capacity, subdivision or site in the registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveAdministrator {
    /// Administered by whoever manages the level above.
    Itself,
    /// An existing person (the capacity's local administrator).
    Person {
        /// National register number.
        insz: Insz,
    },
    /// An administrator account (subdivision or site administrator).
    Account {
        /// CSAM username.
        username: Username,
        /// National register number.
        insz: Insz,
        /// Family name.
        last_name: String,
        /// Given name.
        first_name: String,
        /// E-mail address.
        email: Email,
        /// Account language.
        language: Language,
    },
}

impl LiveAdministrator {
    /// The administrator's INSZ, when it is a person rather than `self`.
    pub fn insz(&self) -> Option<&Insz> {
        match self {
            LiveAdministrator::Itself => None,
            LiveAdministrator::Person { insz } | LiveAdministrator::Account { insz, .. } => {
                Some(insz)
            }
        }
    }
}

/// An activated capacity (hoedanigheid).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveCapacity {
    /// The capacity type.
    pub kind: CapacityType,
    /// Contact e-mail.
    pub email: Email,
    /// Local administrator (LB).
    pub local_administrator: LiveAdministrator,
    /// Secured applications enabled.
    pub applications: Applications,
    /// Whether the capacity is active.
    pub active: bool,
    /// Subdivisions.
    pub subdivisions: Vec<LiveSubdivision>,
    /// Users registered on the capacity level: they exist but never get access (R4).
    pub wrong_level_users: Vec<User>,
}

/// A subdivision (subafdeling).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveSubdivision {
    /// HCO number.
    pub hco: Hco,
    /// Name.
    pub name: String,
    /// Contact e-mail.
    pub email: Email,
    /// Administrator (SB).
    pub administrator: LiveAdministrator,
    /// Secured applications enabled.
    pub applications: Applications,
    /// Whether the subdivision is active.
    pub active: bool,
    /// Sites.
    pub sites: Vec<LiveSite>,
    /// Users registered on the subdivision level: they exist but never get access (R4).
    pub wrong_level_users: Vec<User>,
}

/// A site (subafdeling-site): one mammography unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveSite {
    /// HCO number.
    pub hco: Hco,
    /// Name.
    pub name: String,
    /// Contact e-mail.
    pub email: Option<Email>,
    /// Administrator (SB).
    pub administrator: LiveAdministrator,
    /// Secured applications enabled.
    pub applications: Applications,
    /// Whether the site is active.
    pub active: bool,
    /// Users of this site.
    pub users: Vec<User>,
}

/// How reports name a person beside the (masked) INSZ: the names and username of
/// their user record, so that an access manager recognises whom a line is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PersonName {
    /// Family name.
    pub last_name: String,
    /// Given name.
    pub first_name: String,
    /// The person's CSAM username.
    pub username: Username,
}

impl LiveEnterprise {
    /// Every site of every subdivision of every capacity.
    pub fn sites(&self) -> impl Iterator<Item = &LiveSite> {
        self.capacities
            .iter()
            .flat_map(|c| &c.subdivisions)
            .flat_map(|s| &s.sites)
    }
}
