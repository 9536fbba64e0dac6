//! API keys and their request rates.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::api_keys::ApiKeyRecord;
use crate::domain::ids::{ApiKeyId, MerchantId};
use crate::domain::merchant::ApiKeyHash;

/// API keys: the hash finds one (authentication), the merchant lists them; and each key's request rate.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new key (Conflict if its id or hash exists); with `replacing`, also the old key's new state (a
    /// rotation), conditional on the old one's stored version — all or nothing.
    async fn add_api_key(&self, key: &ApiKeyRecord, replacing: Option<(&ApiKeyRecord, u64)>) -> StoreResult<()>;
    /// Replaces a key if its stored version is `expected_version` (the new one carries version + 1), else Conflict.
    async fn update_api_key(&self, key: &ApiKeyRecord, expected_version: u64) -> StoreResult<()>;
    async fn get_api_key(&self, merchant: &MerchantId, id: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>>;
    /// A merchant's keys, by id.
    async fn api_keys_of(&self, merchant: &MerchantId) -> StoreResult<Vec<ApiKeyRecord>>;
    /// The key a presented secret hashes to, whatever its state: the caller judges expiry and revocation.
    async fn api_key_by_hash(&self, hash: &ApiKeyHash) -> StoreResult<Option<ApiKeyRecord>>;
    /// Counts one request of `key` in the rate window starting at `window` if fewer than `limit` were counted
    /// there: Some(the count, this one included), or None when the limit is reached (nothing counted). One atomic
    /// conditional write per request; windows expire on their own.
    async fn count_request(&self, key: &ApiKeyId, window: DateTime<Utc>, limit: u32) -> StoreResult<Option<u32>>;
}
