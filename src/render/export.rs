//! `csamctl export`: a live tree ([`LiveState`]) as desired-state YAML text.
//!
//! The text is written so that it validates and `plan` on it shows no changes:
//!
//! - people are regrouped across sites: one entry per INSZ, `sites: {HCO: [functions]}`;
//! - the format's defaults are left out (structure applications `[heracles, ehealthbox]`,
//!   user applications `[heracles]` plus `ehealthbox` for physicians, language `nl`,
//!   `active: true`, administrator `self`);
//! - a header comment says where and when the tree was read, under the
//!   yaml-language-server modeline.
//!
//! What the format cannot express is not invented: users at the wrong level (R4) become
//! a comment and a warning; an enterprise without a validated main access manager gets a
//! placeholder comment and a warning (the file will not validate until it is filled in);
//! a person whose user records differ between sites is written from the first site and
//! warned about (the plan will align the other sites). Passwords never appear: the live
//! state has none, and existing accounts need none.
//!
//! The file holds full national register numbers; the command writes it with mode 0600.
//! Warnings show INSZ masked. Renderers decide nothing beyond this layout.
//!
//! May use `model` only.

use super::yaml::{quoted, scalar};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::model::{
    Applications, Function, Hco, Insz, Language, LiveAdministrator, LiveCapacity, LiveState, User,
    default_structure_applications, default_user_applications,
};

/// What the header comment says about the export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportHeader {
    /// The registry address the tree was read from (never a token).
    pub registry: String,
    /// When, as `2026-11-28T11:47:31Z`.
    pub exported_at: String,
    /// The `$schema` of the yaml-language-server modeline (a path or URL).
    pub schema: String,
    /// The csamctl version that wrote the file.
    pub tool_version: String,
}

/// The exported text and what it could not express.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    /// The desired-state YAML.
    pub text: String,
    /// One line per thing the file could not express faithfully (INSZ masked).
    pub warnings: Vec<String>,
}

/// Renders the live trees as one desired-state file.
pub fn render(live: &[LiveState], header: &ExportHeader) -> Export {
    let mut writer = Writer::new(header);
    for state in live {
        writer.enterprise(state);
    }
    writer.finish()
}

/// One desired-state file written as the live trees are read: the header, each
/// enterprise as it comes ([`Writer::enterprise`]), then [`Writer::finish`]. The text
/// only grows, by whole lines, so that it can be checked while it is written.
#[derive(Debug)]
pub struct Writer {
    text: String,
    warnings: Vec<String>,
    enterprises: usize,
}

impl Writer {
    /// The header comment, `version: 1` and `enterprises:`.
    pub fn new(header: &ExportHeader) -> Self {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# yaml-language-server: $schema={}",
            header.schema.replace('\n', " ")
        );
        let _ = writeln!(
            out,
            "# Exported by csamctl {} from {} at {}.",
            header.tool_version,
            header.registry.replace('\n', " "),
            header.exported_at
        );
        out.push_str(
            "# This file holds full national register numbers: keep it out of public places.\n\
             # Format defaults are left out. No passwords: accounts that exist need none.\n",
        );
        out.push_str("version: 1\nenterprises:");
        Writer {
            text: out,
            warnings: Vec::new(),
            enterprises: 0,
        }
    }

    /// Adds one enterprise's tree.
    pub fn enterprise(&mut self, state: &LiveState) {
        if self.enterprises == 0 {
            self.text.push('\n');
        }
        self.enterprises += 1;
        enterprise(&mut self.text, &mut self.warnings, state);
    }

    /// The text so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The complete file.
    pub fn finish(mut self) -> Export {
        if self.enterprises == 0 {
            self.text.push_str(" []\n");
        }
        Export {
            text: self.text,
            warnings: self.warnings,
        }
    }
}

fn enterprise(out: &mut String, warnings: &mut Vec<String>, state: &LiveState) {
    let e = &state.enterprise;
    let _ = writeln!(out, "  - kbo: {}", quoted(&e.kbo.to_string()));
    let _ = writeln!(out, "    name: {}", scalar(&e.name));
    match &e.main_access_manager {
        Some(m) => {
            out.push_str("    main_access_manager:\n");
            let _ = writeln!(out, "      insz: {}", quoted(&m.insz.formatted()));
            // A validated HTB may come with its INSZ only (the registry compares nothing
            // else); take the names from elsewhere in the tree, or leave a placeholder.
            let (last, first) = if m.last_name.is_empty() || m.first_name.is_empty() {
                names_in_tree(state, &m.insz).unwrap_or_default()
            } else {
                (m.last_name.clone(), m.first_name.clone())
            };
            if last.is_empty() || first.is_empty() {
                out.push_str(
                    "      # TODO: the registry holds no names for the main access manager; write them.\n      \
                     last_name: TODO\n      first_name: TODO\n",
                );
                warnings.push(format!(
                    "enterprise {}: the registry holds no names for the main access manager {}; the file says TODO",
                    e.kbo, m.insz
                ));
            } else {
                let _ = writeln!(out, "      last_name: {}", scalar(&last));
                let _ = writeln!(out, "      first_name: {}", scalar(&first));
            }
            optional(out, "      quality", m.quality.as_deref());
            optional(out, "      email", m.email.as_ref().map(|x| x.as_str()));
            optional(out, "      phone", m.phone.as_deref());
            optional(out, "      mobile", m.mobile.as_deref());
            optional(out, "      fax", m.fax.as_deref());
        }
        None => {
            out.push_str(
                "    # TODO: the registry has no validated main access manager for this\n    \
                 # enterprise; declare one (and legal_representative) before planning.\n    \
                 main_access_manager: {}\n",
            );
            warnings.push(format!(
                "enterprise {}: no validated main access manager; fill in main_access_manager before the file validates",
                e.kbo
            ));
        }
    }
    if !e.access_managers.is_empty() {
        out.push_str("    access_managers:\n");
        for a in &e.access_managers {
            let _ = writeln!(out, "      - insz: {}", quoted(&a.insz.formatted()));
            let _ = writeln!(out, "        last_name: {}", scalar(&a.last_name));
            let _ = writeln!(out, "        first_name: {}", scalar(&a.first_name));
            let _ = writeln!(out, "        email: {}", scalar(a.email.as_str()));
            if !a.domains.is_empty() {
                let _ = writeln!(out, "        domains: {}", flow(&a.domains));
            }
        }
    }
    if e.capacities.is_empty() {
        out.push_str("    capacities: []\n");
        return;
    }
    out.push_str("    capacities:\n");
    for c in &e.capacities {
        capacity(out, warnings, c);
    }
}

fn capacity(out: &mut String, warnings: &mut Vec<String>, c: &LiveCapacity) {
    let _ = writeln!(out, "      - type: {}", c.kind);
    let _ = writeln!(out, "        email: {}", scalar(c.email.as_str()));
    administrator(
        out,
        "        ",
        "local_administrator",
        &c.local_administrator,
    );
    structure_applications(out, warnings, "        ", &c.applications, "the capacity");
    if !c.active {
        warnings.push(format!(
            "capacity {}: inactive in the registry; the format has no key for that",
            c.kind
        ));
    }
    if c.subdivisions.is_empty() {
        out.push_str("        subdivisions: []\n");
    } else {
        out.push_str("        subdivisions:\n");
    }
    for s in &c.subdivisions {
        let _ = writeln!(out, "          - hco: {}", quoted(s.hco.as_str()));
        let _ = writeln!(out, "            name: {}", scalar(&s.name));
        let _ = writeln!(out, "            email: {}", scalar(s.email.as_str()));
        administrator(out, "            ", "administrator", &s.administrator);
        let what = format!("subdivision {}", s.hco);
        structure_applications(out, warnings, "            ", &s.applications, &what);
        if !s.active {
            warnings.push(format!(
                "{what}: inactive in the registry; the format has no key for that"
            ));
        }
        if s.sites.is_empty() {
            out.push_str("            sites: []\n");
            continue;
        }
        out.push_str("            sites:\n");
        for site in &s.sites {
            let _ = writeln!(out, "              - hco: {}", quoted(site.hco.as_str()));
            let _ = writeln!(out, "                name: {}", scalar(&site.name));
            optional(
                out,
                "                email",
                site.email.as_ref().map(|x| x.as_str()),
            );
            administrator(
                out,
                "                ",
                "administrator",
                &site.administrator,
            );
            let what = format!("site {}", site.hco);
            structure_applications(out, warnings, "                ", &site.applications, &what);
            if !site.active {
                warnings.push(format!(
                    "{what}: inactive in the registry; the format has no key for that"
                ));
            }
        }
    }
    people(out, warnings, c);
    wrong_level(out, warnings, c);
}

/// One person regrouped from their user records on several sites.
struct Regrouped<'a> {
    first: &'a User,
    first_site: &'a Hco,
    sites: BTreeMap<Hco, BTreeSet<Function>>,
    /// Applications per site, to tell whether one explicit list describes them all.
    applications: Vec<&'a Applications>,
}

fn people(out: &mut String, warnings: &mut Vec<String>, c: &LiveCapacity) {
    let mut order: Vec<Insz> = Vec::new();
    let mut by_person: BTreeMap<Insz, Regrouped<'_>> = BTreeMap::new();
    for site in c.subdivisions.iter().flat_map(|s| &s.sites) {
        for u in &site.users {
            match by_person.get_mut(&u.insz) {
                Some(p) => {
                    if !same_account(p.first, u) {
                        warnings.push(format!(
                            "person {} ({}): the user record on site {} differs from the one on site {}; the file keeps site {}'s, so the plan will change site {}",
                            u.insz, u.username, site.hco, p.first_site, p.first_site, site.hco
                        ));
                    }
                    p.sites.insert(site.hco.clone(), u.functions.clone());
                    p.applications.push(&u.applications);
                }
                None => {
                    order.push(u.insz);
                    by_person.insert(
                        u.insz,
                        Regrouped {
                            first: u,
                            first_site: &site.hco,
                            sites: [(site.hco.clone(), u.functions.clone())].into(),
                            applications: vec![&u.applications],
                        },
                    );
                }
            }
        }
    }
    if order.is_empty() {
        return;
    }
    out.push_str("        people:\n");
    for insz in &order {
        let Some(p) = by_person.get(insz) else {
            continue;
        };
        let u = p.first;
        let _ = writeln!(out, "          - insz: {}", quoted(&u.insz.formatted()));
        let _ = writeln!(out, "            username: {}", scalar(u.username.as_str()));
        let d = &u.details;
        let _ = writeln!(out, "            last_name: {}", scalar(&d.last_name));
        let _ = writeln!(out, "            first_name: {}", scalar(&d.first_name));
        optional(out, "            title", d.title.as_deref());
        if d.language != Language::Dutch {
            let _ = writeln!(out, "            language: {}", d.language);
        }
        let _ = writeln!(out, "            email: {}", scalar(d.email.as_str()));
        optional(
            out,
            "            local_email",
            d.local_email.as_ref().map(|x| x.as_str()),
        );
        if !u.active {
            out.push_str("            active: false\n");
        }
        person_applications(out, warnings, p);
        out.push_str("            sites:\n");
        for (hco, functions) in &p.sites {
            let names: Vec<&str> = functions.iter().map(|f| f.as_str()).collect();
            let _ = writeln!(
                out,
                "              {}: [{}]",
                quoted(hco.as_str()),
                names.join(", ")
            );
            if functions.is_empty() {
                warnings.push(format!(
                    "person {} ({}): no function on site {hco}; the user has no Heracles access there",
                    u.insz, u.username
                ));
            }
        }
    }
}

/// Writes `applications:` only when the records are not the default on every site; an
/// explicit list must hold the same on every site and satisfy R5, or it is left out (the
/// default) with a warning, because the format would refuse it.
fn person_applications(out: &mut String, warnings: &mut Vec<String>, p: &Regrouped<'_>) {
    let defaults = p
        .sites
        .values()
        .zip(&p.applications)
        .all(|(functions, apps)| default_user_applications(functions) == **apps);
    if defaults {
        return;
    }
    let first = p.applications[0];
    let functions: std::collections::BTreeSet<_> = p.sites.values().flatten().copied().collect();
    let valid = p.applications.iter().all(|a| *a == first)
        && crate::rules::missing_applications(crate::rules::AppLevel::User(&functions), first)
            .is_empty();
    if valid {
        let _ = writeln!(out, "            applications: {}", applications(first));
    } else {
        warnings.push(format!(
            "person {} ({}): applications differ per site or break R5; the file keeps the default, so the plan will change them",
            p.first.insz, p.first.username
        ));
    }
}

fn wrong_level(out: &mut String, warnings: &mut Vec<String>, c: &LiveCapacity) {
    let mut found: Vec<(String, &User)> = c
        .wrong_level_users
        .iter()
        .map(|u| ("the capacity".to_string(), u))
        .collect();
    for s in &c.subdivisions {
        found.extend(
            s.wrong_level_users
                .iter()
                .map(|u| (format!("subdivision {}", s.hco), u)),
        );
    }
    if found.is_empty() {
        return;
    }
    out.push_str(
        "        # Users at the wrong level (R4): they exist but never get Heracles access,\n        \
         # and the format cannot declare them, so `plan` will delete them:\n",
    );
    for (level, u) in found {
        let _ = writeln!(
            out,
            "        #   {} ({} {}) on {level}",
            u.username,
            one_line(&u.details.last_name),
            one_line(&u.details.first_name)
        );
        warnings.push(format!(
            "user {} ({}) is on {level}, not on a site (R4): left out of the file; `plan` will delete it",
            u.username, u.insz
        ));
    }
}

/// A person's names from wherever the tree has them (access managers, users,
/// administrator accounts).
fn names_in_tree(state: &LiveState, insz: &Insz) -> Option<(String, String)> {
    let e = &state.enterprise;
    let named = |last: &str, first: &str| {
        (!last.is_empty() && !first.is_empty()).then(|| (last.to_string(), first.to_string()))
    };
    let from_managers = e
        .access_managers
        .iter()
        .filter(|a| a.insz == *insz)
        .find_map(|a| named(&a.last_name, &a.first_name));
    let users = e.capacities.iter().flat_map(|c| {
        c.wrong_level_users
            .iter()
            .chain(c.subdivisions.iter().flat_map(|s| {
                s.wrong_level_users
                    .iter()
                    .chain(s.sites.iter().flat_map(|site| &site.users))
            }))
    });
    let from_users = || {
        users
            .filter(|u| u.insz == *insz)
            .find_map(|u| named(&u.details.last_name, &u.details.first_name))
    };
    let admins = || {
        let mut all: Vec<&LiveAdministrator> = Vec::new();
        for c in &e.capacities {
            all.push(&c.local_administrator);
            for s in &c.subdivisions {
                all.push(&s.administrator);
                all.extend(s.sites.iter().map(|site| &site.administrator));
            }
        }
        all.into_iter().find_map(|a| match a {
            LiveAdministrator::Account {
                insz: i,
                last_name,
                first_name,
                ..
            } if i == insz => named(last_name, first_name),
            _ => None,
        })
    };
    from_managers.or_else(from_users).or_else(admins)
}

/// The fields a person entry holds once for all sites.
fn same_account(a: &User, b: &User) -> bool {
    a.username == b.username && a.details == b.details && a.active == b.active
}

fn structure_applications(
    out: &mut String,
    warnings: &mut Vec<String>,
    indent: &str,
    apps: &Applications,
    what: &str,
) {
    if *apps == default_structure_applications() {
        return;
    }
    if default_structure_applications().is_subset(apps) {
        let _ = writeln!(out, "{indent}applications: {}", applications(apps));
    } else {
        warnings.push(format!(
            "{what}: applications {} break R5; the file keeps the default, so the plan will enable heracles and ehealthbox",
            applications(apps)
        ));
    }
}

fn administrator(out: &mut String, indent: &str, key: &str, a: &LiveAdministrator) {
    match a {
        LiveAdministrator::Itself => {}
        LiveAdministrator::Person { insz } => {
            let _ = writeln!(out, "{indent}{key}: {}", quoted(&insz.formatted()));
        }
        LiveAdministrator::Account {
            username,
            insz,
            last_name,
            first_name,
            email,
            language,
        } => {
            let _ = writeln!(out, "{indent}{key}:");
            let _ = writeln!(out, "{indent}  username: {}", scalar(username.as_str()));
            let _ = writeln!(out, "{indent}  insz: {}", quoted(&insz.formatted()));
            let _ = writeln!(out, "{indent}  last_name: {}", scalar(last_name));
            let _ = writeln!(out, "{indent}  first_name: {}", scalar(first_name));
            let _ = writeln!(out, "{indent}  email: {}", scalar(email.as_str()));
            if *language != Language::Dutch {
                let _ = writeln!(out, "{indent}  language: {language}");
            }
        }
    }
}

fn applications(apps: &Applications) -> String {
    let names: Vec<&str> = apps.iter().map(|a| a.as_str()).collect();
    format!("[{}]", names.join(", "))
}

fn flow(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| quoted(i)).collect();
    format!("[{}]", items.join(", "))
}

fn optional(out: &mut String, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        let _ = writeln!(out, "{key}: {}", scalar(v));
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
