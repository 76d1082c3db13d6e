//! `plan` on the examples, against the real engine on a SQLite file: snapshots of the
//! text, JSON and Markdown output from an empty registry and from a partly-built one;
//! the fewest sessions; applying the plan and planning again gives no changes.

mod plan_support;

use csamctl::diff;
use csamctl::model::{
    AccessManager, CapacityType, DesiredState, Email, Hco, Insz, Kbo, Language, LiveState, Phase,
    Plan,
};
use csamctl::plan::session_lower_bound;
use csamctl::registry::{AccountPassword, Registry, User, UserDetails, UserLevel, Write};
use csamctl::render::{self, RenderOptions};
use plan_support::*;

const PLAIN: RenderOptions = RenderOptions {
    colour: false,
    show_personal_data: false,
};

struct Scenario {
    fx: Fixture,
    desired: DesiredState,
    actor: Insz,
    plan: Plan,
    live: Vec<LiveState>,
}

async fn multi_campus_empty() -> Scenario {
    let fx = Fixture::examples();
    let desired = example("multi-campus.yaml");
    let actor = insz(VLASLAND_HTB);
    let (plan, live) = plan_as(&fx, &desired, &actor).await;
    Scenario {
        fx,
        desired,
        actor,
        plan,
        live,
    }
}

async fn single_unit_empty() -> Scenario {
    let fx = Fixture::examples();
    let desired = example("single-unit.yaml");
    let actor = insz(MANDELVALLEI_HTB);
    let (plan, live) = plan_as(&fx, &desired, &actor).await;
    Scenario {
        fx,
        desired,
        actor,
        plan,
        live,
    }
}

fn email(s: &str) -> Email {
    Email::parse(s).expect("e-mail")
}

async fn by_hand(r: &dyn Registry, writes: Vec<Write>) {
    let s = r.open_session().await.expect("log in").id;
    for (i, w) in writes.iter().enumerate() {
        let key = csamctl::registry::IdempotencyKey::new(format!("by-hand-{i}-{}", w.kind()))
            .expect("key");
        // The user written by hand is a new account: it needs a password.
        let password = matches!(w, Write::CreateUser { .. }).then(|| {
            AccountPassword(csamctl::model::Password::new(PASSWORD.into()).expect("password"))
        });
        r.write(&s, &key, w, password.as_ref())
            .await
            .expect("write by hand");
    }
    r.close_session(&s).await.expect("log out");
}

/// Multi-campus after the capacity, the subdivisions and one site were made, plus what
/// people did by hand meanwhile: a site renamed, and a user on the capacity level (R4).
async fn multi_campus_partly_built() -> Scenario {
    let s = multi_campus_empty().await;
    execute(&s.fx, &s.plan, &s.actor, Some(3))
        .await
        .expect("first sessions run");
    let r = s.fx.as_person(&s.actor);
    by_hand(
        &*r,
        vec![
            Write::UpdateSite {
                hco: Hco::parse("71977101").expect("hco"),
                name: "Campus Menen".into(),
                email: Some(email("mammografie.menen@azvlasland.example")),
                administrator: csamctl::model::LiveAdministrator::Itself,
            },
            Write::CreateUser {
                level: UserLevel::Capacity {
                    kbo: Kbo::parse("0198765470").expect("kbo"),
                    kind: CapacityType::MammographyUnit,
                },
                user: User {
                    insz: insz("73022609986"),
                    username: csamctl::model::Username::parse("bartdebaene").expect("username"),
                    details: UserDetails {
                        last_name: "DEBAENE".into(),
                        first_name: "Bart".into(),
                        title: None,
                        language: Language::Dutch,
                        email: email("bart.debaene@azvlasland.example"),
                        local_email: None,
                    },
                    active: true,
                    applications: [csamctl::model::Application::Heracles].into(),
                    functions: [csamctl::model::Function::HeadRadiologist].into(),
                },
            },
        ],
    )
    .await;
    let (plan, live) = plan_as(&s.fx, &s.desired, &s.actor).await;
    Scenario { plan, live, ..s }
}

/// Single-unit after the designation was validated and the capacity activated, plus by
/// hand: another capacity e-mail and an access manager the file does not declare.
async fn single_unit_partly_built() -> Scenario {
    let s = single_unit_empty().await;
    let ran = execute(&s.fx, &s.plan, &s.actor, Some(2))
        .await
        .expect("first sessions run");
    assert_eq!(ran.gates, 1, "the designation was validated on the way");
    let kbo = Kbo::parse("0123456749").expect("kbo");
    let r = s.fx.as_person(&s.actor);
    by_hand(
        &*r,
        vec![
            Write::UpdateCapacity {
                kbo,
                kind: CapacityType::MammographyUnit,
                email: email("secretariaat@mandelvallei.example"),
                local_administrator: None,
            },
            Write::AddAccessManager {
                kbo,
                access_manager: AccessManager {
                    insz: insz("91071009018"),
                    last_name: "BOSSUYT".into(),
                    first_name: "Annelies".into(),
                    email: email("annelies.bossuyt@mandelvallei.example"),
                    domains: vec![],
                },
            },
        ],
    )
    .await;
    let (plan, live) = plan_as(&s.fx, &s.desired, &s.actor).await;
    Scenario { plan, live, ..s }
}

/// The block-level parts of a Markdown text in order, as a GFM parser sees them:
/// `heading`, `table`, `list`, `mermaid`, `code` (another fenced block), `details`.
fn block_kinds(md: &str) -> Vec<&'static str> {
    use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag};
    Parser::new_ext(md, Options::ENABLE_TABLES)
        .filter_map(|event| match event {
            Event::Start(Tag::Heading { .. }) => Some("heading"),
            Event::Start(Tag::Table(_)) => Some("table"),
            Event::Start(Tag::List(_)) => Some("list"),
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => {
                Some(if &*lang == "mermaid" {
                    "mermaid"
                } else {
                    "code"
                })
            }
            Event::Html(h) if h.contains("<details>") => Some("details"),
            _ => None,
        })
        .collect()
}

fn snapshots(name: &str, plan: &Plan) {
    insta::assert_snapshot!(format!("{name}-text"), render::text::render(plan, &PLAIN));
    insta::assert_snapshot!(format!("{name}-json"), render::json::render(plan, &PLAIN));
    let parts = render::markdown::render(plan, &PLAIN);
    assert_eq!(parts.len(), 1, "an example fits one comment");
    // The reviewer's summary comes first: the people, the diagram, then the folded diff.
    let md = &parts[0];
    let people = md.find("| name | username | INSZ | site | functions | change |");
    let diagram = md.find("```mermaid");
    let details = md.find("<details>");
    assert!(
        people < diagram && diagram < details && people.is_some(),
        "{name}: {md}"
    );
    // Read as a forge reads it (CommonMark with GFM tables): each enterprise opens with
    // the people table, and its first code block is the Mermaid diagram, before the
    // folded detailed plan.
    let kinds = block_kinds(md);
    let enterprises: Vec<usize> = (0..kinds.len())
        .filter(|&i| kinds[i] == "heading")
        .skip(1)
        .collect();
    assert_eq!(
        enterprises.len(),
        plan.enterprises.len(),
        "{name}: {kinds:?}"
    );
    for start in enterprises {
        let after = &kinds[start + 1..];
        assert_eq!(after.first(), Some(&"table"), "{name}: {kinds:?}");
        assert_eq!(
            after
                .iter()
                .find(|k| ["mermaid", "code", "details"].contains(k)),
            Some(&"mermaid"),
            "{name}: {kinds:?}"
        );
    }
    // Every counted log-out is drawn, with its reason.
    let counted = render::Counts::of_plan(plan).log_outs;
    let text = render::text::render(plan, &PLAIN);
    assert_eq!(
        text.matches("══ log out of session ").count(),
        counted,
        "{name}"
    );
    assert_eq!(
        md.matches("@@ log out of session ").count(),
        counted,
        "{name}"
    );
    assert_eq!(md.matches("-- \"log out\" -->").count(), counted, "{name}");
    insta::assert_snapshot!(format!("{name}-markdown"), parts.join("\n"));
}

fn sessions(plan: &Plan) -> Vec<usize> {
    plan.enterprises
        .iter()
        .map(|e| e.sessions().count())
        .collect()
}

/// Each enterprise's plan takes exactly the lower bound of sessions that the rules
/// force (see `plan::session_lower_bound` for the argument).
fn assert_fewest_sessions(s: &Scenario) {
    let d = diff::diff(&s.desired, &s.live);
    for (e, plan) in d.enterprises.iter().zip(&s.plan.enterprises) {
        assert_eq!(e.kbo, plan.kbo);
        assert_eq!(
            plan.sessions().count(),
            session_lower_bound(e) as usize,
            "{}: more sessions than the rules force",
            e.kbo
        );
    }
}

/// Applying the plan leaves nothing to do, and nothing was refused.
async fn assert_round_trip(s: &Scenario) {
    execute(&s.fx, &s.plan, &s.actor, None)
        .await
        .unwrap_or_else(|r| panic!("the registry refused {r:?}"));
    let (again, _) = plan_as(&s.fx, &s.desired, &s.actor).await;
    assert!(
        again.is_empty(),
        "changes left after applying:\n{}",
        render::text::render(&again, &PLAIN)
    );
    assert!(!again.has_errors(), "{:?}", again.findings);
}

#[tokio::test]
async fn multi_campus_from_an_empty_registry() {
    let s = multi_campus_empty().await;
    assert!(!s.plan.has_errors(), "{:?}", s.plan.findings);
    // Capacity, subdivisions, five sites in two rounds of at most four (the session
    // limit), users, functions: 1 + 1 + 5 + 1 + 1.
    assert_eq!(sessions(&s.plan), [9]);
    let labels: Vec<String> = s.plan.enterprises[0]
        .sessions()
        .map(|x| x.label.clone())
        .collect();
    assert_eq!(labels, ["1", "2", "3a", "3b", "3c", "3d", "4", "5", "6"]);
    assert_fewest_sessions(&s);
    snapshots("multi-campus-empty", &s.plan);
    assert_round_trip(&s).await;
}

#[tokio::test]
async fn multi_campus_from_a_partly_built_registry() {
    let s = multi_campus_partly_built().await;
    assert!(!s.plan.has_errors(), "{:?}", s.plan.findings);
    assert_fewest_sessions(&s);
    snapshots("multi-campus-partly-built", &s.plan);
    assert_round_trip(&s).await;
}

#[tokio::test]
async fn single_unit_from_an_empty_registry() {
    let s = single_unit_empty().await;
    assert!(!s.plan.has_errors(), "{:?}", s.plan.findings);
    // Designation, gate, then capacity, subdivision, site, users, functions.
    assert_eq!(sessions(&s.plan), [6]);
    let phases: Vec<&str> = s.plan.enterprises[0]
        .phases
        .iter()
        .map(|p| match p {
            Phase::Sessions { .. } => "sessions",
            Phase::Gate { .. } => "gate",
            Phase::Notices { .. } => "notices",
            Phase::Propagation { .. } => "propagation",
        })
        .collect();
    assert_eq!(
        phases,
        [
            "sessions",
            "gate",
            "sessions",
            "sessions",
            "sessions",
            "sessions",
            "sessions",
            "notices",
            "propagation"
        ]
    );
    assert_fewest_sessions(&s);
    snapshots("single-unit-empty", &s.plan);
    assert_round_trip(&s).await;
}

#[tokio::test]
async fn single_unit_from_a_partly_built_registry() {
    let s = single_unit_partly_built().await;
    assert!(!s.plan.has_errors(), "{:?}", s.plan.findings);
    assert_fewest_sessions(&s);
    snapshots("single-unit-partly-built", &s.plan);
    assert_round_trip(&s).await;
}

/// Usernames are global and kept for good (S3.4). A username held in another
/// enterprise, which the planning person cannot read, and a person who already has an
/// account there under another username, are refused by `plan` with the registry's
/// rule, before apply would meet the registry's refusal.
#[tokio::test]
async fn usernames_held_in_another_enterprise_are_refused_by_plan() {
    let s = multi_campus_empty().await;
    execute(&s.fx, &s.plan, &s.actor, None)
        .await
        .expect("multi-campus built");
    let path = format!("{}/examples/single-unit.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("example readable");
    let mandelvallei = insz(MANDELVALLEI_HTB);
    let codes = |plan: &Plan| -> Vec<String> {
        plan.findings
            .iter()
            .filter(|f| f.code.starts_with("plan::username"))
            .map(|f| f.code.to_string())
            .collect()
    };
    let (plan, _) = plan_as(&s.fx, &example("single-unit.yaml"), &mandelvallei).await;
    assert!(codes(&plan).is_empty(), "{:?}", plan.findings);
    // Koen Verhaeghe asks for a username Bart De Baene holds in AZ VLASLAND.
    let taken = desired_from_yaml(
        "single-unit.yaml",
        &text.replace("username: koenverhaeghe", "username: bartdebaene"),
    );
    let (plan, _) = plan_as(&s.fx, &taken, &mandelvallei).await;
    assert_eq!(
        codes(&plan),
        ["plan::username_taken"],
        "{:?}",
        plan.findings
    );
    // Bart De Baene himself, declared under another username, keeps his own.
    let bart = "73.02.26-099.86";
    let renamed = desired_from_yaml("single-unit.yaml", &text.replace("68.08.21-305.64", bart));
    let (plan, _) = plan_as(&s.fx, &renamed, &mandelvallei).await;
    assert_eq!(
        codes(&plan),
        ["plan::username_immutable"],
        "{:?}",
        plan.findings
    );
}
