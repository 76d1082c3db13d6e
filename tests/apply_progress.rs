//! `apply`'s progress counts what the executor really does: the multi-campus example
//! applied from empty against the real engine on a SQLite file, its events fed to the
//! progress model that draws the bars. The log-out counter once stayed at 1; here it
//! must equal the plan's sessions (each ends with one log-out), and the overall bar's
//! steps the plan's steps.

mod plan_support;

use std::sync::{Arc, Mutex};

use csamctl::cli::ProgressModel;
use csamctl::execute::{self, Cancel, Event, ExecuteOptions, Observer, StepOutcome};
use csamctl::model::{Kbo, PlanLimits};
use csamctl::registry::Limits;
use plan_support::{
    EXAMPLES_REFERENCE, Fixture, OnePassword, PASSWORD, VLASLAND_HTB, example, insz, read_live,
};

/// Feeds every event to the model, as the terminal view does.
struct Model(Mutex<ProgressModel>);

impl Observer for Model {
    fn event(&self, event: Event) {
        self.0.lock().expect("model lock").record(&event);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_progress_counts_every_log_out_and_step() {
    let fx = Fixture::new(EXAMPLES_REFERENCE, Limits::default());
    let actor = insz(VLASLAND_HTB);
    let desired = example("multi-campus.yaml");
    let kbos: Vec<Kbo> = desired.enterprises.iter().map(|e| e.kbo).collect();
    let live = read_live(&*fx.as_person(&actor), &kbos).await;
    let plan = csamctl::plan::plan(
        &desired,
        &live,
        &Default::default(),
        Some(actor),
        &PlanLimits::default(),
    );
    let sessions: usize = plan.enterprises.iter().map(|e| e.sessions().count()).sum();
    let steps: usize = plan.enterprises.iter().map(|e| e.steps().count()).sum();
    assert!(
        sessions > 2,
        "the example needs several sessions: {sessions}"
    );

    let model = Arc::new(Model(Mutex::new(ProgressModel::new(&plan))));
    let report = execute::execute(
        &plan,
        fx.as_person(&actor),
        &ExecuteOptions::default(),
        Arc::new(OnePassword(PASSWORD)),
        &Cancel::new(),
        model.clone(),
    )
    .await;
    assert!(
        report
            .enterprises
            .iter()
            .flat_map(|e| &e.steps)
            .all(|s| matches!(s.outcome, StepOutcome::Done { .. })),
        "{report:?}"
    );

    let model = model.0.lock().expect("model lock");
    assert_eq!(model.log_outs(), sessions, "one log-out per session");
    assert_eq!((model.done(), model.steps()), (steps, steps));
    for e in &plan.enterprises {
        let progress = model.enterprise(&e.kbo).expect("in the model");
        assert_eq!(
            progress.log_outs,
            e.sessions().count(),
            "{}",
            progress.label
        );
    }
    let n = plan.enterprises.len();
    assert_eq!(
        model.overall_message(),
        format!("{n}/{n} enterprises done · {sessions} log-outs")
    );
}
