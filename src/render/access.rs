//! Reports about people's effective Heracles access (`verify`, `explain-access`, the
//! propagation lines of the apply report), written for the access manager who reads
//! them: each person by names and username beside the masked INSZ, one group per
//! person, each condition of the checklist in plain words with what to do about it.
//!
//! A person without a user on a site fails the user's status, applications, function
//! and propagation too, because there is no user to have them; those are consequences,
//! not separate problems, so the reports say "no user on this site" once.
//!
//! May use `model` and the registry's report values (`AccessReport`); decides nothing.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{RenderOptions, plural, utc_time};
use crate::model::{Hco, Insz, PersonName, UserLevel};
use crate::registry::{AccessCondition, AccessReport, Millis, UnitAccess};

/// A person as reports name them: `Peeters Anna (apeeters, **.**.**-**3.28)`, or only
/// the INSZ when no user record names them.
pub(crate) fn person(insz: &Insz, name: Option<&PersonName>, opts: &RenderOptions) -> String {
    match name {
        Some(n) => format!(
            "{} {} ({}, {})",
            n.last_name,
            n.first_name,
            n.username,
            opts.insz(insz)
        ),
        None => opts.insz(insz),
    }
}

/// What a condition of the checklist requires, in plain words.
pub(crate) fn condition_words(condition: AccessCondition) -> &'static str {
    match condition {
        AccessCondition::CapacityActive => "the capacity is active",
        AccessCondition::CapacityApplications => "the capacity has Heracles and eHealthBox (R5)",
        AccessCondition::SubdivisionActive => "the subdivision exists and is active",
        AccessCondition::SubdivisionApplications => {
            "the subdivision has Heracles and eHealthBox (R5)"
        }
        AccessCondition::SiteActive => "the site exists and is active",
        AccessCondition::SiteApplications => "the site has Heracles and eHealthBox (R5)",
        AccessCondition::UserOnSite => "the person has a user on the site itself (R4)",
        AccessCondition::UserActive => "the user is active",
        AccessCondition::UserApplications => {
            "the user has Heracles, and eHealthBox when a physician (R5)"
        }
        AccessCondition::UserFunction => "the user has a function on the site",
        AccessCondition::Propagated => "20 minutes have passed since the last change (R6)",
        AccessCondition::HeadRadiologistKnown => {
            "the coordination centre knows the site's head radiologist (R9)"
        }
    }
}

/// What to do when a condition fails.
pub(crate) fn fix(condition: AccessCondition) -> &'static str {
    match condition {
        AccessCondition::CapacityActive => {
            "activate the capacity \"Mammografische eenheid\" (manual S2; the HTB or an access manager)"
        }
        AccessCondition::CapacityApplications => {
            "enable Heracles and eHealthBox on the capacity (R5)"
        }
        AccessCondition::SubdivisionActive => "create or re-activate the subdivision (S3.1-S3.5)",
        AccessCondition::SubdivisionApplications => {
            "enable Heracles and eHealthBox on the subdivision (R5)"
        }
        AccessCondition::SiteActive => "create or re-activate the site (S3.6)",
        AccessCondition::SiteApplications => "enable Heracles and eHealthBox on the site (R5)",
        AccessCondition::UserOnSite => {
            "create the user on the site itself; users on the capacity or subdivision never get access (R4, S4)"
        }
        AccessCondition::UserActive => "set the user's status to active",
        AccessCondition::UserApplications => {
            "enable Heracles on the user, and eHealthBox when a physician (R5)"
        }
        AccessCondition::UserFunction => {
            "give the user a function on the site, in a session after the one that created it (S4.9)"
        }
        AccessCondition::Propagated => {
            "wait: changes take effect 20 minutes after they are processed (R6; csamctl verify --wait)"
        }
        AccessCondition::HeadRadiologistKnown => {
            "the site needs a head radiologist whose national register number the coordination centre (CvKO) knows (R9): `csamctl coordination-centre` lists who is owed and writes the notice (every apply writes it too); send it, then record it with `csamctl coordination-centre --record-sent`"
        }
    }
}

/// Whether a failing condition only follows from the person having no user on the site
/// (`no_user`): nothing to be active, have applications or functions, or propagate.
fn follows_from_no_user(no_user: bool, condition: AccessCondition) -> bool {
    no_user
        && matches!(
            condition,
            AccessCondition::UserActive
                | AccessCondition::UserApplications
                | AccessCondition::UserFunction
                | AccessCondition::Propagated
        )
}

fn has_no_user(unit: &UnitAccess) -> bool {
    unit.conditions
        .iter()
        .any(|c| c.condition == AccessCondition::UserOnSite && !c.passed)
}

/// The failing conditions of a unit that are problems of their own (not consequences of
/// a missing user), with the engine's finding.
pub(crate) fn failures(unit: &UnitAccess) -> impl Iterator<Item = (AccessCondition, &str)> {
    let no_user = has_no_user(unit);
    unit.conditions
        .iter()
        .filter(move |c| !c.passed && !follows_from_no_user(no_user, c.condition))
        .map(|c| (c.condition, c.detail.as_str()))
}

fn unit_heading(unit: &UnitAccess) -> String {
    match &unit.site {
        Some(site) => format!("site {site} (enterprise {})", unit.kbo),
        None => format!("a user record with no site (enterprise {})", unit.kbo),
    }
}

/// `explain-access`: the checklist of one person on each unit evaluated, a pass as one
/// line, a failure with what was found and the fix; a missing user said once.
pub(crate) fn explain(report: &AccessReport, site: Option<&Hco>, opts: &RenderOptions) -> String {
    let mut out = String::new();
    let who = person(&report.person, report.name.as_ref(), opts);
    let _ = writeln!(
        out,
        "Heracles access of {who} (registry time {}):",
        utc_time(report.evaluated_at_ms)
    );
    if report.units.is_empty() {
        let _ = writeln!(
            out,
            "  no user record found{}: create the user on the site (S4)",
            site.map(|s| format!(" on site {s}")).unwrap_or_default()
        );
    }
    for unit in &report.units {
        let verdict = if unit.has_access {
            "has access"
        } else if has_no_user(unit) && unit.site.is_some() {
            "NO access: no user on this site"
        } else {
            "NO access"
        };
        let _ = writeln!(out, "  {}: {verdict}", unit_heading(unit));
        let no_user = has_no_user(unit);
        for c in &unit.conditions {
            if c.passed {
                let _ = writeln!(out, "    [pass] {}", condition_words(c.condition));
            } else if !follows_from_no_user(no_user, c.condition) {
                let _ = writeln!(
                    out,
                    "    [FAIL] {}: {}",
                    condition_words(c.condition),
                    c.detail
                );
                let _ = writeln!(out, "           fix: {}", fix(c.condition));
            }
        }
        if no_user {
            let _ = writeln!(
                out,
                "    (the user's status, applications, function and the 20 minutes are checked once the user exists)"
            );
        }
        if let Some(from) = unit.effective_from_ms {
            let _ = writeln!(out, "    effective from {}", utc_time(from));
        }
    }
    out
}

/// One declared user record `verify` found without access.
#[derive(Clone, Debug)]
pub(crate) struct Denied {
    /// The person.
    pub insz: Insz,
    /// Names and username (from the desired state).
    pub name: Option<PersonName>,
    /// The site.
    pub site: Hco,
    /// The registry's checklist, or `None` when the site holds no user record of theirs.
    pub unit: Option<UnitAccess>,
}

impl Denied {
    /// The failing conditions that are problems of their own.
    fn failures(&self) -> Vec<(AccessCondition, &str)> {
        match &self.unit {
            Some(u) => failures(u).collect(),
            None => vec![(AccessCondition::UserOnSite, "no user on this site")],
        }
    }
}

/// `verify`: the records without access, grouped by person (by name), each site with
/// its failing conditions in plain words; each fix once at the end; then the count.
pub(crate) fn verify(
    wanted: usize,
    denied: &[Denied],
    opts: &RenderOptions,
    timed_out: bool,
) -> String {
    let mut out = String::new();
    let mut by_person: BTreeMap<(String, Insz), Vec<&Denied>> = BTreeMap::new();
    for d in denied {
        let key = d
            .name
            .as_ref()
            .map(|n| format!("{} {} {}", n.last_name, n.first_name, n.username))
            .unwrap_or_default();
        by_person.entry((key, d.insz)).or_default().push(d);
    }
    let mut fixes: BTreeMap<AccessCondition, usize> = BTreeMap::new();
    for records in by_person.values() {
        let first = records[0];
        let _ = writeln!(
            out,
            "{}: NO access on {} {}",
            person(&first.insz, first.name.as_ref(), opts),
            records.len(),
            plural(records.len(), "site", "sites")
        );
        for d in records {
            let failing = d.failures();
            if let [(AccessCondition::UserOnSite, _)] = failing.as_slice() {
                let _ = writeln!(out, "  site {}: no user on this site", d.site);
            } else {
                let _ = writeln!(out, "  site {}:", d.site);
                for (condition, detail) in &failing {
                    let _ = writeln!(out, "    - {}: {detail}", condition_words(*condition));
                }
            }
            for (condition, _) in failing {
                *fixes.entry(condition).or_default() += 1;
            }
            if let Some(from) = d.unit.as_ref().and_then(|u| u.effective_from_ms) {
                let _ = writeln!(out, "    effective from {}", utc_time(from));
            }
        }
    }
    if !fixes.is_empty() {
        let _ = writeln!(out, "What to do:");
        for (condition, n) in fixes {
            condition_line(&mut out, condition, n);
        }
    }
    let _ = writeln!(
        out,
        "{} of {wanted} declared user record(s) on sites have Heracles access{}.",
        wanted - denied.len(),
        if timed_out {
            " (gave up waiting: --timeout)"
        } else {
            ""
        }
    );
    out
}

/// One line of "what to do": a failing condition in plain words, how many records it
/// holds back, and its fix (shared by `verify` and `verify --wait`'s refusal to wait).
fn condition_line(out: &mut String, condition: AccessCondition, n: usize) {
    let _ = writeln!(
        out,
        "  {} ({n} {}): {}",
        condition_words(condition),
        plural(n, "record", "records"),
        fix(condition)
    );
}

/// Why `verify --wait` does not wait: what fails besides the propagation delay (R6),
/// which time alone does not fix, per condition with the number of records and the fix.
pub(crate) fn cannot_wait(denied: &[Denied], wanted: usize) -> String {
    let mut by_condition: BTreeMap<AccessCondition, usize> = BTreeMap::new();
    let mut stuck = 0;
    for d in denied {
        let lasting: Vec<AccessCondition> = d
            .failures()
            .into_iter()
            .map(|(c, _)| c)
            .filter(|c| *c != AccessCondition::Propagated)
            .collect();
        if !lasting.is_empty() {
            stuck += 1;
        }
        for c in lasting {
            *by_condition.entry(c).or_default() += 1;
        }
    }
    let mut out = format!(
        "Not waiting: --wait only waits out the 20-minute propagation (R6), and {stuck} of {wanted} declared user record(s) fail on something time does not fix:\n"
    );
    for (condition, n) in by_condition {
        condition_line(&mut out, condition, n);
    }
    out
}

/// One user record of the apply report that becomes effective for Heracles at a time.
#[derive(Clone, Debug)]
pub(crate) struct Effective<'a> {
    /// The person.
    pub insz: Insz,
    /// Names and username.
    pub name: Option<&'a PersonName>,
    /// Where the record is.
    pub level: &'a UserLevel,
    /// From when.
    pub from_ms: Millis,
}

/// Where a user record is, for a report: the site, or a level that gives no access.
pub(crate) fn level_words(level: &UserLevel) -> String {
    match level {
        UserLevel::Site { hco } => format!("site {hco}"),
        UserLevel::Subdivision { hco } => format!("subdivision {hco} (no Heracles access, R4)"),
        UserLevel::Capacity { .. } => "the capacity (no Heracles access, R4)".into(),
    }
}

/// The apply report's propagation lines (R6): one per person, by name, with each of
/// their records and when it takes effect (one time when all are the same).
pub(crate) fn effective_lines(records: &[Effective<'_>], opts: &RenderOptions) -> Vec<String> {
    let mut by_person: BTreeMap<(String, Insz), Vec<&Effective<'_>>> = BTreeMap::new();
    for r in records {
        let key = r
            .name
            .map(|n| format!("{} {} {}", n.last_name, n.first_name, n.username))
            .unwrap_or_default();
        by_person.entry((key, r.insz)).or_default().push(r);
    }
    by_person
        .values()
        .map(|rs| {
            let who = person(&rs[0].insz, rs[0].name, opts);
            let same = rs.iter().all(|r| r.from_ms == rs[0].from_ms);
            let places: Vec<String> = rs
                .iter()
                .map(|r| {
                    if same {
                        level_words(r.level)
                    } else {
                        format!("{} from {}", level_words(r.level), utc_time(r.from_ms))
                    }
                })
                .collect();
            if same {
                format!(
                    "{who}: effective for Heracles from {} on {} (R6)",
                    utc_time(rs[0].from_ms),
                    places.join(", ")
                )
            } else {
                format!(
                    "{who}: effective for Heracles on {} (R6)",
                    places.join(", ")
                )
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kbo, Username};
    use crate::registry::ConditionResult;

    fn anna() -> PersonName {
        PersonName {
            last_name: "Peeters".into(),
            first_name: "Anna".into(),
            username: Username::parse("apeeters").unwrap(),
        }
    }

    fn insz() -> Insz {
        Insz::parse("90051712331").unwrap()
    }

    fn unit(failing: &[(AccessCondition, &str)]) -> UnitAccess {
        UnitAccess {
            kbo: Kbo::parse("474.603.083").unwrap(),
            site: Some(Hco::parse("71977104").unwrap()),
            conditions: AccessCondition::ALL
                .iter()
                .map(|c| {
                    let f = failing.iter().find(|(x, _)| x == c);
                    ConditionResult {
                        condition: *c,
                        passed: f.is_none(),
                        detail: f.map_or("fine", |(_, d)| d).to_string(),
                    }
                })
                .collect(),
            has_access: failing.is_empty(),
            effective_from_ms: None,
            user: None,
        }
    }

    #[test]
    fn every_condition_has_words_and_a_fix() {
        for c in AccessCondition::ALL {
            assert!(!fix(c).is_empty(), "{c:?}");
            assert!(!condition_words(c).is_empty(), "{c:?}");
            assert!(!condition_words(c).contains(&format!("{c:?}")), "{c:?}");
        }
    }

    #[test]
    fn a_person_is_named_with_username_and_masked_insz() {
        let opts = RenderOptions::default();
        let shown = person(&insz(), Some(&anna()), &opts);
        assert_eq!(
            shown,
            format!("Peeters Anna (apeeters, {})", insz().masked())
        );
        assert_eq!(person(&insz(), None, &opts), insz().masked());
    }

    #[test]
    fn a_missing_user_is_said_once_not_as_its_consequences() {
        let no_user = unit(&[
            (AccessCondition::UserOnSite, "no user on this site"),
            (AccessCondition::UserActive, "no user on the site"),
            (AccessCondition::UserApplications, "no user on the site"),
            (AccessCondition::UserFunction, "no user on the site"),
            (AccessCondition::Propagated, "no user on the site"),
        ]);
        let report = AccessReport {
            person: insz(),
            evaluated_at_ms: 0,
            units: vec![no_user],
            name: Some(anna()),
        };
        let text = explain(&report, None, &RenderOptions::default());
        assert_eq!(text.matches("[FAIL]").count(), 1, "{text}");
        assert!(text.contains("NO access: no user on this site"), "{text}");
        assert!(text.contains("Peeters Anna (apeeters"), "{text}");
        assert!(!text.contains("UserOnSite"), "{text}");
    }

    #[test]
    fn verify_groups_by_person_and_gives_each_fix_once() {
        let r9 = (
            AccessCondition::HeadRadiologistKnown,
            "the head radiologist's number has not been sent",
        );
        let denied: Vec<Denied> = ["71977104", "71977105"]
            .iter()
            .map(|s| Denied {
                insz: insz(),
                name: Some(anna()),
                site: Hco::parse(s).unwrap(),
                unit: Some(unit(&[r9])),
            })
            .collect();
        let text = verify(3, &denied, &RenderOptions::default(), false);
        assert_eq!(text.matches("Peeters Anna").count(), 1, "{text}");
        assert!(text.contains("NO access on 2 sites"), "{text}");
        assert_eq!(text.matches("coordination-centre --record-sent").count(), 1);
        assert!(text.contains("(2 records)"), "{text}");
        assert!(text.ends_with("1 of 3 declared user record(s) on sites have Heracles access.\n"));
    }
}
