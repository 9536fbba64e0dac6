//! The in-memory store: merchants, their billing wallets and their documents.

use super::*;
use crate::domain::merchant::ApiKeyHash;

#[async_trait]
impl MerchantStore for MemoryStore {
    async fn put_merchant(&self, merchant: &Merchant, key: &ApiKeyHash) -> StoreResult<()> {
        let mut s = self.lock();
        s.merchants.insert(merchant.id.clone(), merchant.clone());
        s.put_key(crate::domain::api_keys::ApiKeyRecord::registered(&merchant.id, key, merchant.created_at));
        Ok(())
    }

    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Option<Merchant>> {
        Ok(self.lock().merchants.get(id).cloned())
    }

    async fn merchant_by_key(&self, key: &ApiKeyHash) -> StoreResult<Option<Merchant>> {
        let s = self.lock();
        Ok(s.key_hashes.get(key.as_str()).and_then(|(m, _)| s.merchants.get(m)).cloned())
    }

    async fn create_merchant(&self, merchant: &Merchant, first_key: &crate::domain::api_keys::ApiKeyRecord) -> StoreResult<bool> {
        let mut s = self.lock();
        if s.merchants.contains_key(&merchant.id) {
            return Ok(false);
        }
        if s.key_taken(first_key) {
            return Err(StoreError::Conflict);
        }
        s.merchants.insert(merchant.id.clone(), merchant.clone());
        s.put_key(first_key.clone());
        Ok(true)
    }
}

#[async_trait]
impl WalletStore for MemoryStore {
    async fn put_wallet(&self, wallet: &Wallet) -> StoreResult<()> {
        fits(&layout::merchant_pk(&wallet.merchant_id), &format!("WALLET#{}", wallet.id), wallet)?;
        self.lock().wallets.insert((wallet.merchant_id.clone(), wallet.id.clone()), wallet.clone());
        Ok(())
    }

    async fn get_wallet(&self, merchant: &MerchantId, id: &WalletId) -> StoreResult<Option<Wallet>> {
        Ok(self.lock().wallets.get(&(merchant.clone(), id.clone())).cloned())
    }

    async fn wallets_of(&self, merchant: &MerchantId) -> StoreResult<Vec<Wallet>> {
        // Wallet ids are ULIDs: key order is creation order.
        Ok(self.lock().wallets.iter().filter(|((m, _), _)| m == merchant).map(|(_, w)| w.clone()).collect())
    }
}

#[async_trait]
impl DocumentStore for MemoryStore {
    async fn put_merchant_document(&self, merchant: &MerchantId, key: &str, value: &serde_json::Value) -> StoreResult<()> {
        fits(&layout::document_pk(merchant), key, value)?;
        self.lock().documents.insert((merchant.clone(), key.to_string()), value.clone());
        Ok(())
    }

    async fn get_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<Option<serde_json::Value>> {
        limits::check_keys(&layout::document_pk(merchant), key)?;
        Ok(self.lock().documents.get(&(merchant.clone(), key.to_string())).cloned())
    }

    async fn merchant_documents(&self, merchant: &MerchantId, prefix: &str) -> StoreResult<Vec<(String, serde_json::Value)>> {
        let s = self.lock();
        Ok(s.documents.iter().filter(|((m, k), _)| m == merchant && k.starts_with(prefix)).map(|((_, k), v)| (k.clone(), v.clone())).collect())
    }

    async fn delete_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<bool> {
        limits::check_keys(&layout::document_pk(merchant), key)?;
        Ok(self.lock().documents.remove(&(merchant.clone(), key.to_string())).is_some())
    }
}
