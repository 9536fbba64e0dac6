//! Domain events published on the event bus (EventBridge in AWS) for other systems to react to.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ChargeId, MerchantId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// Stable across re-publication of the same fact, so consumers can deduplicate.
    pub id: String,
    /// EventBridge `detail-type`: "ChargeCreated", "ChargeOverdue", "PaymentConfirmed".
    pub kind: String,
    pub merchant_id: MerchantId,
    pub charge_id: ChargeId,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event bus unavailable: {0}")]
pub struct PublishError(pub String);

#[async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PublishError>;
    /// Asks for the tick of `at` to run again (its budget ran out): a `TickContinuation` event whose rule
    /// invokes ruler-tick with the same time.
    async fn continue_tick(&self, at: DateTime<Utc>) -> Result<(), PublishError>;
}
