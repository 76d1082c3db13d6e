//! Recording that a coordination-centre notice (R9) was sent: the one call that both
//! `coordination-centre --record-sent` and a confirmed by-hand notice step make.
//!
//! Which head radiologists are owed is never remembered here: the registry derives it
//! from its state ([`crate::registry::Registry::pending_notices`]); this only records
//! the fact that a person sent the number, through the registry's operator (who stands
//! for the coordination centre).
//!
//! May use `model` and the registry contract.

use super::{ExecuteOptions, retried};
use crate::model::{Hco, Insz};
use crate::registry::{RegistryError, RegistryOperator};

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
