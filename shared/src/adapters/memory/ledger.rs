//! The in-memory store: the payments ledger, pending reversals, unmatched payments.

use super::*;

#[async_trait]
impl LedgerStore for MemoryStore {
    async fn ledger_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<LedgerEntry>> {
        let s = self.lock();
        Ok(s.payments.iter().filter(|((m, c, _), _)| m == merchant && c == charge).map(|(_, p)| p.clone()).collect())
    }

    async fn ledger_between(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<LedgerEntry>> {
        let mut out: Vec<LedgerEntry> = self
            .lock()
            .payments
            .values()
            .filter(|e| &e.merchant_id == merchant && (from..=to).contains(&crate::domain::calendar::local_date(e.paid_at)))
            .cloned()
            .collect();
        out.sort_by_key(|e| (crate::domain::calendar::local_date(e.paid_at), e.received_at));
        Ok(out)
    }

    async fn add_pending_reversal(&self, notice: &crate::domain::payment_notice::PaymentNotice) -> StoreResult<()> {
        fits(&format!("PENDREV#{}#{}", notice.provider, notice.reverses.as_deref().unwrap_or_default()), &notice.provider_payment_id, notice)?;
        let key = (notice.provider.clone(), notice.reverses.clone().unwrap_or_default(), notice.provider_payment_id.clone());
        self.lock().pending_reversals.entry(key).or_insert_with(|| notice.clone());
        Ok(())
    }

    async fn pending_reversals(&self, provider: &str, payment: &str) -> StoreResult<Vec<crate::domain::payment_notice::PaymentNotice>> {
        Ok(self.lock().pending_reversals.iter().filter(|((p, pay, _), _)| p == provider && pay == payment).map(|(_, n)| n.clone()).collect())
    }

    async fn put_unmatched(&self, unmatched: &UnmatchedPayment) -> StoreResult<bool> {
        fits(&layout::unmatched_pk(&unmatched.provider), &unmatched.provider_event_id, unmatched)?;
        let mut s = self.lock();
        let key = (unmatched.provider.clone(), unmatched.provider_event_id.clone());
        if s.unmatched.contains_key(&key) {
            return Ok(false);
        }
        s.unmatched.insert(key, unmatched.clone());
        Ok(true)
    }

    async fn unmatched_of(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<UnmatchedPayment>> {
        Ok(self
            .lock()
            .unmatched
            .values()
            .filter(|u| u.merchant_id.as_ref() == Some(merchant) && (from..=to).contains(&crate::domain::calendar::local_date(u.received_at)))
            .cloned()
            .collect())
    }

    async fn unmatched(&self, provider: &str) -> StoreResult<Vec<UnmatchedPayment>> {
        Ok(self.lock().unmatched.values().filter(|u| u.provider == provider).cloned().collect())
    }
}
