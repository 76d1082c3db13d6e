//! Planner unit tests: the session order, authority, estimates and digests.

use super::*;
use crate::diff::tests::{SMALL, applied, desired, hco, insz};
use crate::model::{AccessManager, LiveSite, User, Username};

const HTB: &str = "82.12.09-263.12";
const AM: &str = "69.01.28-100.31";

fn limits(k: u32) -> PlanLimits {
    PlanLimits {
        sessions_per_person: k,
        ..PlanLimits::default()
    }
}

/// The live state with the tree emptied (the HTB validated, nothing else).
fn empty_tree(want: &DesiredState) -> Vec<LiveState> {
    let mut live = applied(want);
    live[0].enterprise.capacities.clear();
    live[0].enterprise.access_managers.clear();
    live
}

/// Each session as its write kinds.
fn shape(plan: &Plan) -> Vec<(String, Vec<&'static str>)> {
    plan.enterprises[0]
        .sessions()
        .map(|s| {
            let mut kinds: Vec<&str> = s.steps.iter().map(|st| st.write.kind()).collect();
            kinds.dedup();
            (s.label.clone(), kinds)
        })
        .collect()
}

#[test]
fn from_nothing_the_order_follows_the_manual() {
    let want = desired(SMALL);
    let live = empty_tree(&want);
    let p = plan(
        &want,
        &live,
        &Default::default(),
        Some(insz(HTB)),
        &limits(4),
    );
    assert!(!p.has_errors(), "{:?}", p.findings);
    assert_eq!(
        shape(&p),
        vec![
            ("1".into(), vec!["add_access_manager", "activate_capacity"]),
            ("2".into(), vec!["create_subdivision"]),
            ("3a".into(), vec!["create_site"]),
            ("3b".into(), vec!["create_site"]),
            ("4".into(), vec!["create_user"]),
            ("5".into(), vec!["set_functions"]),
        ]
    );
    let d = diff::diff(&want, &live);
    assert_eq!(session_lower_bound(&d.enterprises[0]), 6);
    // Users are created without functions; the functions follow (S4.9).
    for step in p.enterprises[0].steps() {
        if let Write::CreateUser { user, .. } = &step.write {
            assert!(user.functions.is_empty());
            assert!(
                step.password.is_some(),
                "new accounts carry their password reference"
            );
        }
    }
    // R9 for both sites' head radiologist, then R6.
    let tail: Vec<&Phase> = p.enterprises[0].phases.iter().rev().take(2).collect();
    assert!(matches!(tail[0], Phase::Propagation { wait_ms: 1_200_000 }));
    assert!(matches!(tail[1], Phase::Notices { notices } if notices.len() == 2));
}

#[test]
fn one_session_per_person_makes_the_sites_sequential() {
    let want = desired(SMALL);
    let p = plan(
        &want,
        &empty_tree(&want),
        &Default::default(),
        Some(insz(HTB)),
        &limits(1),
    );
    let labels: Vec<String> = shape(&p).into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, ["1", "2", "3", "4", "5", "6"]);
    let sessions_per_phase: Vec<usize> = p.enterprises[0]
        .phases
        .iter()
        .filter_map(|ph| match ph {
            Phase::Sessions { sessions } => Some(sessions.len()),
            _ => None,
        })
        .collect();
    assert!(sessions_per_phase.iter().all(|n| *n == 1));
}

#[test]
fn a_site_without_new_users_carries_the_users_session() {
    // A third site without people: created last and alone, with the users after it,
    // which saves the separate users' session.
    let yaml = SMALL.replace(
        "              - hco: \"71977102\"\n                name: Campus Wevelgem\n",
        "              - hco: \"71977102\"\n                name: Campus Wevelgem\n              - hco: \"71977103\"\n                name: Campus Wervik\n",
    );
    let want = desired(&yaml);
    let live = empty_tree(&want);
    let p = plan(
        &want,
        &live,
        &Default::default(),
        Some(insz(HTB)),
        &limits(4),
    );
    assert_eq!(
        shape(&p),
        vec![
            ("1".into(), vec!["add_access_manager", "activate_capacity"]),
            ("2".into(), vec!["create_subdivision"]),
            ("3a".into(), vec!["create_site"]),
            ("3b".into(), vec!["create_site"]),
            ("4".into(), vec!["create_site", "create_user"]),
            ("5".into(), vec!["set_functions"]),
        ]
    );
    let d = diff::diff(&want, &live);
    assert_eq!(session_lower_bound(&d.enterprises[0]), 6);
}

#[test]
fn existing_structure_lets_users_start_at_once() {
    let want = desired(SMALL);
    let mut live = applied(&want);
    for site in live[0].enterprise.capacities[0].subdivisions[0]
        .sites
        .iter_mut()
    {
        site.users.clear();
    }
    let p = plan(
        &want,
        &live,
        &Default::default(),
        Some(insz(HTB)),
        &limits(4),
    );
    assert_eq!(
        shape(&p),
        vec![
            ("1".into(), vec!["create_user"]),
            ("2".into(), vec!["set_functions"]),
        ]
    );
    let d = diff::diff(&want, &live);
    assert_eq!(session_lower_bound(&d.enterprises[0]), 2);
}

#[test]
fn deletions_children_first_wrong_level_first_leftovers_last() {
    let want = desired(SMALL);
    let mut live = applied(&want);
    let sub = &mut live[0].enterprise.capacities[0].subdivisions[0];
    let template: User = sub.sites[0].users[0].clone();
    let stranger = User {
        insz: insz("76.12.23-931.59"),
        username: Username::parse("wimcallens").expect("username"),
        ..template
    };
    sub.wrong_level_users.push(stranger.clone());
    let old_site = LiveSite {
        hco: hco("71977109"),
        users: vec![stranger],
        ..sub.sites[0].clone()
    };
    sub.sites.push(old_site);
    // And a new user, so that there is more than one round.
    sub.sites[0]
        .users
        .retain(|u| u.username.as_str() != "lienvandaele");
    let p = plan(
        &want,
        &live,
        &Default::default(),
        Some(insz(HTB)),
        &limits(4),
    );
    assert_eq!(
        shape(&p),
        vec![
            ("1".into(), vec!["delete_user", "create_user"]),
            (
                "2".into(),
                vec!["set_functions", "delete_user", "delete_site"]
            ),
        ]
    );
    let first = &p.enterprises[0].sessions().next().expect("session").steps[0];
    assert!(matches!(
        &first.write,
        Write::DeleteUser {
            level: UserLevel::Subdivision { .. },
            ..
        }
    ));
}

#[test]
fn a_moved_site_is_deleted_and_created_in_one_session_with_its_users_after() {
    let want = desired(SMALL);
    let mut live = applied(&want);
    // The registry has site 71977102 under another subdivision.
    let cap = &mut live[0].enterprise.capacities[0];
    let moved = cap.subdivisions[0].sites.remove(1);
    let mut other = cap.subdivisions[0].clone();
    other.hco = hco("71977200");
    other.sites = vec![moved];
    cap.subdivisions.push(other);
    let p = plan(
        &want,
        &live,
        &Default::default(),
        Some(insz(HTB)),
        &limits(4),
    );
    let s = shape(&p);
    assert_eq!(
        s[0].1,
        ["delete_user", "delete_site", "create_site"],
        "the site's users, the site, then the site again"
    );
    assert_eq!(s[1].1, ["create_user"]);
    assert_eq!(s[2].1, ["set_functions", "delete_subdivision"]);
}

#[test]
fn changes_outside_the_actors_authority_are_errors() {
    let want = desired(SMALL);
    let live = empty_tree(&want);
    // Katrien is not an access manager yet: nothing is hers to do.
    let p = plan(
        &want,
        &live,
        &Default::default(),
        Some(insz(AM)),
        &limits(4),
    );
    let errors = p
        .findings
        .iter()
        .filter(|f| f.severity == crate::model::Severity::Error)
        .count();
    assert_eq!(errors, p.enterprises[0].changes.len());
    // As an access manager she may do everything but change access managers.
    let mut live = applied(&want);
    live[0].enterprise.access_managers.clear();
    live[0].enterprise.access_managers.push(AccessManager {
        insz: insz(AM),
        last_name: "DEMEYERE".into(),
        first_name: "Katrien".into(),
        email: crate::model::Email::parse("k@azvlasland.example").expect("email"),
        domains: vec![],
    });
    let p = plan(
        &want,
        &live,
        &Default::default(),
        Some(insz(AM)),
        &limits(4),
    );
    let codes: Vec<&str> = p.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(
        codes,
        ["plan::not_authorised"],
        "only the HTB changes access managers"
    );
    // A stranger may do nothing.
    let p = plan(
        &want,
        &empty_tree(&want),
        &Default::default(),
        Some(insz("76.12.23-931.59")),
        &limits(4),
    );
    let refused = p
        .findings
        .iter()
        .filter(|f| f.code == "plan::not_authorised")
        .count();
    assert_eq!(refused, p.enterprises[0].changes.len());
    // Without an actor nothing is checked, and the plan says so.
    let p = plan(
        &want,
        &empty_tree(&want),
        &Default::default(),
        None,
        &limits(4),
    );
    assert_eq!(p.findings[0].code, "plan::actor_unknown");
    assert!(!p.has_errors());
}

#[test]
fn an_applied_state_plans_nothing() {
    let want = desired(SMALL);
    let p = plan(
        &want,
        &applied(&want),
        &Default::default(),
        Some(insz(HTB)),
        &limits(4),
    );
    assert!(p.is_empty());
    assert!(p.enterprises.is_empty());
    assert_eq!(p.estimate, Estimate::default());
}

#[test]
fn the_estimate_is_the_critical_path() {
    let want = desired(SMALL);
    let l = PlanLimits {
        processing_delay_ms: 10_000,
        request_ms: 1_000,
        ..limits(4)
    };
    let p = plan(
        &want,
        &empty_tree(&want),
        &Default::default(),
        Some(insz(HTB)),
        &l,
    );
    let e = &p.enterprises[0].estimate;
    assert_eq!(e.chain_sessions, 5, "the parallel site sessions count once");
    assert_eq!(e.barriers, 5);
    // Per round one session's log-in, one batch of writes and log-out.
    assert_eq!(e.requests, 5 * 3);
    assert_eq!(e.ready_ms, 15 * 1_000 + 5 * 10_000 + 20 * 60 * 1_000);
    assert_eq!(e.apply_ms, 15 * 1_000 + 5 * 10_000);
    assert_eq!(p.estimate, *e);
    // Every session's requests (log-in and log-out included) over all rounds.
    let sessions = p.enterprises[0].sessions().count() as u64;
    assert!(sessions > 5, "a round has parallel sessions");
    assert_eq!(e.session_requests, sessions * 3);
    // With one session open at a time and no processing to wait for, every session's
    // requests one after another.
    let no_wait = plan(
        &want,
        &empty_tree(&want),
        &Default::default(),
        Some(insz(HTB)),
        &PlanLimits {
            processing_delay_ms: 0,
            ..l.clone()
        },
    );
    assert_eq!(apply_bound_ms(&no_wait, 1), sessions * 3 * 1_000);
    // With room for every session side by side, the critical path is the bound.
    assert_eq!(apply_bound_ms(&no_wait, 64), 5 * 3 * 1_000);
}

#[test]
fn a_session_sends_its_writes_in_batches_of_500() {
    let want = desired(SMALL);
    let p = plan(
        &want,
        &empty_tree(&want),
        &Default::default(),
        Some(insz(HTB)),
        &limits(4),
    );
    let step = p.enterprises[0].steps().next().expect("a step").clone();
    let session = |writes: usize| crate::model::Session {
        label: "1".into(),
        purpose: "test".into(),
        steps: vec![step.clone(); writes],
    };
    assert_eq!(session(0).requests(), 2);
    assert_eq!(session(1).requests(), 3);
    assert_eq!(session(500).requests(), 3);
    assert_eq!(session(501).requests(), 4);
    assert_eq!(session(1_500).requests(), 5);
}

#[test]
fn the_plan_bound_counts_the_person_session_limit() {
    let want = desired(SMALL);
    let l = PlanLimits {
        processing_delay_ms: 0,
        request_ms: 1_000,
        ..limits(1)
    };
    let p = plan(
        &want,
        &empty_tree(&want),
        &Default::default(),
        Some(insz(HTB)),
        &l,
    );
    // One open session at a time: every session's requests, one after another, which
    // is longer than the critical path as soon as a round has two sessions.
    let all = p.estimate.session_requests * 1_000;
    assert_eq!(p.estimate.apply_ms, all);
    let critical = u64::from(p.enterprises[0].estimate.requests) * 1_000;
    assert!(all >= critical);
}

#[test]
fn a_round_of_many_sessions_waits_for_fewer_places() {
    let want = desired(SMALL);
    let l = PlanLimits {
        processing_delay_ms: 10_000,
        request_ms: 1_000,
        ..limits(4)
    };
    let p = plan(
        &want,
        &empty_tree(&want),
        &Default::default(),
        Some(insz(HTB)),
        &l,
    );
    let rounds: Vec<usize> = p.enterprises[0]
        .phases
        .iter()
        .filter_map(|ph| match ph {
            Phase::Sessions { sessions } => Some(sessions.len()),
            _ => None,
        })
        .collect();
    assert_eq!(rounds, [1, 1, 2, 1, 1], "one session per site in round 3");
    let round = 3 * 1_000 + 10_000;
    assert_eq!(p.estimate.apply_ms, 5 * round);
    // One session open at a time (--parallelism 1): the two site sessions (3 requests
    // each) one after another, after two rounds and before the processing and two more
    // rounds; two at a time, the critical path again.
    assert_eq!(
        apply_bound_ms(&p, 1),
        2 * round + 6_000 + 10_000 + 2 * round
    );
    assert_eq!(apply_bound_ms(&p, 2), 5 * round);
}

#[test]
fn step_ids_are_stable_unique_and_name_nobody() {
    let want = desired(SMALL);
    let live = empty_tree(&want);
    let a = plan(
        &want,
        &live,
        &Default::default(),
        Some(insz(HTB)),
        &limits(4),
    );
    let b = plan(
        &want,
        &live,
        &Default::default(),
        Some(insz(HTB)),
        &limits(4),
    );
    let ids =
        |p: &Plan| -> Vec<StepId> { p.enterprises[0].steps().map(|s| s.id.clone()).collect() };
    assert_eq!(ids(&a), ids(&b), "the same inputs, the same ids");
    assert_eq!(a.id, b.id);
    let unique: BTreeSet<StepId> = ids(&a).into_iter().collect();
    assert_eq!(unique.len(), a.enterprises[0].steps().count());
    assert_eq!(ids(&a)[0].0, "0198765470:1:1");
    assert!(
        ids(&a)
            .iter()
            .all(|id| !id.0.contains("82120926312") && !id.0.contains("73022609986"))
    );
    // Another live state is another plan.
    let c = plan(
        &want,
        &applied(&want)[..0],
        &Default::default(),
        Some(insz(HTB)),
        &limits(4),
    );
    assert_ne!(a.id, c.id);
}

#[test]
fn saved_plans_detect_drift() {
    let want = desired(SMALL);
    let live = empty_tree(&want);
    let p = plan(
        &want,
        &live,
        &Default::default(),
        Some(insz(HTB)),
        &limits(4),
    );
    let saved = fingerprint::save(&p, &want, &live);
    assert_eq!(saved.live.len(), 1);
    assert!(fingerprint::check_fresh(&saved, &live).is_ok());
    let mut moved = live.clone();
    moved[0].version += 1;
    moved[0].enterprise.access_managers.push(AccessManager {
        insz: insz(AM),
        last_name: "DEMEYERE".into(),
        first_name: "Katrien".into(),
        email: crate::model::Email::parse("k@azvlasland.example").expect("email"),
        domains: vec![],
    });
    match fingerprint::check_fresh(&saved, &moved) {
        Err(fingerprint::Stale::LiveChanged(drifts)) => {
            assert_eq!(drifts.len(), 1);
            assert_eq!(drifts[0].changes.len(), 1);
            assert_eq!(drifts[0].changes[0].kind, ChangeKind::Create);
            assert_eq!(drifts[0].saved.version, Some(7));
            assert_eq!(drifts[0].now.version, Some(8));
        }
        other => panic!("expected drift, got {other:?}"),
    }
    // Not readable any more is a change too.
    assert!(fingerprint::check_fresh(&saved, &[]).is_err());
    // The saved plan round-trips through JSON and holds no password.
    let json = serde_json::to_string(&saved).expect("json");
    let back: crate::model::SavedPlan = serde_json::from_str(&json).expect("back");
    assert_eq!(back, saved);
    assert!(
        json.contains("CSAM_PW_BART"),
        "the reference, for apply time"
    );
}

/// Regression: a site without new users can either fill the first round or carry the
/// users' session, not both; the lower bound counts that (found by the property test).
#[test]
fn a_site_without_users_fills_one_gap_only() {
    let yaml = SMALL
        .replace(
            "              - hco: \"71977102\"\n                name: Campus Wevelgem\n",
            "              - hco: \"71977102\"\n                name: Campus Wevelgem\n              - hco: \"71977103\"\n                name: Campus Wervik\n          - hco: \"71977200\"\n            name: AZ Vlasland Wervik\n            email: mammografie@azvlasland.example\n            sites:\n              - hco: \"71977201\"\n                name: Campus Wervik Oost\n",
        )
        .replace("              \"71977101\": [technologist]\n", "              \"71977201\": [technologist]\n");
    let want = desired(&yaml);
    let mut live = applied(&desired(SMALL));
    for site in live[0].enterprise.capacities[0].subdivisions[0]
        .sites
        .iter_mut()
    {
        site.users.retain(|u| u.username.as_str() != "lienvandaele");
    }
    let p = plan(
        &want,
        &live,
        &Default::default(),
        Some(insz(HTB)),
        &limits(4),
    );
    let d = diff::diff(&want, &live);
    assert_eq!(session_lower_bound(&d.enterprises[0]), 4);
    assert_eq!(p.enterprises[0].sessions().count(), 4, "{:?}", shape(&p));
}
