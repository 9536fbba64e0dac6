//! The DynamoDB store: API keys and their request rates (key layout in `mod.rs` and docs/dynamodb.md).

use async_trait::async_trait;

use super::*;
use crate::domain::ids::MerchantId;
use crate::domain::merchant::ApiKeyHash;

#[async_trait]
impl ApiKeyStore for DynamoStore {
    async fn add_api_key(&self, key: &ApiKeyRecord, replacing: Option<(&ApiKeyRecord, u64)>) -> StoreResult<()> {
        let (listed, by_hash) = api_key_items(key);
        let new = Some("attribute_not_exists(PK)");
        let mut tx = self
            .client
            .transact_write_items()
            .transact_items(self.put_in_table(listed, new, None))
            .transact_items(self.put_in_table(by_hash, new, None));
        if let Some((old, expected)) = replacing {
            let (listed, by_hash) = api_key_items(old);
            let values = || Some(HashMap::from([(":v".to_string(), n(expected))]));
            tx = tx.transact_items(self.put_in_table(listed, Some("version = :v"), values())).transact_items(self.put_in_table(
                by_hash,
                Some("version = :v"),
                values(),
            ));
        }
        match tx.send().await {
            Ok(_) => Ok(()),
            Err(e) if cancelled_conditions(&e).is_some_and(|f| f.contains(&true)) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn update_api_key(&self, key: &ApiKeyRecord, expected_version: u64) -> StoreResult<()> {
        let (listed, by_hash) = api_key_items(key);
        let values = || Some(HashMap::from([(":v".to_string(), n(expected_version))]));
        let r = self
            .client
            .transact_write_items()
            .transact_items(self.put_in_table(listed, Some("version = :v"), values()))
            .transact_items(self.put_in_table(by_hash, Some("version = :v"), values()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if cancelled_conditions(&e).is_some_and(|f| f.contains(&true)) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_api_key(&self, merchant: &MerchantId, id: &crate::domain::ids::ApiKeyId) -> StoreResult<Option<ApiKeyRecord>> {
        self.get(format!("MER#{merchant}#APIKEY"), id.as_str()).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn api_keys_of(&self, merchant: &MerchantId) -> StoreResult<Vec<ApiKeyRecord>> {
        self.query_all(format!("MER#{merchant}#APIKEY"), "").await?.iter().map(parse_data).collect()
    }

    async fn api_key_by_hash(&self, hash: &ApiKeyHash) -> StoreResult<Option<ApiKeyRecord>> {
        let Some(item) = self.get(format!("APIKEY#{}", hash.as_str()), "APIKEY").await? else {
            return Ok(None);
        };
        if item.contains_key("data") {
            return parse_data(&item).map(Some);
        }
        // A key stored before keys were records: only its merchant is known; it works as registered.
        let Some(merchant) = item.get("merchant_id").and_then(|v| v.as_s().ok()).and_then(|s| MerchantId::parse(s).ok()) else {
            return Err(StoreError::Corrupt { key: "APIKEY".into(), message: "no merchant_id".into() });
        };
        Ok(Some(ApiKeyRecord::registered(&merchant, hash, DateTime::UNIX_EPOCH)))
    }

    async fn count_request(&self, key: &crate::domain::ids::ApiKeyId, window: DateTime<Utc>, limit: u32) -> StoreResult<Option<u32>> {
        use aws_sdk_dynamodb::types::ReturnValue;
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(format!("RATE#{key}#{}", window.timestamp())))
            .key("SK", s("RATE"))
            // One atomic increment, refused once the window is full: no read, no race between concurrent requests.
            .update_expression("ADD #n :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#n) OR #n < :limit")
            .expression_attribute_names("#n", "requests")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":ttl", n(window.timestamp() + 2 * crate::domain::api_keys::RATE_WINDOW_SECONDS))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match r {
            Ok(out) => {
                let count = out.attributes.as_ref().and_then(|a| a.get("requests")).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok());
                Ok(Some(count.unwrap_or(limit)))
            }
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }
}
