//! Safety rules on small plans.

use super::*;
use crate::diff::tests::{SMALL, applied, desired, insz};
use crate::model::{DesiredState, PlanLimits, User, Username};

const HTB: &str = "82.12.09-263.12";
const KATRIEN: &str = "69.01.28-100.31";

fn plan_of(want: &DesiredState, live: &[LiveState], actor: &str) -> Plan {
    crate::plan::plan(
        want,
        live,
        &Default::default(),
        Some(insz(actor)),
        &PlanLimits::default(),
    )
}

/// The live state plus `n` user records on site 71977101 that the file does not declare.
fn with_extra_users(want: &DesiredState, n: usize) -> Vec<LiveState> {
    let mut live = applied(want);
    let site = &mut live[0].enterprise.capacities[0].subdivisions[0].sites[0];
    let template: User = site.users[0].clone();
    let people = [
        "76.12.23-931.59",
        "72.03.15-487.14",
        "80.12.24-866.81",
        "62.08.27-843.93",
        "91.05.27-079.87",
        "63.12.28-688.73",
        "89.08.12-560.35",
    ];
    for (i, p) in people.iter().take(n).enumerate() {
        site.users.push(User {
            insz: insz(p),
            username: Username::parse(&format!("leftover{i:02}")).expect("username"),
            ..template.clone()
        });
    }
    live
}

fn rules(refusals: &[Refusal]) -> Vec<Rule> {
    refusals.iter().map(|r| r.rule).collect()
}

#[test]
fn deleting_more_than_a_quarter_of_the_users_is_refused_unless_forced() {
    let want = desired(SMALL);
    // 4 declared + 5 leftovers = 9 records; deleting 5 is 56 %.
    let live = with_extra_users(&want, 5);
    let p = plan_of(&want, &live, HTB);
    let refusals = check(&p, &live, &SafetyOptions::default());
    assert_eq!(rules(&refusals), [Rule::DeletionRatio]);
    assert_eq!(refusals[0].objects.len(), 5);
    assert!(
        refusals[0].message.contains("5 of the 9 user records"),
        "{}",
        refusals[0]
    );
    assert!(refusals[0].to_string().contains("--force-deletions"));
    let forced = SafetyOptions {
        force_deletions: true,
        ..SafetyOptions::default()
    };
    assert!(check(&p, &live, &forced).is_empty());
    // A custom ratio.
    let lenient = SafetyOptions {
        max_deletion_ratio: 0.6,
        ..SafetyOptions::default()
    };
    assert!(check(&p, &live, &lenient).is_empty());
}

#[test]
fn the_ratio_applies_from_eight_and_only_above_the_threshold() {
    let want = desired(SMALL);
    // 4 + 3 = 7 records: below the minimum, even at 43 %.
    let live = with_extra_users(&want, 3);
    assert!(
        check(
            &plan_of(&want, &live, HTB),
            &live,
            &SafetyOptions::default()
        )
        .is_empty()
    );
    // 4 + 4 = 8 records, 4 deleted: 50 %.
    let live = with_extra_users(&want, 4);
    assert_eq!(
        rules(&check(
            &plan_of(&want, &live, HTB),
            &live,
            &SafetyOptions::default()
        )),
        [Rule::DeletionRatio]
    );
    // Exactly the threshold is allowed: 4 of 8 at 50 %.
    let exact = SafetyOptions {
        max_deletion_ratio: 0.5,
        ..SafetyOptions::default()
    };
    assert!(check(&plan_of(&want, &live, HTB), &live, &exact).is_empty());
}

#[test]
fn the_last_administrator_besides_the_htb_is_never_removed() {
    let want = desired(SMALL);
    let live = applied(&want);
    // The file drops Katrien as access manager and as local administrator.
    let mut bare = want.clone();
    bare.enterprises[0].access_managers.clear();
    bare.enterprises[0].capacities[0].local_administrator = crate::model::Administrator::Itself;
    let p = plan_of(&bare, &live, HTB);
    let refusals = check(&p, &live, &SafetyOptions::default());
    assert!(!refusals.is_empty());
    assert!(refusals.iter().all(|r| r.rule == Rule::LastAdministrator));
    assert!(refusals[0].message.contains("capacity mammography-unit"));
    assert_eq!(Rule::LastAdministrator.override_flag(), None);
    let all = SafetyOptions {
        force_deletions: true,
        allow_self_removal: true,
        ..SafetyOptions::default()
    };
    assert_eq!(
        check(&p, &live, &all).len(),
        refusals.len(),
        "no flag lifts it"
    );
    // Appointing someone else in the same plan is fine.
    let mut handover = bare.clone();
    handover.enterprises[0].capacities[0].local_administrator =
        crate::model::Administrator::Person(insz("88.03.24-776.82"));
    let p = plan_of(&handover, &live, HTB);
    assert!(check(&p, &live, &SafetyOptions::default()).is_empty());
}

#[test]
fn the_actor_keeps_their_own_access_unless_allowed() {
    let want = desired(SMALL);
    let live = applied(&want);
    // Katrien plans away her own user record.
    let mut without = want.clone();
    without.enterprises[0].capacities[0]
        .people
        .retain(|p| p.username.as_str() != "katriendemeyere");
    let p = plan_of(&without, &live, KATRIEN);
    let refusals = check(&p, &live, &SafetyOptions::default());
    assert_eq!(rules(&refusals), [Rule::SelfRemoval]);
    assert_eq!(refusals[0].objects.len(), 1);
    let allowed = SafetyOptions {
        allow_self_removal: true,
        ..SafetyOptions::default()
    };
    assert!(check(&p, &live, &allowed).is_empty());
    // Suspending is removing too; someone else may do it.
    let mut suspended = want.clone();
    for person in &mut suspended.enterprises[0].capacities[0].people {
        if person.username.as_str() == "katriendemeyere" {
            person.active = false;
        }
    }
    let p = plan_of(&suspended, &live, KATRIEN);
    assert_eq!(
        rules(&check(&p, &live, &SafetyOptions::default())),
        [Rule::SelfRemoval]
    );
    let p = plan_of(&suspended, &live, HTB);
    assert!(check(&p, &live, &SafetyOptions::default()).is_empty());
}
