//! The DynamoDB store: reminders and the due work (key layout in `mod.rs` and docs/dynamodb.md).

use async_trait::async_trait;
use chrono::TimeZone;

use super::*;
use crate::domain::ids::{ChargeId, MerchantId};

/// `attribute_exists(PK) AND (a OR (b AND c))`, with no redundant parentheses: DynamoDB rejects them.
fn state_condition(clauses: &[String]) -> String {
    let wrap = |c: &String| if c.contains(" AND ") { format!("({c})") } else { c.clone() };
    match clauses {
        [one] => format!("attribute_exists(PK) AND {one}"),
        many => format!("attribute_exists(PK) AND ({})", many.iter().map(wrap).collect::<Vec<_>>().join(" OR ")),
    }
}

#[async_trait]
impl ReminderStore for DynamoStore {
    async fn reminders_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<Reminder>> {
        self.query_all(charge_pk(merchant, charge), "REM#").await?.iter().map(parse_data).collect()
    }

    async fn get_reminder(&self, merchant: &MerchantId, charge: &ChargeId, reminder_id: &str) -> StoreResult<Option<Reminder>> {
        self.get(charge_pk(merchant, charge), &format!("REM#{reminder_id}")).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn add_reminder(&self, reminder: &Reminder) -> StoreResult<bool> {
        self.put_new(reminder_item(reminder)).await
    }

    async fn due_reminders(&self, bucket: &DueBucket, until: DateTime<Utc>, limit: usize, cursor: Option<String>) -> StoreResult<Page<Reminder>> {
        // '~' sorts after every character of ids, so everything at `until` is included.
        let values = [(":pk", bucket.key()), (":until", format!("{}#~", index_time_key(until)))];
        self.index_page("due", "DUEPK = :pk AND DUESK <= :until", &values, Some(limit), cursor).await
    }

    async fn transition_reminder(&self, reminder: &Reminder, from: &[&str], to: ReminderState, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        let mut clauses = Vec::new();
        for f in from {
            match *f {
                "planned" | "queued" | "sending" | "sent" => {
                    values.insert(format!(":{f}"), s(*f));
                    clauses.push(format!("st = :{f}"));
                }
                "queued_expired" => {
                    values.insert(":queued".into(), s("queued"));
                    values.insert(":now".into(), n(millis(now)));
                    clauses.push("st = :queued AND lease <= :now".into());
                }
                "sending_stale" => {
                    values.insert(":sending".into(), s("sending"));
                    values.insert(":stale".into(), n(millis(now - crate::service::delivery::SENDING_STALE_AFTER)));
                    clauses.push("st = :sending AND since <= :stale".into());
                }
                "failed_redrivable" => {
                    values.insert(":failed".into(), s("failed"));
                    values.insert(":redrivable".into(), AttributeValue::Bool(true));
                    clauses.push("st = :failed AND redrivable = :redrivable".into());
                }
                other => panic!("unknown reminder state filter {other}"),
            }
        }
        let next = Reminder { state: to, ..reminder.clone() };
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(reminder_item(&next)))
            .condition_expression(state_condition(&clauses))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        conditional(r)
    }

    async fn tick_watermark(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let Some(item) = self.get("TICK".into(), "WATERMARK").await? else { return Ok(None) };
        let ms = item.get("at").and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok());
        Ok(ms.and_then(|ms| Utc.timestamp_millis_opt(ms).single()))
    }

    async fn advance_tick_watermark(&self, to: DateTime<Utc>) -> StoreResult<()> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s("TICK"))
            .key("SK", s("WATERMARK"))
            .update_expression("SET #at = :to")
            .condition_expression("attribute_not_exists(#at) OR #at < :to")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":to", n(millis(to)))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}
