//! The DynamoDB store: merchant webhook endpoints and their deliveries (key layout in `mod.rs` and docs/dynamodb.md).

use async_trait::async_trait;

use super::*;
use crate::domain::ids::{MerchantId, WebhookEndpointId, WebhookMessageId};
use crate::service::merchant_webhooks::{WebhookDelivery, WebhookEndpoint};

fn webhook_delivery_item(d: &WebhookDelivery) -> Item {
    let mut item = data_item(format!("MER#{}#WHD#{}", d.merchant_id, d.id), "WHD", d);
    item.insert("GSI1PK".into(), s(format!("MER#{}#WEP#{}", d.merchant_id, d.endpoint_id)));
    item.insert("GSI1SK".into(), s(format!("{:013}#{}", d.created_at.timestamp_millis(), d.id)));
    item
}

#[async_trait]
impl WebhookEndpointStore for DynamoStore {
    async fn add_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()> {
        let mut item = data_item(format!("MER#{}#WEP", endpoint.merchant_id), endpoint.id.as_str(), endpoint);
        item.insert("version".into(), n(endpoint.version));
        self.put_new(item).await.map(|_| ())
    }

    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint, expected_version: u64) -> StoreResult<()> {
        let item = data_item(format!("MER#{}#WEP", endpoint.merchant_id), endpoint.id.as_str(), endpoint);
        self.put_versioned(item, endpoint.version, expected_version).await
    }

    async fn get_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>> {
        self.get(format!("MER#{merchant}#WEP"), id.as_str()).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn webhook_endpoints_of(&self, merchant: &MerchantId) -> StoreResult<Vec<WebhookEndpoint>> {
        self.query_all(format!("MER#{merchant}#WEP"), "").await?.iter().map(parse_data).collect()
    }

    async fn delete_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(format!("MER#{merchant}#WEP")))
            .key("SK", s(id.as_str()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}

#[async_trait]
impl WebhookDeliveryStore for DynamoStore {
    async fn add_webhook_delivery(&self, d: &WebhookDelivery) -> StoreResult<bool> {
        let mut item = webhook_delivery_item(d);
        item.insert("version".into(), n(d.version));
        self.put_new(item).await
    }

    async fn update_webhook_delivery(&self, d: &WebhookDelivery, expected_version: u64) -> StoreResult<()> {
        self.put_versioned(webhook_delivery_item(d), d.version, expected_version).await
    }

    async fn get_webhook_delivery(&self, merchant: &MerchantId, id: &WebhookMessageId) -> StoreResult<Option<WebhookDelivery>> {
        self.get(format!("MER#{merchant}#WHD#{id}"), "WHD").await?.map(|i| parse_data(&i)).transpose()
    }

    async fn webhook_deliveries_of(
        &self,
        merchant: &MerchantId,
        endpoint: &WebhookEndpointId,
        limit: usize,
        cursor: Option<String>,
    ) -> StoreResult<Page<WebhookDelivery>> {
        let values = [(":pk", format!("MER#{merchant}#WEP#{endpoint}"))];
        self.index_page_ordered("gsi1", "GSI1PK = :pk", &values, Some(limit), cursor, false).await
    }
}
