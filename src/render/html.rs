//! `plan --format html`: the plan as one standalone page for people who review in a
//! browser or attach it to a change ticket. The same content as the Markdown comment —
//! the summary line, the findings, then per enterprise the people table, the structural
//! changes, the chain of sessions as Mermaid source, and the detailed diff folded in
//! `<details>` — on one page with its style inline.
//!
//! Nothing is loaded from the network and no script is needed to read the page: the
//! diagram is its Mermaid source in a `<pre class="mermaid">` (readable as it is; a page
//! that adds mermaid.js draws it), the diff is coloured by CSS classes. Every text from
//! the plan is escaped for HTML (`&`, `<`, `>`, `"`), so names and purposes cannot
//! open markup.

use std::fmt::Write as _;

use super::markdown::{RULES_DOC, link_rules_with};
use super::text::{LineLayout, enterprise_heading, enterprise_pieces};
use super::{RenderOptions, summary};
use crate::model::{EnterprisePlan, Plan};

const STYLE: &str = "body{font-family:sans-serif;max-width:72em;margin:auto;padding:0 1em}\
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left}\
code,pre{background:#f4f4f4}pre{padding:.5em;overflow-x:auto}\
.add{color:#116611}.del{color:#aa1111}.chg{color:#8a6d00}.bar{color:#555;font-weight:bold}";

/// Text escaped for HTML content and for attribute values in double quotes (the only
/// kind these pages write).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped text with every rule code (R1–R9) linked to its section of the rules page.
fn text(s: &str) -> String {
    link_rules_with(&escape(s), |d| {
        format!("<a href=\"{RULES_DOC}#r{d}\">R{d}</a>")
    })
}

/// The plan as a standalone HTML page.
pub(crate) fn render(plan: &Plan, opts: &RenderOptions) -> String {
    let opts = RenderOptions {
        colour: false,
        ..*opts
    };
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>csamctl plan {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>csamctl plan</h1>\n",
        escape(&plan.id[..plan.id.len().min(12)])
    );
    let _ = writeln!(
        out,
        "<p><strong>{}</strong></p>\n<p>Acting as <code>{}</code> · plan <code>{}</code></p>",
        text(&super::summary(plan)),
        escape(&opts.actor(plan.actor.as_ref())),
        escape(&plan.id[..plan.id.len().min(12)])
    );
    if !plan.findings.is_empty() {
        out.push_str("<ul>\n");
        for f in &plan.findings {
            let _ = writeln!(out, "<li>{}</li>", text(&super::finding_line(f, &opts)));
        }
        out.push_str("</ul>\n");
    }
    for e in &plan.enterprises {
        enterprise(&mut out, e, &opts);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn enterprise(out: &mut String, e: &EnterprisePlan, opts: &RenderOptions) {
    let heading = escape(&enterprise_heading(e));
    let _ = writeln!(out, "<section>\n<h2>{heading}</h2>");
    let rows = summary::people(e);
    if !rows.is_empty() {
        let _ = writeln!(
            out,
            "<p><strong>People</strong> — {}</p>\n<table>\n<tr><th>name</th><th>username</th><th>INSZ</th><th>site</th><th>functions</th><th>change</th></tr>",
            text(&summary::people_line(&rows))
        );
        for r in &rows {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&r.name),
                escape(&r.username),
                escape(&opts.insz(&r.insz)),
                escape(&r.level),
                escape(&summary::functions_change(r)),
                text(r.change.label())
            );
        }
        out.push_str("</table>\n");
    }
    let structure = summary::structure_lines(e, opts);
    if !structure.is_empty() {
        out.push_str("<p><strong>Structure</strong></p>\n<ul>\n");
        for (kind, line) in &structure {
            let _ = writeln!(
                out,
                "<li><code>{}</code> {}</li>",
                escape(kind.symbol()),
                text(line)
            );
        }
        out.push_str("</ul>\n");
    }
    let _ = writeln!(
        out,
        "<p><strong>Sessions</strong> — each ends with a log-out, so that the next one sees its writes (<a href=\"{RULES_DOC}#r1\">R1</a>):</p>\n<pre class=\"mermaid\">\n{}</pre>",
        escape(&summary::mermaid(e))
    );
    let _ = writeln!(
        out,
        "<details>\n<summary>Detailed plan of {heading}</summary>\n<pre class=\"diff\">"
    );
    for piece in enterprise_pieces(e, opts, LineLayout::DiffBlock) {
        for line in piece.lines() {
            let class = match line.chars().next() {
                Some('+') => "add",
                Some('-') => "del",
                Some('~' | '!') => "chg",
                Some('@') => "bar",
                _ => "",
            };
            if class.is_empty() {
                let _ = writeln!(out, "{}", escape(line));
            } else {
                let _ = writeln!(out, "<span class=\"{class}\">{}</span>", escape(line));
            }
        }
    }
    out.push_str("</pre>\n</details>\n</section>\n");
}
