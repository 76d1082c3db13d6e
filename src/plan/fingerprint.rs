//! Digests for saved plans: of the desired state, of each live tree, and of the plan
//! itself; and the comparison `apply --plan` uses to refuse a stale plan and say what
//! moved in the registry since.
//!
//! Digests are SHA-256 over canonical JSON (serde's output of the model types, whose
//! maps are ordered), so they depend on content only, never on file layout or memory.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::diff;
use crate::model::{
    DesiredState, EnterpriseDrift, Kbo, LiveFingerprint, LiveState, Plan, SavedPlan,
};

/// Feeds serde_json's output straight into the hash, without building the text.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn sha256_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let mut w = HashWriter(Sha256::new());
    // Serialising the model's plain data cannot fail (string keys, no custom errors,
    // and this writer never fails).
    let _ = serde_json::to_writer(&mut w, value);
    hex::encode(w.0.finalize())
}

/// SHA-256 of the desired state's canonical JSON.
pub(crate) fn desired_hash(desired: &DesiredState) -> String {
    sha256_json(desired)
}

/// The fingerprint of one enterprise's live tree.
pub(crate) fn live_fingerprint(live: &LiveState) -> LiveFingerprint {
    LiveFingerprint {
        kbo: live.enterprise.kbo,
        version: Some(live.version),
        digest: Some(sha256_json(live)),
    }
}

/// The fingerprint of an enterprise the actor could not read.
pub(crate) fn unreadable(kbo: Kbo) -> LiveFingerprint {
    LiveFingerprint {
        kbo,
        version: None,
        digest: None,
    }
}

/// A plan's id: a digest of the desired state and of the versions of the live trees it
/// was made from (equal versions mean equal trees, `LiveState::version`). The same
/// inputs give the same id, so a re-run derives the same idempotency keys, and any
/// processed change in the registry gives new ones.
pub(crate) fn plan_id(desired: &DesiredState, live: &[LiveState]) -> String {
    let mut h = Sha256::new();
    h.update(desired_hash(desired).as_bytes());
    let mut versions: Vec<(Kbo, u64)> =
        live.iter().map(|l| (l.enterprise.kbo, l.version)).collect();
    versions.sort();
    for (kbo, version) in versions {
        h.update(kbo.compact().as_bytes());
        h.update(version.to_be_bytes());
    }
    hex::encode(h.finalize())[..32].to_string()
}

/// A saved plan for `plan --out`: the plan, the desired-state hash, and the fingerprint
/// and tree of every enterprise the plan touches.
pub(crate) fn save(plan: &Plan, desired: &DesiredState, live: &[LiveState]) -> SavedPlan {
    let by_kbo: BTreeMap<Kbo, &LiveState> = live.iter().map(|l| (l.enterprise.kbo, l)).collect();
    let mut prints = Vec::new();
    let mut snapshots = Vec::new();
    for e in &plan.enterprises {
        match by_kbo.get(&e.kbo) {
            Some(l) => {
                prints.push(live_fingerprint(l));
                snapshots.push((*l).clone());
            }
            None => prints.push(unreadable(e.kbo)),
        }
    }
    SavedPlan {
        format: SavedPlan::FORMAT.to_string(),
        version: SavedPlan::VERSION,
        desired_hash: desired_hash(desired),
        live: prints,
        snapshots,
        plan: plan.clone(),
    }
}

/// Why a saved plan may not be applied.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Stale {
    /// The file is not a saved plan this csamctl reads.
    #[error("not a csamctl saved plan of version {expected} (found {format:?} version {found})")]
    Format {
        /// What the file says it is.
        format: String,
        /// Its version.
        found: u32,
        /// The version this csamctl reads.
        expected: u32,
    },
    /// The live state of some enterprises moved since the plan was made.
    #[error("the registry changed since the plan was made ({} enterprise(s)); plan again", .0.len())]
    LiveChanged(Vec<EnterpriseDrift>),
}

/// Checks a saved plan against the live state now (`current` holds the trees the actor
/// can read): every touched enterprise must have the same fingerprint. Returns what
/// moved otherwise. The desired-state hash is informational: the plan, not the files,
/// is what gets applied.
pub(crate) fn check_fresh(saved: &SavedPlan, current: &[LiveState]) -> Result<(), Stale> {
    if saved.format != SavedPlan::FORMAT || saved.version != SavedPlan::VERSION {
        return Err(Stale::Format {
            format: saved.format.clone(),
            found: saved.version,
            expected: SavedPlan::VERSION,
        });
    }
    let now: BTreeMap<Kbo, &LiveState> = current.iter().map(|l| (l.enterprise.kbo, l)).collect();
    let then: BTreeMap<Kbo, &LiveState> = saved
        .snapshots
        .iter()
        .map(|l| (l.enterprise.kbo, l))
        .collect();
    let mut drifts = Vec::new();
    for print in &saved.live {
        let current = now.get(&print.kbo).copied();
        let now_print = current
            .map(live_fingerprint)
            .unwrap_or_else(|| unreadable(print.kbo));
        if now_print.digest == print.digest {
            continue;
        }
        let changes = match (then.get(&print.kbo), current) {
            (Some(before), Some(after)) => diff::drift(before, after),
            _ => Vec::new(),
        };
        drifts.push(EnterpriseDrift {
            kbo: print.kbo,
            saved: print.clone(),
            now: now_print,
            changes,
        });
    }
    if drifts.is_empty() {
        Ok(())
    } else {
        Err(Stale::LiveChanged(drifts))
    }
}
