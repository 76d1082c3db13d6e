//! The JSON Schema of the desired-state format, for editors (yaml-language-server) and
//! for `csamctl schema`.
//!
//! These types only describe the format; the validator in [`super::validate`] reads the
//! files. A test keeps the two in step: every object's properties here are exactly the
//! keys the validator accepts.

use std::collections::BTreeMap;

use schemars::JsonSchema;

use crate::model::{Application, CapacityType, Function, Language};

/// A desired-state file (format version 1).
#[derive(JsonSchema)]
#[schemars(title = "csamctl desired state", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct DesiredStateFile {
    /// Format version; this csamctl reads version 1.
    #[schemars(range(min = 1, max = 1))]
    version: u32,
    /// The enterprises this file manages. Enterprises not declared are never touched.
    enterprises: Vec<EnterpriseDoc>,
}

/// An enterprise (onderneming), keyed by its KBO number.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Enterprise")]
#[allow(dead_code)]
struct EnterpriseDoc {
    /// Enterprise number, e.g. "0474.603.083" (the legacy 9-digit form is accepted).
    #[schemars(pattern(r"^(BE)?\s*[01]?\d{3}[.\s]?\d{3}[.\s]?\d{3}$"))]
    kbo: String,
    /// Name as in the KBO data (checked, never written).
    name: String,
    /// The main access manager (hoofdtoegangsbeheerder, HTB).
    main_access_manager: RepresentativeDoc,
    /// Co-main access managers.
    co_main_access_managers: Option<Vec<RepresentativeDoc>>,
    /// Signs the HTB designation; needed only while the HTB is not validated.
    legal_representative: Option<RepresentativeDoc>,
    /// Access managers (toegangsbeheerders).
    access_managers: Option<Vec<AccessManagerDoc>>,
    /// Capacities (hoedanigheden).
    capacities: Option<Vec<CapacityDoc>>,
    /// Accounts this file never touches.
    ignore: Option<IgnoreDoc>,
}

/// A national register or BIS number, e.g. "85.07.30-033.28".
#[derive(JsonSchema)]
#[allow(dead_code)]
struct Insz(
    #[schemars(pattern(r"^\s*\d{2}[.\s]?\d{2}[.\s]?\d{2}[-\s]?\d{3}[.\s]?\d{2}\s*$"))] String,
);

/// A person acting for the enterprise.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Representative")]
#[allow(dead_code)]
struct RepresentativeDoc {
    insz: Insz,
    last_name: String,
    first_name: String,
    /// Role within the enterprise, e.g. "ICT-directeur".
    quality: Option<String>,
    #[schemars(email)]
    email: Option<String>,
    phone: Option<String>,
    mobile: Option<String>,
    fax: Option<String>,
}

/// An access manager (toegangsbeheerder).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename = "AccessManager")]
#[allow(dead_code)]
struct AccessManagerDoc {
    insz: Insz,
    last_name: String,
    first_name: String,
    #[schemars(email)]
    email: String,
    /// Domains the access manager manages.
    domains: Option<Vec<String>>,
}

/// A capacity (hoedanigheid).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Capacity")]
#[allow(dead_code)]
struct CapacityDoc {
    #[serde(rename = "type")]
    kind: CapacityType,
    #[schemars(email)]
    email: String,
    /// `self` or the INSZ of the local administrator. Default: self.
    local_administrator: Option<LocalAdministrator>,
    /// Default [heracles, ehealthbox]; an explicit list must keep both (R5).
    applications: Option<Vec<Application>>,
    subdivisions: Option<Vec<SubdivisionDoc>>,
    /// One entry per person; a person at several sites becomes one user per site.
    people: Option<Vec<PersonDoc>>,
}

/// `self`, or an INSZ.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum LocalAdministrator {
    /// The level is administered from above.
    Itself(SelfKeyword),
    /// A person.
    Person(Insz),
}

/// `self`, an INSZ, or a new administrator account.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum AdministratorDoc {
    /// The level is administered from above.
    Itself(SelfKeyword),
    /// A person.
    Person(Insz),
    /// A new administrator account.
    Account(AdministratorAccountDoc),
}

/// The keyword `self`.
#[derive(JsonSchema)]
#[allow(dead_code)]
enum SelfKeyword {
    #[serde(rename = "self")]
    Itself,
}

/// An administrator account created with the level.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename = "AdministratorAccount")]
#[allow(dead_code)]
struct AdministratorAccountDoc {
    username: UsernameDoc,
    insz: Insz,
    last_name: String,
    first_name: String,
    #[schemars(email)]
    email: String,
    language: Option<Language>,
}

/// A subdivision (subafdeling) of type "Mammografische eenheid".
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Subdivision")]
#[allow(dead_code)]
struct SubdivisionDoc {
    hco: HcoDoc,
    name: String,
    #[schemars(email)]
    email: String,
    /// Default: self.
    administrator: Option<AdministratorDoc>,
    /// Default [heracles, ehealthbox]; an explicit list must keep both (R5).
    applications: Option<Vec<Application>>,
    sites: Option<Vec<SiteDoc>>,
}

/// A site (subafdeling-site): one mammography unit.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Site")]
#[allow(dead_code)]
struct SiteDoc {
    hco: HcoDoc,
    name: String,
    #[schemars(email)]
    email: Option<String>,
    /// Default: self.
    administrator: Option<AdministratorDoc>,
    /// Default [heracles, ehealthbox]; an explicit list must keep both (R5).
    applications: Option<Vec<Application>>,
}

/// An HCO number: digits only.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct HcoDoc(#[schemars(pattern(r"^\d{1,16}$"))] String);

/// A username: letters a-z and digits, 8 to 30 characters, immutable; upper case is
/// folded to lower case.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct UsernameDoc(#[schemars(pattern(r"^[A-Za-z0-9]{8,30}$"))] String);

/// A person working at one or more sites.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Person")]
#[allow(dead_code)]
struct PersonDoc {
    insz: Insz,
    username: UsernameDoc,
    last_name: String,
    first_name: String,
    title: Option<String>,
    /// Default: nl.
    language: Option<Language>,
    #[schemars(email)]
    email: String,
    #[schemars(email)]
    local_email: Option<String>,
    /// Where the password is read to create the account; never the password itself.
    password: Option<PasswordRefDoc>,
    /// false keeps the account but suspends access. Default: true.
    active: Option<bool>,
    /// Default: [heracles], plus ehealthbox for physicians.
    applications: Option<Vec<Application>>,
    /// Site HCO number → functions on that site.
    sites: Option<BTreeMap<String, Vec<Function>>>,
}

/// `{ env: VARIABLE }` or `{ file: path }`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename = "PasswordRef")]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum PasswordRefDoc {
    /// An environment variable holding the password.
    Env(String),
    /// A file holding the password.
    File(String),
}

/// Accounts present in the registry that this file never touches.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Ignore")]
#[allow(dead_code)]
struct IgnoreDoc {
    usernames: Option<Vec<UsernameDoc>>,
}

/// The JSON Schema document, pretty-printed with a trailing newline.
pub(crate) fn json_schema() -> String {
    let schema = schemars::schema_for!(DesiredStateFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::super::validate as v;
    use std::collections::BTreeSet;

    fn properties(schema: &serde_json::Value, pointer: &str) -> BTreeSet<String> {
        schema
            .pointer(pointer)
            .and_then(|p| p.as_object())
            .unwrap_or_else(|| panic!("no properties at {pointer}"))
            .keys()
            .cloned()
            .collect()
    }

    fn keys(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn schema_objects_have_exactly_the_validators_keys() {
        let schema: serde_json::Value = serde_json::from_str(&super::json_schema()).unwrap();
        for (pointer, expected) in [
            ("/properties", v::DOCUMENT_KEYS),
            ("/$defs/Enterprise/properties", v::ENTERPRISE_KEYS),
            ("/$defs/Representative/properties", v::REPRESENTATIVE_KEYS),
            ("/$defs/AccessManager/properties", v::ACCESS_MANAGER_KEYS),
            ("/$defs/Capacity/properties", v::CAPACITY_KEYS),
            ("/$defs/Subdivision/properties", v::SUBDIVISION_KEYS),
            ("/$defs/Site/properties", v::SITE_KEYS),
            (
                "/$defs/AdministratorAccount/properties",
                v::ADMINISTRATOR_KEYS,
            ),
            ("/$defs/Person/properties", v::PERSON_KEYS),
            ("/$defs/Ignore/properties", v::IGNORE_KEYS),
        ] {
            assert_eq!(properties(&schema, pointer), keys(expected), "{pointer}");
        }
    }
}
