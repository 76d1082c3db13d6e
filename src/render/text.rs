//! The plan as text, like Terraform's: `+ ~ - ±` per object, grouped by session, each
//! log-out drawn as a barrier, field diffs for updates, then findings and the summary.

use std::fmt::Write as _;

use super::{
    Counts, RenderOptions, duration, field_update, field_value, finding_line, object, summary,
};
use crate::model::{
    Change, ChangeKind, EnterprisePlan, FieldChange, Phase, Plan, Session, Step, Write,
};

/// How lines are laid out: for a terminal, or inside a Markdown ```diff block (the
/// symbol in the first column, so that GitHub colours additions and deletions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineLayout {
    Terminal,
    DiffBlock,
}

/// The whole plan as text.
pub fn render(plan: &Plan, opts: &RenderOptions) -> String {
    let steps: usize = plan.enterprises.iter().map(|e| e.steps().count()).sum();
    let mut out = String::with_capacity(256 + steps * 400);
    let _ = writeln!(
        out,
        "csamctl plan · acting as {} · plan {}",
        opts.actor(plan.actor.as_ref()),
        &plan.id[..plan.id.len().min(12)]
    );
    // In batches, so that at most one batch of sections exists beside the whole text.
    for batch in plan.enterprises.chunks(256) {
        let sections = crate::parallel::map(batch.iter().collect(), |e| {
            let mut section = String::with_capacity(e.steps().count() * 400);
            write_enterprise(&mut section, e, opts, LineLayout::Terminal);
            section
        });
        for section in sections {
            out.push('\n');
            out.push_str(&section);
        }
    }
    if !plan.findings.is_empty() {
        out.push('\n');
        for f in &plan.findings {
            let _ = writeln!(out, "{}", finding_line(f, opts));
        }
    }
    out.push('\n');
    let _ = writeln!(out, "{}", opts.bold(&super::summary(plan)));
    out
}

/// The heading of an enterprise's section.
pub(crate) fn enterprise_heading(e: &EnterprisePlan) -> String {
    let counts = Counts::of(&e.changes, &e.phases);
    format!("Enterprise {} {}: {}", e.kbo, e.name, counts.describe())
}

/// One enterprise: its heading, the reviewer's summary (people, structure), then the
/// detailed plan, appended to `out`.
pub(crate) fn write_enterprise(
    out: &mut String,
    e: &EnterprisePlan,
    opts: &RenderOptions,
    layout: LineLayout,
) {
    if layout == LineLayout::Terminal {
        let _ = writeln!(out, "{}", opts.bold(&enterprise_heading(e)));
        write_summary(out, e, opts);
    }
    for piece in enterprise_pieces(e, opts, layout) {
        out.push_str(&piece);
    }
}

/// The people table and the structural changes, as aligned text.
fn write_summary(out: &mut String, e: &EnterprisePlan, opts: &RenderOptions) {
    let rows = summary::people(e);
    if !rows.is_empty() {
        let _ = writeln!(out, "  People: {}", summary::people_line(&rows));
        let table: Vec<[String; 6]> = std::iter::once([
            "name".to_string(),
            "username".into(),
            "INSZ".into(),
            "site".into(),
            "functions".into(),
            "change".into(),
        ])
        .chain(rows.iter().map(|r| {
            [
                r.name.clone(),
                r.username.clone(),
                opts.insz(&r.insz),
                r.level.clone(),
                summary::functions_change(r),
                r.change.label().to_string(),
            ]
        }))
        .collect();
        let mut widths = [0usize; 6];
        for cells in &table {
            for (w, c) in widths.iter_mut().zip(cells) {
                *w = (*w).max(c.chars().count());
            }
        }
        for (i, cells) in table.iter().enumerate() {
            let mut line = String::from("   ");
            for (j, (w, c)) in widths.iter().zip(cells).enumerate() {
                line.push(' ');
                line.push_str(c);
                if j + 1 < cells.len() {
                    line.extend(std::iter::repeat_n(' ', w - c.chars().count() + 1));
                }
            }
            let line = line.trim_end().to_string();
            let _ = writeln!(out, "{}", if i == 0 { opts.dim(&line) } else { line });
        }
    }
    let structure = summary::structure_lines(e, opts);
    if !structure.is_empty() {
        let _ = writeln!(out, "  Structure:");
        for (kind, line) in structure {
            let _ = writeln!(out, "    {} {line}", opts.symbol(kind));
        }
    }
    let _ = writeln!(out, "  Sessions, step by step:");
}

/// The detailed plan of one enterprise in pieces that may be shown apart: one per
/// session (its steps and its log-out, with the reason), one per other phase. Markdown
/// splits a long plan into comments only between pieces.
pub(crate) fn enterprise_pieces(
    e: &EnterprisePlan,
    opts: &RenderOptions,
    layout: LineLayout,
) -> Vec<String> {
    let indent = if layout == LineLayout::Terminal {
        "  "
    } else {
        ""
    };
    let barrier = |out: &mut String, text: &str| match layout {
        LineLayout::Terminal => {
            let _ = writeln!(out, "{indent}{}", opts.dim(&format!("══ {text} ══")));
        }
        LineLayout::DiffBlock => {
            let _ = writeln!(out, "@@ {text} @@");
        }
    };
    let mut pieces = Vec::new();
    for phase in &e.phases {
        let mut out = String::new();
        match phase {
            Phase::Sessions { sessions } => {
                if sessions.len() > 1 {
                    let first = sessions.first().map(|s| s.label.as_str()).unwrap_or("");
                    let last = sessions.last().map(|s| s.label.as_str()).unwrap_or("");
                    let _ = writeln!(
                        out,
                        "{indent}{}",
                        opts.dim(&format!(
                            "sessions {first}–{last} may run at the same time (one site per session, R2)"
                        ))
                    );
                }
                for s in sessions {
                    write_session(&mut out, s, e, opts, layout);
                    barrier(
                        &mut out,
                        &format!(
                            "log out of session {}: {}",
                            s.label,
                            summary::log_out_reason(e, s)
                        ),
                    );
                    pieces.push(std::mem::take(&mut out));
                }
                continue;
            }
            Phase::Gate {
                ticket,
                expected_ms,
            } => {
                let ticket = ticket
                    .as_ref()
                    .map(|t| format!(" (ticket {t})"))
                    .unwrap_or_default();
                barrier(
                    &mut out,
                    &format!(
                        "GATE (R7): wait for the validation of the main access manager's designation{ticket}, about {}: the legal representative signs the request with the eID and mails it; nothing else is possible for this enterprise until then",
                        duration(*expected_ms)
                    ),
                );
            }
            Phase::Notices { notices } => {
                let _ = writeln!(
                    out,
                    "{indent}Notify the coordination centre (CvKO, R9) before the first log-in to Heracles:"
                );
                for n in notices {
                    let _ = writeln!(
                        out,
                        "{indent}  site {}: head radiologist {} ({})",
                        n.site,
                        n.username,
                        opts.insz(&n.insz)
                    );
                }
            }
            Phase::Propagation { wait_ms } => {
                let _ = writeln!(
                    out,
                    "{indent}Wait {}: user changes reach Heracles only after the propagation delay (R6)",
                    duration(*wait_ms)
                );
            }
        }
        pieces.push(out);
    }
    pieces
}

fn write_session(
    out: &mut String,
    s: &Session,
    e: &EnterprisePlan,
    opts: &RenderOptions,
    layout: LineLayout,
) {
    let heading = format!("Session {} · {}", s.label, s.purpose);
    let _ = match layout {
        LineLayout::Terminal => writeln!(out, "  {}", opts.bold(&heading)),
        LineLayout::DiffBlock => writeln!(out, "# {heading}"),
    };
    for step in &s.steps {
        let Some(change) = e.changes.get(step.change) else {
            continue;
        };
        write_step(out, step, change, opts, layout);
    }
}

/// The fields a step shows: all of a creation's, the relevant ones of an update.
fn step_fields(step: &Step, change: &Change) -> Vec<FieldChange> {
    let only = |names: &[&str]| -> Vec<FieldChange> {
        change
            .shown_fields()
            .into_owned()
            .into_iter()
            .filter(|f| names.contains(&f.field.as_str()))
            .collect()
    };
    match &step.write {
        Write::DesignateMainAccessManager { .. }
        | Write::AddAccessManager { .. }
        | Write::ActivateCapacity { .. }
        | Write::CreateSubdivision { .. }
        | Write::CreateSite { .. } => change.shown_fields().into_owned(),
        Write::CreateUser { .. } => change
            .shown_fields()
            .into_owned()
            .into_iter()
            .filter(|f| f.field != "functions")
            .collect(),
        Write::SetFunctions { .. } => only(&["functions"]),
        Write::UpdateUser { .. } => only(&[
            "last_name",
            "first_name",
            "title",
            "language",
            "email",
            "local_email",
        ]),
        Write::SetApplications { .. } => only(&["applications"]),
        Write::SetActive { .. } => only(&["active"]),
        Write::UpdateCapacity { .. } => only(&["email", "local_administrator"]),
        Write::UpdateSubdivision { .. } | Write::UpdateSite { .. } => {
            only(&["name", "email", "administrator"])
        }
        Write::RemoveAccessManager { .. }
        | Write::DeleteSubdivision { .. }
        | Write::DeleteSite { .. }
        | Write::DeleteUser { .. } => Vec::new(),
    }
}

fn step_title(step: &Step, change: &Change, opts: &RenderOptions) -> String {
    let what = object(change, opts);
    let cause = change
        .cause
        .map(|c| format!("  ({})", c.explain()))
        .unwrap_or_default();
    match &step.write {
        Write::SetFunctions { .. } => format!("functions of {what}"),
        Write::SetApplications { .. } => format!("applications of {what}"),
        Write::SetActive { active: true, .. } => format!("activate {what}"),
        Write::SetActive { active: false, .. } => format!("suspend {what}"),
        Write::DesignateMainAccessManager { .. } => {
            format!("designation request for {what}")
        }
        Write::RemoveAccessManager { .. }
        | Write::DeleteSubdivision { .. }
        | Write::DeleteSite { .. }
        | Write::DeleteUser { .. }
            if change.kind == ChangeKind::Replace =>
        {
            format!("{what}: delete, to create again{cause}")
        }
        Write::AddAccessManager { .. } | Write::CreateSite { .. } | Write::CreateUser { .. }
            if change.kind == ChangeKind::Replace =>
        {
            format!("{what}: create again")
        }
        _ if change.kind == ChangeKind::Delete => format!("{what}{cause}"),
        _ => what,
    }
}

fn write_step(
    out: &mut String,
    step: &Step,
    change: &Change,
    opts: &RenderOptions,
    layout: LineLayout,
) {
    let plain_symbol = change.kind.symbol();
    let title = step_title(step, change, opts);
    let _ = match layout {
        LineLayout::Terminal => writeln!(out, "    {} {title}", opts.symbol(change.kind)),
        LineLayout::DiffBlock => writeln!(out, "{plain_symbol} {title}"),
    };
    let fields = step_fields(step, change);
    let width = fields.iter().map(|f| f.field.len()).max().unwrap_or(0);
    for f in fields {
        let value = if change.before.is_none() {
            field_value(&f.after, opts)
        } else {
            field_update(&f.before, &f.after, opts)
        };
        let _ = match layout {
            LineLayout::Terminal => writeln!(out, "          {:width$} = {value}", f.field),
            LineLayout::DiffBlock => {
                writeln!(out, "{plain_symbol}       {:width$} = {value}", f.field)
            }
        };
    }
}

/// What moved in the registry since a saved plan was made (a stale plan), object by
/// object, for `apply --plan` to print when it refuses.
pub(crate) fn drift(drifts: &[crate::model::EnterpriseDrift], opts: &RenderOptions) -> String {
    let mut out = String::new();
    for d in drifts {
        let version =
            |v: Option<u64>| v.map_or_else(|| "not readable".into(), |v| format!("version {v}"));
        let _ = writeln!(
            out,
            "Enterprise {} changed in the registry since the plan was made ({} → {}):",
            d.kbo,
            version(d.saved.version),
            version(d.now.version)
        );
        if d.changes.is_empty() {
            let _ = writeln!(out, "    (no details: one side could not be read)");
        }
        for c in &d.changes {
            let verb = match c.kind {
                ChangeKind::Create => "appeared",
                ChangeKind::Delete => "disappeared",
                ChangeKind::Update | ChangeKind::Replace => "changed",
            };
            let _ = writeln!(
                out,
                "    {} {} {verb}",
                opts.symbol(c.kind),
                object(c, opts)
            );
            if c.kind == ChangeKind::Update {
                for f in &c.fields {
                    let _ = writeln!(
                        out,
                        "          {} = {}",
                        f.field,
                        field_update(&f.before, &f.after, opts)
                    );
                }
            }
        }
    }
    out
}
