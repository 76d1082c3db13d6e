//! Validation: from a file's [`Node`] tree to the model, collecting every diagnostic.
//!
//! Per-file checks happen during the walk; checks across the whole desired state
//! (an enterprise declared twice, an HCO number used twice, usernames shared between
//! people) go through a [`StateIndex`] that outlives each file's tree, so that a large
//! desired state split into many files is never held as YAML trees all at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::diagnostic::{Diagnostic, Place};
use super::node::{Node, Value};
use super::walk::{Obj, Walk};
use crate::model::{
    AccessManager, Administrator, AdministratorAccount, Application, Applications, Capacity,
    CapacityType, Email, EmailError, Enterprise, Function, Hco, HcoError, Ignore, Insz, InszError,
    Kbo, KboError, Language, PasswordRef, Person, Representative, Site, Subdivision, UserDetails,
    Username, UsernameError, default_structure_applications,
};
use crate::rules;

/// Keys of the top level of a file.
pub(crate) const DOCUMENT_KEYS: &[&str] = &["version", "enterprises"];
/// Keys of an enterprise.
pub(crate) const ENTERPRISE_KEYS: &[&str] = &[
    "kbo",
    "name",
    "main_access_manager",
    "co_main_access_managers",
    "legal_representative",
    "access_managers",
    "capacities",
    "ignore",
];
/// Keys of the HTB, a co-HTB and the legal representative.
pub(crate) const REPRESENTATIVE_KEYS: &[&str] = &[
    "insz",
    "last_name",
    "first_name",
    "quality",
    "email",
    "phone",
    "mobile",
    "fax",
];
/// Keys of an access manager.
pub(crate) const ACCESS_MANAGER_KEYS: &[&str] =
    &["insz", "last_name", "first_name", "email", "domains"];
/// Keys of a capacity.
pub(crate) const CAPACITY_KEYS: &[&str] = &[
    "type",
    "email",
    "local_administrator",
    "applications",
    "subdivisions",
    "people",
];
/// Keys of a subdivision.
pub(crate) const SUBDIVISION_KEYS: &[&str] = &[
    "hco",
    "name",
    "email",
    "administrator",
    "applications",
    "sites",
];
/// Keys of a site.
pub(crate) const SITE_KEYS: &[&str] = &["hco", "name", "email", "administrator", "applications"];
/// Keys of an administrator account.
pub(crate) const ADMINISTRATOR_KEYS: &[&str] = &[
    "username",
    "insz",
    "last_name",
    "first_name",
    "email",
    "language",
];
/// Keys of a person.
pub(crate) const PERSON_KEYS: &[&str] = &[
    "insz",
    "username",
    "last_name",
    "first_name",
    "title",
    "language",
    "email",
    "local_email",
    "password",
    "active",
    "applications",
    "sites",
];
/// Keys of a password reference.
pub(crate) const PASSWORD_KEYS: &[&str] = &["env", "file"];
/// Keys of `ignore`.
pub(crate) const IGNORE_KEYS: &[&str] = &["usernames"];

/// What the whole desired state has seen so far, for checks across files.
#[derive(Default)]
pub(crate) struct StateIndex {
    enterprises: HashMap<Kbo, Place>,
    hcos: HashMap<Hco, (Place, &'static str)>,
    username_of: HashMap<Insz, (Username, Place)>,
    insz_of: HashMap<Username, (Insz, Place)>,
}

/// A check across the whole desired state, asked for during the walk of an enterprise.
enum Check {
    /// An enterprise declared: declared once only.
    Enterprise { kbo: Kbo, place: Place },
    /// A subdivision or site HCO number: unique in the whole registry.
    Hco {
        hco: Hco,
        place: Place,
        what: &'static str,
    },
    /// A person (or administrator account) with a username: one username per person,
    /// and no username shared by two people.
    Account {
        insz: Insz,
        username: Username,
        place: Place,
    },
    /// A site with people but no active head radiologist: a warning where its HCO
    /// number was first declared.
    NoHeadRadiologist { hco: Hco, name: String },
}

impl StateIndex {
    /// Makes a check, recording what it declares; the problems found.
    fn check(&mut self, check: Check) -> Vec<Diagnostic> {
        match check {
            Check::Enterprise { kbo, place } => self.enterprise(kbo, place).into_iter().collect(),
            Check::Hco { hco, place, what } => self.hco(hco, place, what).into_iter().collect(),
            Check::Account {
                insz,
                username,
                place,
            } => self.account(insz, username, place),
            Check::NoHeadRadiologist { hco, name } => self
                .hcos
                .get(&hco)
                .map(|(at, _)| {
                    Diagnostic::warning(
                        "csam::site::no_head_radiologist",
                        *at,
                        format!("site {hco} ({name}) has people but no active head radiologist"),
                    )
                    .label("this site")
                    .help("nobody can log in to Heracles for a unit before its head radiologist is known to the coordination centre (R9)")
                })
                .into_iter()
                .collect(),
        }
    }

    /// Makes the checks a walk of the same file recorded ([`Checks::Later`]), in their
    /// order, and puts the walk's findings and their diagnostics into `into` in the
    /// order one walk would have found them.
    fn replay(&mut self, into: &mut Walk<'_>, part: Walk<'_>, recorded: Vec<(usize, Check)>) {
        let mut found = part.diagnostics.into_iter();
        let mut taken = 0;
        for (at, check) in recorded {
            into.diagnostics.extend(found.by_ref().take(at - taken));
            taken = at;
            for d in self.check(check) {
                into.report(d);
            }
        }
        into.diagnostics.extend(found);
        into.secret_spans.extend(part.secret_spans);
        into.personal_spans.extend(part.personal_spans);
    }

    /// Records an enterprise; a second declaration is an error pointing at both.
    fn enterprise(&mut self, kbo: Kbo, place: Place) -> Option<Diagnostic> {
        match self.enterprises.get(&kbo) {
            Some(first) => Some(
                Diagnostic::error(
                    "csam::enterprise::duplicate",
                    place,
                    format!("enterprise {kbo} is declared twice"),
                )
                .label("declared again here")
                .related(*first, "first declared here")
                .help("declare each enterprise once; split its capacities over files only by enterprise"),
            ),
            None => {
                self.enterprises.insert(kbo, place);
                None
            }
        }
    }

    /// Records a subdivision or site HCO number, unique in the whole registry.
    fn hco(&mut self, hco: Hco, place: Place, what: &'static str) -> Option<Diagnostic> {
        match self.hcos.get(&hco) {
            Some((first, first_what)) => Some(
                Diagnostic::error(
                    "csam::hco::duplicate",
                    place,
                    format!("HCO number {hco} is used twice"),
                )
                .label(format!("this {what} reuses it"))
                .related(*first, format!("already the HCO number of a {first_what}"))
                .help("an HCO number identifies one subdivision or site in the whole registry"),
            ),
            None => {
                self.hcos.insert(hco, (place, what));
                None
            }
        }
    }

    /// Records that `insz` uses `username`: one username per person, and no username
    /// shared by two people, anywhere in the desired state.
    fn account(&mut self, insz: Insz, username: Username, place: Place) -> Vec<Diagnostic> {
        let mut found = Vec::new();
        match self.username_of.get(&insz) {
            Some((other, first)) if *other != username => found.push(
                Diagnostic::error(
                    "csam::username::per_person",
                    place,
                    format!("person {insz} has two usernames: `{other}` and `{username}`"),
                )
                .label("a second username for the same INSZ")
                .related(*first, format!("`{other}` given here"))
                .help("a person has one CSAM username; use the same one everywhere"),
            ),
            Some(_) => {}
            None => {
                self.username_of.insert(insz, (username.clone(), place));
            }
        }
        match self.insz_of.get(&username) {
            Some((other, first)) if *other != insz => found.push(
                Diagnostic::error(
                    "csam::username::shared",
                    place,
                    format!("username `{username}` is used by two people ({other} and {insz})"),
                )
                .label("already taken by another INSZ")
                .related(*first, "first used here")
                .help("usernames are unique in the whole registry, compared case-insensitively"),
            ),
            Some(_) => {}
            None => {
                self.insz_of.insert(username, (insz, place));
            }
        }
        found
    }
}

/// Where the checks across the desired state go while an enterprise is walked.
enum Checks<'i> {
    /// Made at once (one thread walks the file).
    Now(&'i mut StateIndex),
    /// Recorded with the number of diagnostics the walk had found by then, to be made
    /// later in the same order ([`StateIndex::replay`]): enterprises walked side by side.
    Later(Vec<(usize, Check)>),
}

impl Checks<'_> {
    fn ask(&mut self, walk: &mut Walk<'_>, check: Check) {
        match self {
            Checks::Now(index) => {
                for d in index.check(check) {
                    walk.report(d);
                }
            }
            Checks::Later(recorded) => recorded.push((walk.diagnostics.len(), check)),
        }
    }
}

/// True when a file's top level is a mapping with `version`: the mark of a desired-state
/// file, as opposed to other YAML (registry reference data, CI workflows) in a directory.
pub(crate) fn is_desired_state(root: &Node) -> bool {
    matches!(&root.value, Value::Map(entries)
        if entries.iter().any(|(k, _)| matches!(&k.value, Value::Str(s) if s == "version")))
}

/// Validates one file's tree into enterprises, reporting into `walk` and `index`.
pub(crate) fn document(
    walk: &mut Walk<'_>,
    index: &mut StateIndex,
    root: &Node,
) -> Vec<Enterprise> {
    if root.value == Value::Null {
        let start = Place {
            file: walk.file,
            pos: super::node::Pos {
                line: 1,
                column: 1,
                offset: 0,
                len: 0,
            },
        };
        let d = Diagnostic::error("csam::schema::empty", start, "the file is empty")
            .help("a desired-state file starts with `version: 1` and `enterprises:`");
        walk.report(d);
        return Vec::new();
    }
    let Some(doc) = walk.obj(root, "the file", DOCUMENT_KEYS) else {
        return Vec::new();
    };
    if let Some(version) = walk.required(&doc, "version")
        && !matches!(version.value, Value::Int(1))
    {
        let written = walk.raw(version).to_string();
        let d = Diagnostic::error(
            "csam::schema::version",
            walk.place(version),
            format!("format version {written} is not supported"),
        )
        .label("this csamctl reads version 1")
        .help("write `version: 1`, or upgrade csamctl if the file is newer");
        walk.report(d);
    }
    match walk.required(&doc, "enterprises") {
        Some(list) => {
            let nodes = walk.list(list, "enterprises").unwrap_or(&[]);
            each_enterprise(walk, index, nodes)
        }
        None => Vec::new(),
    }
}

/// From this many enterprises in a file on, they are walked on every core.
const PARALLEL_ENTERPRISES: usize = 64;

/// Validates the enterprises of a file: side by side when there are many, their checks
/// across the desired state made afterwards in file order, so that every diagnostic
/// is the one, and in the place, that one walk gives.
fn each_enterprise(walk: &mut Walk<'_>, index: &mut StateIndex, nodes: &[Node]) -> Vec<Enterprise> {
    if nodes.len() < PARALLEL_ENTERPRISES {
        one_by_one(walk, index, nodes)
    } else {
        side_by_side(walk, index, nodes)
    }
}

fn one_by_one(walk: &mut Walk<'_>, index: &mut StateIndex, nodes: &[Node]) -> Vec<Enterprise> {
    let mut checks = Checks::Now(index);
    nodes
        .iter()
        .filter_map(|n| enterprise(walk, &mut checks, n))
        .collect()
}

fn side_by_side(walk: &mut Walk<'_>, index: &mut StateIndex, nodes: &[Node]) -> Vec<Enterprise> {
    let (file, text) = (walk.file, walk.text);
    let walked = crate::parallel::map(nodes.iter().collect(), |node| {
        let mut part = Walk::new(file, text);
        let mut recorded = Checks::Later(Vec::new());
        let e = enterprise(&mut part, &mut recorded, node);
        (e, part, recorded)
    });
    let mut enterprises = Vec::with_capacity(walked.len());
    for (e, part, recorded) in walked {
        if let Checks::Later(recorded) = recorded {
            index.replay(walk, part, recorded);
        }
        enterprises.extend(e);
    }
    enterprises
}

fn enterprise(walk: &mut Walk<'_>, index: &mut Checks<'_>, node: &Node) -> Option<Enterprise> {
    let obj = walk.obj(node, "an enterprise", ENTERPRISE_KEYS)?;
    let kbo = walk.required(&obj, "kbo").and_then(|n| kbo(walk, n));
    if let (Some(kbo), Some(n)) = (kbo, obj.get("kbo")) {
        let place = walk.place(n);
        index.ask(walk, Check::Enterprise { kbo, place });
    }
    let name = walk
        .required(&obj, "name")
        .and_then(|n| walk.non_empty_text(n, "enterprise name"));
    let htb = match obj.get("main_access_manager") {
        Some(n) => representative(walk, n, "the main access manager"),
        None => {
            let d = Diagnostic::error(
                "csam::htb::missing",
                walk.place(obj.node()),
                "the enterprise has no main_access_manager",
            )
            .label("main access manager (HTB) missing")
            .help("every enterprise needs its main access manager (hoofdtoegangsbeheerder): add `main_access_manager:` with insz, last_name, first_name and email");
            walk.report(d);
            None
        }
    };
    let legal = obj
        .get("legal_representative")
        .and_then(|n| representative(walk, n, "the legal representative"));
    let co = items(
        walk,
        obj.get("co_main_access_managers"),
        "co_main_access_managers",
        |w, n| representative(w, n, "a co-main access manager"),
    );
    let managers = items(
        walk,
        obj.get("access_managers"),
        "access_managers",
        access_manager,
    );
    let capacities = items(walk, obj.get("capacities"), "capacities", |w, n| {
        capacity(w, index, n)
    });
    let ignore = obj
        .get("ignore")
        .map(|n| ignore(walk, n))
        .unwrap_or_default();
    Some(Enterprise {
        kbo: kbo?,
        name: name?,
        main_access_manager: htb?,
        legal_representative: legal,
        co_main_access_managers: co,
        access_managers: managers,
        capacities,
        ignore,
    })
}

/// Validates every item of an optional list, keeping the valid ones.
fn items<T>(
    walk: &mut Walk<'_>,
    node: Option<&Node>,
    what: &str,
    mut each: impl FnMut(&mut Walk<'_>, &Node) -> Option<T>,
) -> Vec<T> {
    let Some(node) = node else { return Vec::new() };
    let list = walk.list(node, what).unwrap_or(&[]);
    list.iter().filter_map(|n| each(walk, n)).collect()
}

fn representative(walk: &mut Walk<'_>, node: &Node, what: &'static str) -> Option<Representative> {
    let obj = walk.obj(node, what, REPRESENTATIVE_KEYS)?;
    let insz = walk.required(&obj, "insz").and_then(|n| insz(walk, n));
    let last_name = name_field(walk, &obj, "last_name");
    let first_name = name_field(walk, &obj, "first_name");
    let quality = optional_text(walk, &obj, "quality");
    let email = obj.get("email").and_then(|n| email(walk, n));
    let phone = optional_text(walk, &obj, "phone");
    let mobile = optional_text(walk, &obj, "mobile");
    let fax = optional_text(walk, &obj, "fax");
    Some(Representative {
        insz: insz?,
        last_name: last_name?,
        first_name: first_name?,
        quality,
        email,
        phone,
        mobile,
        fax,
    })
}

fn access_manager(walk: &mut Walk<'_>, node: &Node) -> Option<AccessManager> {
    let obj = walk.obj(node, "an access manager", ACCESS_MANAGER_KEYS)?;
    let insz = walk.required(&obj, "insz").and_then(|n| insz(walk, n));
    let last_name = name_field(walk, &obj, "last_name");
    let first_name = name_field(walk, &obj, "first_name");
    let email = walk.required(&obj, "email").and_then(|n| email(walk, n));
    let domains = items(walk, obj.get("domains"), "domains", |w, n| {
        w.non_empty_text(n, "a domain")
    });
    Some(AccessManager {
        insz: insz?,
        last_name: last_name?,
        first_name: first_name?,
        email: email?,
        domains,
    })
}

fn capacity(walk: &mut Walk<'_>, index: &mut Checks<'_>, node: &Node) -> Option<Capacity> {
    let obj = walk.obj(node, "a capacity", CAPACITY_KEYS)?;
    let kind = walk
        .required(&obj, "type")
        .and_then(|n| walk.word::<CapacityType>(n, "capacity type", "csam::capacity::type"));
    let email = walk.required(&obj, "email").and_then(|n| email(walk, n));
    let local_administrator = match obj.get("local_administrator") {
        Some(n) => administrator(walk, index, n, "the local administrator", false),
        None => Some(Administrator::Itself),
    };
    let applications = structure_applications(walk, &obj, "the capacity");
    let subdivisions = items(walk, obj.get("subdivisions"), "subdivisions", |w, n| {
        subdivision(w, index, n)
    });
    // The sites this capacity declares, read from the tree itself, so that a site with
    // some other error still counts as declared for the people's site references.
    let declared = declared_sites(walk, obj.get("subdivisions"));
    let people = people(walk, index, obj.get("people"), &declared);
    head_radiologists(walk, index, &subdivisions, &people);
    Some(Capacity {
        kind: kind?,
        email: email?,
        local_administrator: local_administrator?,
        applications: applications?,
        subdivisions,
        people: people.into_iter().map(|(p, _)| p).collect(),
    })
}

fn subdivision(walk: &mut Walk<'_>, index: &mut Checks<'_>, node: &Node) -> Option<Subdivision> {
    let obj = walk.obj(node, "a subdivision", SUBDIVISION_KEYS)?;
    let hco = walk.required(&obj, "hco").and_then(|n| {
        let hco = hco(walk, n)?;
        let check = Check::Hco {
            hco: hco.clone(),
            place: walk.place(n),
            what: "subdivision",
        };
        index.ask(walk, check);
        Some(hco)
    });
    let name = walk
        .required(&obj, "name")
        .and_then(|n| walk.non_empty_text(n, "subdivision name"));
    let email = walk.required(&obj, "email").and_then(|n| email(walk, n));
    let administrator = match obj.get("administrator") {
        Some(n) => administrator(walk, index, n, "the subdivision administrator", true),
        None => Some(Administrator::Itself),
    };
    let applications = structure_applications(walk, &obj, "the subdivision");
    let sites = items(walk, obj.get("sites"), "sites", |w, n| site(w, index, n));
    Some(Subdivision {
        hco: hco?,
        name: name?,
        email: email?,
        administrator: administrator?,
        applications: applications?,
        sites,
    })
}

fn site(walk: &mut Walk<'_>, index: &mut Checks<'_>, node: &Node) -> Option<Site> {
    let obj = walk.obj(node, "a site", SITE_KEYS)?;
    let hco = walk.required(&obj, "hco").and_then(|n| {
        let hco = hco(walk, n)?;
        let check = Check::Hco {
            hco: hco.clone(),
            place: walk.place(n),
            what: "site",
        };
        index.ask(walk, check);
        Some(hco)
    });
    let name = walk
        .required(&obj, "name")
        .and_then(|n| walk.non_empty_text(n, "site name"));
    let email = obj.get("email").and_then(|n| email(walk, n));
    let administrator = match obj.get("administrator") {
        Some(n) => administrator(walk, index, n, "the site administrator", true),
        None => Some(Administrator::Itself),
    };
    let applications = structure_applications(walk, &obj, "the site");
    Some(Site {
        hco: hco?,
        name: name?,
        email,
        administrator: administrator?,
        applications: applications?,
    })
}

/// `self`, an INSZ, or (where `accounts` is allowed) an administrator account.
fn administrator(
    walk: &mut Walk<'_>,
    index: &mut Checks<'_>,
    node: &Node,
    what: &'static str,
    accounts: bool,
) -> Option<Administrator> {
    match &node.value {
        Value::Str(s) if s == "self" => Some(Administrator::Itself),
        Value::Str(_) | Value::Int(_) => insz(walk, node).map(Administrator::Person),
        Value::Map(_) if accounts => {
            let obj = walk.obj(node, what, ADMINISTRATOR_KEYS)?;
            let username = walk
                .required(&obj, "username")
                .and_then(|n| username(walk, n));
            let insz = walk.required(&obj, "insz").and_then(|n| insz(walk, n));
            let last_name = name_field(walk, &obj, "last_name");
            let first_name = name_field(walk, &obj, "first_name");
            let email = walk.required(&obj, "email").and_then(|n| email(walk, n));
            let language = language(walk, &obj);
            if let (Some(insz), Some(u), Some(n)) = (insz, username.as_ref(), obj.get("username")) {
                let check = Check::Account {
                    insz,
                    username: u.clone(),
                    place: walk.place(n),
                };
                index.ask(walk, check);
            }
            Some(Administrator::Account(AdministratorAccount {
                username: username?,
                insz: insz?,
                last_name: last_name?,
                first_name: first_name?,
                email: email?,
                language: language?,
            }))
        }
        _ => {
            let forms = if accounts {
                "`self`, an INSZ, or a mapping with username, insz, last_name, first_name, email and language"
            } else {
                "`self` or an INSZ"
            };
            let d = Diagnostic::error(
                "csam::administrator::form",
                walk.place(node),
                format!("{what} must be {forms}"),
            )
            .label(format!("{} is not an administrator", node.value.kind()))
            .help(format!("write {what} as {forms}"));
            walk.report(d);
            None
        }
    }
}

/// The applications of a capacity, subdivision or site: the default, or an explicit
/// list that must keep Heracles and eHealthBox (R5).
fn structure_applications(walk: &mut Walk<'_>, obj: &Obj<'_>, what: &str) -> Option<Applications> {
    let Some(node) = obj.get("applications") else {
        return Some(default_structure_applications());
    };
    let apps = applications(walk, node)?;
    let mut ok = true;
    for required in rules::missing_applications(rules::AppLevel::Structure, &apps) {
        ok = false;
        let d = Diagnostic::error(
            "csam::applications::r5",
            walk.place(node),
            format!("{what} must have {required} enabled"),
        )
        .label(format!("{required} missing"))
        .help(format!(
            "Heracles needs heracles and ehealthbox on the capacity, every subdivision and every site (R5); add {required}, or leave `applications` out for the default"
        ));
        walk.report(d);
    }
    ok.then_some(apps)
}

fn applications(walk: &mut Walk<'_>, node: &Node) -> Option<Applications> {
    let list = walk.list(node, "applications")?;
    let mut apps = Applications::new();
    let mut ok = true;
    for item in list {
        match walk.word::<Application>(item, "application", "csam::application::unknown") {
            Some(a) => {
                apps.insert(a);
            }
            None => ok = false,
        }
    }
    ok.then_some(apps)
}

type PersonAt = (Person, Place);

fn people(
    walk: &mut Walk<'_>,
    index: &mut Checks<'_>,
    node: Option<&Node>,
    declared: &BTreeSet<Hco>,
) -> Vec<PersonAt> {
    let mut seen: HashMap<Insz, Place> = HashMap::new();
    let mut out = Vec::new();
    let Some(node) = node else { return out };
    for item in walk.list(node, "people").unwrap_or(&[]) {
        // The duplicate check needs only the INSZ: an error elsewhere in the entry must
        // not hide it (every problem is reported in one run).
        let (id, read) = person(walk, index, item, declared);
        let Some((insz, place)) = id else { continue };
        if let Some(first) = seen.get(&insz) {
            let d = Diagnostic::error(
                "csam::person::duplicate",
                place,
                format!("person {insz} is listed twice in this capacity"),
            )
            .label("listed again here")
            .related(*first, "first listed here")
            .help("list each person once and give all their sites under `sites:`");
            walk.report(d);
            continue;
        }
        seen.insert(insz, place);
        if let Some(person) = read {
            out.push((person, place));
        }
    }
    out
}

/// A person entry: its INSZ and place when they could be read, and the person when
/// everything could.
fn person(
    walk: &mut Walk<'_>,
    index: &mut Checks<'_>,
    node: &Node,
    declared: &BTreeSet<Hco>,
) -> (Option<(Insz, Place)>, Option<Person>) {
    let Some(obj) = walk.obj(node, "a person", PERSON_KEYS) else {
        return (None, None);
    };
    let insz_node = walk.required(&obj, "insz");
    let insz = insz_node.and_then(|n| insz(walk, n));
    let place = walk.place(insz_node.unwrap_or(obj.node()));
    let person = person_fields(walk, index, obj, insz, declared);
    (insz.map(|i| (i, place)), person)
}

/// Every field of a person entry (each one checked even when another is wrong).
fn person_fields(
    walk: &mut Walk<'_>,
    index: &mut Checks<'_>,
    obj: Obj<'_>,
    insz: Option<Insz>,
    declared: &BTreeSet<Hco>,
) -> Option<Person> {
    let username_node = walk.required(&obj, "username");
    let username = username_node.and_then(|n| username(walk, n));
    if let (Some(insz), Some(u), Some(n)) = (insz, username.as_ref(), username_node) {
        let check = Check::Account {
            insz,
            username: u.clone(),
            place: walk.place(n),
        };
        index.ask(walk, check);
    }
    let last_name = name_field(walk, &obj, "last_name");
    let first_name = name_field(walk, &obj, "first_name");
    let title = optional_text(walk, &obj, "title");
    let language = language(walk, &obj);
    let local_email = obj.get("local_email").and_then(|n| email(walk, n));
    let email = walk.required(&obj, "email").and_then(|n| email(walk, n));
    let password = obj.get("password").and_then(|n| password(walk, n));
    let active = match obj.get("active") {
        Some(n) => walk.boolean(n, "active"),
        None => Some(true),
    };
    let explicit_apps = match obj.get("applications") {
        Some(n) => applications(walk, n).map(Some),
        None => Some(None),
    };
    // The R5 check runs on every function that could be read, even when another word
    // of the list is unknown.
    let (read_sites, sites_ok) = person_sites(walk, &obj, declared);
    if let Some(Some(apps)) = &explicit_apps {
        let node = obj.get("applications").unwrap_or(obj.node());
        let functions: BTreeSet<Function> = read_sites.values().flatten().copied().collect();
        for missing in rules::missing_applications(rules::AppLevel::User(&functions), apps) {
            let (message, label) = if missing == Application::Heracles {
                ("a user must have heracles enabled", "heracles missing")
            } else {
                (
                    "a physician (head radiologist or radiologist) must have ehealthbox enabled",
                    "ehealthbox missing",
                )
            };
            let d = Diagnostic::error("csam::applications::r5", walk.place(node), message)
                .label(label)
                .help(format!(
                    "add {missing}, or leave `applications` out for the default (R5)"
                ));
            walk.report(d);
        }
    }
    let sites = sites_ok.then_some(read_sites);
    let person = Person {
        insz: insz?,
        username: username?,
        details: UserDetails {
            last_name: last_name?,
            first_name: first_name?,
            title,
            language: language?,
            email: email?,
            local_email,
        },
        password,
        active: active?,
        applications: explicit_apps?,
        sites: sites?,
    };
    if person.sites.is_empty() {
        let d = Diagnostic::warning(
            "csam::person::no_site",
            walk.place(obj.node()),
            format!("person {} works at no site", person.insz),
        )
        .label("no `sites`")
        .help("users exist per site (S4.8): give the person's sites and functions under `sites:`, or remove the person");
        walk.report(d);
    }
    Some(person)
}

/// A person's sites and functions: what could be read, and whether all of it could.
fn person_sites(
    walk: &mut Walk<'_>,
    obj: &Obj<'_>,
    declared: &BTreeSet<Hco>,
) -> (BTreeMap<Hco, BTreeSet<Function>>, bool) {
    let Some(node) = obj.get("sites") else {
        return (BTreeMap::new(), true);
    };
    let entries = match &node.value {
        Value::Map(entries) => entries,
        Value::Null => return (BTreeMap::new(), true),
        _ => {
            walk.wrong_type(node, "a mapping of site HCO to functions", "sites");
            return (BTreeMap::new(), false);
        }
    };
    let mut sites = BTreeMap::new();
    let mut ok = true;
    let candidates: Vec<&str> = declared.iter().map(Hco::as_str).collect();
    for (key, value) in entries {
        let hco = hco(walk, key);
        if let Some(hco) = &hco
            && !declared.contains(hco)
        {
            ok = false;
            let mut d = Diagnostic::error(
                "csam::site::undeclared",
                walk.place(key),
                format!("site {hco} is not declared in this capacity"),
            )
            .label("no site with this HCO number");
            d = match closest_hco(hco.as_str(), &candidates) {
                Some(close) => d.help(format!(
                    "did you mean {close}? The capacity's sites are: {}",
                    candidates.join(", ")
                )),
                None if candidates.is_empty() => {
                    d.help("declare the site under a subdivision's `sites:` first")
                }
                None => d.help(format!(
                    "the capacity's sites are: {}",
                    candidates.join(", ")
                )),
            };
            walk.report(d);
        }
        let mut functions = BTreeSet::new();
        for f in walk.list(value, "functions").unwrap_or(&[]) {
            match walk.word::<Function>(f, "function", "csam::function::unknown") {
                Some(f) => {
                    functions.insert(f);
                }
                None => ok = false,
            }
        }
        if functions.is_empty() && !matches!(&value.value, Value::Seq(v) if !v.is_empty()) {
            let d = Diagnostic::warning(
                "csam::function::none",
                walk.place(value),
                "no function on this site: the user will get no Heracles access",
            )
            .help(
                "give at least one of head-radiologist, radiologist, technologist, administrative",
            );
            walk.report(d);
        }
        match hco {
            Some(h) => {
                sites.insert(h, functions);
            }
            None => ok = false,
        }
    }
    (sites, ok)
}

/// The valid site HCO numbers written under `subdivisions`, whatever else is wrong there.
fn declared_sites(walk: &Walk<'_>, subdivisions: Option<&Node>) -> BTreeSet<Hco> {
    fn entry<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
        match &node.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
    fn seq(node: Option<&Node>) -> &[Node] {
        match node.map(|n| &n.value) {
            Some(Value::Seq(items)) => items,
            _ => &[],
        }
    }
    let mut declared = BTreeSet::new();
    for subdivision in seq(subdivisions) {
        for site in seq(entry(subdivision, "sites")) {
            let written = match entry(site, "hco").map(|n| (&n.value, n)) {
                Some((Value::Str(s), _)) => s.as_str(),
                Some((Value::Int(_), n)) => walk.raw(n),
                _ => continue,
            };
            if let Ok(hco) = Hco::parse(written) {
                declared.insert(hco);
            }
        }
    }
    declared
}

/// The declared HCO number closest to a mistyped one: the same length and at most two
/// digits different, or the same digits with two neighbours swapped.
fn closest_hco<'c>(written: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .filter(|c| c.len() == written.len())
        .map(|c| (strsim::damerau_levenshtein(written, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c)
}

/// Warnings for sites with people but no active head radiologist, or with several.
fn head_radiologists(
    walk: &mut Walk<'_>,
    index: &mut Checks<'_>,
    subdivisions: &[Subdivision],
    people: &[PersonAt],
) {
    for site in subdivisions.iter().flat_map(|s| &s.sites) {
        let staffed: Vec<&PersonAt> = people
            .iter()
            .filter(|(p, _)| p.sites.contains_key(&site.hco))
            .collect();
        if staffed.is_empty() {
            continue;
        }
        let heads: Vec<&PersonAt> = staffed
            .iter()
            .copied()
            .filter(|(p, _)| {
                p.active
                    && p.sites
                        .get(&site.hco)
                        .is_some_and(|f| f.contains(&Function::HeadRadiologist))
            })
            .collect();
        match heads.as_slice() {
            [] => {
                let check = Check::NoHeadRadiologist {
                    hco: site.hco.clone(),
                    name: site.name.clone(),
                };
                index.ask(walk, check);
            }
            [_] => {}
            [first, second, ..] => {
                let d = Diagnostic::warning(
                    "csam::site::two_head_radiologists",
                    second.1,
                    format!(
                        "site {} ({}) has {} active head radiologists",
                        site.hco,
                        site.name,
                        heads.len()
                    ),
                )
                .label("another head radiologist")
                .related(first.1, "head radiologist")
                .help("a unit has one head radiologist; give the others the radiologist function");
                walk.report(d);
            }
        }
    }
}

fn ignore(walk: &mut Walk<'_>, node: &Node) -> Ignore {
    let Some(obj) = walk.obj(node, "ignore", IGNORE_KEYS) else {
        return Ignore::default();
    };
    let usernames = items(walk, obj.get("usernames"), "usernames", username);
    Ignore {
        usernames: usernames.into_iter().collect(),
    }
}

fn password(walk: &mut Walk<'_>, node: &Node) -> Option<PasswordRef> {
    if !matches!(node.value, Value::Map(_)) {
        // Whatever was written there may be a real password: never show it.
        walk.secret_spans.push((node.pos.offset, node.pos.len));
        let d = Diagnostic::error(
            "csam::password::literal",
            walk.place(node),
            "a password is written in the file",
        )
        .label("never write a password here")
        .help("write `password: { env: VARIABLE }` or `password: { file: path }`, and change this password: it is in the repository's history now");
        walk.report(d);
        return None;
    }
    let obj = walk.obj(node, "the password reference", PASSWORD_KEYS)?;
    match (obj.get("env"), obj.get("file")) {
        (Some(n), None) => {
            let name = walk.non_empty_text(n, "environment variable name")?;
            Some(PasswordRef::Env(name))
        }
        (None, Some(n)) => {
            let path = walk.non_empty_text(n, "password file path")?;
            Some(PasswordRef::File(path.into()))
        }
        _ => {
            let d = Diagnostic::error(
                "csam::password::reference",
                walk.place(node),
                "a password reference names exactly one of `env` or `file`",
            )
            .help("write `{ env: VARIABLE }` or `{ file: path }`");
            walk.report(d);
            None
        }
    }
}

fn language(walk: &mut Walk<'_>, obj: &Obj<'_>) -> Option<Language> {
    match obj.get("language") {
        Some(n) => walk.word::<Language>(n, "language", "csam::language::unknown"),
        None => Some(Language::Dutch),
    }
}

fn name_field(walk: &mut Walk<'_>, obj: &Obj<'_>, key: &'static str) -> Option<String> {
    let what = if key == "last_name" {
        "last name"
    } else {
        "first name"
    };
    walk.required(obj, key)
        .and_then(|n| walk.non_empty_text(n, what))
}

fn optional_text(walk: &mut Walk<'_>, obj: &Obj<'_>, key: &'static str) -> Option<String> {
    obj.get(key).and_then(|n| walk.non_empty_text(n, key))
}

/// An INSZ, with diagnostics that never show the full number.
pub(crate) fn insz(walk: &mut Walk<'_>, node: &Node) -> Option<Insz> {
    walk.personal_spans.push((node.pos.offset, node.pos.len));
    walk.parsed(node, "an INSZ", Insz::parse, |e, written, place| {
        let shown = super::diagnostic::mask_written_insz(written);
        match e {
            InszError::Format => Diagnostic::error(
                "csam::insz::format",
                place,
                format!("`{shown}` is not an INSZ"),
            )
            .label("not a national register number")
            .help("write the 11 digits, e.g. \"85.07.30-033.28\", \"850730 033 28\" or \"85073003328\""),
            InszError::Length(n) => Diagnostic::error(
                "csam::insz::length",
                place,
                format!("INSZ {shown} has {n} digits instead of 11"),
            )
            .label(format!("{n} digits"))
            .help("an INSZ has 11 digits: birth date (6), serial number (3), check number (2); quote it so YAML keeps leading zeros"),
            InszError::Checksum { expected_1900, expected_2000, .. } => {
                let expected = match expected_2000 {
                    Some(e2) => format!("expected check number {expected_1900:02} (born in the 1900s) or {e2:02} (born in 2000 or later)"),
                    None => format!("expected check number {expected_1900:02}"),
                };
                Diagnostic::error(
                    "csam::insz::checksum",
                    place,
                    format!("INSZ {shown} has a wrong check number"),
                )
                .label(expected)
                .help("the last two digits are 97 − (first nine digits mod 97); for people born in 2000 or later, 97 − (2 followed by the first nine digits, mod 97)")
            }
            InszError::Month(m) => Diagnostic::error(
                "csam::insz::month",
                place,
                format!("INSZ {shown} has month {m:02}, which no national register or BIS number has"),
            )
            .label("not a month")
            .help("digits 3-4 are the birth month: 00-12, or 20-32 / 40-52 for a BIS number"),
        }
    })
}

fn kbo(walk: &mut Walk<'_>, node: &Node) -> Option<Kbo> {
    walk.parsed(node, "an enterprise number", Kbo::parse, |e, written, place| {
        let (code, message, label) = match e {
            KboError::Format => ("csam::kbo::format", format!("`{written}` is not an enterprise number"), "not a KBO number".to_string()),
            KboError::Length(n) => ("csam::kbo::length", format!("enterprise number {written} has {n} digits"), "10 digits expected".to_string()),
            KboError::FirstDigit => ("csam::kbo::first_digit", format!("enterprise number {written} does not start with 0 or 1"), "starts with 0 or 1".to_string()),
            KboError::Checksum { expected, .. } => ("csam::kbo::checksum", format!("enterprise number {written} has a wrong check number"), format!("expected check number {expected:02}")),
        };
        Diagnostic::error(code, place, message)
            .label(label)
            .help("an enterprise number is written 0474.603.083 (the legacy 474.603.083 is accepted); the last two digits are 97 − (first eight digits mod 97)")
    })
}

fn hco(walk: &mut Walk<'_>, node: &Node) -> Option<Hco> {
    walk.parsed(node, "an HCO number", Hco::parse, |e, written, place| {
        let message = match e {
            HcoError::Format => format!("`{written}` is not an HCO number"),
            HcoError::Length(n) => format!("HCO number {written} has {n} digits"),
        };
        Diagnostic::error("csam::hco::format", place, message)
            .label("digits only")
            .help(format!(
                "an HCO number is written with digits only (at most {}), e.g. \"71012817\"",
                Hco::MAX_DIGITS
            ))
    })
}

fn username(walk: &mut Walk<'_>, node: &Node) -> Option<Username> {
    walk.parsed(node, "a username", Username::parse, |e, written, place| {
        let label = match e {
            UsernameError::Character(c) => format!("{c:?} is not allowed"),
            UsernameError::Length(n) => format!("{n} characters"),
        };
        Diagnostic::error(
            "csam::username::invalid",
            place,
            format!("username `{written}` breaks the username rules: {e}"),
        )
        .label(label)
        .help("a username has 8 to 30 characters, letters a-z and digits only, no spaces (S3.4)")
    })
}

fn email(walk: &mut Walk<'_>, node: &Node) -> Option<Email> {
    walk.parsed(
        node,
        "an e-mail address",
        Email::parse,
        |e, written, place| {
            let label = match e {
                EmailError::Character(c) => format!("{c:?} is not allowed"),
                EmailError::Shape => "not name@domain.tld".to_string(),
                EmailError::Length => "too long".to_string(),
            };
            Diagnostic::error(
                "csam::email::invalid",
                place,
                format!("`{written}` is not a valid e-mail address: {e}"),
            )
            .label(label)
            .help("write an address like me@hospital.be")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::{InputLimits, parse_whole};

    /// A file of `n` enterprises made from the single-unit example, with problems
    /// across enterprises (declared twice, HCO numbers reused, a second username,
    /// a shared username, sites without a head radiologist) and inside them.
    fn fleet(n: usize) -> String {
        let example = include_str!("../../examples/single-unit.yaml");
        let (_, one) = example.split_once("enterprises:\n").expect("the example");
        let mut text = String::from("version: 1\nenterprises:\n");
        for i in 0..n {
            let mut e = one.to_string();
            if i % 3 == 0 {
                e = e.replace("elsdevos", &format!("els{i}"));
            }
            if i % 4 == 0 {
                e = e.replace("koenverhaeghe", "elsdevos");
            }
            if i % 5 == 0 {
                e = e.replace("[head-radiologist]", "[radiologist]");
            }
            if i % 7 == 0 {
                e = e.replace("VANDENBERGHE", "\"\"");
            }
            if i % 2 == 0 {
                e = e.replace("71988411", &format!("7198{:04}", 1000 + i));
            }
            text.push_str(&e);
        }
        text
    }

    #[test]
    fn enterprises_side_by_side_give_the_diagnostics_of_one_walk() {
        let text = fleet(PARALLEL_ENTERPRISES + 6);
        let root = parse_whole(&text, &InputLimits::default()).expect("parses");
        let Value::Map(entries) = &root.value else {
            panic!("a mapping")
        };
        let Some((_, list)) = entries
            .iter()
            .find(|(k, _)| k.value == Value::Str("enterprises".into()))
        else {
            panic!("enterprises")
        };
        let Value::Seq(nodes) = &list.value else {
            panic!("a list")
        };
        let run = |walk_them: fn(&mut Walk<'_>, &mut StateIndex, &[Node]) -> Vec<Enterprise>| {
            let mut walk = Walk::new(0, &text);
            let mut index = StateIndex::default();
            let enterprises = walk_them(&mut walk, &mut index, nodes);
            (
                format!("{enterprises:?}"),
                format!("{:?}", walk.diagnostics),
                walk.secret_spans,
                walk.personal_spans,
                walk.diagnostics
                    .iter()
                    .map(|d| d.code)
                    .collect::<BTreeSet<_>>(),
            )
        };
        let one = run(one_by_one);
        let side = run(side_by_side);
        for code in [
            "csam::enterprise::duplicate",
            "csam::hco::duplicate",
            "csam::username::per_person",
            "csam::username::shared",
            "csam::site::no_head_radiologist",
        ] {
            assert!(one.4.contains(code), "{code} in {:?}", one.4);
        }
        assert_eq!(one, side);
    }
}
