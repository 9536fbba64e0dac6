//! The DynamoDB store: merchants, their billing wallets and their documents (key layout in `mod.rs` and docs/dynamodb.md).

use async_trait::async_trait;

use super::*;
use crate::adapters::layout::{document_pk, merchant_pk};
use crate::domain::ids::{MerchantId, WalletId};
use crate::domain::merchant::{ApiKeyHash, Merchant};
use crate::domain::wallet::Wallet;

#[async_trait]
impl MerchantStore for DynamoStore {
    async fn put_merchant(&self, merchant: &Merchant, key: &ApiKeyHash) -> StoreResult<()> {
        let (listed, by_hash) = api_key_items(&ApiKeyRecord::registered(&merchant.id, key, merchant.created_at));
        self.client
            .transact_write_items()
            .transact_items(self.put_in_table(data_item(merchant_pk(&merchant.id), "MERCHANT", merchant), None, None))
            .transact_items(self.put_in_table(listed, None, None))
            .transact_items(self.put_in_table(by_hash, None, None))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Option<Merchant>> {
        self.get(merchant_pk(id), "MERCHANT").await?.map(|i| parse_data(&i)).transpose()
    }

    async fn merchant_by_key(&self, key: &ApiKeyHash) -> StoreResult<Option<Merchant>> {
        let Some(item) = self.get(format!("APIKEY#{}", key.as_str()), "APIKEY").await? else {
            return Ok(None);
        };
        let Some(id) = item.get("merchant_id").and_then(|v| v.as_s().ok()).and_then(|s| MerchantId::parse(s).ok()) else {
            return Err(StoreError::Corrupt { key: "APIKEY".into(), message: "no merchant_id".into() });
        };
        self.get_merchant(&id).await
    }

    async fn create_merchant(&self, merchant: &Merchant, first_key: &ApiKeyRecord) -> StoreResult<bool> {
        let (listed, by_hash) = api_key_items(first_key);
        let new = Some("attribute_not_exists(PK)");
        let r = self
            .client
            .transact_write_items()
            .transact_items(self.put_in_table(data_item(merchant_pk(&merchant.id), "MERCHANT", merchant), new, None))
            .transact_items(self.put_in_table(listed, new, None))
            .transact_items(self.put_in_table(by_hash, new, None))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) => match cancelled_conditions(&e) {
                Some(failed) if failed.first() == Some(&true) => Ok(false),
                Some(failed) if failed.contains(&true) => Err(StoreError::Conflict),
                _ => Err(unavailable(e)),
            },
        }
    }
}

#[async_trait]
impl WalletStore for DynamoStore {
    async fn put_wallet(&self, wallet: &Wallet) -> StoreResult<()> {
        let item = data_item(merchant_pk(&wallet.merchant_id), format!("WALLET#{}", wallet.id), wallet);
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn get_wallet(&self, merchant: &MerchantId, id: &WalletId) -> StoreResult<Option<Wallet>> {
        self.get(merchant_pk(merchant), &format!("WALLET#{id}")).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn wallets_of(&self, merchant: &MerchantId) -> StoreResult<Vec<Wallet>> {
        // Sort keys hold ULIDs: query order is creation order.
        self.query_all(merchant_pk(merchant), "WALLET#").await?.iter().map(parse_data).collect()
    }
}

#[async_trait]
impl DocumentStore for DynamoStore {
    async fn put_merchant_document(&self, merchant: &MerchantId, key: &str, value: &serde_json::Value) -> StoreResult<()> {
        let item = data_item(document_pk(merchant), key, value);
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn get_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<Option<serde_json::Value>> {
        self.get(document_pk(merchant), key).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn merchant_documents(&self, merchant: &MerchantId, prefix: &str) -> StoreResult<Vec<(String, serde_json::Value)>> {
        let mut out = Vec::new();
        for item in self.query_all(document_pk(merchant), prefix).await? {
            let key = item.get("SK").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            out.push((key, parse_data(&item)?));
        }
        Ok(out)
    }

    async fn delete_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(document_pk(merchant)))
            .key("SK", s(key))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}
