//! The development outbox channel.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::notification::OutboxEntry;

/// The development outbox channel.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Records a delivery once per (charge, reminder); true if new.
    async fn record_outbox(&self, entry: &OutboxEntry) -> StoreResult<bool>;
    async fn outbox(&self) -> StoreResult<Vec<OutboxEntry>>;
    /// Rewrites a recorded entry (erasure of personal data), keeping its delivery count.
    async fn replace_outbox(&self, entry: &OutboxEntry) -> StoreResult<()>;
}
