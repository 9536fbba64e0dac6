//! Customers.

use async_trait::async_trait;

use super::{Page, StoreResult};
use crate::domain::customer::Customer;
use crate::domain::ids::{CustomerId, MerchantId};

/// A merchant's customers.
#[async_trait]
pub trait CustomerStore: Send + Sync {
    async fn put_customer(&self, customer: &Customer) -> StoreResult<()>;
    async fn get_customer(&self, merchant: &MerchantId, id: &CustomerId) -> StoreResult<Option<Customer>>;
    /// A merchant's customers, oldest first (ids are time-ordered). A page may hold fewer than `limit`.
    async fn list_customers(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Customer>>;
}
