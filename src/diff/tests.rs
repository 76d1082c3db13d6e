//! Diff unit tests, on a small desired state and the live state it would produce.

use std::path::PathBuf;

use super::*;
use crate::config::{self, InputLimits};
use crate::model::{
    Address, Application, Function, Hco, LiveCapacity, LiveEnterprise, LiveSite, LiveSubdivision,
    Severity,
};

/// One enterprise, one access manager, one subdivision with two sites, three people.
pub(crate) const SMALL: &str = r#"
version: 1
enterprises:
  - kbo: "0198.765.470"
    name: AZ VLASLAND VZW
    main_access_manager:
      insz: "82.12.09-263.12"
      last_name: VANDAMME
      first_name: Geert
      email: geert.vandamme@azvlasland.example
    access_managers:
      - insz: "69.01.28-100.31"
        last_name: DEMEYERE
        first_name: Katrien
        email: katrien.demeyere@azvlasland.example
    capacities:
      - type: mammography-unit
        email: mammografie@azvlasland.example
        local_administrator: "69.01.28-100.31"
        subdivisions:
          - hco: "71977100"
            name: AZ Vlasland Menen-Wevelgem
            email: mammografie@azvlasland.example
            sites:
              - hco: "71977101"
                name: Campus Menen
              - hco: "71977102"
                name: Campus Wevelgem
        people:
          - insz: "73.02.26-099.86"
            username: bartdebaene
            last_name: DEBAENE
            first_name: Bart
            email: bart.debaene@azvlasland.example
            password: { env: CSAM_PW_BART }
            sites:
              "71977101": [head-radiologist]
              "71977102": [head-radiologist]
          - insz: "88.03.24-776.82"
            username: lienvandaele
            last_name: VANDAELE
            first_name: Lien
            email: lien.vandaele@azvlasland.example
            password: { env: CSAM_PW_LIEN }
            sites:
              "71977101": [technologist]
          - insz: "69.01.28-100.31"
            username: katriendemeyere
            last_name: DEMEYERE
            first_name: Katrien
            email: katrien.demeyere@azvlasland.example
            password: { env: CSAM_PW_KATRIEN }
            sites:
              "71977102": [administrative]
    ignore:
      usernames: [vlaslandpacs01]
"#;

pub(crate) fn desired(yaml: &str) -> DesiredState {
    let loaded = config::load_bytes(
        &[(PathBuf::from("test.yaml"), yaml.as_bytes().to_vec())],
        &InputLimits::default(),
    );
    assert_eq!(loaded.errors(), 0, "{:?}", loaded.diagnostics);
    loaded.state
}

pub(crate) fn insz(s: &str) -> Insz {
    Insz::parse(s).expect("valid INSZ")
}

pub(crate) fn hco(s: &str) -> Hco {
    Hco::parse(s).expect("valid HCO")
}

/// The live state the registry would hold once `desired` is applied.
pub(crate) fn applied(desired: &DesiredState) -> Vec<LiveState> {
    desired
        .enterprises
        .iter()
        .map(|e| {
            let capacities = e
                .capacities
                .iter()
                .map(|c| LiveCapacity {
                    kind: c.kind,
                    email: c.email.clone(),
                    local_administrator: administrator(&c.local_administrator),
                    applications: c.applications.clone(),
                    active: true,
                    wrong_level_users: vec![],
                    subdivisions: c
                        .subdivisions
                        .iter()
                        .map(|s| LiveSubdivision {
                            hco: s.hco.clone(),
                            name: s.name.clone(),
                            email: s.email.clone(),
                            administrator: administrator(&s.administrator),
                            applications: s.applications.clone(),
                            active: true,
                            wrong_level_users: vec![],
                            sites: s
                                .sites
                                .iter()
                                .map(|site| LiveSite {
                                    hco: site.hco.clone(),
                                    name: site.name.clone(),
                                    email: site.email.clone(),
                                    administrator: administrator(&site.administrator),
                                    applications: site.applications.clone(),
                                    active: true,
                                    users: c
                                        .people
                                        .iter()
                                        .filter_map(|p| {
                                            let f = p.sites.get(&site.hco)?;
                                            Some(User {
                                                insz: p.insz,
                                                username: p.username.clone(),
                                                details: p.details.clone(),
                                                active: p.active,
                                                applications: p.applications_on(f),
                                                functions: f.clone(),
                                            })
                                        })
                                        .collect(),
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect();
            LiveState {
                version: 7,
                enterprise: LiveEnterprise {
                    kbo: e.kbo,
                    name: e.name.clone(),
                    address: Address::default(),
                    htb_status: HtbStatus::Validated,
                    main_access_manager: Some(e.main_access_manager.clone()),
                    access_managers: e.access_managers.clone(),
                    capacities,
                    unreadable_users: Vec::new(),
                },
                recognised_units: None,
            }
        })
        .collect()
}

fn site_mut<'a>(live: &'a mut [LiveState], h: &str) -> &'a mut LiveSite {
    live[0].enterprise.capacities[0]
        .subdivisions
        .iter_mut()
        .flat_map(|s| s.sites.iter_mut())
        .find(|s| s.hco.as_str() == h)
        .expect("site")
}

fn kinds(d: &Diff) -> Vec<(ChangeKind, String)> {
    d.changes()
        .map(|c| (c.kind, crate::plan::object_words(&c.object, c.username())))
        .collect()
}

#[test]
fn applied_state_has_no_changes() {
    let want = desired(SMALL);
    let d = diff(&want, &applied(&want));
    assert_eq!(kinds(&d), vec![]);
    assert!(d.findings.is_empty(), "{:?}", d.findings);
}

#[test]
fn from_nothing_people_become_one_user_per_site_with_default_applications() {
    let want = desired(SMALL);
    let mut live = applied(&want);
    live[0].enterprise.capacities.clear();
    live[0].enterprise.access_managers.clear();
    let d = diff(&want, &live);
    let users: Vec<&Change> = d
        .changes()
        .filter(|c| matches!(c.object, Object::User { .. }))
        .collect();
    assert_eq!(users.len(), 4, "bart on two sites, lien and katrien on one");
    let bart: Vec<&UserValue> = users
        .iter()
        .filter_map(|c| match &c.after {
            Some(ObjectValue::User(u)) if u.username.as_str() == "bartdebaene" => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(bart.len(), 2);
    // A physician gets eHealthBox by default (R5); a technologist does not.
    assert!(bart[0].applications.contains(&Application::EHealthBox));
    let lien = users
        .iter()
        .find_map(|c| match &c.after {
            Some(ObjectValue::User(u)) if u.username.as_str() == "lienvandaele" => Some(u),
            _ => None,
        })
        .expect("lien");
    assert_eq!(lien.applications, [Application::Heracles].into());
    assert!(d.changes().all(|c| c.kind == ChangeKind::Create));
    // Tree order: managers, capacity, subdivision, sites, users by site then username.
    let order: Vec<String> = kinds(&d).into_iter().map(|(_, w)| w).collect();
    assert_eq!(order[0], "access manager **.**.**-**0.31");
    assert_eq!(order[1], "capacity mammography-unit");
    assert_eq!(order[2], "subdivision 71977100");
    assert_eq!(order[5], "user bartdebaene on site 71977101");
    assert_eq!(order[6], "user lienvandaele on site 71977101");
}

#[test]
fn field_changes_are_updates_with_the_fields_that_differ() {
    let want = desired(SMALL);
    let mut live = applied(&want);
    site_mut(&mut live, "71977101").name = "Campus Menen Oud".into();
    site_mut(&mut live, "71977102").users[0].functions = [Function::Radiologist].into();
    let d = diff(&want, &live);
    let changes: Vec<&Change> = d.changes().collect();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].kind, ChangeKind::Update);
    assert_eq!(changes[0].fields.len(), 1);
    assert_eq!(changes[0].fields[0].field, "name");
    assert_eq!(
        changes[0].fields[0].before,
        FieldValue::Text("Campus Menen Oud".into())
    );
    assert_eq!(changes[1].kind, ChangeKind::Update);
    assert_eq!(changes[1].fields[0].field, "functions");
}

#[test]
fn leftovers_and_wrong_level_users_are_deletions_but_ignored_accounts_are_not() {
    let want = desired(SMALL);
    let mut live = applied(&want);
    let stranger = User {
        insz: insz("76.12.23-931.59"),
        username: Username::parse("wimcallens").expect("username"),
        ..site_mut(&mut live, "71977101").users[0].clone()
    };
    let pacs = User {
        insz: insz("72.03.15-487.14"),
        username: Username::parse("vlaslandpacs01").expect("username"),
        ..stranger.clone()
    };
    site_mut(&mut live, "71977101").users.push(stranger.clone());
    site_mut(&mut live, "71977101").users.push(pacs.clone());
    live[0].enterprise.capacities[0]
        .wrong_level_users
        .push(stranger.clone());
    live[0].enterprise.capacities[0].subdivisions[0]
        .wrong_level_users
        .push(pacs);
    let d = diff(&want, &live);
    let got: Vec<(ChangeKind, Option<Cause>, String)> = d
        .changes()
        .map(|c| {
            (
                c.kind,
                c.cause,
                crate::plan::object_words(&c.object, c.username()),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                ChangeKind::Delete,
                Some(Cause::WrongLevel),
                "user wimcallens on capacity mammography-unit".to_string()
            ),
            (
                ChangeKind::Delete,
                Some(Cause::NotDeclared),
                "user wimcallens on site 71977101".to_string()
            ),
        ]
    );
}

#[test]
fn a_username_change_is_a_replacement_the_planner_refuses() {
    let want = desired(SMALL);
    let mut live = applied(&want);
    for h in ["71977101", "71977102"] {
        for u in &mut site_mut(&mut live, h).users {
            if u.username.as_str() == "bartdebaene" {
                u.username = Username::parse("bdebaene01").expect("username");
            }
        }
    }
    let d = diff(&want, &live);
    assert_eq!(d.changes().count(), 2);
    assert!(
        d.changes()
            .all(|c| c.kind == ChangeKind::Replace && c.cause == Some(Cause::UsernameChanged))
    );
    // The registry cannot rename an account (S3.4): the planner refuses, once.
    let plan = crate::plan::plan_diff(
        d,
        &live,
        &Default::default(),
        None,
        &Default::default(),
        String::new(),
    );
    let errors: Vec<&str> = plan
        .findings
        .iter()
        .filter(|f| f.severity == crate::model::Severity::Error)
        .map(|f| f.code.as_str())
        .collect();
    assert_eq!(
        errors, ["plan::username_immutable"; 2],
        "{:?}",
        plan.findings
    );
}

#[test]
fn a_kbo_name_that_differs_is_a_warning_and_nothing_else() {
    let want = desired(SMALL);
    let mut live = applied(&want);
    live[0].enterprise.name = "AZ VLASLAND".into();
    let d = diff(&want, &live);
    assert_eq!(d.changes().count(), 0);
    assert_eq!(d.findings.len(), 1);
    assert_eq!(d.findings[0].code, "diff::kbo_name");
    assert_eq!(d.findings[0].severity, Severity::Warning);
    // Case and spacing do not count.
    live[0].enterprise.name = " az  vlasland vzw".into();
    assert!(diff(&want, &live).findings.is_empty());
}

#[test]
fn undeclared_enterprises_and_capacities_are_never_touched() {
    let want = desired(SMALL);
    let mut live = applied(&want);
    // An enterprise the file does not declare, with a different tree.
    let mut other = live[0].clone();
    other.enterprise.kbo = Kbo::parse("0187654319").expect("kbo");
    other.enterprise.capacities[0].subdivisions.clear();
    live.push(other);
    assert_eq!(diff(&want, &live).changes().count(), 0);
    // The file declares no capacity: the registry's is left with all it holds.
    let mut bare = want.clone();
    bare.enterprises[0].capacities.clear();
    let d = diff(&bare, &live);
    assert_eq!(d.changes().count(), 0);
    assert_eq!(d.findings[0].code, "diff::capacity_not_declared");
}

#[test]
fn designation_when_no_htb_and_nothing_while_pending() {
    let yaml = SMALL.replace(
        "    access_managers:",
        "    legal_representative:\n      insz: \"78.06.20-050.60\"\n      last_name: DECONINCK\n      first_name: Marleen\n    access_managers:",
    );
    let want = desired(&yaml);
    let mut live = applied(&want);
    live[0].enterprise.htb_status = HtbStatus::None;
    live[0].enterprise.main_access_manager = None;
    let d = diff(&want, &live);
    let first = d.changes().next().expect("a change");
    assert_eq!(first.kind, ChangeKind::Create);
    assert!(matches!(first.object, Object::MainAccessManager { .. }));
    live[0].enterprise.htb_status = HtbStatus::Pending {
        ticket: "3Y0-000ZRF5-00-J".into(),
    };
    assert_eq!(diff(&want, &live).changes().count(), 0);
    // Without a legal representative the designation cannot be requested.
    let d = diff(
        &desired(SMALL),
        &[LiveState {
            enterprise: LiveEnterprise {
                htb_status: HtbStatus::None,
                main_access_manager: None,
                ..live[0].enterprise.clone()
            },
            ..live[0].clone()
        }],
    );
    assert!(
        d.findings.iter().any(
            |f| f.code == "diff::legal_representative_missing" && f.severity == Severity::Error
        )
    );
}

#[test]
fn an_enterprise_nobody_may_read_is_planned_as_unregistered() {
    let want = desired(SMALL);
    let d = diff(&want, &[]);
    assert!(!d.enterprises[0].readable);
    assert_eq!(d.findings[0].code, "diff::not_readable");
    assert!(d.changes().all(|c| c.kind == ChangeKind::Create));
}

#[test]
fn drift_names_what_appeared_disappeared_and_changed() {
    let want = desired(SMALL);
    let before = applied(&want).remove(0);
    let mut after = before.clone();
    after.version += 1;
    let site = after.enterprise.capacities[0].subdivisions[0]
        .sites
        .iter_mut()
        .find(|s| s.hco == hco("71977101"))
        .expect("site");
    site.name = "Campus Menen Nieuw".into();
    let gone = site.users.remove(0);
    let d = drift(&before, &after);
    let got: Vec<(ChangeKind, String)> = d
        .iter()
        .map(|c| (c.kind, crate::plan::object_words(&c.object, c.username())))
        .collect();
    assert_eq!(
        got,
        vec![
            (ChangeKind::Update, "site 71977101".to_string()),
            (
                ChangeKind::Delete,
                format!("user {} on site 71977101", gone.username)
            ),
        ]
    );
}

/// A site administrator's snapshot leaves out the other site's users and says so: the
/// users declared there are neither created nor deleted, and a warning names the site.
#[test]
fn users_the_reader_may_not_read_are_left_alone() {
    let want = desired(SMALL);
    let mut live = applied(&want);
    // What a reader without authority over 71977102 gets: no users there, and the
    // level listed as unreadable.
    site_mut(&mut live, "71977102").users.clear();
    live[0].enterprise.unreadable_users = vec![UserLevel::Site {
        hco: Hco::parse("71977102").expect("hco"),
    }];
    // A change on the readable site is still planned.
    site_mut(&mut live, "71977101").users.pop();
    let d = diff(&want, &live);
    let changes = kinds(&d);
    assert!(
        changes.iter().all(|(_, what)| !what.contains("71977102")),
        "{changes:?}"
    );
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].0, ChangeKind::Create);
    let warning = d
        .findings
        .iter()
        .find(|f| f.code == "diff::users_not_readable")
        .expect("a warning");
    assert_eq!(warning.severity, Severity::Warning);
    assert!(
        warning.message.contains("71977102 (2 declared)"),
        "{}",
        warning.message
    );
}
