//! The in-memory store: merchant webhook endpoints and their deliveries.

use super::*;

#[async_trait]
impl WebhookEndpointStore for MemoryStore {
    async fn add_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()> {
        fits(&format!("MER#{}#WEP", endpoint.merchant_id), endpoint.id.as_str(), endpoint)?;
        self.lock().webhook_endpoints.insert((endpoint.merchant_id.clone(), endpoint.id.clone()), endpoint.clone());
        Ok(())
    }

    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint, expected_version: u64) -> StoreResult<()> {
        fits(&format!("MER#{}#WEP", endpoint.merchant_id), endpoint.id.as_str(), endpoint)?;
        let mut st = self.lock();
        match st.webhook_endpoints.get_mut(&(endpoint.merchant_id.clone(), endpoint.id.clone())) {
            Some(e) if e.version == expected_version => {
                *e = endpoint.clone();
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn get_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>> {
        Ok(self.lock().webhook_endpoints.get(&(merchant.clone(), id.clone())).cloned())
    }

    async fn webhook_endpoints_of(&self, merchant: &MerchantId) -> StoreResult<Vec<WebhookEndpoint>> {
        Ok(self.lock().webhook_endpoints.iter().filter(|((m, _), _)| m == merchant).map(|(_, e)| e.clone()).collect())
    }

    async fn delete_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<bool> {
        Ok(self.lock().webhook_endpoints.remove(&(merchant.clone(), id.clone())).is_some())
    }
}

#[async_trait]
impl WebhookDeliveryStore for MemoryStore {
    async fn add_webhook_delivery(&self, d: &WebhookDelivery) -> StoreResult<bool> {
        fits(&format!("MER#{}#WHD#{}", d.merchant_id, d.id), "WHD", d)?;
        let mut st = self.lock();
        let key = (d.merchant_id.clone(), d.id.clone());
        if st.webhook_deliveries.contains_key(&key) {
            return Ok(false);
        }
        st.webhook_deliveries.insert(key, d.clone());
        Ok(true)
    }

    async fn update_webhook_delivery(&self, d: &WebhookDelivery, expected_version: u64) -> StoreResult<()> {
        fits(&format!("MER#{}#WHD#{}", d.merchant_id, d.id), "WHD", d)?;
        let mut st = self.lock();
        match st.webhook_deliveries.get_mut(&(d.merchant_id.clone(), d.id.clone())) {
            Some(old) if old.version == expected_version => {
                *old = d.clone();
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn get_webhook_delivery(&self, merchant: &MerchantId, id: &WebhookMessageId) -> StoreResult<Option<WebhookDelivery>> {
        Ok(self.lock().webhook_deliveries.get(&(merchant.clone(), id.clone())).cloned())
    }

    async fn webhook_deliveries_of(
        &self,
        merchant: &MerchantId,
        endpoint: &WebhookEndpointId,
        limit: usize,
        cursor: Option<String>,
    ) -> StoreResult<Page<WebhookDelivery>> {
        let st = self.lock();
        let mut all: Vec<&WebhookDelivery> =
            st.webhook_deliveries.values().filter(|d| &d.merchant_id == merchant && &d.endpoint_id == endpoint).collect();
        all.sort_by_key(|d| std::cmp::Reverse((d.created_at, d.id.clone())));
        let start: usize = cursor.map(|c| c.parse().map_err(|_| StoreError::InvalidCursor)).transpose()?.unwrap_or(0);
        let items: Vec<WebhookDelivery> = all.iter().skip(start).take(limit).map(|d| (*d).clone()).collect();
        let next = (start + items.len() < all.len()).then(|| (start + items.len()).to_string());
        Ok(Page { items, next })
    }
}
