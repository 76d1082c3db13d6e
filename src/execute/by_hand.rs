//! Carrying a plan out by hand: a person clicks each step of the plan's procedure
//! ([`Plan::procedure`]) in the CSAM web application and confirms it; each confirmed
//! step is recorded at once in the registry, through the same writes and rules as
//! `apply`, so that the registry stays the record of what the real CSAM holds.
//!
//! The person's CSAM session and a registry session go together: confirming a log-in
//! opens one, confirming the log-out closes it (and so has it processed, R1). A write
//! the registry refuses (a step done out of order, a rule broken) is not recorded; the
//! refusal comes back to be shown, and the person may try again or skip.
//!
//! [`ByHand`] is the whole progress: the plan, the position in its procedure and the
//! open session. It serialises, so a caller saves it after every confirmed step and a
//! run that stopped (by choice, Ctrl-C or a crash) resumes where it was, in the same
//! session while the registry still has it open. Writes carry the same idempotency keys
//! as `apply` would ([`steps::idempotency_key`]), so a step confirmed twice (its answer
//! lost in a crash) is recorded once.
//!
//! [`walk`] is the whole workflow, one instruction after another: the caller's
//! [`ByHandHooks`] show each step, ask for the answer and save the progress, so that
//! `by-hand` and `apply --by-hand` (and a test) are thin callers of the same loop.
//!
//! May use `model`, the registry trait and the password source.

use serde::{Deserialize, Serialize};

use super::steps;
use super::{PasswordSource, PasswordSourceError};
use crate::model::{Instruction, Phase, Plan, Write};
use crate::registry::{
    AccountPassword, Millis, Registry, RegistryError, RegistryOperator, SessionId,
};

/// The progress of a by-hand apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ByHand {
    /// The plan being carried out (it holds password references, never passwords).
    pub plan: Plan,
    /// The next instruction of `plan.procedure()`.
    pub position: usize,
    /// The registry session that stands for the person's CSAM session, between a
    /// confirmed log-in and its log-out.
    pub session: Option<SessionId>,
    /// Instructions the person skipped (indices into the procedure): not recorded, so
    /// the next plan has them again.
    pub skipped: Vec<usize>,
}

/// Why a confirmed step could not be recorded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    /// The registry refused or failed the request.
    #[error("{0}")]
    Registry(#[from] RegistryError),
    /// The initial password of a new account cannot be read.
    #[error("{0}")]
    Password(#[from] PasswordSourceError),
    /// A write outside a session: the log-in was not confirmed (or the session ended).
    #[error("not logged in: confirm the log-in step first")]
    NotLoggedIn,
    /// A coordination-centre notice was sent, and there is no operator to record it
    /// (a served registry without the operator's token).
    #[error(
        "that the notice was sent is recorded through the registry's operator: pass --operator-token-file (or skip, and record it later with csamctl coordination-centre --record-sent)"
    )]
    NoOperator,
}

impl ByHand {
    /// A by-hand apply of `plan` from its first instruction.
    pub(crate) fn new(plan: Plan) -> ByHand {
        ByHand {
            plan,
            position: 0,
            session: None,
            skipped: Vec::new(),
        }
    }

    /// The procedure (recomputed from the plan: it is a pure function of it).
    pub(crate) fn procedure(&self) -> Vec<Instruction> {
        self.plan.procedure()
    }

    /// The instruction at the current position, if any is left.
    pub(crate) fn current(&self) -> Option<Instruction> {
        self.procedure().get(self.position).copied()
    }

    /// Records that the person did the current instruction, then moves on. On an error
    /// nothing moved: the same instruction is current again. A sent coordination-centre
    /// notice (R9) is recorded through `operator`, the registry's operator, who stands
    /// for the coordination centre (`None`: none is at hand, and the step is refused
    /// with [`RecordError::NoOperator`]).
    pub(crate) async fn done(
        &mut self,
        registry: &dyn Registry,
        passwords: &dyn PasswordSource,
        operator: Option<&dyn RegistryOperator>,
    ) -> Result<(), RecordError> {
        let Some(at) = self.current() else {
            return Ok(());
        };
        match at {
            Instruction::LogIn { .. } => {
                if self.session.is_none() {
                    self.session = Some(registry.open_session().await?.id);
                }
            }
            Instruction::Write { .. } => {
                let Some(session) = &self.session else {
                    return Err(RecordError::NotLoggedIn);
                };
                let Some(step) = self.plan.step_of(&at) else {
                    return Ok(());
                };
                let password = match (&step.write, &step.password) {
                    (Write::CreateUser { .. }, Some(reference)) => {
                        Some(AccountPassword(passwords.resolve(reference)?))
                    }
                    _ => None,
                };
                let key = steps::idempotency_key(&self.plan, step)?;
                registry
                    .write(session, &key, &step.write, password.as_ref())
                    .await?;
            }
            Instruction::LogOut { .. } => {
                if let Some(session) = &self.session {
                    match registry.close_session(session).await {
                        // Closed already (an answer lost before a crash, or the idle
                        // timeout): processed either way.
                        Ok(_) | Err(RegistryError::SessionClosed { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                self.session = None;
            }
            Instruction::Notice { .. } => {
                // Confirming the step says the notice was sent: recorded as
                // `coordination-centre --record-sent` records it.
                if let Some((site, person)) = self.notice_of(&at) {
                    let operator = operator.ok_or(RecordError::NoOperator)?;
                    super::notice::record_notice_sent(operator, &site, &person).await?;
                }
            }
            Instruction::Gate { .. } | Instruction::Wait { .. } => {}
        }
        self.position += 1;
        Ok(())
    }

    /// The site and head radiologist of a notice instruction of this plan.
    pub(crate) fn notice_of(
        &self,
        at: &Instruction,
    ) -> Option<(crate::model::Hco, crate::model::Insz)> {
        let Instruction::Notice {
            enterprise,
            phase,
            notice,
        } = *at
        else {
            return None;
        };
        match self.plan.enterprises.get(enterprise)?.phases.get(phase)? {
            Phase::Notices { notices } => notices.get(notice).map(|n| (n.site.clone(), n.insz)),
            _ => None,
        }
    }

    /// The person skipped the current instruction: nothing is recorded. Skipping a
    /// log-in skips its whole session (nothing of it can be done without one).
    pub(crate) fn skip(&mut self) {
        let procedure = self.procedure();
        let Some(at) = procedure.get(self.position).copied() else {
            return;
        };
        self.skipped.push(self.position);
        self.position += 1;
        if let Instruction::LogIn {
            enterprise,
            phase,
            session,
            ..
        } = at
        {
            while let Some(next) = procedure.get(self.position) {
                let same = match *next {
                    Instruction::Write {
                        enterprise: e,
                        phase: p,
                        session: s,
                        ..
                    }
                    | Instruction::LogOut {
                        enterprise: e,
                        phase: p,
                        session: s,
                    } => (e, p, s) == (enterprise, phase, session),
                    _ => false,
                };
                if !same {
                    break;
                }
                self.skipped.push(self.position);
                self.position += 1;
            }
        }
    }

    /// The delay of a propagation wait instruction (R6), if `at` is one.
    pub(crate) fn propagation_wait(&self, at: &Instruction) -> Option<u64> {
        let Instruction::Wait { enterprise, phase } = *at else {
            return None;
        };
        match self.plan.enterprises.get(enterprise)?.phases.get(phase)? {
            Phase::Propagation { wait_ms } => Some(*wait_ms),
            _ => None,
        }
    }

    /// Whether the procedure has a coordination-centre notice step (R9), which needs
    /// the registry's operator to be recorded.
    pub(crate) fn has_notice(&self) -> bool {
        self.procedure()
            .iter()
            .any(|i| matches!(i, Instruction::Notice { .. }))
    }

    /// Whether a saved progress goes on as it is: it stopped between sessions, or in a
    /// session the registry still has open. A progress whose session ended in between
    /// does not: what it recorded is processed, and a new plan starts from it.
    pub(crate) async fn resumable(&self, registry: &dyn Registry) -> Result<bool, RegistryError> {
        Ok(self.session.is_none() || self.session_open(registry).await?)
    }

    /// Whether the registry still has this run's session open (`false` without one).
    pub(crate) async fn session_open(
        &self,
        registry: &dyn Registry,
    ) -> Result<bool, RegistryError> {
        let Some(session) = &self.session else {
            return Ok(false);
        };
        Ok(registry
            .list_sessions()
            .await?
            .iter()
            .any(|s| &s.id == session))
    }
}

/// A person's answer to one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Done in CSAM: record it.
    Done,
    /// Not done: record nothing, go on (the next plan has it again).
    Skip,
    /// Stop here (also: the input ended); the progress is saved to resume.
    Stop,
}

/// How a walk through the procedure ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Walked {
    /// Every instruction was answered.
    Finished,
    /// The person stopped; the progress was saved.
    Stopped,
    /// A designation gate (R7): nothing else can be done for the enterprise until it is
    /// validated; the progress is of no further use.
    Gate,
}

/// What the person sees and answers during a by-hand walk; the command implements it.
pub(crate) trait ByHandHooks {
    /// Why saving failed.
    type Error: From<RegistryError>;
    /// Shows the current instruction of `progress`; `clears_at` is the registry time at
    /// which a propagation wait (R6) is over.
    fn show(&mut self, progress: &ByHand, at: &Instruction, clears_at: Option<Millis>);
    /// The person's answer to the instruction shown.
    fn ask(&mut self) -> Answer;
    /// The registry refused to record the step (or it could not be recorded); the same
    /// step is asked again.
    fn refused(&mut self, why: &RecordError);
    /// Saves the progress (after every answer and on a stop).
    fn save(&mut self, progress: &ByHand) -> Result<(), Self::Error>;
}

/// Walks the procedure from `progress`'s position: shows each instruction, records
/// each one confirmed, saves after every answer. A gate (R7) ends the walk.
pub(crate) async fn walk<H: ByHandHooks>(
    progress: &mut ByHand,
    registry: &dyn Registry,
    passwords: &dyn PasswordSource,
    operator: Option<&dyn RegistryOperator>,
    hooks: &mut H,
) -> Result<Walked, H::Error> {
    while let Some(at) = progress.current() {
        let clears_at = match progress.propagation_wait(&at) {
            // Registry time: the registry decides when the wait is over.
            Some(wait_ms) => {
                let now = super::retried(&Default::default(), |_| registry.whoami())
                    .await?
                    .now_ms;
                Some(now.saturating_add(i64::try_from(wait_ms).unwrap_or(i64::MAX)))
            }
            None => None,
        };
        hooks.show(progress, &at, clears_at);
        if matches!(at, Instruction::Gate { .. }) {
            return Ok(Walked::Gate);
        }
        loop {
            match hooks.ask() {
                Answer::Done => match progress.done(registry, passwords, operator).await {
                    Ok(()) => break,
                    Err(why) => hooks.refused(&why),
                },
                Answer::Skip => {
                    progress.skip();
                    break;
                }
                Answer::Stop => {
                    hooks.save(progress)?;
                    return Ok(Walked::Stopped);
                }
            }
        }
        hooks.save(progress)?;
    }
    Ok(Walked::Finished)
}
