//! `runbook` on the examples from an empty registry: snapshots in Dutch and French
//! (and English and HTML once), plus checks that hold whatever the wording: one
//! log-out step per session, the 20-minute note, the coordination-centre notice,
//! checkboxes, INSZ masked, no password.

mod plan_support;

use csamctl::model::Plan;
use csamctl::render::runbook::{self, Lang, RunbookFormat, RunbookOptions};
use plan_support::*;

fn opts(lang: Lang, format: RunbookFormat) -> RunbookOptions {
    RunbookOptions {
        lang,
        format,
        show_personal_data: false,
    }
}

async fn multi_campus() -> Plan {
    let fx = Fixture::examples();
    let (plan, _) = plan_as(&fx, &example("multi-campus.yaml"), &insz(VLASLAND_HTB)).await;
    assert!(!plan.has_errors(), "{:?}", plan.findings);
    plan
}

async fn single_unit() -> Plan {
    let fx = Fixture::examples();
    let (plan, _) = plan_as(&fx, &example("single-unit.yaml"), &insz(MANDELVALLEI_HTB)).await;
    assert!(!plan.has_errors(), "{:?}", plan.findings);
    plan
}

fn sessions(plan: &Plan) -> usize {
    plan.enterprises.iter().map(|e| e.sessions().count()).sum()
}

/// The checks that do not depend on the wording's details.
fn assert_procedure(plan: &Plan, text: &str, lang: Lang) {
    let (log_out, wait, cvko) = match lang {
        Lang::Nl => (
            "U kunt na het uitloggen onmiddellijk opnieuw inloggen.",
            "wordt pas na 20 minuten van kracht",
            "CvKO",
        ),
        Lang::Fr => (
            "Vous pouvez vous reconnecter immédiatement après la déconnexion.",
            "ne prend effet qu'après 20 minutes",
            "CvKO",
        ),
        Lang::En => (
            "You can log in again immediately after logging out.",
            "takes effect only after 20 minutes",
            "CvKO",
        ),
    };
    assert_eq!(
        text.matches(log_out).count(),
        sessions(plan),
        "one log-out per session"
    );
    assert!(text.contains(wait));
    assert!(text.contains(cvko));
    let steps = text.lines().filter(|l| l.contains(". [ ] ")).count();
    let writes: usize = plan.enterprises.iter().map(|e| e.steps().count()).sum();
    assert!(
        steps >= writes + 2 * sessions(plan),
        "log-in, writes, log-out"
    );
    assert!(!text.contains(PASSWORD));
    for e in &plan.enterprises {
        for s in e.steps() {
            if let csamctl::model::Write::CreateUser { user, .. } = &s.write {
                assert!(!text.contains(&user.insz.formatted()), "INSZ masked");
                assert!(text.contains(&user.insz.masked()));
                assert!(text.contains(user.username.as_str()));
            }
        }
    }
}

#[tokio::test]
async fn multi_campus_runbook_nl_fr_en() {
    let plan = multi_campus().await;
    for (lang, name) in [(Lang::Nl, "nl"), (Lang::Fr, "fr"), (Lang::En, "en")] {
        let text = runbook::render(&plan, &opts(lang, RunbookFormat::Markdown));
        assert_procedure(&plan, &text, lang);
        insta::assert_snapshot!(format!("multi-campus-empty-{name}"), text);
    }
}

#[tokio::test]
async fn single_unit_runbook_nl_fr() {
    let plan = single_unit().await;
    for (lang, name) in [(Lang::Nl, "nl"), (Lang::Fr, "fr")] {
        let text = runbook::render(&plan, &opts(lang, RunbookFormat::Markdown));
        assert_procedure(&plan, &text, lang);
        // The designation comes first and names the address the manual gives.
        assert!(text.contains("registration@eranova.fgov.be"));
        insta::assert_snapshot!(format!("single-unit-empty-{name}"), text);
    }
}

#[tokio::test]
async fn html_runbook_has_checkboxes_and_escapes() {
    let plan = single_unit().await;
    let html = runbook::render(&plan, &opts(Lang::Nl, RunbookFormat::Html));
    assert!(html.starts_with("<!DOCTYPE html>"));
    let markdown = runbook::render(&plan, &opts(Lang::Nl, RunbookFormat::Markdown));
    assert_eq!(
        html.matches("<input type=\"checkbox\">").count(),
        markdown.matches(". [ ] ").count()
    );
    assert!(!html.contains('\u{1}') && !html.contains('\u{2}'));
    assert!(html.contains("<code>71988411</code>"));
    insta::assert_snapshot!("single-unit-empty-nl-html", html);
}

#[tokio::test]
async fn show_personal_data_shows_full_numbers() {
    let plan = single_unit().await;
    let text = runbook::render(
        &plan,
        &RunbookOptions {
            show_personal_data: true,
            ..opts(Lang::Nl, RunbookFormat::Markdown)
        },
    );
    assert!(text.contains("79.10.04-454.88"));
}

#[tokio::test]
async fn an_empty_plan_says_there_is_nothing_to_do() {
    let fx = Fixture::examples();
    let desired = example("single-unit.yaml");
    let actor = insz(MANDELVALLEI_HTB);
    let (plan, _) = plan_as(&fx, &desired, &actor).await;
    execute(&fx, &plan, &actor, None).await.expect("applied");
    let (again, _) = plan_as(&fx, &desired, &actor).await;
    let text = runbook::render(&again, &opts(Lang::Fr, RunbookFormat::Markdown));
    assert!(text.contains("Il n'y a rien à faire"));
    assert!(!text.contains("[ ]"));
}
