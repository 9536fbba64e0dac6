//! Réguas and the re-plans queued when one changes.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::ids::{CustomerId, MerchantId};
use crate::domain::ruler::Ruler;

/// Where a régua is set: a merchant's default or a customer's override (a charge carries its own).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RulerScope {
    Merchant(MerchantId),
    Customer(MerchantId, CustomerId),
}

/// Réguas: a merchant's default and customers' overrides.
#[async_trait]
pub trait RulerStore: Send + Sync {
    async fn get_ruler(&self, scope: &RulerScope) -> StoreResult<Option<Ruler>>;
    async fn put_ruler(&self, scope: &RulerScope, ruler: &Ruler) -> StoreResult<()>;
}

/// Re-plans queued after a régua or an opt-out changed (`schedule::ReplanJob`), one per scope (a merchant's
/// default, a customer's override or opt-out).
#[async_trait]
pub trait ReplanJobStore: Send + Sync {
    /// Stores a job: new (`expected_version` None; Conflict if its scope has one) or replacing the stored one of
    /// that version (the new one carries a higher version), else Conflict.
    async fn save_replan_job(&self, job: &crate::service::schedule::ReplanJob, expected_version: Option<u64>) -> StoreResult<()>;
    async fn get_replan_job(&self, scope: &crate::service::schedule::ReplanScope) -> StoreResult<Option<crate::service::schedule::ReplanJob>>;
    /// Queued jobs of every scope, in the order of their keys (`adapters::layout::replan_sk`), up to `limit`.
    async fn replan_jobs(&self, limit: usize) -> StoreResult<Vec<crate::service::schedule::ReplanJob>>;
    /// Removes a finished job if its stored version is `expected_version`; false if it changed (a newer request
    /// restarted it) or is gone.
    async fn finish_replan_job(&self, scope: &crate::service::schedule::ReplanScope, expected_version: u64) -> StoreResult<bool>;
}
