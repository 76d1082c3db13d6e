//! From a plan's steps to registry requests: the idempotency key of a step.
//!
//! A step's write is the registry's [`crate::model::Write`] as it is; a new account's
//! password travels beside it, resolved from the step's [`crate::model::PasswordRef`]
//! at apply time.

use crate::model::{Plan, Step};
use crate::registry::{IdempotencyKey, RegistryError};

/// The idempotency key of a step of a plan: `csamctl-<plan id>-<step id>`. Re-running
/// the same plan repeats the same keys, so a write acknowledged before a crash is not
/// applied twice; a new plan (made after the registry changed) has new keys.
pub fn idempotency_key(plan: &Plan, step: &Step) -> Result<IdempotencyKey, RegistryError> {
    idempotency_key_for(&plan.id, step)
}

/// The idempotency key of a step of the plan with this id (what [`idempotency_key`]
/// computes, for callers that hold only the plan's id).
pub(crate) fn idempotency_key_for(
    plan_id: &str,
    step: &Step,
) -> Result<IdempotencyKey, RegistryError> {
    let plan_part = &plan_id[..plan_id.len().min(16)];
    IdempotencyKey::new(format!("csamctl-{plan_part}-{}", step.id))
}
