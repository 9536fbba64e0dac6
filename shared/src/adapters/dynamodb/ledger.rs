//! The DynamoDB store: the payments ledger, pending reversals, unmatched payments (key layout in `mod.rs` and docs/dynamodb.md).

use async_trait::async_trait;

use super::*;
use crate::adapters::layout::unmatched_pk;
use crate::domain::ids::{ChargeId, MerchantId};
use crate::domain::payment::{LedgerEntry, UnmatchedPayment};

pub(super) fn ledger_month_pk(merchant: &MerchantId, day: chrono::NaiveDate) -> String {
    format!("MER#{merchant}#LEDGER#{}", day.format("%Y-%m"))
}

#[async_trait]
impl LedgerStore for DynamoStore {
    async fn ledger_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<LedgerEntry>> {
        let mut all: Vec<LedgerEntry> =
            self.query_all(charge_pk(merchant, charge), "PAY#").await?.iter().map(parse_data).collect::<StoreResult<_>>()?;
        all.sort_by_key(|p| p.received_at);
        Ok(all)
    }

    async fn ledger_between(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<LedgerEntry>> {
        use chrono::Datelike;
        let mut out = Vec::new();
        let mut month = from.with_day(1).expect("day 1 exists");
        while month <= to {
            let values = [(":pk", ledger_month_pk(merchant, month)), (":a", from.to_string()), (":b", format!("{to}#~"))];
            out.extend(self.index_all::<LedgerEntry>("gsi1", "GSI1PK = :pk AND GSI1SK BETWEEN :a AND :b", &values).await?);
            month = month.checked_add_months(chrono::Months::new(1)).expect("in range");
        }
        Ok(out)
    }

    async fn add_pending_reversal(&self, notice: &crate::domain::payment_notice::PaymentNotice) -> StoreResult<()> {
        let pk = format!("PENDREV#{}#{}", notice.provider, notice.reverses.as_deref().unwrap_or_default());
        self.put_new(data_item(pk, notice.provider_payment_id.clone(), notice)).await.map(|_| ())
    }

    async fn pending_reversals(&self, provider: &str, payment: &str) -> StoreResult<Vec<crate::domain::payment_notice::PaymentNotice>> {
        self.query_all(format!("PENDREV#{provider}#{payment}"), "").await?.iter().map(parse_data).collect()
    }

    async fn put_unmatched(&self, unmatched: &UnmatchedPayment) -> StoreResult<bool> {
        let pk = unmatched_pk(&unmatched.provider);
        let mut item = data_item(pk, unmatched.provider_event_id.clone(), unmatched);
        if let Some(m) = &unmatched.merchant_id {
            item.insert("GSI1PK".into(), s(format!("MER#{m}#UNMATCHED")));
            item.insert(
                "GSI1SK".into(),
                s(format!("{}#{}", crate::domain::calendar::local_date(unmatched.received_at), unmatched.provider_event_id)),
            );
        }
        self.put_new(item).await
    }

    async fn unmatched_of(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<UnmatchedPayment>> {
        let values = [(":pk", format!("MER#{merchant}#UNMATCHED")), (":a", from.to_string()), (":b", format!("{to}#~"))];
        self.index_all("gsi1", "GSI1PK = :pk AND GSI1SK BETWEEN :a AND :b", &values).await
    }

    async fn unmatched(&self, provider: &str) -> StoreResult<Vec<UnmatchedPayment>> {
        self.query_all(unmatched_pk(provider), "").await?.iter().map(parse_data).collect()
    }
}
