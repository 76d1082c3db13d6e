//! The apply report: what was done, failed or not attempted per enterprise, the gates
//! (ticket, who signs, where the document goes), when access becomes effective (R6),
//! how long it took against the plan's bounds, and where the coordination-centre
//! notice is — as text for people and as one JSON document (`csamctl-apply-report`,
//! version 1).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::{RenderOptions, access};
use crate::execute::{ApplyReport, ChainOutcome, StepOutcome};

/// Where the signed designation request goes (manual S1.7–S1.10).
pub(crate) const GATE_INSTRUCTIONS: &str = "The legal representative signs the designation request (PDF, with eID) and the signed request is e-mailed to registration@eranova.fgov.be with subject \"Aanvraag aanwijzing hoofdtoegangsbeheerder\" (or, if the digital signature fails, signed by hand and sent by post). Validation follows within 48 hours; then run apply again.";

/// How long the apply took, and the lower bounds the plan gives for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    /// Wall time from taking the leases to the report.
    pub elapsed: Duration,
    /// The plan's bound: the critical path, or the person's session limit.
    pub plan_bound_ms: u64,
    /// The bound with this run's `--parallelism`.
    pub parallelism_bound_ms: u64,
    /// This run's `--parallelism`.
    pub parallelism: usize,
}

impl Timing {
    /// `Took 9.87 s; the plan's lower bound is 9.12 s.`
    pub(crate) fn line(&self) -> String {
        // Hundredths below 10 s: an embedded registry answers in well under a second.
        let s = |seconds: f64| {
            if seconds < 10.0 {
                format!("{seconds:.2} s")
            } else {
                format!("{seconds:.1} s")
            }
        };
        let ms = |ms: u64| s(ms as f64 / 1000.0);
        let mut line = format!(
            "Took {}; the plan's lower bound is {}",
            s(self.elapsed.as_secs_f64()),
            ms(self.plan_bound_ms)
        );
        if self.parallelism_bound_ms > self.plan_bound_ms {
            line.push_str(&format!(
                ", {} with --parallelism {} (more sessions side by side would be faster)",
                ms(self.parallelism_bound_ms),
                self.parallelism
            ));
        }
        line.push('.');
        line
    }
}

/// The report for people; `notice_advice` says where the coordination-centre notice is
/// and what to do with it.
pub(crate) fn text(
    report: &ApplyReport,
    opts: &RenderOptions,
    notice_advice: Option<&str>,
    timing: &Timing,
) -> String {
    let mut out = String::new();
    let (done, failed, skipped) = report.counts();
    let _ = writeln!(out, "\nApply report");
    for e in &report.enterprises {
        let status = match e.outcome {
            ChainOutcome::Done => opts.green("done"),
            ChainOutcome::Failed => opts.red("FAILED"),
            ChainOutcome::WaitingOnGate => opts.yellow("waiting on a gate"),
            ChainOutcome::Interrupted => opts.yellow("interrupted"),
        };
        let d = e
            .steps
            .iter()
            .filter(|s| matches!(s.outcome, StepOutcome::Done { .. }))
            .count();
        let _ = writeln!(
            out,
            "  {} {}: {status} ({d}/{} steps, {} log-outs)",
            e.kbo,
            e.name,
            e.steps.len(),
            e.logouts
        );
        if let Some((code, message)) = &e.failure {
            let _ = writeln!(out, "      failed before writing: {message} [{code}]");
        }
        for s in &e.steps {
            if let StepOutcome::Failed { code, message } = &s.outcome {
                let _ = writeln!(
                    out,
                    "      step {} ({}, session {}) failed: {message} [{code}]",
                    s.id, s.kind, s.session
                );
            }
        }
        let not = e
            .steps
            .iter()
            .filter(|s| s.outcome == StepOutcome::NotAttempted)
            .count();
        if not > 0 {
            let _ = writeln!(out, "      {not} step(s) not attempted");
        }
        if let Some(g) = &e.gate {
            let _ = writeln!(
                out,
                "      Waiting for the main access manager's designation (R7): ticket {}",
                g.ticket.as_deref().unwrap_or("(not known yet)")
            );
            if let Some(l) = &g.legal_representative {
                let _ = writeln!(
                    out,
                    "      Must sign: the legal representative {} {} ({})",
                    l.first_name,
                    l.last_name,
                    opts.insz(&l.insz)
                );
            }
            let _ = writeln!(out, "      {GATE_INSTRUCTIONS}");
        }
        let effective: Vec<access::Effective<'_>> = e
            .effective
            .iter()
            .map(|x| access::Effective {
                insz: x.insz,
                name: x.name.as_ref(),
                level: &x.level,
                from_ms: x.effective_from_ms,
            })
            .collect();
        for line in access::effective_lines(&effective, opts) {
            let _ = writeln!(out, "      {line}");
        }
    }
    let _ = writeln!(
        out,
        "{done} step(s) done, {failed} failed, {skipped} not attempted{}.",
        if report.interrupted {
            "; interrupted"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "{}", timing.line());
    if let Some(advice) = notice_advice {
        let _ = writeln!(out, "{advice}");
    }
    out
}

/// The report as one JSON document; `notice_file` is where the coordination-centre
/// notice was written, `timing` is absent when nothing was executed.
pub(crate) fn json(
    report: &ApplyReport,
    opts: &RenderOptions,
    notice_file: Option<&Path>,
    timing: Option<&Timing>,
) -> String {
    let enterprises: Vec<_> = report
        .enterprises
        .iter()
        .map(|e| {
            json!({
                "kbo": e.kbo.compact(),
                "name": e.name,
                "outcome": match e.outcome {
                    ChainOutcome::Done => "done",
                    ChainOutcome::Failed => "failed",
                    ChainOutcome::WaitingOnGate => "waiting_on_gate",
                    ChainOutcome::Interrupted => "interrupted",
                },
                "failure": e.failure.as_ref().map(|(code, message)| json!({"code": code, "message": message})),
                "logouts": e.logouts,
                "steps": e.steps.iter().map(|s| {
                    let (status, code, message) = match &s.outcome {
                        StepOutcome::Done { .. } => ("done", None, None),
                        StepOutcome::Failed { code, message } => ("failed", Some(code.clone()), Some(message.clone())),
                        StepOutcome::NotAttempted => ("not_attempted", None, None),
                    };
                    json!({"id": s.id, "session": s.session, "write": s.kind, "status": status, "code": code, "message": message})
                }).collect::<Vec<_>>(),
                "gate": e.gate.as_ref().map(|g| json!({
                    "ticket": g.ticket,
                    "signer": g.legal_representative.as_ref().map(|l| json!({
                        "insz": opts.insz(&l.insz), "first_name": l.first_name, "last_name": l.last_name,
                    })),
                    "instructions": GATE_INSTRUCTIONS,
                })),
                "effective": e.effective.iter().map(|x| json!({
                    "insz": opts.insz(&x.insz),
                    "name": x.name,
                    "level": access::level_words(&x.level),
                    "effective_from_ms": x.effective_from_ms,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let (done, failed, not_attempted) = report.counts();
    let doc = json!({
        "format": "csamctl-apply-report",
        "version": 1,
        "interrupted": report.interrupted,
        "summary": {"done": done, "failed": failed, "not_attempted": not_attempted},
        "notice_file": notice_file.map(|f| f.display().to_string()),
        "timing": timing.map(|t| json!({
            "elapsed_ms": u64::try_from(t.elapsed.as_millis()).unwrap_or(u64::MAX),
            "plan_bound_ms": t.plan_bound_ms,
            "parallelism_bound_ms": t.parallelism_bound_ms,
            "parallelism": t.parallelism,
        })),
        "enterprises": enterprises,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timing_line_names_the_parallelism_only_when_it_is_the_limit() {
        let mut t = Timing {
            elapsed: Duration::from_millis(9_870),
            plan_bound_ms: 9_120,
            parallelism_bound_ms: 9_120,
            parallelism: 256,
        };
        assert_eq!(t.line(), "Took 9.87 s; the plan's lower bound is 9.12 s.");
        t.parallelism = 8;
        t.parallelism_bound_ms = 67_400;
        let line = t.line();
        assert!(line.contains("67.4 s with --parallelism 8"), "{line}");
        t.elapsed = Duration::from_millis(40);
        assert!(t.line().starts_with("Took 0.04 s;"), "{}", t.line());
    }
}
