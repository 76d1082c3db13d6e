//! The coordination-centre notice (R9): which head radiologists are still owed to the
//! centre ([`owed`], what `apply`, `by-hand` and `coordination-centre` read at the end
//! of every run), and recording that a notice was sent: the one call that both
//! `coordination-centre --record-sent` and a confirmed by-hand notice step make.
//!
//! Which head radiologists are owed is never remembered here: the registry derives it
//! from its state ([`crate::registry::Registry::pending_notices`]); this only records
//! the fact that a person sent the number, through the registry's operator (who stands
//! for the coordination centre).
//!
//! May use `model` and the registry contract.

use futures_util::stream::{self, StreamExt};

use super::{ExecuteOptions, retried};
use crate::model::{Hco, Insz, Kbo};
use crate::registry::{PendingNotice, Registry, RegistryError, RegistryOperator};

/// The registry could not say which notices are owed for an enterprise (after retries).
#[derive(Debug, thiserror::Error)]
#[error("cannot read the coordination-centre notices owed for enterprise {kbo}: {source}")]
pub(crate) struct NotRead {
    /// The enterprise.
    pub(crate) kbo: Kbo,
    /// Why.
    #[source]
    pub(crate) source: RegistryError,
}

/// The head radiologists whose number is still owed to the coordination centre, for
/// these enterprises, sorted by site. Enterprises the acting person has no role in (yet:
/// an HTB designation still pending) or that are unknown have nothing the person can
/// owe, and are left out; every other failure is an error, because a notice might be
/// owed.
pub(crate) async fn owed(
    registry: &dyn Registry,
    kbos: &[Kbo],
    options: &ExecuteOptions,
) -> Result<Vec<PendingNotice>, NotRead> {
    // Side by side, like the reads before planning: one request after another would
    // cost a round trip per enterprise at the end of every apply.
    let answers: Vec<_> = stream::iter(kbos)
        .map(|kbo| async move {
            let answer = retried(options, |_| registry.pending_notices(kbo)).await;
            (kbo, answer)
        })
        .buffered(super::REQUESTS_AT_ONCE)
        .collect()
        .await;
    let mut out = Vec::new();
    for (kbo, answer) in answers {
        match answer {
            Ok(mut pending) => out.append(&mut pending),
            Err(RegistryError::NotAuthorised { .. } | RegistryError::NotFound { .. }) => {}
            Err(source) => return Err(NotRead { kbo: *kbo, source }),
        }
    }
    out.sort_by(|a, b| (&a.site, &a.username).cmp(&(&b.site, &b.username)));
    out.dedup();
    Ok(out)
}

/// Records that the coordination centre was sent the national register number of
/// `person`, head radiologist of `site` (R9), retried as every registry call is.
/// Recording it twice is harmless: the registry keeps a set.
pub(crate) async fn record_notice_sent(
    operator: &dyn RegistryOperator,
    site: &Hco,
    person: &Insz,
) -> Result<(), RegistryError> {
    retried(&ExecuteOptions::default(), |_| {
        operator.notify_head_radiologist(site, person)
    })
    .await
}
