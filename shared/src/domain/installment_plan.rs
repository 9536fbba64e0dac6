//! An installment plan (carnê, or a renegotiation's) as the store keeps it: the split fixed at creation, one
//! merchant document per plan. Its installments are ordinary charges; this is the record that ties them together.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{ChargeId, PlanId};

/// What the store keeps of a plan: the split, fixed at creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Plan {
    pub(crate) id: PlanId,
    pub(crate) customer_id: String,
    pub(crate) total: crate::domain::money::Money,
    pub(crate) description: String,
    pub(crate) installments: Vec<PlanInstallment>,
    /// The charges this plan replaced (a renegotiation); empty for a plain carnê.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) renegotiates: Vec<ChargeId>,
    pub(crate) created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PlanInstallment {
    pub(crate) number: u16,
    pub(crate) charge_id: ChargeId,
    pub(crate) amount: crate::domain::money::Money,
    pub(crate) due_date: NaiveDate,
}

/// What the key of every plan's merchant document starts with.
pub(crate) const DOCUMENT_PREFIX: &str = "plan#";

/// The merchant document a plan is stored as.
pub(crate) fn document_key(id: &PlanId) -> String {
    format!("{DOCUMENT_PREFIX}{id}")
}
