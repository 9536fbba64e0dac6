//! The in-memory store: subscriptions.

use super::*;

#[async_trait]
impl SubscriptionStore for MemoryStore {
    async fn put_subscription(&self, sub: &crate::domain::recurrence::Subscription, expected_version: Option<u64>) -> StoreResult<()> {
        fits(&format!("MER#{}#SUB#{}", sub.merchant_id, sub.id), "SUBSCRIPTION", sub)?;
        let mut s = self.lock();
        let key = (sub.merchant_id.clone(), sub.id.clone());
        if s.subscriptions.get(&key).map(|stored| stored.version) != expected_version {
            return Err(StoreError::Conflict);
        }
        s.subscriptions.insert(key, sub.clone());
        Ok(())
    }

    async fn get_subscription(
        &self,
        merchant: &MerchantId,
        id: &crate::domain::ids::SubscriptionId,
    ) -> StoreResult<Option<crate::domain::recurrence::Subscription>> {
        Ok(self.lock().subscriptions.get(&(merchant.clone(), id.clone())).cloned())
    }

    async fn list_subscriptions(
        &self,
        merchant: &MerchantId,
        limit: usize,
        cursor: Option<String>,
    ) -> StoreResult<Page<crate::domain::recurrence::Subscription>> {
        let s = self.lock();
        let all: Vec<(String, crate::domain::recurrence::Subscription)> =
            s.subscriptions.iter().filter(|((m, _), _)| m == merchant).map(|((_, id), sub)| (id.to_string(), sub.clone())).collect();
        page_after(all, limit, cursor)
    }

    async fn subscriptions_to_generate(&self, through: chrono::NaiveDate, limit: usize) -> StoreResult<Vec<crate::domain::recurrence::Subscription>> {
        let s = self.lock();
        let mut due: Vec<(chrono::NaiveDate, String, crate::domain::recurrence::Subscription)> = s
            .subscriptions
            .values()
            .filter_map(|sub| sub.generate_on().filter(|on| *on <= through).map(|on| (on, format!("{}#{}", sub.merchant_id, sub.id), sub.clone())))
            .collect();
        due.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        Ok(due.into_iter().take(limit).map(|(_, _, sub)| sub).collect())
    }
}
