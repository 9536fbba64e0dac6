//! The DynamoDB store: the development outbox (key layout in `mod.rs` and docs/dynamodb.md).

use async_trait::async_trait;

use super::*;
use crate::adapters::layout::outbox_sk;
use crate::domain::notification::OutboxEntry;

#[async_trait]
impl OutboxStore for DynamoStore {
    async fn record_outbox(&self, entry: &OutboxEntry) -> StoreResult<bool> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s("OUTBOX"))
            .key("SK", s(outbox_sk(entry)))
            .update_expression("SET #data = if_not_exists(#data, :data) ADD deliveries :one")
            .expression_attribute_names("#data", "data")
            .expression_attribute_values(":data", s(serde_json::to_string(entry).expect("entry serialises")))
            .expression_attribute_values(":one", n(1))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_none_or(|old| !old.contains_key("deliveries")))
    }

    async fn outbox(&self) -> StoreResult<Vec<OutboxEntry>> {
        let mut all = Vec::new();
        for item in self.query_all("OUTBOX".into(), "").await? {
            let mut entry: OutboxEntry = parse_data(&item)?;
            entry.deliveries = item.get("deliveries").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(1);
            all.push(entry);
        }
        all.sort_by(|a, b| (a.sent_at, &a.reminder_id).cmp(&(b.sent_at, &b.reminder_id)));
        Ok(all)
    }

    async fn replace_outbox(&self, entry: &OutboxEntry) -> StoreResult<()> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s("OUTBOX"))
            .key("SK", s(outbox_sk(entry)))
            .update_expression("SET #data = :data")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#data", "data")
            .expression_attribute_values(":data", s(serde_json::to_string(entry).expect("entry serialises")))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}
