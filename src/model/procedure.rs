//! A plan as the procedure a person carries out by hand in the CSAM web application:
//! every session's log-in, each write, the log-out as a step of its own, the gate (R7),
//! the coordination-centre notices (R9) and the propagation wait (R6), in the order the
//! runbook prints them.
//!
//! An [`Instruction`] names its place in the plan by index, so that a procedure stopped
//! halfway can be resumed from a saved plan and a position. Pure data.

use serde::{Deserialize, Serialize};

use super::plan::{Phase, Plan, Write};

/// One thing the person does, by its place in the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Instruction {
    /// Log in for a session (R1); `designation` when the session only requests the
    /// main access manager's designation, which starts elsewhere in CSAM (S1).
    LogIn {
        /// Index of the enterprise in the plan.
        enterprise: usize,
        /// Index of the phase in the enterprise's phases.
        phase: usize,
        /// Index of the session in the phase.
        session: usize,
        /// A designation-only session.
        designation: bool,
    },
    /// One write of a session.
    Write {
        /// Index of the enterprise in the plan.
        enterprise: usize,
        /// Index of the phase.
        phase: usize,
        /// Index of the session in the phase.
        session: usize,
        /// Index of the step in the session.
        step: usize,
    },
    /// Log out completely, so that the session is processed (R1).
    LogOut {
        /// Index of the enterprise in the plan.
        enterprise: usize,
        /// Index of the phase.
        phase: usize,
        /// Index of the session in the phase.
        session: usize,
    },
    /// Wait for the designation to be validated (R7).
    Gate {
        /// Index of the enterprise in the plan.
        enterprise: usize,
        /// Index of the phase.
        phase: usize,
    },
    /// Send a head radiologist's number to the coordination centre (R9).
    Notice {
        /// Index of the enterprise in the plan.
        enterprise: usize,
        /// Index of the phase.
        phase: usize,
        /// Index of the notice in the phase.
        notice: usize,
    },
    /// Wait for the changes to take effect (R6).
    Wait {
        /// Index of the enterprise in the plan.
        enterprise: usize,
        /// Index of the phase.
        phase: usize,
    },
}

impl Instruction {
    /// The enterprise's index in the plan.
    pub fn enterprise(&self) -> usize {
        match *self {
            Instruction::LogIn { enterprise, .. }
            | Instruction::Write { enterprise, .. }
            | Instruction::LogOut { enterprise, .. }
            | Instruction::Gate { enterprise, .. }
            | Instruction::Notice { enterprise, .. }
            | Instruction::Wait { enterprise, .. } => enterprise,
        }
    }
}

impl Plan {
    /// The plan as a procedure for one person, session after session: enterprises in the
    /// plan's order, phases in order, the sessions of a phase one after another.
    pub fn procedure(&self) -> Vec<Instruction> {
        let mut out = Vec::new();
        for (e, plan) in self.enterprises.iter().enumerate() {
            if plan.changes.is_empty() {
                continue;
            }
            for (p, phase) in plan.phases.iter().enumerate() {
                match phase {
                    Phase::Sessions { sessions } => {
                        for (s, session) in sessions.iter().enumerate() {
                            let designation = session.steps.iter().all(|st| {
                                matches!(st.write, Write::DesignateMainAccessManager { .. })
                            });
                            out.push(Instruction::LogIn {
                                enterprise: e,
                                phase: p,
                                session: s,
                                designation,
                            });
                            out.extend((0..session.steps.len()).map(|step| Instruction::Write {
                                enterprise: e,
                                phase: p,
                                session: s,
                                step,
                            }));
                            out.push(Instruction::LogOut {
                                enterprise: e,
                                phase: p,
                                session: s,
                            });
                        }
                    }
                    Phase::Gate { .. } => out.push(Instruction::Gate {
                        enterprise: e,
                        phase: p,
                    }),
                    Phase::Notices { notices } => {
                        out.extend((0..notices.len()).map(|notice| Instruction::Notice {
                            enterprise: e,
                            phase: p,
                            notice,
                        }));
                    }
                    Phase::Propagation { .. } => out.push(Instruction::Wait {
                        enterprise: e,
                        phase: p,
                    }),
                }
            }
        }
        out
    }

    /// The step a [`Instruction::Write`] stands for.
    pub fn step_of(&self, instruction: &Instruction) -> Option<&super::plan::Step> {
        let Instruction::Write {
            enterprise,
            phase,
            session,
            step,
        } = *instruction
        else {
            return None;
        };
        match self.enterprises.get(enterprise)?.phases.get(phase)? {
            Phase::Sessions { sessions } => sessions.get(session)?.steps.get(step),
            _ => None,
        }
    }
}
