//! `plan --format markdown`: a pull-request comment. The summary line first (a refused
//! plan says so and why), the findings, then per enterprise the reviewer's summary — a
//! table of people (who gains or loses access where, whose functions change), one line
//! per structural change, a Mermaid diagram of the chain of sessions — and the detailed
//! plan folded in `<details>` as ```diff blocks (GitHub colours `+` and `-` lines; `@@`
//! lines are the log-outs, one per session, each with its reason).
//!
//! Rule codes (R1–R9) outside code blocks link to their section of `docs/rules.md`
//! (relative links; `examples/ci/post-plan.sh` makes them absolute for a comment).
//!
//! GitHub refuses comments of 65,536 characters or more, so a large plan is split into
//! parts of at most `PART_LIMIT` (65 000) bytes (bytes ≥ characters, so the limit holds for
//! characters too). Parts are split only between blocks: the people table between rows
//! (its header repeated), the detailed plan between sessions (a single session larger
//! than a part, thousands of users, is the only thing cut between its steps). Every
//! part is a complete comment: its `<details>` and fences are closed.

use std::fmt::Write as _;

use super::text::{LineLayout, enterprise_heading, enterprise_pieces};
use super::{RenderOptions, summary};
use crate::model::{EnterprisePlan, Plan};

/// The largest part, in bytes, with room left for the part heading.
pub(crate) const PART_LIMIT: usize = 65_000;

/// The largest block; blocks are packed into parts.
const BLOCK_LIMIT: usize = PART_LIMIT / 2;

/// Where rule codes link to (relative to a checkout of csamctl).
pub(crate) const RULES_DOC: &str = "docs/rules.md";

/// The first line of part `i` of `n` (from 1) when a plan has several parts. CI scripts
/// split `plan --format markdown`'s output at these lines (examples/ci/post-plan.sh).
pub fn part_marker(i: usize, n: usize) -> String {
    format!("<!-- csamctl plan: part {i} of {n} -->")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Markdown text: HTML escaped, and `*` kept from starting emphasis (a masked national
/// register number, `**.**.**-**3.12`, is full of them).
fn text(s: &str) -> String {
    escape(s).replace('*', "\\*")
}

/// Text for a table cell: escaped, and `|` kept from ending the cell.
fn cell(s: &str) -> String {
    text(s).replace('|', "\\|")
}

/// `R6` → `[R6](docs/rules.md#r6)`: every rule code of the text (a capital R and one
/// digit 1–9, not inside a word) links to its section.
pub(crate) fn link_rules(s: &str) -> String {
    link_rules_with(s, |d| format!("[R{d}]({RULES_DOC}#r{d})"))
}

/// Every rule code of the text replaced by `link(digit)` (Markdown or HTML links).
pub(crate) fn link_rules_with(s: &str, link: impl Fn(char) -> String) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts = i == 0 || !chars[i - 1].is_alphanumeric();
        let digit = chars.get(i + 1).filter(|d| ('1'..='9').contains(*d));
        let ends = chars.get(i + 2).is_none_or(|n| !n.is_alphanumeric());
        match (c, digit) {
            ('R', Some(d)) if starts && ends => {
                out.push_str(&link(*d));
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The plan as one or more Markdown comments.
pub fn render(plan: &Plan, opts: &RenderOptions) -> Vec<String> {
    let opts = RenderOptions {
        colour: false,
        ..*opts
    };
    let mut head = String::new();
    let _ = writeln!(head, "### csamctl plan\n");
    let _ = writeln!(head, "**{}**\n", link_rules(&text(&super::summary(plan))));
    let _ = writeln!(
        head,
        "Acting as `{}` · plan `{}`\n",
        opts.actor(plan.actor.as_ref()),
        &plan.id[..plan.id.len().min(12)]
    );

    // Blocks, each well below a part: the findings, then every enterprise's.
    let mut blocks: Vec<String> = Vec::new();
    let mut findings = String::new();
    for f in &plan.findings {
        let line = format!("- {}\n", link_rules(&text(&super::finding_line(f, &opts))));
        if findings.len() + line.len() > BLOCK_LIMIT {
            findings.push('\n');
            blocks.push(std::mem::take(&mut findings));
        }
        findings.push_str(&line);
    }
    if !findings.is_empty() {
        findings.push('\n');
        blocks.push(findings);
    }
    for e in &plan.enterprises {
        enterprise_blocks(e, &opts, &mut blocks);
    }
    pack(head, blocks)
}

/// Blocks into parts of at most [`PART_LIMIT`], in order, each part numbered when
/// there are several.
fn pack(head: String, blocks: Vec<String>) -> Vec<String> {
    let mut parts: Vec<String> = vec![head];
    for block in blocks {
        match parts.last_mut() {
            Some(p) if p.len() + block.len() <= PART_LIMIT => p.push_str(&block),
            _ => parts.push(block),
        }
    }
    let n = parts.len();
    if n > 1 {
        for (i, p) in parts.iter_mut().enumerate() {
            let note = format!("{}\n", part_marker(i + 1, n));
            p.insert_str(0, &note);
        }
    }
    parts
}

/// Lines into blocks of at most [`BLOCK_LIMIT`], each opened by `open(continued)` and
/// closed by `close`.
fn chunk(
    lines: impl IntoIterator<Item = String>,
    open: impl Fn(bool) -> String,
    close: &str,
    blocks: &mut Vec<String>,
) {
    let mut block = open(false);
    let mut empty = true;
    for line in lines {
        if !empty && block.len() + line.len() + close.len() > BLOCK_LIMIT {
            block.push_str(close);
            blocks.push(std::mem::take(&mut block));
            block = open(true);
        }
        block.push_str(&line);
        empty = false;
    }
    if !empty {
        block.push_str(close);
        blocks.push(block);
    }
}

fn enterprise_blocks(e: &EnterprisePlan, opts: &RenderOptions, blocks: &mut Vec<String>) {
    let heading = escape(&enterprise_heading(e));
    let rows = summary::people(e);
    let mut intro = format!("#### {heading}\n\n");
    if !rows.is_empty() {
        let _ = writeln!(
            intro,
            "**People** — {}\n",
            link_rules(&text(&summary::people_line(&rows)))
        );
    }
    blocks.push(intro);
    let table_lines = rows.iter().map(|r| {
        format!(
            "| {} | {} | `{}` | {} | {} | {} |\n",
            cell(&r.name),
            cell(&r.username),
            opts.insz(&r.insz),
            cell(&r.level),
            cell(&summary::functions_change(r)),
            link_rules(&cell(r.change.label()))
        )
    });
    let table_head = |continued: bool| {
        format!(
            "{}| name | username | INSZ | site | functions | change |\n|---|---|---|---|---|---|\n",
            if continued {
                "People (continued)\n\n"
            } else {
                ""
            }
        )
    };
    chunk(table_lines, table_head, "\n", blocks);

    let structure = summary::structure_lines(e, opts);
    chunk(
        structure
            .iter()
            .map(|(kind, l)| format!("- `{}` {}\n", kind.symbol(), link_rules(&text(l)))),
        |continued| {
            format!(
                "**Structure**{}\n\n",
                if continued { " (continued)" } else { "" }
            )
        },
        "\n",
        blocks,
    );

    let _ = writeln!(
        blocks.last_mut().expect("the intro block"),
        "**Sessions** — each ends with a log-out, so that the next one sees its writes ([R1]({RULES_DOC}#r1)):\n"
    );
    blocks.push(format!("```mermaid\n{}```\n\n", summary::mermaid(e)));

    // The detailed plan, folded; a block holds whole sessions.
    let open = |continued: bool| {
        format!(
            "<details><summary>Detailed plan of {heading}{}</summary>\n\n```diff\n",
            if continued { " (continued)" } else { "" }
        )
    };
    let close = "```\n\n</details>\n\n";
    let pieces = enterprise_pieces(e, opts, LineLayout::DiffBlock);
    let mut lines: Vec<String> = Vec::new();
    for piece in pieces {
        // A code block cannot be escaped, only kept from closing early.
        let piece = piece.replace("```", "'''");
        if piece.len() + open(true).len() + close.len() <= BLOCK_LIMIT {
            lines.push(piece);
        } else {
            // One session larger than a block: the only place cut between its steps.
            lines.extend(piece.lines().map(|l| format!("{l}\n")));
        }
    }
    chunk(lines, open, close, blocks);
}
