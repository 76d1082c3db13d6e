//! The reviewer's summary that opens a plan: who gains or loses access where (one row per
//! person and site), one line per structural change, why each log-out is needed, and
//! (for Markdown) a Mermaid diagram of each enterprise's chain of sessions.
//!
//! Everything here is read off the [`EnterprisePlan`]: the rows from its user changes,
//! the diagram from its phases, so that the summary, the diagram and the detailed diff
//! always tell the same story (one log-out per session in each of them).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{RenderOptions, duration, object};
use crate::model::{
    Application, Change, ChangeKind, EnterprisePlan, Function, Insz, Object, ObjectValue, Phase,
    Session, UserLevel, UserValue, Write,
};

/// What a change does to one person's access on one site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum AccessChange {
    /// Has no access before, has it after.
    Gains,
    /// Had access, has none after (deleted, or no function or Heracles left).
    Loses,
    /// Keeps access with other functions.
    FunctionChange,
    /// Suspended (inactive): no access while suspended.
    Suspended,
    /// Access unchanged: names, e-mail, language, applications other than Heracles.
    DetailsOnly,
    /// A user record on the capacity or subdivision level: it never gave access (R4).
    WrongLevel,
}

impl AccessChange {
    /// `6 gain access`: a count of rows with this change.
    pub(crate) fn counted(self, n: usize) -> String {
        let words = match self {
            AccessChange::Gains => super::plural(n, "gains access", "gain access"),
            AccessChange::Loses => super::plural(n, "loses access", "lose access"),
            AccessChange::FunctionChange => super::plural(n, "function change", "function changes"),
            AccessChange::Suspended => "suspended",
            AccessChange::DetailsOnly => "details only",
            AccessChange::WrongLevel => "removed at the wrong level (R4)",
        };
        format!("{n} {words}")
    }

    /// The words shown in the table.
    pub(crate) fn label(self) -> &'static str {
        match self {
            AccessChange::Gains => "gains access",
            AccessChange::Loses => "loses access",
            AccessChange::FunctionChange => "function change",
            AccessChange::Suspended => "suspended",
            AccessChange::DetailsOnly => "details only",
            AccessChange::WrongLevel => "removed: at the wrong level, gave no access (R4)",
        }
    }
}

/// One row of the people table: one person on one level.
#[derive(Clone, Debug)]
pub(crate) struct PersonRow {
    /// `LAST First`.
    pub name: String,
    /// The username.
    pub username: String,
    /// The person.
    pub insz: Insz,
    /// `71977101` for a site, `capacity …` / `subdivision …` otherwise.
    pub level: String,
    /// Functions before (empty for a new record).
    pub before: BTreeSet<Function>,
    /// Functions after (empty for a deletion).
    pub after: BTreeSet<Function>,
    /// What changes for the person.
    pub change: AccessChange,
}

fn user(v: Option<&ObjectValue>) -> Option<&UserValue> {
    match v {
        Some(ObjectValue::User(u)) => Some(u),
        _ => None,
    }
}

/// Whether a user record gives access (as far as the record itself goes; the levels
/// above and R6/R9 are the plan's other lines).
fn gives_access(u: Option<&UserValue>) -> bool {
    u.is_some_and(|u| {
        u.active && !u.functions.is_empty() && u.applications.contains(&Application::Heracles)
    })
}

fn row(change: &Change) -> Option<PersonRow> {
    let Object::User { level, insz } = &change.object else {
        return None;
    };
    let (before, after) = (user(change.before.as_ref()), user(change.after.as_ref()));
    let shown = after.or(before)?;
    let on_site = matches!(level, UserLevel::Site { .. });
    let access = match (gives_access(before), gives_access(after)) {
        _ if !on_site => AccessChange::WrongLevel,
        (_, false) if after.is_some_and(|u| !u.active) => AccessChange::Suspended,
        (false, true) => AccessChange::Gains,
        (true, false) => AccessChange::Loses,
        (true, true) if before.map(|u| &u.functions) != after.map(|u| &u.functions) => {
            AccessChange::FunctionChange
        }
        _ => AccessChange::DetailsOnly,
    };
    Some(PersonRow {
        name: format!("{} {}", shown.details.last_name, shown.details.first_name),
        username: shown.username.to_string(),
        insz: *insz,
        level: match level {
            UserLevel::Site { hco } => hco.to_string(),
            other => other.to_string(),
        },
        before: before.map(|u| u.functions.clone()).unwrap_or_default(),
        after: after.map(|u| u.functions.clone()).unwrap_or_default(),
        change: access,
    })
}

/// The people rows of an enterprise, by name, then level.
pub(crate) fn people(e: &EnterprisePlan) -> Vec<PersonRow> {
    let mut rows: Vec<PersonRow> = e.changes.iter().filter_map(row).collect();
    rows.sort_by(|a, b| (&a.name, &a.username, &a.level).cmp(&(&b.name, &b.username, &b.level)));
    rows
}

/// `technologist, administrative`, or `—` for none.
pub(crate) fn functions(f: &BTreeSet<Function>) -> String {
    if f.is_empty() {
        "—".into()
    } else {
        f.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `— → technologist`, or just the functions when they do not change.
pub(crate) fn functions_change(r: &PersonRow) -> String {
    if r.before == r.after {
        functions(&r.after)
    } else {
        format!("{} → {}", functions(&r.before), functions(&r.after))
    }
}

/// One line per people count: `44 people on 68 site records: 68 gain access`.
pub(crate) fn people_line(rows: &[PersonRow]) -> String {
    let persons: BTreeSet<&Insz> = rows.iter().map(|r| &r.insz).collect();
    let mut by: Vec<(AccessChange, usize)> = Vec::new();
    for r in rows {
        match by.iter_mut().find(|(c, _)| *c == r.change) {
            Some((_, n)) => *n += 1,
            None => by.push((r.change, 1)),
        }
    }
    by.sort();
    let parts: Vec<String> = by.iter().map(|(c, n)| c.counted(*n)).collect();
    format!(
        "{} {}, {} {}: {}",
        persons.len(),
        super::plural(persons.len(), "person", "people"),
        rows.len(),
        super::plural(rows.len(), "user record", "user records"),
        parts.join(", ")
    )
}

/// One line per change that is not a user record: `+ site 71977101 "Campus Menen"`,
/// `~ capacity mammography-unit: email`, `- access manager … (not in the desired state:
/// will be deleted)`.
pub(crate) fn structure_lines(
    e: &EnterprisePlan,
    opts: &RenderOptions,
) -> Vec<(ChangeKind, String)> {
    e.changes
        .iter()
        .filter(|c| !matches!(c.object, Object::User { .. }))
        .map(|c| {
            let mut line = object(c, opts);
            if c.kind == ChangeKind::Update && !c.fields.is_empty() {
                let fields: Vec<&str> = c.fields.iter().map(|f| f.field.as_str()).collect();
                let _ = write!(line, ": {}", fields.join(", "));
            }
            if let Some(cause) = c.cause {
                let _ = write!(line, " ({})", cause.explain());
            }
            (c.kind, line)
        })
        .collect()
}

/// What a write makes that a later session may need processed first (R1), as words.
fn provides(w: &Write) -> Option<String> {
    match w {
        Write::ActivateCapacity { kind, .. } => Some(format!("capacity {kind}")),
        Write::CreateSubdivision { hco, .. } => Some(format!("subdivision {hco}")),
        Write::CreateSite { hco, .. } => Some(format!("site {hco}")),
        Write::CreateUser { level, user } => Some(format!("user {} on {level}", user.username)),
        _ => None,
    }
}

/// What a write needs to be processed before it (R1), in the words of [`provides`].
fn needs(w: &Write, e: &EnterprisePlan) -> Option<String> {
    match w {
        Write::CreateSubdivision { kind, .. } => Some(format!("capacity {kind}")),
        Write::CreateSite { subdivision, .. } => Some(format!("subdivision {subdivision}")),
        Write::CreateUser {
            level: UserLevel::Site { hco },
            ..
        } => Some(format!("site {hco}")),
        Write::SetFunctions { level, insz, .. } => {
            e.changes
                .iter()
                .find_map(|c| match (&c.object, c.username()) {
                    (Object::User { level: l, insz: i }, Some(u)) if l == level && i == insz => {
                        Some(format!("user {u} on {level}"))
                    }
                    _ => None,
                })
        }
        _ => None,
    }
}

/// Why a session must end with a log-out: which rule, and the first later session that
/// needs one of its writes processed.
pub(crate) fn log_out_reason(e: &EnterprisePlan, session: &Session) -> String {
    let made: BTreeSet<String> = session
        .steps
        .iter()
        .filter_map(|s| provides(&s.write))
        .collect();
    let one_site = session
        .steps
        .iter()
        .any(|s| matches!(s.write, Write::CreateSite { .. }));
    let mut later = e
        .sessions()
        .skip_while(|s| s.label != session.label)
        .skip(1);
    let needed = later.find_map(|s| {
        s.steps.iter().find_map(|step| {
            needs(&step.write, e)
                .filter(|n| made.contains(n))
                .map(|n| (s, n))
        })
    });
    let mut why = match needed {
        Some((s, what)) => {
            format!(
                "session {} ({}) needs {what} processed first (R1)",
                s.label, s.purpose
            )
        }
        None => {
            "its writes are processed, and seen by other sessions, only once it ends (R1)".into()
        }
    };
    if one_site {
        why.push_str("; one site per session (R2)");
    }
    if session
        .steps
        .iter()
        .any(|s| matches!(s.write, Write::DesignateMainAccessManager { .. }))
    {
        why.push_str("; then the gate (R7)");
    }
    why
}

/// Text inside a Mermaid node label (quotes and angle brackets as entities).
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// A Mermaid flowchart of the enterprise's chain: every session, its log-out (one edge
/// per session, so the drawn log-outs equal the counted ones), the gate (R7), the
/// coordination-centre notice (R9) and the propagation wait (R6). The source only: the
/// Markdown fences it, the HTML page puts it in a `<pre class="mermaid">`.
pub(crate) fn mermaid(e: &EnterprisePlan) -> String {
    let mut out = String::from("flowchart TD\n");
    let mut ends: Vec<String> = Vec::new();
    let link = |out: &mut String, ends: &[String], to: &str| {
        for from in ends {
            let _ = writeln!(out, "  {from} --> {to}");
        }
    };
    for (i, phase) in e.phases.iter().enumerate() {
        match phase {
            Phase::Sessions { sessions } => {
                let join = format!("p{i}");
                for s in sessions {
                    let id = format!("s{}", s.label);
                    let _ = writeln!(
                        out,
                        "  {id}[\"Session {}: {}\"]",
                        s.label,
                        mermaid_text(&s.purpose)
                    );
                    link(&mut out, &ends, &id);
                    let _ = writeln!(out, "  {id} -- \"log out\" --> {join}");
                }
                let _ = writeln!(out, "  {join}((\"processed (R1)\"))");
                ends = vec![join];
            }
            Phase::Gate { expected_ms, .. } => {
                let id = format!("g{i}");
                let _ = writeln!(
                    out,
                    "  {id}{{{{\"GATE (R7): designation validated, about {}\"}}}}",
                    duration(*expected_ms)
                );
                link(&mut out, &ends, &id);
                ends = vec![id];
            }
            Phase::Notices { notices } => {
                let id = format!("n{i}");
                let _ = writeln!(
                    out,
                    "  {id}[/\"Notify the coordination centre (R9): {} head {}\"/]",
                    notices.len(),
                    super::plural(notices.len(), "radiologist", "radiologists")
                );
                link(&mut out, &ends, &id);
                ends = vec![id];
            }
            Phase::Propagation { wait_ms } => {
                let id = format!("w{i}");
                let _ = writeln!(out, "  {id}([\"wait {} (R6)\"])", duration(*wait_ms));
                link(&mut out, &ends, &id);
                ends = vec![id];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mermaid_labels_cannot_break_out_of_their_quotes() {
        assert_eq!(mermaid_text(r#"a "b" <c>"#), "a #quot;b#quot; #lt;c#gt;");
    }
}
