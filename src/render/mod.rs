//! Plan output: Terraform-like text, versioned JSON (with a JSON Schema), and Markdown
//! for a pull-request comment. Renderers decide nothing: they show the [`Plan`] value.
//!
//! National register numbers are masked everywhere unless
//! [`RenderOptions::show_personal_data`]; passwords cannot appear, because a plan only
//! ever holds a [`crate::model::PasswordRef`] (where the password will be read), shown as
//! "sensitive".
//!
//! May use `model`, `execute`'s and the registry's report values, `similar` and `jiff`.

pub(crate) mod access;
pub(crate) mod apply_report;
pub(crate) mod drift;
pub mod export;
pub(crate) mod html;
pub mod json;
pub mod markdown;
pub(crate) mod notice;
pub mod runbook;
pub(crate) mod summary;
pub mod text;
pub(crate) mod yaml;

use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

use crate::model::{
    Change, ChangeKind, FieldValue, Insz, LiveAdministrator, Object, PasswordRef, Phase, Plan,
    Severity,
};

/// A registry time (milliseconds since the epoch) as `2026-01-05T08:20:00Z` (UTC,
/// whole seconds).
pub(crate) fn utc_time(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => format!("{ms} ms after the epoch"),
    }
}

/// How to render.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// ANSI colours (a terminal, and `NO_COLOR` not set).
    pub colour: bool,
    /// Full national register numbers instead of masked ones.
    pub show_personal_data: bool,
}

impl RenderOptions {
    /// An INSZ as these options show it.
    pub fn insz(&self, insz: &Insz) -> String {
        if self.show_personal_data {
            insz.formatted()
        } else {
            insz.masked()
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.colour && !s.is_empty() {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// The acting person as shown (`unknown` when not established).
    pub(crate) fn actor(&self, actor: Option<&Insz>) -> String {
        actor.map_or_else(|| "an unknown person".to_string(), |a| self.insz(a))
    }

    /// Green (creation).
    pub(crate) fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }

    /// Red (deletion).
    pub(crate) fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }

    /// Yellow (change, warning).
    pub(crate) fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }

    /// Magenta (replacement).
    pub(crate) fn magenta(&self, s: &str) -> String {
        self.paint("35", s)
    }

    /// Bold.
    pub(crate) fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }

    /// Dim.
    pub(crate) fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }

    /// A change kind's symbol in its colour.
    pub(crate) fn symbol(&self, kind: ChangeKind) -> String {
        let s = kind.symbol();
        match kind {
            ChangeKind::Create => self.green(s),
            ChangeKind::Update => self.yellow(s),
            ChangeKind::Replace => self.magenta(s),
            ChangeKind::Delete => self.red(s),
        }
    }
}

/// Counts for the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Objects created.
    pub create: usize,
    /// Objects changed in place.
    pub update: usize,
    /// Objects replaced.
    pub replace: usize,
    /// Objects deleted.
    pub delete: usize,
    /// Sessions (each ends with a log-out).
    pub log_outs: usize,
    /// HTB gates.
    pub gates: usize,
}

impl Counts {
    /// The counts of a set of changes and phases.
    pub fn of<'a>(
        changes: impl IntoIterator<Item = &'a Change>,
        phases: impl IntoIterator<Item = &'a Phase>,
    ) -> Counts {
        let mut c = Counts::default();
        for ch in changes {
            match ch.kind {
                ChangeKind::Create => c.create += 1,
                ChangeKind::Update => c.update += 1,
                ChangeKind::Replace => c.replace += 1,
                ChangeKind::Delete => c.delete += 1,
            }
        }
        for p in phases {
            match p {
                Phase::Sessions { sessions } => c.log_outs += sessions.len(),
                Phase::Gate { .. } => c.gates += 1,
                _ => {}
            }
        }
        c
    }

    /// The counts of a whole plan.
    pub fn of_plan(plan: &Plan) -> Counts {
        Counts::of(
            plan.changes(),
            plan.enterprises.iter().flat_map(|e| &e.phases),
        )
    }

    /// `12 to create, 3 to change, 1 to delete; 6 log-outs; 1 gate`.
    pub fn describe(&self) -> String {
        let mut s = format!("{} to create, {} to change", self.create, self.update);
        if self.replace > 0 {
            let _ = write!(s, ", {} to replace", self.replace);
        }
        let _ = write!(s, ", {} to delete", self.delete);
        let _ = write!(
            s,
            "; {} {}",
            self.log_outs,
            plural(self.log_outs, "log-out", "log-outs")
        );
        if self.gates > 0 {
            let _ = write!(
                s,
                "; {} {}",
                self.gates,
                plural(self.gates, "gate", "gates")
            );
        }
        s
    }
}

/// `one` or `many`.
pub(crate) fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// A duration for people: `under 1 min`, `21 min`, `2 h 5 min`, `48 h`.
pub(crate) fn duration(ms: u64) -> String {
    let minutes = ms.div_ceil(60_000);
    if ms < 60_000 {
        return "under 1 min".into();
    }
    let (h, m) = (minutes / 60, minutes % 60);
    match (h, m) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// The summary line of a plan.
pub fn summary(plan: &Plan) -> String {
    let errors: Vec<&crate::model::Finding> = plan
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    if let Some(first) = errors.first() {
        let counts = Counts::of_plan(plan);
        let more = match errors.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return format!(
            "Plan refused: {} {}; nothing can be applied. {}: {}{more}. Fix the desired state or act as someone allowed to, then plan again. The plan would make: {}",
            errors.len(),
            plural(errors.len(), "error", "errors"),
            first.code,
            first.message,
            counts.describe()
        );
    }
    // A plan by someone who may not read every level's users is about what they read:
    // the summary says so, never "matches".
    let partial = plan
        .findings
        .iter()
        .any(|f| f.code == crate::diff::USERS_NOT_READABLE);
    if plan.is_empty() {
        if partial {
            return "No changes in what the acting person may read. The users of levels they may not read were left alone, not compared (see the warning): plan as someone with authority over them to compare those.".into();
        }
        return "No changes. The registry matches the desired state.".into();
    }
    let counts = Counts::of_plan(plan);
    let mut s = format!("Plan: {}", counts.describe());
    if partial {
        s.push_str(" (in what the acting person may read: the users of other levels are left alone, see the warning)");
    }
    let ready = match duration(plan.estimate.ready_ms) {
        d if d.starts_with("under") => d,
        d => format!("about {d}"),
    };
    if counts.gates > 0 {
        let _ = write!(s, "; ready in {ready} once the gate clears");
    } else {
        let _ = write!(s, "; ready in {ready}");
    }
    s
}

/// An administrator as shown.
pub(crate) fn administrator(a: &LiveAdministrator, opts: &RenderOptions) -> String {
    match a {
        LiveAdministrator::Itself => "self".into(),
        LiveAdministrator::Person { insz } => opts.insz(insz),
        LiveAdministrator::Account { username, insz, .. } => {
            format!("account {username} ({})", opts.insz(insz))
        }
    }
}

fn password_ref(p: &PasswordRef) -> String {
    format!("(sensitive: read at apply time from {p})")
}

/// Text in double quotes, escaped as Rust's `Debug` does when it must be.
fn quoted(s: &str) -> String {
    // Printable ASCII other than the quote and the backslash is shown as is by `Debug`.
    if s.bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
        out
    } else {
        format!("{s:?}")
    }
}

/// A field value as text, quoted like Terraform's strings.
pub(crate) fn field_value(v: &FieldValue, opts: &RenderOptions) -> String {
    match v {
        FieldValue::Absent => "(none)".into(),
        FieldValue::Text(s) => quoted(s),
        FieldValue::Insz(i) => opts.insz(i),
        FieldValue::List(items) => format!("[{}]", items.join(", ")),
        FieldValue::Flag(b) => b.to_string(),
        FieldValue::Administrator(a) => administrator(a, opts),
        FieldValue::Secret(p) => password_ref(p),
    }
}

/// An updated field's old and new value. Text of several words is shown once with
/// the words that changed marked (a word diff computed with `similar`); a list shows its
/// new items with the added and removed ones marked; anything else is `old → new`.
/// Without colour, removed words are marked `[-…-]` and added ones `{+…+}` (git's
/// word-diff notation); with colour they are red and green.
pub(crate) fn field_update(
    before: &FieldValue,
    after: &FieldValue,
    opts: &RenderOptions,
) -> String {
    let removed = |s: &str| {
        if opts.colour {
            opts.red(&format!("[-{s}-]"))
        } else {
            format!("[-{s}-]")
        }
    };
    let added = |s: &str| {
        if opts.colour {
            opts.green(&format!("{{+{s}+}}"))
        } else {
            format!("{{+{s}+}}")
        }
    };
    match (before, after) {
        (FieldValue::Text(old), FieldValue::Text(new))
            if old.contains(char::is_whitespace) || new.contains(char::is_whitespace) =>
        {
            let diff = TextDiff::from_words(old.as_str(), new.as_str());
            // Runs of the same kind are joined, so that a change reads as one mark.
            let mut runs: Vec<(ChangeTag, String)> = Vec::new();
            for change in diff.iter_all_changes() {
                match runs.last_mut() {
                    Some((tag, text)) if *tag == change.tag() => text.push_str(change.value()),
                    _ => runs.push((change.tag(), change.value().to_string())),
                }
            }
            let mut out = String::from("\"");
            for (tag, text) in runs {
                match tag {
                    ChangeTag::Equal => out.push_str(&text),
                    ChangeTag::Delete => out.push_str(&removed(&text)),
                    ChangeTag::Insert => out.push_str(&added(&text)),
                }
            }
            out.push('"');
            out
        }
        (FieldValue::List(old), FieldValue::List(new)) => {
            let mut items: Vec<String> = Vec::new();
            for item in new {
                if old.contains(item) {
                    items.push(item.clone());
                } else {
                    items.push(added(item));
                }
            }
            for item in old.iter().filter(|i| !new.contains(i)) {
                items.push(removed(item));
            }
            format!("[{}]", items.join(", "))
        }
        _ => format!(
            "{} → {}",
            field_value(before, opts),
            field_value(after, opts)
        ),
    }
}

/// An object in words, INSZ as the options say, with a name where it helps.
pub(crate) fn object(change: &Change, opts: &RenderOptions) -> String {
    use crate::model::ObjectValue as V;
    let value = change.after.as_ref().or(change.before.as_ref());
    match (&change.object, value) {
        (Object::MainAccessManager { insz }, Some(V::MainAccessManager(d))) => format!(
            "main access manager {} {} ({})",
            d.main_access_manager.last_name,
            d.main_access_manager.first_name,
            opts.insz(insz)
        ),
        (Object::MainAccessManager { insz }, _) => {
            format!("main access manager {}", opts.insz(insz))
        }
        (Object::AccessManager { insz }, Some(V::AccessManager(a))) => format!(
            "access manager {} {} ({})",
            a.last_name,
            a.first_name,
            opts.insz(insz)
        ),
        (Object::AccessManager { insz }, _) => format!("access manager {}", opts.insz(insz)),
        (Object::Capacity { kind }, _) => format!("capacity {kind}"),
        (Object::Subdivision { hco }, Some(V::Subdivision(s))) => {
            format!("subdivision {hco} {:?}", s.name)
        }
        (Object::Subdivision { hco }, _) => format!("subdivision {hco}"),
        (Object::Site { hco }, Some(V::Site(s))) => format!("site {hco} {:?}", s.name),
        (Object::Site { hco }, _) => format!("site {hco}"),
        (Object::User { level, insz }, _) => match change.username() {
            Some(u) => format!("user {u} on {level}"),
            None => format!("user {} on {level}", opts.insz(insz)),
        },
    }
}

/// A finding's line: `Warning: code: message`.
pub(crate) fn finding_line(f: &crate::model::Finding, opts: &RenderOptions) -> String {
    let head = match f.severity {
        Severity::Warning => opts.yellow("Warning"),
        Severity::Error => opts.red("Error"),
    };
    let message = if opts.show_personal_data {
        unmask(&f.message, f.object.as_ref())
    } else {
        f.message.clone()
    };
    format!("{head}: {}: {message}", f.code)
}

/// Replaces the masked form of the finding's person by the full number (messages are
/// written masked; `--show-personal-data` asks for the full number).
fn unmask(message: &str, object: Option<&Object>) -> String {
    match object.and_then(Object::person) {
        Some(insz) => message.replace(&insz.masked(), &insz.formatted()),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests;
