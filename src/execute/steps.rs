//! From a plan's steps to registry requests: the [`Write`] a [`StepWrite`] stands for,
//! with the password resolved at apply time, and the idempotency key of a step.
//!
//! The plan module may not use the registry (data flows one way), so a plan holds
//! [`StepWrite`], the contract's `Write` variant for variant; this is the one place that
//! maps it, exhaustively, so that a new write in either enum breaks the build here.

use crate::model::{Password, Plan, Step, StepWrite};
use crate::registry::{AccountPassword, IdempotencyKey, NewUser, RegistryError, Write};

/// The registry write of a step. `password` is the secret the step's
/// [`crate::model::PasswordRef`] points at, resolved by the caller for a
/// [`StepWrite::CreateUser`] that has one; it is ignored for every other write.
pub fn registry_write(step: &StepWrite, password: Option<Password>) -> Write {
    match step {
        StepWrite::DesignateMainAccessManager {
            kbo,
            main_access_manager,
            legal_representative,
        } => Write::DesignateMainAccessManager {
            kbo: *kbo,
            main_access_manager: main_access_manager.clone(),
            legal_representative: legal_representative.clone(),
        },
        StepWrite::AddAccessManager {
            kbo,
            access_manager,
        } => Write::AddAccessManager {
            kbo: *kbo,
            access_manager: access_manager.clone(),
        },
        StepWrite::RemoveAccessManager { kbo, insz } => Write::RemoveAccessManager {
            kbo: *kbo,
            insz: *insz,
        },
        StepWrite::ActivateCapacity {
            kbo,
            kind,
            email,
            local_administrator,
            applications,
        } => Write::ActivateCapacity {
            kbo: *kbo,
            kind: *kind,
            email: email.clone(),
            local_administrator: *local_administrator,
            applications: applications.clone(),
        },
        StepWrite::UpdateCapacity {
            kbo,
            kind,
            email,
            local_administrator,
        } => Write::UpdateCapacity {
            kbo: *kbo,
            kind: *kind,
            email: email.clone(),
            local_administrator: *local_administrator,
        },
        StepWrite::CreateSubdivision {
            kbo,
            kind,
            hco,
            name,
            email,
            administrator,
            applications,
        } => Write::CreateSubdivision {
            kbo: *kbo,
            kind: *kind,
            hco: hco.clone(),
            name: name.clone(),
            email: email.clone(),
            administrator: administrator.clone(),
            applications: applications.clone(),
        },
        StepWrite::UpdateSubdivision {
            hco,
            name,
            email,
            administrator,
        } => Write::UpdateSubdivision {
            hco: hco.clone(),
            name: name.clone(),
            email: email.clone(),
            administrator: administrator.clone(),
        },
        StepWrite::DeleteSubdivision { hco } => Write::DeleteSubdivision { hco: hco.clone() },
        StepWrite::CreateSite {
            subdivision,
            hco,
            name,
            email,
            administrator,
            applications,
        } => Write::CreateSite {
            subdivision: subdivision.clone(),
            hco: hco.clone(),
            name: name.clone(),
            email: email.clone(),
            administrator: administrator.clone(),
            applications: applications.clone(),
        },
        StepWrite::UpdateSite {
            hco,
            name,
            email,
            administrator,
        } => Write::UpdateSite {
            hco: hco.clone(),
            name: name.clone(),
            email: email.clone(),
            administrator: administrator.clone(),
        },
        StepWrite::DeleteSite { hco } => Write::DeleteSite { hco: hco.clone() },
        StepWrite::CreateUser { level: l, user } => Write::CreateUser {
            level: l.clone(),
            user: NewUser {
                insz: user.insz,
                username: user.username.clone(),
                details: user.details.clone(),
                active: user.active,
                applications: user.applications.clone(),
                functions: user.functions.clone(),
                password: user.password.as_ref().and(password).map(AccountPassword),
            },
        },
        StepWrite::UpdateUser {
            level: l,
            insz,
            details: d,
        } => Write::UpdateUser {
            level: l.clone(),
            insz: *insz,
            details: d.clone(),
        },
        StepWrite::DeleteUser { level: l, insz } => Write::DeleteUser {
            level: l.clone(),
            insz: *insz,
        },
        StepWrite::SetFunctions {
            level: l,
            insz,
            functions,
        } => Write::SetFunctions {
            level: l.clone(),
            insz: *insz,
            functions: functions.clone(),
        },
        StepWrite::SetApplications {
            target: t,
            applications,
        } => Write::SetApplications {
            target: t.clone(),
            applications: applications.clone(),
        },
        StepWrite::SetActive { target: t, active } => Write::SetActive {
            target: t.clone(),
            active: *active,
        },
    }
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
