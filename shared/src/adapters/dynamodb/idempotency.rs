//! The DynamoDB store: idempotency records (key layout in `mod.rs` and docs/dynamodb.md).

use async_trait::async_trait;

use super::*;
use crate::adapters::layout::sha256_hex;
use crate::domain::ids::MerchantId;

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn idempotency_begin(&self, merchant: &MerchantId, key: &str, request_hash: &str, now: DateTime<Utc>) -> StoreResult<IdempotencyBegin> {
        let pk = format!("MER#{merchant}#IDEM#{}", sha256_hex(key));
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(pk.clone()))
            .item("SK", s("IDEM"))
            .item("hash", s(request_hash))
            .item("created", n(millis(now)))
            // No TTL: a key is remembered for as long as what it made exists. A refusal past its replay (TTL
            // deletion is lazy) counts as absent; a first request of this body that never finished (no saved
            // response past the lease) is taken over.
            .condition_expression("attribute_not_exists(PK) OR (refused = :true AND created < :expired) OR (attribute_not_exists(#data) AND #hash = :hash AND created < :stale)")
            .expression_attribute_names("#data", "data")
            .expression_attribute_names("#hash", "hash")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":expired", n(millis(now - crate::domain::idempotency::REFUSAL_REPLAY)))
            .expression_attribute_values(":hash", s(request_hash))
            .expression_attribute_values(":stale", n(millis(now - crate::domain::idempotency::IN_PROGRESS_LEASE)))
            .send()
            .await;
        match r {
            Ok(_) => return Ok(IdempotencyBegin::Started),
            Err(e) if is_condition_failure(&e) => {}
            Err(e) => return Err(unavailable(e)),
        }
        let Some(item) = self.get(pk, "IDEM").await? else {
            return Ok(IdempotencyBegin::InProgress);
        };
        if item.get("hash").and_then(|v| v.as_s().ok()).map(String::as_str) != Some(request_hash) {
            return Ok(IdempotencyBegin::Mismatch);
        }
        match item.get("data") {
            Some(_) => Ok(IdempotencyBegin::Replay(parse_data(&item)?)),
            None => Ok(IdempotencyBegin::InProgress),
        }
    }

    async fn idempotency_complete(
        &self,
        merchant: &MerchantId,
        key: &str,
        request_hash: &str,
        response: &SavedResponse,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut item = data_item(format!("MER#{merchant}#IDEM#{}", sha256_hex(key)), "IDEM", response);
        item.insert("hash".into(), s(request_hash));
        item.insert("created".into(), n(millis(now)));
        if let SavedResponse::Refused { .. } = response {
            item.insert("refused".into(), AttributeValue::Bool(true));
            item.insert("ttl".into(), n((now + crate::domain::idempotency::REFUSAL_REPLAY).timestamp()));
        }
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn idempotency_abort(&self, merchant: &MerchantId, key: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(format!("MER#{merchant}#IDEM#{}", sha256_hex(key))))
            .key("SK", s("IDEM"))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
