//! Merchant webhook endpoints and their deliveries.

use async_trait::async_trait;

use super::{Page, StoreResult};
use crate::domain::ids::{MerchantId, WebhookEndpointId, WebhookMessageId};
use crate::service::merchant_webhooks::{WebhookDelivery, WebhookEndpoint};

/// A merchant's webhook endpoints.
#[async_trait]
pub trait WebhookEndpointStore: Send + Sync {
    async fn add_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()>;
    /// Replaces the endpoint if its stored version is `expected_version`.
    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint, expected_version: u64) -> StoreResult<()>;
    async fn get_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>>;
    /// A merchant's endpoints, oldest first.
    async fn webhook_endpoints_of(&self, merchant: &MerchantId) -> StoreResult<Vec<WebhookEndpoint>>;
    /// True if it existed.
    async fn delete_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<bool>;
}

/// Deliveries of webhook messages to a merchant's endpoints.
#[async_trait]
pub trait WebhookDeliveryStore: Send + Sync {
    /// Stores a delivery unless one with its id exists; true if added.
    async fn add_webhook_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<bool>;
    async fn update_webhook_delivery(&self, delivery: &WebhookDelivery, expected_version: u64) -> StoreResult<()>;
    async fn get_webhook_delivery(&self, merchant: &MerchantId, id: &WebhookMessageId) -> StoreResult<Option<WebhookDelivery>>;
    /// An endpoint's deliveries, newest first, page by page.
    async fn webhook_deliveries_of(
        &self,
        merchant: &MerchantId,
        endpoint: &WebhookEndpointId,
        limit: usize,
        cursor: Option<String>,
    ) -> StoreResult<Page<WebhookDelivery>>;
}
