//! Payments received for charges.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::charge::PaymentMethod;
use crate::ids::{ChargeId, MerchantId, PaymentId};
use crate::money::Money;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: PaymentId,
    pub merchant_id: MerchantId,
    pub charge_id: ChargeId,
    pub provider: String,
    pub provider_event_id: String,
    pub provider_payment_id: String,
    pub amount: Money,
    pub method: PaymentMethod,
    pub paid_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub outcome: PaymentOutcome,
}

/// How a payment relates to its charge at the time it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentOutcome {
    /// Settled the charge.
    Settled,
    /// Less than owed: kept, the charge stays open (partial payments arrive with issue #5).
    Partial,
    /// The charge was no longer payable (paid, cancelled, expired): kept and flagged for refund.
    FlaggedForRefund,
}

/// A payment notice that matched no charge: kept for manual reconciliation, never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmatchedPayment {
    pub provider: String,
    pub provider_event_id: String,
    pub charge_ref: String,
    pub amount: Money,
    pub provider_payment_id: String,
    pub received_at: DateTime<Utc>,
    pub raw: String,
}
