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
//! May use `model`, the registry trait and the password source.

use serde::{Deserialize, Serialize};

use super::steps;
use super::{PasswordSource, PasswordSourceError};
use crate::model::{Instruction, Plan, StepWrite};
use crate::registry::{Registry, RegistryError, SessionId};

/// The progress of a by-hand apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ByHand {
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
pub enum RecordError {
    /// The registry refused or failed the request.
    #[error("{0}")]
    Registry(#[from] RegistryError),
    /// The initial password of a new account cannot be read.
    #[error("{0}")]
    Password(#[from] PasswordSourceError),
    /// A write outside a session: the log-in was not confirmed (or the session ended).
    #[error("not logged in: confirm the log-in step first")]
    NotLoggedIn,
}

impl ByHand {
    /// A by-hand apply of `plan` from its first instruction.
    pub fn new(plan: Plan) -> ByHand {
        ByHand {
            plan,
            position: 0,
            session: None,
            skipped: Vec::new(),
        }
    }

    /// The procedure (recomputed from the plan: it is a pure function of it).
    pub fn procedure(&self) -> Vec<Instruction> {
        self.plan.procedure()
    }

    /// The instruction at the current position, if any is left.
    pub fn current(&self) -> Option<Instruction> {
        self.procedure().get(self.position).copied()
    }

    /// Records that the person did the current instruction, then moves on. On an error
    /// nothing moved: the same instruction is current again.
    pub async fn done(
        &mut self,
        registry: &dyn Registry,
        passwords: &dyn PasswordSource,
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
                let password = match &step.write {
                    StepWrite::CreateUser { user, .. } => match &user.password {
                        Some(reference) => Some(passwords.resolve(reference)?),
                        None => None,
                    },
                    _ => None,
                };
                let key = steps::idempotency_key(&self.plan, step)?;
                let write = steps::registry_write(&step.write, password);
                registry.write(session, &key, &write).await?;
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
            Instruction::Gate { .. } | Instruction::Notice { .. } | Instruction::Wait { .. } => {}
        }
        self.position += 1;
        Ok(())
    }

    /// The person skipped the current instruction: nothing is recorded. Skipping a
    /// log-in skips its whole session (nothing of it can be done without one).
    pub fn skip(&mut self) {
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

    /// True when every instruction was answered.
    pub fn finished(&self) -> bool {
        self.position >= self.procedure().len()
    }

    /// Whether the registry still has this run's session open (`false` without one).
    pub async fn session_open(&self, registry: &dyn Registry) -> Result<bool, RegistryError> {
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
