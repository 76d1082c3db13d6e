//! `export` round trips: apply an example to the embedded engine, export the live tree,
//! and `plan` the exported file: no changes. Also after changes made by hand through the
//! `Registry` trait, and with a user at the wrong level (R4), which the format cannot
//! hold: it becomes a comment and a warning.

mod plan_support;

use std::path::PathBuf;

use csamctl::config::{self, InputLimits};
use csamctl::model::{
    Application, CapacityType, DesiredState, Email, Function, Hco, Insz, Kbo, Language, LiveState,
    Password, Username,
};
use csamctl::registry::{AccountPassword, Registry, User, UserDetails, UserLevel, Write};
use csamctl::render::export::{self, Export, ExportHeader};
use csamctl::render::{self, RenderOptions};
use plan_support::*;

const PLAIN: RenderOptions = RenderOptions {
    colour: false,
    show_personal_data: false,
};

fn header() -> ExportHeader {
    ExportHeader {
        registry: "file:/tmp/registry.db".into(),
        exported_at: "2026-11-28T12:00:00Z".into(),
        schema: "schemas/desired-state.schema.json".into(),
        tool_version: "0.1.0".into(),
    }
}

/// Applies an example from an empty registry; returns the fixture.
async fn applied(example_name: &str, actor: &Insz) -> (Fixture, DesiredState) {
    let fx = Fixture::examples();
    let desired = example(example_name);
    let (plan, _) = plan_as(&fx, &desired, actor).await;
    execute(&fx, &plan, actor, None)
        .await
        .unwrap_or_else(|r| panic!("the registry refused {r:?}"));
    (fx, desired)
}

async fn export_of(fx: &Fixture, actor: &Insz, kbo: &str) -> (Export, Vec<LiveState>) {
    let kbo = Kbo::parse(kbo).expect("kbo");
    let live = read_live(&*fx.as_person(actor), &[kbo]).await;
    assert_eq!(live.len(), 1, "the actor reads the enterprise");
    (export::render(&live, &header()), live)
}

/// The exported text validates without errors and plans to no changes.
async fn assert_plans_to_nothing(fx: &Fixture, actor: &Insz, exported: &Export) -> DesiredState {
    let loaded = config::load_bytes(
        &[(
            PathBuf::from("exported.yaml"),
            exported.text.as_bytes().to_vec(),
        )],
        &InputLimits::default(),
    );
    assert_eq!(
        loaded.errors(),
        0,
        "the export does not validate: {:?}\n{}",
        loaded.diagnostics,
        exported.text
    );
    let (plan, _) = plan_as(fx, &loaded.state, actor).await;
    assert!(
        plan.is_empty(),
        "the export plans to changes:\n{}\n--- export ---\n{}",
        render::text::render(&plan, &PLAIN),
        exported.text
    );
    assert!(!plan.has_errors(), "{:?}", plan.findings);
    loaded.state
}

fn email(s: &str) -> Email {
    Email::parse(s).expect("e-mail")
}

fn hco(s: &str) -> Hco {
    Hco::parse(s).expect("hco")
}

async fn by_hand(r: &dyn Registry, writes: Vec<Write>) {
    let s = r.open_session().await.expect("log in").id;
    for (i, w) in writes.iter().enumerate() {
        let key = csamctl::registry::IdempotencyKey::new(format!("by-hand-{i}-{}", w.kind()))
            .expect("key");
        // Every user these tests create is a new account: it needs its password.
        let password = matches!(w, Write::CreateUser { .. })
            .then(|| AccountPassword(Password::new(PASSWORD.into()).expect("password")));
        r.write(&s, &key, w, password.as_ref())
            .await
            .expect("write by hand");
    }
    r.close_session(&s).await.expect("log out");
}

fn new_user(insz_text: &str, username: &str, names: (&str, &str), f: Function) -> User {
    let (last, first) = names;
    User {
        insz: insz(insz_text),
        username: Username::parse(username).expect("username"),
        details: UserDetails {
            last_name: last.into(),
            first_name: first.into(),
            title: None,
            language: Language::Dutch,
            email: email(&format!(
                "{}.{}@azvlasland.example",
                first.to_lowercase(),
                last.to_lowercase()
            )),
            local_email: None,
        },
        active: true,
        applications: [Application::Heracles].into(),
        functions: [f].into(),
    }
}

#[tokio::test]
async fn multi_campus_exports_to_a_file_that_plans_to_nothing() {
    let actor = insz(VLASLAND_HTB);
    let (fx, desired) = applied("multi-campus.yaml", &actor).await;
    let (exported, live) = export_of(&fx, &actor, "0198765470").await;
    // The examples' reference data validates the HTB by INSZ only: no names to export.
    assert_eq!(exported.warnings.len(), 1, "{:?}", exported.warnings);
    assert!(exported.warnings[0].contains("no names for the main access manager"));
    assert!(exported.text.contains("last_name: TODO"));
    let text = &exported.text;
    assert!(
        text.starts_with("# yaml-language-server: $schema=schemas/desired-state.schema.json\n")
    );
    assert!(text.contains("from file:/tmp/registry.db at 2026-11-28T12:00:00Z"));
    // Defaults are left out; nobody has a password.
    assert!(!text.contains("password:"));
    assert!(!text.contains("language: nl"));
    assert!(!text.contains("active: true"));
    assert!(!text.contains("applications: [heracles, ehealthbox]"));
    // One entry per person, regrouped across sites.
    let people = live[0].enterprise.sites().flat_map(|s| &s.users).count();
    let declared = desired.people_count();
    assert!(people > declared, "someone works on several sites");
    assert_eq!(text.matches("username: sarahvermeulen").count(), 1);
    let state = assert_plans_to_nothing(&fx, &actor, &exported).await;
    assert_eq!(state.people_count(), declared);
}

#[tokio::test]
async fn single_unit_exports_to_a_file_that_plans_to_nothing() {
    let actor = insz(MANDELVALLEI_HTB);
    let (fx, desired) = applied("single-unit.yaml", &actor).await;
    let (exported, _) = export_of(&fx, &actor, "0123456749").await;
    assert!(exported.warnings.is_empty(), "{:?}", exported.warnings);
    // The legacy 9-digit form is written in the 10-digit form.
    assert!(exported.text.contains("kbo: \"0123.456.749\""));
    let state = assert_plans_to_nothing(&fx, &actor, &exported).await;
    assert_eq!(state.people_count(), desired.people_count());
}

#[tokio::test]
async fn hand_made_changes_are_exported() {
    let actor = insz(VLASLAND_HTB);
    let (fx, _) = applied("multi-campus.yaml", &actor).await;
    let r = fx.as_person(&actor);
    by_hand(
        &*r,
        vec![
            // A new person on a site, and an existing person on one more site.
            Write::CreateUser {
                level: UserLevel::Site {
                    hco: hco("71977201"),
                },
                user: new_user(
                    "85073003328",
                    "noorverbeke",
                    ("VERBEKE", "Noor"),
                    Function::Technologist,
                ),
            },
            Write::CreateUser {
                level: UserLevel::Site {
                    hco: hco("71977103"),
                },
                user: new_user(
                    "69012810031",
                    "katriendemeyere",
                    ("DEMEYERE", "Katrien"),
                    Function::Administrative,
                ),
            },
            // Another function for one person on one site.
            Write::SetFunctions {
                level: UserLevel::Site {
                    hco: hco("71977101"),
                },
                insz: insz("74092538693"),
                functions: [Function::Radiologist, Function::Administrative].into(),
            },
        ],
    )
    .await;
    let (exported, _) = export_of(&fx, &actor, "0198765470").await;
    assert_eq!(exported.warnings.len(), 1, "only the HTB's names");
    let state = assert_plans_to_nothing(&fx, &actor, &exported).await;
    let people = &state.enterprises[0].capacities[0].people;
    let noor = people
        .iter()
        .find(|p| p.username.as_str() == "noorverbeke")
        .expect("the new person is exported");
    assert_eq!(
        noor.sites.get(&hco("71977201")),
        Some(&[Function::Technologist].into())
    );
    let katrien = people
        .iter()
        .find(|p| p.username.as_str() == "katriendemeyere")
        .expect("katrien");
    assert_eq!(katrien.sites.len(), 3, "regrouped over three sites");
    let sarah = people
        .iter()
        .find(|p| p.username.as_str() == "sarahvermeulen")
        .expect("sarah");
    assert_eq!(
        sarah.sites.get(&hco("71977101")),
        Some(&[Function::Radiologist, Function::Administrative].into())
    );
}

/// A user at the wrong level cannot be declared: it is listed as a comment and a
/// warning (INSZ masked), and the plan of the export deletes it.
#[tokio::test]
async fn wrong_level_users_are_a_comment_and_a_warning() {
    let actor = insz(VLASLAND_HTB);
    let (fx, _) = applied("multi-campus.yaml", &actor).await;
    let r = fx.as_person(&actor);
    by_hand(
        &*r,
        vec![Write::CreateUser {
            level: UserLevel::Capacity {
                kbo: Kbo::parse("0198765470").expect("kbo"),
                kind: CapacityType::MammographyUnit,
            },
            user: new_user(
                "85073003328",
                "noorverbeke",
                ("VERBEKE", "Noor"),
                Function::Technologist,
            ),
        }],
    )
    .await;
    let (exported, _) = export_of(&fx, &actor, "0198765470").await;
    assert_eq!(exported.warnings.len(), 2, "{:?}", exported.warnings);
    assert!(exported.warnings[1].contains("noorverbeke"));
    assert!(exported.warnings[1].contains("**.**.**-**3.28"));
    assert!(!exported.warnings[1].contains("85.07.30"));
    assert!(
        exported
            .text
            .contains("#   noorverbeke (VERBEKE Noor) on the capacity")
    );
    let loaded = config::load_bytes(
        &[(PathBuf::from("e.yaml"), exported.text.as_bytes().to_vec())],
        &InputLimits::default(),
    );
    assert_eq!(
        loaded.errors(),
        0,
        "{:?}\n{}",
        loaded.diagnostics,
        exported.text
    );
    let (plan, _) = plan_as(&fx, &loaded.state, &actor).await;
    assert_eq!(plan.changes().count(), 1, "only the deletion");
}

/// A person whose user records differ between sites is written once, from the first
/// site, with a warning; the plan of the export then aligns the other site.
#[tokio::test]
async fn records_that_differ_between_sites_are_warned_about() {
    let actor = insz(VLASLAND_HTB);
    let (fx, _) = applied("multi-campus.yaml", &actor).await;
    let r = fx.as_person(&actor);
    by_hand(
        &*r,
        vec![Write::UpdateUser {
            level: UserLevel::Site {
                hco: hco("71977102"),
            },
            insz: insz("69012810031"),
            details: UserDetails {
                last_name: "DEMEYERE".into(),
                first_name: "Katrien".into(),
                title: None,
                language: Language::Dutch,
                email: email("k.demeyere@azvlasland.example"),
                local_email: None,
            },
        }],
    )
    .await;
    let (exported, _) = export_of(&fx, &actor, "0198765470").await;
    let differing: Vec<&String> = exported
        .warnings
        .iter()
        .filter(|w| w.contains("katriendemeyere"))
        .collect();
    assert_eq!(differing.len(), 1, "{:?}", exported.warnings);
    assert!(differing[0].contains("71977102"));
    assert!(!exported.text.contains("k.demeyere@"));
    let loaded = config::load_bytes(
        &[(PathBuf::from("e.yaml"), exported.text.as_bytes().to_vec())],
        &InputLimits::default(),
    );
    assert_eq!(loaded.errors(), 0);
    let (plan, _) = plan_as(&fx, &loaded.state, &actor).await;
    assert_eq!(plan.changes().count(), 1, "the other site is aligned");
}
