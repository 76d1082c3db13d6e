//! `apply`'s progress: a model that counts the executor's [`Event`]s (steps, log-outs,
//! retries, per enterprise and overall) and the lines it shows — one overall bar
//! (enterprises and steps) plus one line per enterprise while it runs on a terminal
//! that can redraw, plain lines otherwise.
//!
//! The counting is kept apart from the drawing so that it is tested without a terminal:
//! the log-out counter once lived in a bar's message text and was parsed back from it,
//! which failed after the first log-out and left it at 1.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::execute::Event;
use crate::model::{Kbo, Plan};

/// Where an enterprise's chain is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainState {
    /// Not started yet (waiting for a lease or a slot).
    Waiting,
    /// Running.
    Active,
    /// Ended (done, failed, stopped at a gate or interrupted: the report says which).
    Ended,
}

/// One enterprise's counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnterpriseProgress {
    /// `KBO name`, as shown.
    pub label: String,
    /// Its steps.
    pub steps: usize,
    /// Acknowledged writes.
    pub done: usize,
    /// Steps that failed for good.
    pub failed: usize,
    /// Sessions logged out.
    pub log_outs: usize,
    /// Requests retried.
    pub retries: usize,
    /// Where it is.
    pub state: ChainState,
}

impl EnterpriseProgress {
    /// An enterprise that has not started.
    pub fn waiting(label: String, steps: usize) -> Self {
        EnterpriseProgress {
            label,
            steps,
            done: 0,
            failed: 0,
            log_outs: 0,
            retries: 0,
            state: ChainState::Waiting,
        }
    }

    /// `0123.456.789 Name: 12/40 steps · 3 log-outs · 1 retry`.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{}: {}/{} steps · {}",
            self.label,
            self.done,
            self.steps,
            counted(self.log_outs, "log-out", "log-outs")
        );
        if self.retries > 0 {
            line.push_str(&format!(" · {}", counted(self.retries, "retry", "retries")));
        }
        if self.failed > 0 {
            line.push_str(&format!(" · {} failed", self.failed));
        }
        line
    }
}

fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The counts of a whole apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgressModel {
    enterprises: BTreeMap<Kbo, EnterpriseProgress>,
    /// Keys in the plan's order.
    order: Vec<Kbo>,
}

impl ProgressModel {
    /// Every enterprise of the plan, waiting.
    pub fn new(plan: &Plan) -> Self {
        let mut model = ProgressModel::default();
        for e in &plan.enterprises {
            model.order.push(e.kbo);
            model.enterprises.insert(
                e.kbo,
                EnterpriseProgress::waiting(format!("{} {}", e.kbo, e.name), e.steps().count()),
            );
        }
        model
    }

    /// Counts one event; returns the enterprise it concerns.
    pub fn record(&mut self, event: &Event) -> Option<Kbo> {
        let kbo = match event {
            Event::EnterpriseStarted { kbo, .. }
            | Event::StepDone { kbo, .. }
            | Event::StepFailed { kbo, .. }
            | Event::Retrying { kbo, .. }
            | Event::LoggedOut { kbo }
            | Event::EnterpriseEnded { kbo } => *kbo,
        };
        let e = self.enterprises.get_mut(&kbo)?;
        match event {
            Event::EnterpriseStarted { steps, .. } => {
                e.state = ChainState::Active;
                e.steps = *steps;
            }
            Event::StepDone { .. } => e.done += 1,
            Event::StepFailed { .. } => e.failed += 1,
            Event::Retrying { .. } => e.retries += 1,
            Event::LoggedOut { .. } => e.log_outs += 1,
            Event::EnterpriseEnded { .. } => e.state = ChainState::Ended,
        }
        Some(kbo)
    }

    /// One enterprise's counts.
    pub fn enterprise(&self, kbo: &Kbo) -> Option<&EnterpriseProgress> {
        self.enterprises.get(kbo)
    }

    /// Enterprises in the plan's order.
    pub fn enterprises(&self) -> impl Iterator<Item = &EnterpriseProgress> {
        self.order.iter().filter_map(|k| self.enterprises.get(k))
    }

    /// Steps acknowledged, of all enterprises.
    pub fn done(&self) -> usize {
        self.enterprises().map(|e| e.done).sum()
    }

    /// Steps of all enterprises.
    pub fn steps(&self) -> usize {
        self.enterprises().map(|e| e.steps).sum()
    }

    /// Log-outs of all enterprises.
    pub fn log_outs(&self) -> usize {
        self.enterprises().map(|e| e.log_outs).sum()
    }

    /// `1/3 enterprises done · 4 log-outs` (the overall bar shows the steps itself).
    pub fn overall_message(&self) -> String {
        let ended = self
            .enterprises()
            .filter(|e| e.state == ChainState::Ended)
            .count();
        format!(
            "{ended}/{} enterprises done · {}",
            self.order.len(),
            counted(self.log_outs(), "log-out", "log-outs")
        )
    }
}

/// The drawing: indicatif bars on a terminal that can redraw, plain lines otherwise.
pub(super) struct ProgressView {
    model: Mutex<ProgressModel>,
    bars: Option<Bars>,
}

struct Bars {
    multi: indicatif::MultiProgress,
    overall: indicatif::ProgressBar,
    lines: Mutex<BTreeMap<Kbo, indicatif::ProgressBar>>,
}

impl ProgressView {
    /// A view of this plan; `live` draws bars (see [`super::terminal::live`]), `bold`
    /// styles their labels.
    pub(super) fn new(plan: &Plan, live: bool, bold: bool) -> Self {
        let model = ProgressModel::new(plan);
        let bars = live.then(|| {
            let multi = indicatif::MultiProgress::new();
            let template = if bold {
                "{prefix:.bold} [{bar:30}] {pos}/{len} steps · {msg} (ETA {eta})"
            } else {
                "{prefix} [{bar:30}] {pos}/{len} steps · {msg} (ETA {eta})"
            };
            let style = indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> ");
            let overall = multi.add(indicatif::ProgressBar::new(model.steps() as u64));
            overall.set_style(style);
            overall.set_prefix("apply");
            overall.set_message(model.overall_message());
            Bars {
                multi,
                overall,
                lines: Mutex::new(BTreeMap::new()),
            }
        });
        ProgressView {
            model: Mutex::new(model),
            bars,
        }
    }

    /// Counts and shows one event.
    pub(super) fn event(&self, event: &Event) {
        let Ok(mut model) = self.model.lock() else {
            return;
        };
        let Some(kbo) = model.record(event) else {
            return;
        };
        let Some(e) = model.enterprise(&kbo) else {
            return;
        };
        match &self.bars {
            Some(bars) => bars.show(&model, kbo, e, event),
            None => plain(e, event),
        }
    }

    /// Finishes the bars (the report follows).
    pub(super) fn finish(&self) {
        if let Some(bars) = &self.bars {
            if let Ok(lines) = bars.lines.lock() {
                for line in lines.values() {
                    line.finish_and_clear();
                }
            }
            bars.overall.finish();
        }
    }
}

impl Bars {
    fn show(&self, model: &ProgressModel, kbo: Kbo, e: &EnterpriseProgress, event: &Event) {
        self.overall.set_length(model.steps() as u64);
        self.overall.set_position(model.done() as u64);
        self.overall.set_message(model.overall_message());
        let Ok(mut lines) = self.lines.lock() else {
            return;
        };
        match e.state {
            ChainState::Active => {
                let line = lines.entry(kbo).or_insert_with(|| {
                    let line = self.multi.add(indicatif::ProgressBar::new_spinner());
                    line.set_style(
                        indicatif::ProgressStyle::with_template("  {msg}")
                            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                    );
                    line
                });
                line.set_message(e.line());
            }
            ChainState::Ended => {
                if let Some(line) = lines.remove(&kbo) {
                    line.finish_and_clear();
                }
                if let Event::EnterpriseEnded { .. } = event {
                    let _ = self.multi.println(format!("{} (ended)", e.line()));
                }
            }
            ChainState::Waiting => {}
        }
    }
}

/// Without bars: a line when an enterprise starts, fails a step, retries or ends.
fn plain(e: &EnterpriseProgress, event: &Event) {
    match event {
        Event::EnterpriseStarted {
            steps, barriers, ..
        } => eprintln!(
            "{}: {steps} step(s) in {barriers} round(s) of sessions",
            e.label
        ),
        Event::StepFailed { step, code, .. } => {
            eprintln!("{}: step {step} failed ({code})", e.label);
        }
        Event::Retrying { code, .. } => eprintln!("{}: retrying after {code}", e.label),
        Event::EnterpriseEnded { .. } => eprintln!("{} (ended)", e.line()),
        Event::StepDone { .. } | Event::LoggedOut { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kbo;

    fn kbo(text: &str) -> Kbo {
        Kbo::parse(text).expect("a valid KBO number")
    }

    fn model_of(kbos: &[(Kbo, usize)]) -> ProgressModel {
        let mut model = ProgressModel::default();
        for (k, steps) in kbos {
            model.order.push(*k);
            model
                .enterprises
                .insert(*k, EnterpriseProgress::waiting(format!("{k} Unit"), *steps));
        }
        model
    }

    #[test]
    fn the_log_out_counter_counts_every_log_out() {
        let a = kbo("0123.456.749");
        let b = kbo("0198.765.470");
        let mut model = model_of(&[(a, 6), (b, 4)]);
        model.record(&Event::EnterpriseStarted {
            kbo: a,
            steps: 6,
            barriers: 3,
        });
        for n in 1..=3 {
            model.record(&Event::StepDone {
                kbo: a,
                step: format!("s{n}"),
            });
            model.record(&Event::LoggedOut { kbo: a });
            assert_eq!(model.enterprise(&a).map(|e| e.log_outs), Some(n));
        }
        model.record(&Event::LoggedOut { kbo: b });
        assert_eq!(model.log_outs(), 4);
        assert_eq!(model.enterprise(&b).map(|e| e.log_outs), Some(1));
        let line = model.enterprise(&a).map(EnterpriseProgress::line);
        assert_eq!(
            line.as_deref(),
            Some("0123.456.749 Unit: 3/6 steps · 3 log-outs")
        );
        assert_eq!(model.overall_message(), "0/2 enterprises done · 4 log-outs");
    }

    #[test]
    fn overall_counts_steps_and_ended_enterprises() {
        let a = kbo("0123.456.749");
        let b = kbo("0198.765.470");
        let mut model = model_of(&[(a, 2), (b, 3)]);
        assert_eq!((model.done(), model.steps()), (0, 5));
        model.record(&Event::EnterpriseStarted {
            kbo: b,
            steps: 3,
            barriers: 1,
        });
        model.record(&Event::Retrying {
            kbo: b,
            code: "unavailable".into(),
        });
        model.record(&Event::StepDone {
            kbo: b,
            step: "x".into(),
        });
        model.record(&Event::StepFailed {
            kbo: b,
            step: "y".into(),
            code: "conflict".into(),
        });
        model.record(&Event::EnterpriseEnded { kbo: b });
        assert_eq!(model.done(), 1);
        assert_eq!(
            model.enterprise(&b).map(|e| e.state),
            Some(ChainState::Ended)
        );
        assert_eq!(
            model.enterprise(&a).map(|e| e.state),
            Some(ChainState::Waiting)
        );
        assert_eq!(
            model
                .enterprise(&b)
                .map(EnterpriseProgress::line)
                .as_deref(),
            Some("0198.765.470 Unit: 1/3 steps · 0 log-outs · 1 retry · 1 failed")
        );
        assert_eq!(model.overall_message(), "1/2 enterprises done · 0 log-outs");
        // An event of an enterprise not in the plan changes nothing.
        let before = model.clone();
        assert_eq!(
            model.record(&Event::LoggedOut {
                kbo: kbo("0187.654.319")
            }),
            None
        );
        assert_eq!(model, before);
    }
}
