//! The DynamoDB store: charges (with the transactions they own), provider references, card attempts (key layout in `mod.rs` and docs/dynamodb.md).

use async_trait::async_trait;

use super::ledger::ledger_month_pk;
use super::*;
use crate::adapters::layout::{payment_token_pk, provider_event_pk, reference_pk, sequence_pk};
use crate::domain::ids::{ChargeId, CustomerId, MerchantId};
use crate::domain::payment::LedgerEntry;

#[async_trait]
impl ChargeStore for DynamoStore {
    async fn create_charge(&self, charge: &Charge, reminders: &[Reminder]) -> StoreResult<()> {
        let mut owner = Item::new();
        owner.insert("PK".into(), s(format!("CHGREF#{}", charge.id)));
        owner.insert("SK".into(), s("CHGREF"));
        owner.insert("merchant_id".into(), s(charge.merchant_id.as_str()));
        let mut link = Item::new();
        link.insert("PK".into(), s(payment_token_pk(&charge.payment_token)));
        link.insert("SK".into(), s("PAYTOKEN"));
        link.insert("merchant_id".into(), s(charge.merchant_id.as_str()));
        link.insert("charge_id".into(), s(charge.id.as_str()));
        let not_exists = Some("attribute_not_exists(PK)");
        let mut tx = self
            .client
            .transact_write_items()
            .transact_items(self.put_in_table(charge_item(charge), not_exists, None))
            .transact_items(self.put_in_table(owner, not_exists, None))
            .transact_items(self.put_in_table(link, not_exists, None));
        for r in reminders {
            tx = tx.transact_items(self.put_in_table(reminder_item(r), not_exists, None));
        }
        match tx.send().await {
            Ok(_) => Ok(()),
            Err(e) if cancelled_conditions(&e).is_some_and(|c| c.iter().any(|f| *f)) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_charge(&self, merchant: &MerchantId, id: &ChargeId) -> StoreResult<Option<Charge>> {
        self.get(charge_pk(merchant, id), "CHARGE").await?.map(|i| parse_data(&i)).transpose()
    }

    async fn charge_owner(&self, id: &ChargeId) -> StoreResult<Option<MerchantId>> {
        let Some(item) = self.get(format!("CHGREF#{id}"), "CHGREF").await? else { return Ok(None) };
        Ok(item.get("merchant_id").and_then(|v| v.as_s().ok()).and_then(|s| MerchantId::parse(s).ok()))
    }

    async fn charge_by_payment_token(&self, token: &str) -> StoreResult<Option<Charge>> {
        let Some(item) = self.get(payment_token_pk(token), "PAYTOKEN").await? else { return Ok(None) };
        let field = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let (Ok(merchant), Ok(charge)) = (MerchantId::parse(&field("merchant_id")), ChargeId::parse(&field("charge_id"))) else {
            return Err(StoreError::Corrupt { key: "PAYTOKEN".into(), message: "bad reference".into() });
        };
        self.get_charge(&merchant, &charge).await
    }

    async fn update_charge(&self, charge: &Charge, expected_version: u64) -> StoreResult<()> {
        self.put_versioned(charge_item(charge), charge.version, expected_version).await
    }

    async fn open_charges(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>> {
        self.index_page("open", "OPENPK = :pk", &[(":pk", format!("MER#{merchant}#OPEN"))], Some(limit), cursor).await
    }

    async fn charges_of_customer(&self, merchant: &MerchantId, customer: &CustomerId) -> StoreResult<Vec<Charge>> {
        let values = [(":pk", customer_pk(merchant, customer)), (":chg", "CHG#".to_string())];
        self.index_all("gsi1", "GSI1PK = :pk AND begins_with(GSI1SK, :chg)", &values).await
    }

    async fn list_charges(&self, merchant: &MerchantId, query: &ChargeQuery, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>> {
        // '~' sorts after every character of ids, so charges due on `due_to` are included.
        // DynamoDB refuses an empty key value; every date sorts after "0000".
        let from = query.due_from.map(|d| d.to_string()).unwrap_or_else(|| "0000".into());
        let to = query.due_to.map(|d| format!("{d}#~")).unwrap_or_else(|| "~".into());
        let (index, condition, values) = match &query.customer {
            Some(customer) => (
                "gsi1",
                "GSI1PK = :pk AND GSI1SK BETWEEN :a AND :b",
                [(":pk", customer_pk(merchant, customer)), (":a", format!("CHG#{from}")), (":b", format!("CHG#{to}"))],
            ),
            None => ("gsi2", "GSI2PK = :pk AND GSI2SK BETWEEN :a AND :b", [(":pk", format!("MER#{merchant}#CHARGES")), (":a", from), (":b", to)]),
        };
        let start = cursor.map(|c| decode_cursor(&c, condition, &values)).transpose()?;
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(condition)
            .set_limit(Some(limit as i32))
            .set_exclusive_start_key(start);
        for (name, value) in values {
            request = request.expression_attribute_values(name, s(value));
        }
        if let Some(status) = query.status {
            request = request
                .filter_expression("#st = :st")
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":st", s(status.as_str()));
        }
        let page = request.send().await.map_err(unavailable)?;
        let items = page.items.unwrap_or_default().iter().map(parse_data).collect::<StoreResult<Vec<Charge>>>()?;
        Ok(Page { items, next: encode_cursor(page.last_evaluated_key) })
    }

    async fn append_to_ledger(&self, payment: &LedgerEntry, settled: Option<(&Charge, u64)>) -> StoreResult<PaymentRecorded> {
        let mut seen = Item::new();
        seen.insert("PK".into(), s(provider_event_pk(&payment.merchant_id, &payment.provider, &payment.provider_event_id)));
        seen.insert("SK".into(), s("WHK"));
        seen.insert("payment_id".into(), s(payment.id.as_str()));
        let mut payment_item = data_item(
            charge_pk(&payment.merchant_id, &payment.charge_id),
            format!("PAY#{}#{}", payment.provider, payment.provider_payment_id),
            payment,
        );
        // The merchant's ledger by São Paulo day, one partition per month, for reports without a Scan.
        let day = crate::domain::calendar::local_date(payment.paid_at);
        payment_item.insert("GSI1PK".into(), s(ledger_month_pk(&payment.merchant_id, day)));
        payment_item.insert("GSI1SK".into(), s(format!("{day}#{:013}#{}", payment.received_at.timestamp_millis(), payment.id)));
        let not_exists = Some("attribute_not_exists(PK)");
        let mut tx = self.client.transact_write_items().transact_items(self.put_in_table(seen, not_exists, None)).transact_items(self.put_in_table(
            payment_item,
            not_exists,
            None,
        ));
        if let Some((charge, expected)) = settled {
            let values = HashMap::from([(":v".to_string(), n(expected))]);
            tx = tx.transact_items(self.put_in_table(charge_item(charge), Some("version = :v"), Some(values)));
        }
        match tx.send().await {
            Ok(_) => Ok(PaymentRecorded::Recorded),
            Err(e) => match cancelled_conditions(&e) {
                Some(failed) if failed.iter().take(2).any(|f| *f) => Ok(PaymentRecorded::Duplicate),
                Some(failed) if failed.get(2) == Some(&true) => Err(StoreError::Conflict),
                _ => Err(unavailable(e)),
            },
        }
    }
}

#[async_trait]
impl ProviderReferenceStore for DynamoStore {
    async fn link_provider_reference(&self, provider: &str, reference: &str, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<()> {
        let mut item = Item::new();
        item.insert("PK".into(), s(reference_pk(provider, reference)));
        item.insert("SK".into(), s("REF"));
        item.insert("merchant_id".into(), s(merchant.as_str()));
        item.insert("charge_id".into(), s(charge.as_str()));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn charge_of_provider_reference(&self, provider: &str, reference: &str) -> StoreResult<Option<(MerchantId, ChargeId)>> {
        let Some(item) = self.get(reference_pk(provider, reference), "REF").await? else { return Ok(None) };
        let field = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        match (MerchantId::parse(&field("merchant_id")), ChargeId::parse(&field("charge_id"))) {
            (Ok(m), Ok(c)) => Ok(Some((m, c))),
            _ => Err(StoreError::Corrupt { key: reference_pk(provider, reference), message: "bad reference".into() }),
        }
    }

    async fn next_sequence(&self, name: &str) -> StoreResult<u64> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(sequence_pk(name)))
            .key("SK", s("SEQ"))
            .update_expression("ADD seq :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(unavailable)?;
        out.attributes
            .and_then(|a| a.get("seq").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()))
            .ok_or_else(|| StoreError::Corrupt { key: sequence_pk(name), message: "no seq".into() })
    }
}

#[async_trait]
impl CardAttemptStore for DynamoStore {
    async fn get_card_attempts(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Option<crate::domain::card_attempts::CardAttempts>> {
        self.get(charge_pk(merchant, charge), "CARDATTEMPTS").await?.map(|i| parse_data(&i)).transpose()
    }

    async fn put_card_attempts(&self, attempts: &crate::domain::card_attempts::CardAttempts, expected_version: Option<u64>) -> StoreResult<()> {
        let mut item = data_item(charge_pk(&attempts.merchant_id, &attempts.charge_id), "CARDATTEMPTS", attempts);
        // The condition of the next replacement reads it.
        item.insert("version".into(), n(attempts.version));
        match expected_version {
            None => match self.put_new(item).await? {
                true => Ok(()),
                false => Err(StoreError::Conflict),
            },
            Some(expected) => self.put_versioned(item, attempts.version, expected).await,
        }
    }
}
