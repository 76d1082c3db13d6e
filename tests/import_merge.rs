//! The CSV import through the library, on the fixture exports in tests/fixtures/csv/
//! merged into the two examples: what is read, what is skipped with which row number,
//! that the examples' text survives byte for byte (only whole lines are inserted), that
//! people land in the capacity that declares the site, and that the result validates
//! once the placeholders are filled in.

use std::path::{Path, PathBuf};

use csamctl::config::{self, DiagnosticSeverity, InputLimits};
use csamctl::import::listing::{self, HeaderLanguage, Skip, TextEncoding};
use csamctl::import::{MergeOutcome, Merged, merge};
use csamctl::model::AccountType;
use csamctl::model::{DesiredState, Function, Hco, Insz, Language, Person};

fn crate_file(path: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{} reads: {e}", full.display()))
}

fn crate_text(path: &str) -> String {
    String::from_utf8(crate_file(path)).expect("the example is UTF-8")
}

fn hco(s: &str) -> Hco {
    Hco::parse(s).expect("valid HCO")
}

fn insz(s: &str) -> Insz {
    Insz::parse(s).expect("valid INSZ")
}

/// The rows skipped, as (row, reasons).
fn skipped(listing: &listing::Listing) -> Vec<(u64, Vec<Skip>)> {
    listing
        .skipped
        .iter()
        .map(|s| (s.row, s.reasons.clone()))
        .collect()
}

/// The lines the merge inserted, after checking that it inserted and deleted nothing
/// else: the original is the merged text with those lines taken out, byte for byte.
fn inserted_lines(before: &str, after: &str) -> String {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut inserted = String::new();
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Equal => {}
            similar::ChangeTag::Insert => inserted.push_str(change.value()),
            similar::ChangeTag::Delete => {
                panic!("the merge changed an existing line: {:?}", change.value())
            }
        }
    }
    inserted
}

/// Validates a text as one file; returns the state and the error codes.
fn validate(name: &str, text: &str) -> (DesiredState, Vec<&'static str>) {
    let loaded = config::load_bytes(
        &[(PathBuf::from(name), text.as_bytes().to_vec())],
        &InputLimits::default(),
    );
    let errors = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == DiagnosticSeverity::Error)
        .map(|d| d.code)
        .collect();
    (loaded.state, errors)
}

/// The people of the capacity that declares `site`.
fn people_at<'s>(state: &'s DesiredState, site: &Hco) -> &'s [Person] {
    state
        .enterprises
        .iter()
        .flat_map(|e| &e.capacities)
        .find(|c| {
            c.subdivisions
                .iter()
                .flat_map(|s| &s.sites)
                .any(|s| &s.hco == site)
        })
        .map(|c| c.people.as_slice())
        .expect("a capacity declares the site")
}

fn person<'p>(people: &'p [Person], number: &str) -> &'p Person {
    let wanted = insz(number);
    people
        .iter()
        .find(|p| p.insz == wanted)
        .unwrap_or_else(|| panic!("{} is in the capacity", wanted.masked()))
}

/// The merged text with every e-mail placeholder replaced by a real address.
fn filled_in(text: &str) -> String {
    let mut n = 0;
    text.lines()
        .map(|line| {
            if line.contains("email: TODO") {
                n += 1;
                let indent = &line[..line.len() - line.trim_start().len()];
                format!("{indent}email: imported{n}@test.example\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect()
}

fn merged(example: &str, csv: &str, site: &Hco) -> (String, listing::Listing, Merged) {
    let text = crate_text(example);
    let listing = listing::read(&crate_file(csv)).expect("the fixture reads");
    let language = (listing.language == HeaderLanguage::French).then_some(Language::French);
    let merged = merge(
        Path::new(example),
        &text,
        site,
        &listing.users,
        language,
        "users.csv",
    )
    .unwrap_or_else(|e| panic!("the merge works: {e}"));
    (text, listing, merged)
}

#[test]
fn dutch_export_utf8_bom_semicolons_reads_with_row_numbers() {
    let listing = listing::read(&crate_file("tests/fixtures/csv/mandelvallei-izegem.nl.csv"))
        .expect("the fixture reads");
    assert_eq!(listing.encoding, TextEncoding::Utf8Bom);
    assert_eq!(listing.separator, ';');
    assert_eq!(listing.language, HeaderLanguage::Dutch);
    assert_eq!(listing.rows, 10);
    let users: Vec<(u64, &str)> = listing
        .users
        .iter()
        .map(|u| (u.row, u.username.as_str()))
        .collect();
    assert_eq!(
        users,
        vec![
            (3, "koenverhaeghe"),
            (4, "mariedhondt"),
            (5, "janpeeters1"),
            (9, "elsdevos"),
            (11, "ninagoossens"),
        ]
    );
    assert_eq!(listing.users[1].last_name, "D'HONDT");
    assert!(!listing.users[2].active, "Inactief");
    assert_eq!(listing.users[4].last_name, "GOOSSENS; VAN AKEN");
    let skipped = skipped(&listing);
    let rows: Vec<u64> = skipped.iter().map(|(row, _)| *row).collect();
    assert_eq!(rows, vec![2, 6, 7, 8, 10]);
    assert_eq!(
        skipped[0].1,
        vec![Skip::Administrator(AccountType::LocalAdministrator)]
    );
    assert!(matches!(skipped[1].1.as_slice(), [Skip::Insz { .. }]));
    assert_eq!(skipped[2].1, vec![Skip::UsernameMissing]);
    assert_eq!(skipped[3].1, vec![Skip::Duplicate { first_row: 4 }]);
    assert_eq!(
        skipped[4].1,
        vec![Skip::Administrator(AccountType::SubdivisionAdministrator)]
    );
}

#[test]
fn french_export_windows_1252_commas_reads_with_row_numbers() {
    let listing = listing::read(&crate_file("tests/fixtures/csv/vlasland-wervik.fr.csv"))
        .expect("the fixture reads");
    assert_eq!(listing.encoding, TextEncoding::Windows1252);
    assert_eq!(listing.separator, ',');
    assert_eq!(listing.language, HeaderLanguage::French);
    let users: Vec<(u64, &str, &str, &str)> = listing
        .users
        .iter()
        .map(|u| {
            (
                u.row,
                u.username.as_str(),
                u.last_name.as_str(),
                u.first_name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        users,
        vec![
            (3, "isabelleleroy", "LEROY", "Isabelle"),
            (4, "bartdebaene", "DEBAENE", "Bart"),
            (5, "helenelefevre", "LEFÈVRE", "Hélène"),
            (
                6,
                "jeanfrancoisdumoulin",
                "DUMOULIN, dit DUMO",
                "Jean-François"
            ),
            (7, "nathaliedupont2", "DUPONT", "Nathalie"),
        ]
    );
    let skipped = skipped(&listing);
    assert_eq!(skipped.len(), 3);
    assert_eq!(skipped[0].0, 2);
    assert_eq!(skipped[1].0, 8);
    assert!(matches!(
        skipped[1].1.as_slice(),
        [Skip::Insz {
            error: csamctl::model::InszError::Length(10),
            ..
        }]
    ));
    assert_eq!(skipped[2].0, 9);
}

#[test]
fn merge_into_single_unit_keeps_the_text_and_adds_to_the_capacity() {
    let site = hco("71988411");
    let (before, _, merged) = merged(
        "examples/single-unit.yaml",
        "tests/fixtures/csv/mandelvallei-izegem.nl.csv",
        &site,
    );
    let outcomes: Vec<(u64, MergeOutcome)> = merged
        .outcomes
        .iter()
        .map(|o| (o.row, o.outcome.clone()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (3, MergeOutcome::AlreadyThere),
            (4, MergeOutcome::Added),
            (5, MergeOutcome::Added),
            (9, MergeOutcome::UsernameTaken),
            (11, MergeOutcome::Added),
        ]
    );
    assert_eq!(merged.enterprise, "RADIOLOGIE MANDELVALLEI BV");
    let inserted = inserted_lines(&before, &merged.text);
    assert!(
        inserted.starts_with(
            "          # imported from users.csv (the CSAM user list of site 71988411)"
        ),
        "{inserted}"
    );
    // The people list is the end of the file: the new people are appended to it.
    assert!(merged.text.ends_with(&inserted));
    assert!(inserted.contains("          - insz: \"83.06.14-217.81\"\n            username: mariedhondt\n            last_name: D'HONDT\n            first_name: Marie-Claire\n            email: TODO"));
    assert!(inserted.contains("            last_name: \"GOOSSENS; VAN AKEN\"\n"));
    assert!(
        !inserted.contains("language:"),
        "Dutch headers: the default language"
    );

    let (_, errors) = validate("single-unit.yaml", &merged.text);
    assert_eq!(
        errors,
        vec!["csam::email::invalid"; 3],
        "only the placeholders"
    );

    let (state, errors) = validate("single-unit.yaml", &filled_in(&merged.text));
    assert_eq!(errors, Vec::<&str>::new());
    let people = people_at(&state, &site);
    assert_eq!(people.len(), 9);
    let marie = person(people, "83.06.14-217.81");
    assert_eq!(marie.username.as_str(), "mariedhondt");
    assert!(marie.active);
    assert_eq!(marie.sites.get(&site).map(|f| f.len()), Some(0));
    assert!(!person(people, "90.03.02-145.57").active, "Inactief");
    // Left alone: still the head radiologist.
    assert!(person(people, "68.08.21-305.64").sites[&site].contains(&Function::HeadRadiologist));
}

#[test]
fn merge_into_multi_campus_adds_the_site_and_the_people_to_the_right_capacity() {
    let site = hco("71977201");
    let (before, _, merged) = merged(
        "examples/multi-campus.yaml",
        "tests/fixtures/csv/vlasland-wervik.fr.csv",
        &site,
    );
    let outcomes: Vec<(u64, MergeOutcome)> = merged
        .outcomes
        .iter()
        .map(|o| (o.row, o.outcome.clone()))
        .collect();
    assert_eq!(outcomes.len(), 5);
    assert_eq!(outcomes[0], (3, MergeOutcome::AlreadyThere));
    assert_eq!(outcomes[1], (4, MergeOutcome::SiteAdded));
    assert_eq!(outcomes[2], (5, MergeOutcome::Added));
    assert_eq!(outcomes[3], (6, MergeOutcome::Added));
    assert!(matches!(
        &outcomes[4],
        (7, MergeOutcome::OtherUsername { in_file }) if in_file.as_str() == "nathaliedupont"
    ));

    let inserted = inserted_lines(&before, &merged.text);
    // Bart's site, right after his last site line.
    assert!(merged.text.contains(
        "              \"71977102\": [radiologist]\n              \"71977201\": []  # not in the CSAM export"
    ));
    // The new people, after the last person and before the comment and `ignore:` that
    // follow the list.
    let block_at = merged
        .text
        .find("          # imported from users.csv")
        .expect("the block is there");
    let ignore_at = merged
        .text
        .find("    ignore:                              # registry accounts")
        .expect("ignore is kept");
    let last_person_at = merged.text.find("username: jurgenkohnen").expect("kept");
    assert!(last_person_at < block_at && block_at < ignore_at);
    assert!(inserted.contains(
        "            last_name: LEFÈVRE\n            first_name: Hélène\n            language: fr\n"
    ));
    assert!(inserted.contains("            last_name: \"DUMOULIN, dit DUMO\"\n"));
    assert!(inserted.contains("            active: false\n"));

    let (_, errors) = validate("multi-campus.yaml", &merged.text);
    assert_eq!(errors, vec!["csam::email::invalid"; 2]);
    let (state, errors) = validate("multi-campus.yaml", &filled_in(&merged.text));
    assert_eq!(errors, Vec::<&str>::new());
    let people = people_at(&state, &site);
    let bart = person(people, "73.02.26-099.86");
    assert_eq!(bart.sites.len(), 3);
    assert!(bart.sites[&site].is_empty());
    let helene = person(people, "85.05.23-276.78");
    assert_eq!(helene.details.language, Language::French);
    assert!(!person(people, "93.08.30-189.47").active);
    // The other username was not written anywhere.
    assert!(!merged.text.contains("nathaliedupont2"));
}

#[test]
fn merging_the_same_export_twice_changes_nothing_the_second_time() {
    let site = hco("71977201");
    let (_, listing, first) = merged(
        "examples/multi-campus.yaml",
        "tests/fixtures/csv/vlasland-wervik.fr.csv",
        &site,
    );
    let second = merge(
        Path::new("multi-campus.yaml"),
        &first.text,
        &site,
        &listing.users,
        Some(Language::French),
        "users.csv",
    )
    .expect("the second merge works");
    assert!(!second.changed());
    assert_eq!(second.text, first.text);
    assert_eq!(second.count(&MergeOutcome::AlreadyThere), 4);
}
