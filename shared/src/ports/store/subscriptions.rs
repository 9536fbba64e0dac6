//! Subscriptions.

use async_trait::async_trait;
use chrono::NaiveDate;

use super::{Page, StoreResult};
use crate::domain::ids::{MerchantId, SubscriptionId};
use crate::domain::recurrence::Subscription;

/// Subscriptions (`recurrence::Subscription`), and the sparse index of those with charges to generate.
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Stores a subscription: new (`expected_version` None; Conflict if its id exists) or replacing the stored one
    /// of that version (the new one carries version + 1), else Conflict. Indexed by `generate_on`.
    async fn put_subscription(&self, sub: &Subscription, expected_version: Option<u64>) -> StoreResult<()>;
    async fn get_subscription(&self, merchant: &MerchantId, id: &SubscriptionId) -> StoreResult<Option<Subscription>>;
    /// A merchant's subscriptions, oldest first (ids are time-ordered).
    async fn list_subscriptions(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Subscription>>;
    /// Subscriptions of every merchant whose `generate_on` is `through` or earlier, earliest first, up to `limit`:
    /// a sparse index, so the daily work costs what is due, not what exists.
    async fn subscriptions_to_generate(&self, through: NaiveDate, limit: usize) -> StoreResult<Vec<Subscription>>;
}
