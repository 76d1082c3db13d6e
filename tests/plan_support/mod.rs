//! Shared by the plan tests: a registry file on a tempdir with a virtual clock, reading
//! live states the way `csamctl plan` does, and a tiny step runner that carries a plan
//! out through the `Registry` trait (the real executor is a later issue; this one runs
//! sessions of a round side by side, validates tickets at gates through the operator
//! surface, and moves the virtual clock instead of sleeping).

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use csamctl::config::{self, InputLimits};
use csamctl::execute::idempotency_key;
use csamctl::model::{DesiredState, Insz, Kbo, LiveState, Password, Phase, Plan, PlanLimits};
use csamctl::registry::{
    AccountPassword, Limits, OpenOptions, Registry, RegistryError, RegistryOperator,
    SqliteRegistry, TicketState,
};

/// The password every test account is created with.
pub const PASSWORD: &str = "Proef2026!x";

/// The executor's password source for tests: every new account gets this one password.
pub struct OnePassword(pub &'static str);

impl csamctl::execute::PasswordSource for OnePassword {
    fn resolve(
        &self,
        _: &csamctl::model::PasswordRef,
    ) -> Result<Password, csamctl::execute::PasswordSourceError> {
        Ok(Password::new(self.0.to_string()).expect("a valid password"))
    }
}

/// The examples' reference data.
pub const EXAMPLES_REFERENCE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/reference.yaml"
));

/// Geert VANDAMME, validated HTB of AZ VLASLAND (multi-campus).
pub const VLASLAND_HTB: &str = "82120926312";
/// Griet VANDENBERGHE, declared HTB of RADIOLOGIE MANDELVALLEI (single-unit).
pub const MANDELVALLEI_HTB: &str = "74022165886";

/// A registry file in its own tempdir, with a virtual clock.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub registry: SqliteRegistry,
}

impl Fixture {
    /// A new registry file with this reference data and these limits.
    pub fn new(reference: &str, config: Limits) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = SqliteRegistry::init_with_reference(
            dir.path().join("registry.db"),
            reference,
            OpenOptions {
                config,
                ..OpenOptions::virtual_clock()
            },
        )
        .expect("registry created");
        Fixture { dir, registry }
    }

    /// The examples' registry.
    pub fn examples() -> Fixture {
        Fixture::new(EXAMPLES_REFERENCE, Limits::default())
    }

    /// The registry file.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("registry.db")
    }

    /// The registry as this person sees it.
    pub fn as_person(&self, person: &Insz) -> Arc<dyn Registry> {
        self.registry.as_person(*person)
    }
}

pub fn insz(s: &str) -> Insz {
    Insz::parse(s).expect("valid INSZ")
}

/// Loads a desired state from YAML text (must validate without errors).
pub fn desired_from_yaml(name: &str, yaml: &str) -> DesiredState {
    let loaded = config::load_bytes(
        &[(PathBuf::from(name), yaml.as_bytes().to_vec())],
        &InputLimits::default(),
    );
    assert_eq!(
        loaded.errors(),
        0,
        "{name} has errors: {:?}",
        loaded.diagnostics
    );
    loaded.state
}

/// Loads one of the examples.
pub fn example(name: &str) -> DesiredState {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("example readable");
    desired_from_yaml(name, &text)
}

/// The live states the person may read, as `csamctl plan` reads them.
pub async fn read_live(r: &dyn Registry, kbos: &[Kbo]) -> Vec<LiveState> {
    let s = r.open_session().await.expect("log in").id;
    let mut out = Vec::new();
    for k in kbos {
        match r.snapshot(&s, k).await {
            Ok(l) => out.push(l),
            Err(RegistryError::NotAuthorised { .. }) => {}
            Err(e) => panic!("snapshot of {k}: {e}"),
        }
    }
    r.close_session(&s).await.expect("log out");
    out
}

/// The planning limits of the registry.
pub async fn limits(r: &dyn Registry) -> PlanLimits {
    let l = r.limits().await.expect("limits");
    PlanLimits::new(&l, PlanLimits::DEFAULT_REQUEST_MS)
}

/// Plans a desired state against the registry as `actor`; returns the plan and the
/// live states it was made from.
pub async fn plan_as(fx: &Fixture, desired: &DesiredState, actor: &Insz) -> (Plan, Vec<LiveState>) {
    let r = fx.as_person(actor);
    let kbos: Vec<Kbo> = desired.enterprises.iter().map(|e| e.kbo).collect();
    let live = read_live(&*r, &kbos).await;
    let accounts = csamctl::reconcile::look_up_accounts(&*r, desired)
        .await
        .expect("account look-up");
    let limits = limits(&*r).await;
    let plan = csamctl::plan::plan(desired, &live, &accounts, Some(*actor), &limits);
    (plan, live)
}

/// A step the registry refused.
#[derive(Debug)]
pub struct Refused {
    pub step: String,
    pub write: &'static str,
    pub error: RegistryError,
}

/// What running a plan did.
#[derive(Debug, Default)]
pub struct Ran {
    pub sessions: usize,
    pub writes: usize,
    pub gates: usize,
}

/// Runs a plan as `actor`, at most `max_sessions` sessions (all when `None`): every
/// round's sessions are opened together, written one after the other, then all logged
/// out; gates are validated through the operator surface, notices given, and the
/// propagation wait passed on the virtual clock. Stops at the first refusal.
pub async fn execute(
    fx: &Fixture,
    plan: &Plan,
    actor: &Insz,
    max_sessions: Option<usize>,
) -> Result<Ran, Refused> {
    let r = fx.as_person(actor);
    let op: &dyn RegistryOperator = &fx.registry;
    let password = Password::new(PASSWORD.to_string()).expect("valid password");
    let mut ran = Ran::default();
    let budget = max_sessions.unwrap_or(usize::MAX);
    for e in &plan.enterprises {
        for phase in &e.phases {
            match phase {
                Phase::Sessions { sessions } => {
                    let take = sessions.len().min(budget.saturating_sub(ran.sessions));
                    if take == 0 {
                        return Ok(ran);
                    }
                    let mut ids = Vec::new();
                    for _ in 0..take {
                        ids.push(r.open_session().await.expect("log in").id);
                    }
                    for (session, id) in sessions.iter().take(take).zip(&ids) {
                        for step in &session.steps {
                            let pw = step
                                .password
                                .as_ref()
                                .map(|_| AccountPassword(password.clone()));
                            let key = idempotency_key(plan, step).expect("key");
                            if let Err(error) = r.write(id, &key, &step.write, pw.as_ref()).await {
                                for id in &ids {
                                    let _ = r.close_session(id).await;
                                }
                                return Err(Refused {
                                    step: step.id.to_string(),
                                    write: step.write.kind(),
                                    error,
                                });
                            }
                            ran.writes += 1;
                        }
                    }
                    for id in &ids {
                        let receipt = r.close_session(id).await.expect("log out");
                        assert!(receipt.processed, "no processing delay in tests");
                    }
                    ran.sessions += take;
                }
                Phase::Gate { .. } => {
                    // Out of sessions: stop before the gate, leaving the ticket pending.
                    if ran.sessions >= budget {
                        return Ok(ran);
                    }
                    for t in op.all_tickets().await.expect("tickets") {
                        if t.kbo == e.kbo && t.state == TicketState::Pending {
                            op.validate_ticket(&t.id).await.expect("validate ticket");
                        }
                    }
                    ran.gates += 1;
                }
                Phase::Notices { notices } => {
                    for n in notices {
                        op.notify_head_radiologist(&n.site, &n.insz)
                            .await
                            .expect("notice");
                    }
                }
                Phase::Propagation { wait_ms } => {
                    op.advance_clock(*wait_ms).await.expect("clock");
                }
            }
        }
    }
    Ok(ran)
}
