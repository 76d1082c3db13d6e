//! Renderer unit tests: masking, colour, word diffs, the summary, Markdown parts and
//! the committed JSON Schema.

use super::*;
use crate::diff::tests::{SMALL, applied, desired, insz};
use crate::model::{DesiredState, LiveState, PlanLimits};

const HTB: &str = "82.12.09-263.12";

fn from_nothing(want: &DesiredState) -> (Plan, Vec<LiveState>) {
    let mut live = applied(want);
    live[0].enterprise.capacities.clear();
    live[0].enterprise.access_managers.clear();
    let plan = crate::plan::plan(
        want,
        &live,
        &Default::default(),
        Some(insz(HTB)),
        &PlanLimits::default(),
    );
    (plan, live)
}

fn all_outputs(plan: &Plan, opts: &RenderOptions) -> Vec<String> {
    let mut out = vec![text::render(plan, opts), json::render(plan, opts)];
    out.extend(markdown::render(plan, opts));
    out
}

#[test]
fn national_numbers_are_masked_unless_asked_for() {
    let want = desired(SMALL);
    let (plan, _) = from_nothing(&want);
    let full = [
        "82.12.09-263.12",
        "82120926312",
        "73.02.26-099.86",
        "73022609986",
    ];
    for out in all_outputs(&plan, &RenderOptions::default()) {
        for number in full {
            assert!(!out.contains(number), "{number} shown in:\n{out}");
        }
        assert!(out.contains("**.**.**-**9.86"));
    }
    let shown = RenderOptions {
        show_personal_data: true,
        ..RenderOptions::default()
    };
    for out in all_outputs(&plan, &shown) {
        assert!(out.contains("73.02.26-099.86"), "{out}");
    }
}

#[test]
fn colour_only_when_asked() {
    let want = desired(SMALL);
    let (plan, _) = from_nothing(&want);
    let plain = text::render(&plan, &RenderOptions::default());
    assert!(!plain.contains('\x1b'));
    let colour = RenderOptions {
        colour: true,
        ..RenderOptions::default()
    };
    assert!(text::render(&plan, &colour).contains("\x1b[32m+\x1b[0m"));
    // JSON and Markdown never carry escape codes.
    assert!(!json::render(&plan, &colour).contains('\x1b'));
    assert!(
        markdown::render(&plan, &colour)
            .iter()
            .all(|p| !p.contains('\x1b'))
    );
}

#[test]
fn updates_show_a_word_diff() {
    let plain = RenderOptions::default();
    let text = |s: &str| FieldValue::Text(s.into());
    assert_eq!(
        field_update(
            &text("Campus Menen"),
            &text("Campus Menen - Mammografie"),
            &plain
        ),
        "\"Campus Menen{+ - Mammografie+}\""
    );
    assert_eq!(
        field_update(&text("Campus Menen Oud"), &text("Campus Menen"), &plain),
        "\"Campus Menen[- Oud-]\""
    );
    assert_eq!(
        field_update(&text("a@x.example"), &text("b@x.example"), &plain),
        "\"a@x.example\" → \"b@x.example\""
    );
    let list = |items: &[&str]| FieldValue::List(items.iter().map(|s| s.to_string()).collect());
    assert_eq!(
        field_update(
            &list(&["heracles"]),
            &list(&["heracles", "ehealthbox"]),
            &plain
        ),
        "[heracles, {+ehealthbox+}]"
    );
    assert_eq!(
        field_update(&FieldValue::Flag(true), &FieldValue::Flag(false), &plain),
        "true → false"
    );
    let colour = RenderOptions {
        colour: true,
        ..plain
    };
    assert!(field_update(&text("a b"), &text("a c"), &colour).contains("\x1b[31m"));
}

#[test]
fn the_summary_line() {
    let want = desired(SMALL);
    let (plan, live) = from_nothing(&want);
    assert_eq!(
        summary(&plan),
        "Plan: 9 to create, 0 to change, 0 to delete; 6 log-outs; ready in about 21 min"
    );
    let none = crate::plan::plan(
        &want,
        &applied(&want),
        &Default::default(),
        Some(insz(HTB)),
        &PlanLimits::default(),
    );
    assert_eq!(
        summary(&none),
        "No changes. The registry matches the desired state."
    );
    // Someone who may not read a site's users never hears that everything matches.
    let mut partial = applied(&want);
    let e = &mut partial[0].enterprise;
    for site in e
        .capacities
        .iter_mut()
        .flat_map(|c| &mut c.subdivisions)
        .flat_map(|s| &mut s.sites)
    {
        e.unreadable_users.push(crate::model::UserLevel::Site {
            hco: site.hco.clone(),
        });
        site.users.clear();
    }
    let unread = crate::plan::plan(
        &want,
        &partial,
        &Default::default(),
        Some(insz(HTB)),
        &PlanLimits::default(),
    );
    assert!(unread.is_empty());
    assert!(
        summary(&unread).starts_with("No changes in what the acting person may read."),
        "{}",
        summary(&unread)
    );
    drop(live);
    assert_eq!(duration(59_999), "under 1 min");
    assert_eq!(duration(60_000), "1 min");
    assert_eq!(duration(2 * 3_600_000 + 5 * 60_000), "2 h 5 min");
    assert_eq!(duration(48 * 3_600_000), "48 h");
}

#[test]
fn passwords_cannot_appear_only_where_they_are_read() {
    let want = desired(SMALL);
    let (plan, _) = from_nothing(&want);
    let out = text::render(&plan, &RenderOptions::default());
    assert!(out.contains("(sensitive: read at apply time from environment variable CSAM_PW_BART)"));
}

#[test]
fn a_large_plan_is_split_into_comments_below_the_limit() {
    // 60 enterprises like the small one: far beyond one comment.
    let mut want = desired(SMALL);
    let template = want.enterprises[0].clone();
    want.enterprises.clear();
    let mut live = Vec::new();
    for i in 0..60u64 {
        let first_eight = 10_000_000 + i;
        let kbo = crate::model::Kbo::parse(&format!(
            "{first_eight:08}{:02}",
            crate::model::kbo_check(first_eight)
        ))
        .expect("kbo");
        let mut e = template.clone();
        e.kbo = kbo;
        want.enterprises.push(e);
        let mut l = applied(&DesiredState {
            enterprises: vec![want.enterprises[i as usize].clone()],
        });
        l[0].enterprise.capacities.clear();
        live.extend(l);
    }
    let plan = crate::plan::plan(
        &want,
        &live,
        &Default::default(),
        Some(insz(HTB)),
        &PlanLimits::default(),
    );
    let parts = markdown::render(&plan, &RenderOptions::default());
    assert!(parts.len() > 1, "one part only");
    for (i, p) in parts.iter().enumerate() {
        assert!(p.starts_with(&format!(
            "<!-- csamctl plan: part {} of {}",
            i + 1,
            parts.len()
        )));
        well_formed(p, i);
    }
    assert!(parts[0].contains("**Plan: "), "the summary comes first");
    let all = parts.join("");
    for e in &want.enterprises {
        assert!(all.contains(&format!("Enterprise {}", e.kbo)));
    }
}

/// The committed schema is the generated one. Regenerate with
/// `CSAMCTL_BLESS=1 cargo test --lib render::tests::committed_plan_schema`.
#[test]
fn committed_plan_schema_equals_the_generated_one() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/plan.schema.json");
    let generated = json::schema();
    if std::env::var_os("CSAMCTL_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
    }
    let committed = std::fs::read_to_string(&path).expect("schemas/plan.schema.json");
    assert_eq!(
        committed, generated,
        "schemas/plan.schema.json is stale: CSAMCTL_BLESS=1 cargo test --lib render::tests"
    );
}

#[test]
fn the_json_document_is_versioned_and_self_consistent() {
    let want = desired(SMALL);
    let (plan, _) = from_nothing(&want);
    let doc: serde_json::Value =
        serde_json::from_str(&json::render(&plan, &RenderOptions::default())).expect("json");
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["summary"]["create"], 9);
    assert_eq!(doc["summary"]["log_outs"], 6);
    let e = &doc["enterprises"][0];
    let changes = e["changes"].as_array().expect("changes").len();
    for phase in e["phases"].as_array().expect("phases") {
        for s in phase["sessions"].as_array().into_iter().flatten() {
            for step in s["steps"].as_array().expect("steps") {
                assert!(step["change"].as_u64().expect("index") < changes as u64);
            }
        }
    }
}

/// A Markdown part as a CommonMark/GFM parser reads it: under GitHub's limit, every
/// `<details>` closed, every fence closed, and every detailed-plan block starting at a
/// session or phase (parts are split only between sessions).
fn well_formed(part: &str, i: usize) {
    use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag};
    assert!(
        part.chars().count() < 65_536,
        "part {i}: {} characters",
        part.chars().count()
    );
    let mut open_details = 0i64;
    let mut fences = 0;
    for (event, range) in Parser::new_ext(part, Options::ENABLE_TABLES).into_offset_iter() {
        match event {
            Event::Html(h) | Event::InlineHtml(h) => {
                open_details += h.matches("<details>").count() as i64;
                open_details -= h.matches("</details>").count() as i64;
                assert!(open_details >= 0, "part {i}: </details> before <details>");
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => {
                fences += 1;
                let source = part[range].trim_end();
                assert!(
                    source.ends_with("```") && source.lines().count() >= 2,
                    "part {i}: a fence is not closed:\n{source}"
                );
                if &*lang == "diff" {
                    let first = source.lines().nth(1).unwrap_or_default();
                    assert!(
                        ["# Session", "sessions ", "@@ GATE", "Notify", "Wait"]
                            .iter()
                            .any(|s| first.starts_with(s)),
                        "part {i}: a diff block starts inside a session: {first}"
                    );
                }
            }
            _ => {}
        }
    }
    assert_eq!(open_details, 0, "part {i}: <details> left open");
    assert!(fences > 0 || part.contains("###"), "part {i} has content");
}

#[test]
fn the_markdown_summary_opens_with_people_and_the_diagram_and_links_rules() {
    let want = desired(SMALL);
    let (plan, _) = from_nothing(&want);
    let parts = markdown::render(&plan, &RenderOptions::default());
    assert_eq!(parts.len(), 1);
    let md = &parts[0];
    well_formed(md, 0);
    let table = md
        .find("| name | username | INSZ | site | functions | change |")
        .expect("people");
    let diagram = md.find("```mermaid").expect("diagram");
    let details = md.find("<details>").expect("details");
    assert!(table < diagram && diagram < details, "{md}");
    assert!(md.contains("gains access"), "{md}");
    // No masked number outside code starts emphasis: every `*` there is escaped.
    {
        use pulldown_cmark::{Event, Parser, Tag};
        let emphasis = Parser::new(md)
            .filter(|e| matches!(e, Event::Start(Tag::Emphasis)))
            .count();
        assert_eq!(emphasis, 0, "{md}");
    }
    // Every log-out counted is drawn: in the diagram and in the detailed plan.
    let counts = Counts::of_plan(&plan);
    assert_eq!(
        md.matches("-- \"log out\" -->").count(),
        counts.log_outs,
        "{md}"
    );
    assert_eq!(
        md.matches("@@ log out of session").count(),
        counts.log_outs,
        "{md}"
    );
    let text = text::render(&plan, &RenderOptions::default());
    assert_eq!(
        text.matches("══ log out of session").count(),
        counts.log_outs
    );
    // Rule codes link to their section outside code; never inside it.
    assert!(md.contains("[R1](docs/rules.md#r1)"), "{md}");
    // Every rule a plan can link to has its anchor in docs/rules.md.
    let rules = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md"))
        .expect("docs/rules.md");
    for n in 1..=9 {
        assert!(
            rules.contains(&format!("<a id=\"r{n}\"></a>")),
            "docs/rules.md#r{n}"
        );
    }
    assert_eq!(
        markdown::link_rules("R6, R10, XR7 (R9)"),
        "[R6](docs/rules.md#r6), R10, XR7 ([R9](docs/rules.md#r9))"
    );
}

#[test]
fn times_are_utc_iso_8601() {
    assert_eq!(
        super::utc_time(crate::registry::clock::VirtualClock::EPOCH_MS),
        "2026-01-05T08:00:00Z"
    );
    assert_eq!(super::utc_time(0), "1970-01-01T00:00:00Z");
    assert_eq!(super::utc_time(951_782_400_000), "2000-02-29T00:00:00Z");
    assert_eq!(super::utc_time(-1_500), "1969-12-31T23:59:58Z");
}

/// The tags of an HTML page in order (`details`, `/details`, …), comments skipped.
fn html_tags(page: &str) -> Vec<String> {
    let mut tags = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let end = rest.find('>').expect("every < of markup is closed");
        let inner = &rest[..end];
        assert!(!inner.contains('<'), "a raw < inside a tag: {inner}");
        let name: String = inner
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '!')
            .collect();
        tags.push(name.to_ascii_lowercase());
        rest = &rest[end + 1..];
    }
    tags
}

#[test]
fn the_html_page_is_standalone_escaped_and_tells_the_same_story() {
    let mut want = desired(SMALL);
    let hostile = r#"<b>O'Brien & "Sons"</b>"#;
    want.enterprises[0].name = hostile.to_string();
    want.enterprises[0].capacities[0].people[0]
        .details
        .last_name = hostile.to_string();
    let (plan, _) = from_nothing(&want);
    let page = html::render(&plan, &RenderOptions::default());

    // Standalone: one document, no script, nothing fetched.
    assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(page.ends_with("</body>\n</html>\n"));
    let lower = page.to_ascii_lowercase();
    for needle in ["<script", "src=", "<link", "http://", "https://", "@import"] {
        assert!(!lower.contains(needle), "{needle} in the page");
    }
    // Escaped: the hostile name never appears raw, only as text.
    assert!(!page.contains(hostile), "raw markup from a name");
    assert!(page.contains("&lt;b&gt;O'Brien &amp; &quot;Sons&quot;&lt;/b&gt;"));
    assert!(!page.contains("<b>"), "no markup from the plan");
    // Every element opened is closed, in order (void elements aside).
    let mut open: Vec<String> = Vec::new();
    for tag in html_tags(&page) {
        if tag.starts_with('!') || ["meta", "br"].contains(&tag.as_str()) {
            continue;
        }
        match tag.strip_prefix('/') {
            Some(name) => assert_eq!(open.pop().as_deref(), Some(name), "</{name}> closes"),
            None => open.push(tag),
        }
    }
    assert!(open.is_empty(), "left open: {open:?}");

    // The same summary as the Markdown: people rows, the diagram, the folded diff.
    let e = &plan.enterprises[0];
    assert_eq!(
        page.matches("<tr><td>").count(),
        summary::people(e).len(),
        "one row per person and site"
    );
    let people = page.find("<th>name</th>").expect("people table");
    let diagram = page
        .find("<pre class=\"mermaid\">\nflowchart TD")
        .expect("diagram");
    let details = page.find("<details>").expect("folded diff");
    assert!(people < diagram && diagram < details);
    let counted = Counts::of_plan(&plan).log_outs;
    assert_eq!(
        page.matches("-- &quot;log out&quot; --&gt;").count(),
        counted
    );
    assert_eq!(page.matches("@@ log out of session").count(), counted);
    assert!(page.contains("<a href=\"docs/rules.md#r1\">R1</a>"));
    assert!(page.contains("<span class=\"add\">+"), "additions coloured");
}
