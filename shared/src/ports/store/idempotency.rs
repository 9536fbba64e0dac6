//! Idempotency of API requests.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreResult;
use crate::domain::ids::MerchantId;

/// What the first request under an `Idempotency-Key` answered, kept to answer its repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SavedResponse {
    /// It made an object: kept for as long as the object exists, and replayed as the object is now (by
    /// reference, so no copy of its data outlives an erasure).
    Created { status: u16, object_id: String },
    /// A refusal, kept as it was for `idempotency::REFUSAL_REPLAY`; then the key is free again (nothing was made).
    Refused { status: u16, body: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// First use of the key: proceed, then `idempotency_complete` or `idempotency_abort`.
    Started,
    Replay(SavedResponse),
    /// The key was used with a different request body.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

/// Idempotency of API requests, per merchant and key: kept for good once an object was made, a refusal 24 h.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn idempotency_begin(&self, merchant: &MerchantId, key: &str, request_hash: &str, now: DateTime<Utc>) -> StoreResult<IdempotencyBegin>;
    async fn idempotency_complete(
        &self,
        merchant: &MerchantId,
        key: &str,
        request_hash: &str,
        response: &SavedResponse,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn idempotency_abort(&self, merchant: &MerchantId, key: &str) -> StoreResult<()>;
}
