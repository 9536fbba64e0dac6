//! The in-memory store: API keys and their request rates.

use super::*;
use crate::domain::merchant::ApiKeyHash;

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn add_api_key(
        &self,
        key: &crate::domain::api_keys::ApiKeyRecord,
        replacing: Option<(&crate::domain::api_keys::ApiKeyRecord, u64)>,
    ) -> StoreResult<()> {
        let mut s = self.lock();
        if s.key_taken(key) {
            return Err(StoreError::Conflict);
        }
        if let Some((old, expected)) = replacing {
            if s.api_keys.get(&(old.merchant_id.clone(), old.id.clone())).map(|k| k.version) != Some(expected) {
                return Err(StoreError::Conflict);
            }
            s.put_key(old.clone());
        }
        s.put_key(key.clone());
        Ok(())
    }

    async fn update_api_key(&self, key: &crate::domain::api_keys::ApiKeyRecord, expected_version: u64) -> StoreResult<()> {
        let mut s = self.lock();
        if s.api_keys.get(&(key.merchant_id.clone(), key.id.clone())).map(|k| k.version) != Some(expected_version) {
            return Err(StoreError::Conflict);
        }
        s.put_key(key.clone());
        Ok(())
    }

    async fn get_api_key(
        &self,
        merchant: &MerchantId,
        id: &crate::domain::ids::ApiKeyId,
    ) -> StoreResult<Option<crate::domain::api_keys::ApiKeyRecord>> {
        Ok(self.lock().api_keys.get(&(merchant.clone(), id.clone())).cloned())
    }

    async fn api_keys_of(&self, merchant: &MerchantId) -> StoreResult<Vec<crate::domain::api_keys::ApiKeyRecord>> {
        Ok(self.lock().api_keys.iter().filter(|((m, _), _)| m == merchant).map(|(_, k)| k.clone()).collect())
    }

    async fn api_key_by_hash(&self, hash: &ApiKeyHash) -> StoreResult<Option<crate::domain::api_keys::ApiKeyRecord>> {
        let s = self.lock();
        Ok(s.key_hashes.get(hash.as_str()).and_then(|k| s.api_keys.get(k)).cloned())
    }

    async fn count_request(&self, key: &crate::domain::ids::ApiKeyId, window: DateTime<Utc>, limit: u32) -> StoreResult<Option<u32>> {
        let mut s = self.lock();
        let at = window.timestamp();
        // Past windows are never counted again (the DynamoDB items expire by TTL).
        s.rate_windows.retain(|(_, w), _| *w >= at - 2 * crate::domain::api_keys::RATE_WINDOW_SECONDS);
        let count = s.rate_windows.entry((key.clone(), at)).or_insert(0);
        if *count >= limit {
            return Ok(None);
        }
        *count += 1;
        Ok(Some(*count))
    }
}
