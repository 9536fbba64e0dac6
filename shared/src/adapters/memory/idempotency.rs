//! The in-memory store: idempotency records.

use super::*;

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn idempotency_begin(&self, merchant: &MerchantId, key: &str, request_hash: &str, now: DateTime<Utc>) -> StoreResult<IdempotencyBegin> {
        let mut s = self.lock();
        let k = (merchant.clone(), key.to_string());
        match s.idempotency.get(&k) {
            // A refusal made nothing: once its replay is over the key is free. Anything else is kept for good.
            Some((_, Some(SavedResponse::Refused { .. }), created)) if now - *created > crate::domain::idempotency::REFUSAL_REPLAY => {}
            Some((hash, _, _)) if hash != request_hash => return Ok(IdempotencyBegin::Mismatch),
            Some((_, Some(saved), _)) => return Ok(IdempotencyBegin::Replay(saved.clone())),
            Some((_, None, started)) if now - *started < crate::domain::idempotency::IN_PROGRESS_LEASE => return Ok(IdempotencyBegin::InProgress),
            Some((_, None, _)) => {}
            None => {}
        }
        s.idempotency.insert(k, (request_hash.to_string(), None, now));
        Ok(IdempotencyBegin::Started)
    }

    async fn idempotency_complete(
        &self,
        merchant: &MerchantId,
        key: &str,
        request_hash: &str,
        response: &SavedResponse,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        fits(&format!("MER#{merchant}#IDEM#{}", layout::sha256_hex(key)), "IDEM", response)?;
        self.lock().idempotency.insert((merchant.clone(), key.to_string()), (request_hash.to_string(), Some(response.clone()), now));
        Ok(())
    }

    async fn idempotency_abort(&self, merchant: &MerchantId, key: &str) -> StoreResult<()> {
        self.lock().idempotency.remove(&(merchant.clone(), key.to_string()));
        Ok(())
    }
}
