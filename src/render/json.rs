//! `plan --format json`: a versioned document for CI, described by the JSON Schema
//! committed at `schemas/plan.schema.json` (a test keeps the two equal).
//!
//! This is a view of the plan for reading, not the saved plan file: national register
//! numbers are masked unless asked for, and steps name their write and change rather
//! than carrying the payload. `format_version` changes only when a consumer would break.

use schemars::JsonSchema;
use serde::Serialize;

use super::{Counts, RenderOptions, administrator};
use crate::model::{
    Change, ChangeKind, EnterprisePlan, FieldValue, Finding, Object, Phase, Plan, Severity,
};

/// The current format version.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// A `csamctl plan --format json` document.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(title = "csamctl plan", deny_unknown_fields)]
pub(crate) struct PlanDocument {
    /// The document format version (1).
    #[schemars(range(min = 1, max = 1))]
    pub format_version: u32,
    /// The plan's id (a digest of the desired and live states it was made from).
    pub plan_id: String,
    /// The acting person's national register number (masked unless `personal_data`).
    pub actor: String,
    /// True when national register numbers are shown in full (`--show-personal-data`).
    pub personal_data: bool,
    /// Totals.
    pub summary: Summary,
    /// Warnings and errors.
    pub findings: Vec<FindingView>,
    /// Enterprises with changes, in declaration order.
    pub enterprises: Vec<EnterpriseView>,
}

/// Totals of the whole plan.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Summary {
    /// The summary line as the text output prints it.
    pub text: String,
    /// True when there is nothing to do.
    pub no_changes: bool,
    /// True when an error finding forbids applying the plan.
    pub has_errors: bool,
    /// Objects to create.
    pub create: usize,
    /// Objects to change in place.
    pub update: usize,
    /// Objects to delete and create again.
    pub replace: usize,
    /// Objects to delete.
    pub delete: usize,
    /// Sessions, each ending with a log-out.
    pub log_outs: usize,
    /// HTB designation gates (R7).
    pub gates: usize,
    /// Lower-bound estimate of the time until the changes take effect, gates aside.
    pub ready_ms: u64,
    /// Lower bound on the apply's own wall time (gates and propagation aside): the
    /// critical path, or every session's requests over the sessions-per-person limit.
    pub apply_ms: u64,
    /// The time per request the estimates assume (measured round trip).
    pub request_ms: u64,
    /// Expected wait of the gates.
    pub gate_ms: u64,
}

/// Warning or error.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SeverityView {
    /// The plan can go ahead.
    Warning,
    /// The plan cannot be applied.
    Error,
}

/// A finding.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct FindingView {
    /// Warning or error.
    pub severity: SeverityView,
    /// Stable code.
    pub code: String,
    /// The enterprise, 10 digits.
    pub kbo: Option<String>,
    /// One line.
    pub message: String,
}

/// One enterprise's plan.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct EnterpriseView {
    /// Enterprise number, 10 digits.
    pub kbo: String,
    /// Name.
    pub name: String,
    /// The changes; steps refer to them by `index`.
    pub changes: Vec<ChangeView>,
    /// The phases, in order.
    pub phases: Vec<PhaseView>,
    /// Lower-bound estimate for this enterprise, gates aside.
    pub ready_ms: u64,
    /// Lower bound on this enterprise's apply (its critical path), gates aside.
    pub apply_ms: u64,
}

/// What happens to an object.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Action {
    /// `+`
    Create,
    /// `~`
    Update,
    /// `±`: deleted and created again.
    Replace,
    /// `-`
    Delete,
}

/// A change to one object.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct ChangeView {
    /// Position in the enterprise's `changes`.
    pub index: usize,
    /// What happens.
    pub action: Action,
    /// The object.
    pub object: ObjectView,
    /// Why, for deletions and replacements.
    pub cause: Option<String>,
    /// Fields that differ (all of them for a creation or deletion).
    pub fields: Vec<FieldView>,
}

/// A registry object.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct ObjectView {
    /// `main_access_manager`, `access_manager`, `capacity`, `subdivision`, `site`, `user`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The person (masked unless personal data is shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insz: Option<String>,
    /// The capacity type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<String>,
    /// HCO number of a subdivision or site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hco: Option<String>,
    /// A user's level (`site 71977101`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// A user's username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// A field value: null, a flag, text, or a list of words.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Value")]
pub(crate) enum ValueView {
    /// No value.
    Flag(bool),
    /// Text (INSZ masked unless personal data is shown; secrets only say where they are
    /// read).
    Text(String),
    /// A list of words.
    List(Vec<String>),
    /// Absent.
    Null(Option<()>),
}

/// One field.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct FieldView {
    /// The field's name in the desired-state format.
    pub field: String,
    /// In the registry.
    pub before: ValueView,
    /// Desired.
    pub after: ValueView,
}

/// One phase.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub(crate) enum PhaseView {
    /// Sessions that may run side by side, each ending with a log-out; the next phase
    /// starts once all are processed.
    Sessions {
        /// The sessions.
        sessions: Vec<SessionView>,
    },
    /// R7: wait for the HTB designation's validation.
    Gate {
        /// The pending ticket, if known.
        ticket: Option<String>,
        /// Expected wait.
        expected_ms: u64,
    },
    /// R9: notices to the coordination centre.
    Notices {
        /// One per site with a new head radiologist.
        notices: Vec<NoticeView>,
    },
    /// R6: the propagation delay.
    Propagation {
        /// The wait.
        wait_ms: u64,
    },
}

/// A session.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct SessionView {
    /// `2`, `3a`, ...
    pub label: String,
    /// What it is for.
    pub purpose: String,
    /// Its writes, in order.
    pub steps: Vec<StepView>,
}

/// A registry write.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct StepView {
    /// Stable step id.
    pub id: String,
    /// The write (`create_site`, `set_functions`, ...).
    pub write: String,
    /// Index of the change it carries out.
    pub change: usize,
}

/// A coordination-centre notice.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct NoticeView {
    /// The site.
    pub site: String,
    /// The head radiologist's username.
    pub username: String,
    /// The head radiologist's national register number (masked unless personal data).
    pub insz: String,
}

fn value(v: &FieldValue, opts: &RenderOptions) -> ValueView {
    match v {
        FieldValue::Absent => ValueView::Null(None),
        FieldValue::Text(s) => ValueView::Text(s.clone()),
        FieldValue::Insz(i) => ValueView::Text(opts.insz(i)),
        FieldValue::List(items) => ValueView::List(items.clone()),
        FieldValue::Flag(b) => ValueView::Flag(*b),
        FieldValue::Administrator(a) => ValueView::Text(administrator(a, opts)),
        FieldValue::Secret(p) => {
            ValueView::Text(format!("(sensitive: read at apply time from {p})"))
        }
    }
}

fn object_view(c: &Change, opts: &RenderOptions) -> ObjectView {
    let mut v = ObjectView {
        kind: String::new(),
        insz: None,
        capacity: None,
        hco: None,
        level: None,
        username: None,
    };
    match &c.object {
        Object::MainAccessManager { insz } => {
            v.kind = "main_access_manager".into();
            v.insz = Some(opts.insz(insz));
        }
        Object::AccessManager { insz } => {
            v.kind = "access_manager".into();
            v.insz = Some(opts.insz(insz));
        }
        Object::Capacity { kind } => {
            v.kind = "capacity".into();
            v.capacity = Some(kind.to_string());
        }
        Object::Subdivision { hco } => {
            v.kind = "subdivision".into();
            v.hco = Some(hco.to_string());
        }
        Object::Site { hco } => {
            v.kind = "site".into();
            v.hco = Some(hco.to_string());
        }
        Object::User { level, insz } => {
            v.kind = "user".into();
            v.insz = Some(opts.insz(insz));
            v.level = Some(level.to_string());
            v.username = c.username().map(|u| u.to_string());
        }
    }
    v
}

fn finding(f: &Finding, opts: &RenderOptions) -> FindingView {
    let line = super::finding_line(
        f,
        &RenderOptions {
            colour: false,
            ..*opts
        },
    );
    // The message as the text output shows it, without the "Warning: code: " head.
    let message = line
        .split_once(&format!("{}: ", f.code))
        .map(|(_, m)| m.to_string())
        .unwrap_or_else(|| f.message.clone());
    FindingView {
        severity: match f.severity {
            Severity::Warning => SeverityView::Warning,
            Severity::Error => SeverityView::Error,
        },
        code: f.code.clone(),
        kbo: f.kbo.map(|k| k.compact().to_string()),
        message,
    }
}

fn enterprise(e: &EnterprisePlan, opts: &RenderOptions) -> EnterpriseView {
    let changes = e
        .changes
        .iter()
        .enumerate()
        .map(|(index, c)| ChangeView {
            index,
            action: match c.kind {
                ChangeKind::Create => Action::Create,
                ChangeKind::Update => Action::Update,
                ChangeKind::Replace => Action::Replace,
                ChangeKind::Delete => Action::Delete,
            },
            object: object_view(c, opts),
            cause: c.cause.map(|c| c.explain().to_string()),
            fields: c
                .shown_fields()
                .iter()
                .map(|f| FieldView {
                    field: f.field.clone(),
                    before: value(&f.before, opts),
                    after: value(&f.after, opts),
                })
                .collect(),
        })
        .collect();
    let phases = e
        .phases
        .iter()
        .map(|p| match p {
            Phase::Sessions { sessions } => PhaseView::Sessions {
                sessions: sessions
                    .iter()
                    .map(|s| SessionView {
                        label: s.label.clone(),
                        purpose: s.purpose.clone(),
                        steps: s
                            .steps
                            .iter()
                            .map(|st| StepView {
                                id: st.id.to_string(),
                                write: st.write.kind().to_string(),
                                change: st.change,
                            })
                            .collect(),
                    })
                    .collect(),
            },
            Phase::Gate {
                ticket,
                expected_ms,
            } => PhaseView::Gate {
                ticket: ticket.clone(),
                expected_ms: *expected_ms,
            },
            Phase::Notices { notices } => PhaseView::Notices {
                notices: notices
                    .iter()
                    .map(|n| NoticeView {
                        site: n.site.to_string(),
                        username: n.username.to_string(),
                        insz: opts.insz(&n.insz),
                    })
                    .collect(),
            },
            Phase::Propagation { wait_ms } => PhaseView::Propagation { wait_ms: *wait_ms },
        })
        .collect();
    EnterpriseView {
        kbo: e.kbo.compact().to_string(),
        name: e.name.clone(),
        changes,
        phases,
        ready_ms: e.estimate.ready_ms,
        apply_ms: e.estimate.apply_ms,
    }
}

/// The document for a plan.
pub(crate) fn document(plan: &Plan, opts: &RenderOptions) -> PlanDocument {
    let counts = Counts::of_plan(plan);
    PlanDocument {
        format_version: FORMAT_VERSION,
        plan_id: plan.id.clone(),
        actor: opts.actor(plan.actor.as_ref()),
        personal_data: opts.show_personal_data,
        summary: Summary {
            text: super::summary(plan),
            no_changes: plan.is_empty(),
            has_errors: plan.has_errors(),
            create: counts.create,
            update: counts.update,
            replace: counts.replace,
            delete: counts.delete,
            log_outs: counts.log_outs,
            gates: counts.gates,
            ready_ms: plan.estimate.ready_ms,
            apply_ms: plan.estimate.apply_ms,
            request_ms: plan.limits.request_ms,
            gate_ms: plan.estimate.gate_ms,
        },
        findings: plan.findings.iter().map(|f| finding(f, opts)).collect(),
        enterprises: plan
            .enterprises
            .iter()
            .map(|e| enterprise(e, opts))
            .collect(),
    }
}

/// The plan as pretty-printed JSON, with a final newline.
pub fn render(plan: &Plan, opts: &RenderOptions) -> String {
    let doc = document(
        plan,
        &RenderOptions {
            colour: false,
            ..*opts
        },
    );
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| {
        format!(
            "{{\"format_version\": {FORMAT_VERSION}, \"error\": {:?}}}",
            e.to_string()
        )
    });
    s.push('\n');
    s
}

/// The JSON Schema of the document [`render`] prints, pretty-printed with a final newline: what
/// `schemas/plan.schema.json` holds.
pub fn schema() -> String {
    let schema = schemars::schema_for!(PlanDocument);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}
