//! `plan --format markdown`: a pull-request comment. The summary first, then one
//! collapsed `<details>` per enterprise holding its plan in a ```diff block (GitHub
//! colours `+` and `-` lines; `@@` lines are the log-out barriers).
//!
//! GitHub refuses comments of 65,536 characters or more, so a large plan is split into
//! parts of at most [`PART_LIMIT`] bytes (bytes ≥ characters, so the limit holds for
//! characters too); each part is a complete comment, and an enterprise too large for
//! one part continues in the next with its block reopened.

use std::fmt::Write as _;

use super::RenderOptions;
use super::text::{Layout, enterprise_heading, write_enterprise};
use crate::model::Plan;

/// The largest part, in bytes, with room left for the part heading.
pub const PART_LIMIT: usize = 65_000;

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

/// The plan as one or more Markdown comments.
pub fn render(plan: &Plan, opts: &RenderOptions) -> Vec<String> {
    let opts = RenderOptions {
        colour: false,
        ..*opts
    };
    let mut head = String::new();
    let _ = writeln!(head, "### csamctl plan\n");
    let _ = writeln!(head, "**{}**\n", super::summary(plan));
    let _ = writeln!(
        head,
        "Acting as `{}` · plan `{}`\n",
        opts.actor(plan.actor.as_ref()),
        &plan.id[..plan.id.len().min(12)]
    );

    // Blocks, each well below a part: the findings, then every enterprise in chunks.
    let mut blocks: Vec<String> = Vec::new();
    let mut findings = String::new();
    for f in &plan.findings {
        let line = format!("- {}\n", escape(&super::finding_line(f, &opts)));
        if findings.len() + line.len() > PART_LIMIT / 2 {
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
        let summary = format!("<b>{}</b>", escape(&enterprise_heading(e)));
        let open = |continued: bool| {
            format!(
                "<details><summary>{summary}{}</summary>\n\n```diff\n",
                if continued { " (continued)" } else { "" }
            )
        };
        let close = "```\n\n</details>\n\n";
        let mut block = open(false);
        let mut text = String::new();
        write_enterprise(&mut text, e, &opts, Layout::DiffBlock);
        for line in text.lines() {
            // A code block cannot be escaped, only kept from closing early.
            let line = line.replace("```", "'''");
            if block.len() + line.len() + 1 + close.len() > PART_LIMIT / 2 {
                block.push_str(close);
                blocks.push(std::mem::take(&mut block));
                block = open(true);
            }
            block.push_str(&line);
            block.push('\n');
        }
        block.push_str(close);
        blocks.push(block);
    }

    let mut parts: Vec<String> = vec![head];
    for block in blocks {
        let fits = parts
            .last()
            .is_some_and(|p| p.len() + block.len() <= PART_LIMIT);
        if fits {
            if let Some(p) = parts.last_mut() {
                p.push_str(&block);
            }
        } else {
            parts.push(block);
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
