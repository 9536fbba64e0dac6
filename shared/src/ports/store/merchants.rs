//! Merchants, their billing wallets and their documents.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::api_keys::ApiKeyRecord;
use crate::domain::ids::{MerchantId, WalletId};
use crate::domain::merchant::{ApiKeyHash, Merchant};
use crate::domain::wallet::Wallet;

/// Merchants: registered by the API (`create_merchant`) or by the development runner and the CLI (`put_merchant`).
#[async_trait]
pub trait MerchantStore: Send + Sync {
    /// Registers (or re-registers) a merchant with a key known by its hash alone (`ApiKeyRecord::registered`):
    /// the development runner and the CLI, on every start. Overwrites; `create_merchant` is the API's way.
    async fn put_merchant(&self, merchant: &Merchant, key: &ApiKeyHash) -> StoreResult<()>;
    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Option<Merchant>>;
    /// The merchant a key belongs to, whatever the key's state (authentication uses `api_key_by_hash`).
    async fn merchant_by_key(&self, key: &ApiKeyHash) -> StoreResult<Option<Merchant>>;
    /// Registers a merchant and its first key, all or nothing, unless a merchant with its id exists: then false,
    /// nothing written.
    async fn create_merchant(&self, merchant: &Merchant, first_key: &ApiKeyRecord) -> StoreResult<bool>;
}

/// A merchant's billing wallets (`wallet::Wallet`).
#[async_trait]
pub trait WalletStore: Send + Sync {
    async fn put_wallet(&self, wallet: &Wallet) -> StoreResult<()>;
    async fn get_wallet(&self, merchant: &MerchantId, id: &WalletId) -> StoreResult<Option<Wallet>>;
    /// A merchant's wallets, oldest first (the first of a method is its default).
    async fn wallets_of(&self, merchant: &MerchantId) -> StoreResult<Vec<Wallet>>;
}

/// Merchant documents: small JSON settings a merchant keeps (notification settings, message templates).
#[async_trait]
pub trait DocumentStore: Send + Sync {
    async fn put_merchant_document(&self, merchant: &MerchantId, key: &str, value: &serde_json::Value) -> StoreResult<()>;
    async fn get_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<Option<serde_json::Value>>;
    /// Documents whose key starts with `prefix`, by key.
    async fn merchant_documents(&self, merchant: &MerchantId, prefix: &str) -> StoreResult<Vec<(String, serde_json::Value)>>;
    /// True if it existed.
    async fn delete_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<bool>;
}
