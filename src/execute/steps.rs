//! From a plan's steps to registry requests: the [`Write`] a [`StepWrite`] stands for,
//! with the password resolved at apply time, and the idempotency key of a step.
//!
//! A plan holds [`StepWrite`]: the registry's write with a password *reference*; the
//! registry's [`Write`] is the same type with the password itself.

use crate::model::{Password, Plan, Step, StepWrite};
use crate::registry::{AccountPassword, IdempotencyKey, RegistryError, Write};

/// The registry write of a step. `password` is the secret the step's
/// [`crate::model::PasswordRef`] points at, resolved by the caller for a
/// [`StepWrite::CreateUser`] that has one; it is ignored for every other write.
pub fn registry_write(step: &StepWrite, password: Option<Password>) -> Write {
    step.clone().map_password(|_| password.map(AccountPassword))
}

/// The idempotency key of a step of a plan: `csamctl-<plan id>-<step id>`. Re-running
/// the same plan repeats the same keys, so a write acknowledged before a crash is not
/// applied twice; a new plan (made after the registry changed) has new keys.
pub fn idempotency_key(plan: &Plan, step: &Step) -> Result<IdempotencyKey, RegistryError> {
    idempotency_key_for(&plan.id, step)
}

/// The idempotency key of a step of the plan with this id (what [`idempotency_key`]
/// computes, for callers that hold only the plan's id).
pub fn idempotency_key_for(plan_id: &str, step: &Step) -> Result<IdempotencyKey, RegistryError> {
    let plan_part = &plan_id[..plan_id.len().min(16)];
    IdempotencyKey::new(format!("csamctl-{plan_part}-{}", step.id))
}
