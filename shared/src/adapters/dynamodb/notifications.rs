//! The DynamoDB store: notification records, contact counters, suppressed addresses, spend (key layout in `mod.rs` and docs/dynamodb.md).

use async_trait::async_trait;

use super::*;
use crate::adapters::layout::suppressed_pk;
use crate::domain::ids::{ChargeId, CustomerId, MerchantId};

#[async_trait]
impl NotificationStore for DynamoStore {
    async fn save_notification(&self, record: &crate::domain::tracking::NotificationRecord) -> StoreResult<()> {
        let item = data_item(charge_pk(&record.merchant_id, &record.charge_id), format!("NOTIF#{}", record.reminder_id), record);
        match record.version {
            0 | 1 => {
                let mut item = item;
                item.insert("version".into(), n(1));
                if self.put_new(item).await? {
                    Ok(())
                } else {
                    Err(StoreError::Conflict)
                }
            }
            v => self.put_versioned(item, v, v - 1).await,
        }
    }

    async fn get_notification(
        &self,
        merchant: &MerchantId,
        charge: &ChargeId,
        reminder_id: &str,
    ) -> StoreResult<Option<crate::domain::tracking::NotificationRecord>> {
        self.get(charge_pk(merchant, charge), &format!("NOTIF#{reminder_id}")).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn notifications_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<crate::domain::tracking::NotificationRecord>> {
        self.query_all(charge_pk(merchant, charge), "NOTIF#").await?.iter().map(parse_data).collect()
    }
}

#[async_trait]
impl ContactStore for DynamoStore {
    async fn reserve_contact(
        &self,
        merchant: &MerchantId,
        customer: &CustomerId,
        counter: &ContactCounter,
        cap: u32,
        message: &str,
    ) -> StoreResult<bool> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(customer_pk(merchant, customer)))
            .key("SK", s(format!("CONTACT#{}", counter.key())))
            // The counted messages are a set: adding one already in it changes nothing and always passes.
            .update_expression("ADD #m :msg SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#m) OR size(#m) < :cap OR contains(#m, :one)")
            .expression_attribute_names("#m", "messages")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":msg", AttributeValue::Ss(vec![message.to_string()]))
            .expression_attribute_values(":one", s(message))
            .expression_attribute_values(":cap", n(cap))
            .expression_attribute_values(":ttl", n(counter.expires().and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp()))
            .send()
            .await;
        conditional(r)
    }

    async fn suppress_recipient(&self, merchant: &MerchantId, recipient_key: &str, reason: &str) -> StoreResult<()> {
        let mut item = Item::new();
        item.insert("PK".into(), s(suppressed_pk(merchant)));
        item.insert("SK".into(), s(recipient_key));
        item.insert("reason".into(), s(reason));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn recipient_suppressed(&self, merchant: &MerchantId, recipient_key: &str) -> StoreResult<Option<String>> {
        let item = self.get(suppressed_pk(merchant), recipient_key).await?;
        Ok(item.map(|i| i.get("reason").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()))
    }

    async fn add_spend(
        &self,
        merchant: &MerchantId,
        month: &str,
        channel: crate::domain::notification::Channel,
        price: rust_decimal::Decimal,
        message: &str,
        unit: Option<&str>,
    ) -> StoreResult<rust_decimal::Decimal> {
        let update = |amount: rust_decimal::Decimal| {
            aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.table)
                .key("PK", s(format!("MER#{merchant}#SPEND#{month}")))
                .key("SK", s(channel.as_str()))
                .update_expression("ADD messages :one, amount :amount")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":amount", n(amount))
                .build()
                .expect("update has its key and expression")
        };
        let marker = |key: String| {
            let mut item = Item::new();
            item.insert("PK".into(), s(format!("MER#{merchant}#SPENDUNIT")));
            item.insert("SK".into(), s(key));
            item
        };
        // The message's marker, the unit's marker and the amount are written together: a message is counted
        // once, a unit is paid once.
        let new = Some("attribute_not_exists(PK)");
        let mut tx = self.client.transact_write_items().transact_items(self.put_in_table(marker(format!("message#{message}")), new, None));
        if let Some(unit) = unit {
            tx = tx.transact_items(self.put_in_table(marker(unit.to_string()), new, None));
        }
        match tx.transact_items(TransactWriteItem::builder().update(update(price)).build()).send().await {
            Ok(_) => Ok(price),
            Err(e) => match cancelled_conditions(&e) {
                // Counted before.
                Some(c) if c.first() == Some(&true) => Ok(rust_decimal::Decimal::ZERO),
                // A new message in a unit already paid: counted, at no cost.
                Some(c) if c.get(1) == Some(&true) => {
                    let r = self
                        .client
                        .transact_write_items()
                        .transact_items(self.put_in_table(marker(format!("message#{message}")), new, None))
                        .transact_items(TransactWriteItem::builder().update(update(rust_decimal::Decimal::ZERO)).build())
                        .send()
                        .await;
                    match r {
                        Ok(_) => Ok(rust_decimal::Decimal::ZERO),
                        Err(e) if cancelled_conditions(&e).is_some_and(|c| c.first() == Some(&true)) => Ok(rust_decimal::Decimal::ZERO),
                        Err(e) => Err(unavailable(e)),
                    }
                }
                _ => Err(unavailable(e)),
            },
        }
    }

    async fn spend_of(
        &self,
        merchant: &MerchantId,
        month: &str,
    ) -> StoreResult<std::collections::BTreeMap<crate::domain::notification::Channel, crate::domain::channel_policy::ChannelSpend>> {
        let mut out = std::collections::BTreeMap::new();
        for item in self.query_all(format!("MER#{merchant}#SPEND#{month}"), "").await? {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().or_else(|_| v.as_n()).ok()).cloned().unwrap_or_default();
            let corrupt = || StoreError::Corrupt { key: format!("MER#{merchant}#SPEND#{month}"), message: "bad spend line".into() };
            let channel = crate::domain::notification::Channel::parse(&text("SK")).ok_or_else(corrupt)?;
            let messages = text("messages").parse().map_err(|_| corrupt())?;
            let amount = text("amount").parse().map_err(|_| corrupt())?;
            out.insert(channel, crate::domain::channel_policy::ChannelSpend { messages, amount });
        }
        Ok(out)
    }
}
