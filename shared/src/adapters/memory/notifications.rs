//! The in-memory store: notification records, contact counters, suppressed addresses, spend.

use super::*;

#[async_trait]
impl NotificationStore for MemoryStore {
    async fn save_notification(&self, record: &crate::domain::tracking::NotificationRecord) -> StoreResult<()> {
        fits(&layout::charge_pk(&record.merchant_id, &record.charge_id), &format!("NOTIF#{}", record.reminder_id), record)?;
        let mut s = self.lock();
        let key = (record.merchant_id.clone(), record.charge_id.clone(), record.reminder_id.clone());
        let stored = s.notifications.get(&key).map(|r| r.version);
        let expected = record.version.checked_sub(1).filter(|v| *v > 0);
        if stored != expected {
            return Err(StoreError::Conflict);
        }
        s.notifications.insert(key, record.clone());
        Ok(())
    }

    async fn get_notification(
        &self,
        merchant: &MerchantId,
        charge: &ChargeId,
        reminder_id: &str,
    ) -> StoreResult<Option<crate::domain::tracking::NotificationRecord>> {
        Ok(self.lock().notifications.get(&(merchant.clone(), charge.clone(), reminder_id.to_string())).cloned())
    }

    async fn notifications_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<crate::domain::tracking::NotificationRecord>> {
        let s = self.lock();
        Ok(s.notifications.iter().filter(|((m, c, _), _)| m == merchant && c == charge).map(|(_, r)| r.clone()).collect())
    }
}

#[async_trait]
impl ContactStore for MemoryStore {
    async fn reserve_contact(
        &self,
        merchant: &MerchantId,
        customer: &CustomerId,
        counter: &ContactCounter,
        cap: u32,
        message: &str,
    ) -> StoreResult<bool> {
        let mut s = self.lock();
        let counted = s.contacts.entry((merchant.clone(), customer.clone(), *counter)).or_default();
        if counted.contains(message) {
            return Ok(true);
        }
        if counted.len() >= cap as usize {
            return Ok(false);
        }
        counted.insert(message.to_string());
        Ok(true)
    }

    async fn suppress_recipient(&self, merchant: &MerchantId, recipient_key: &str, reason: &str) -> StoreResult<()> {
        limits::check_keys(&layout::suppressed_pk(merchant), recipient_key)?;
        self.lock().suppressed.insert((merchant.clone(), recipient_key.to_string()), reason.to_string());
        Ok(())
    }

    async fn recipient_suppressed(&self, merchant: &MerchantId, recipient_key: &str) -> StoreResult<Option<String>> {
        limits::check_keys(&layout::suppressed_pk(merchant), recipient_key)?;
        Ok(self.lock().suppressed.get(&(merchant.clone(), recipient_key.to_string())).cloned())
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
        let mut s = self.lock();
        if !s.billed_units.insert((merchant.clone(), format!("message#{message}"))) {
            return Ok(rust_decimal::Decimal::ZERO);
        }
        let first = match unit {
            Some(u) => s.billed_units.insert((merchant.clone(), u.to_string())),
            None => true,
        };
        let added = if first { price } else { rust_decimal::Decimal::ZERO };
        let line = s.spend.entry((merchant.clone(), month.to_string())).or_default().entry(channel).or_default();
        line.messages += 1;
        line.amount += added;
        Ok(added)
    }

    async fn spend_of(
        &self,
        merchant: &MerchantId,
        month: &str,
    ) -> StoreResult<BTreeMap<crate::domain::notification::Channel, crate::domain::channel_policy::ChannelSpend>> {
        Ok(self.lock().spend.get(&(merchant.clone(), month.to_string())).cloned().unwrap_or_default())
    }
}
