//! The in-memory store: the development outbox.

use super::*;

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn record_outbox(&self, entry: &OutboxEntry) -> StoreResult<bool> {
        fits("OUTBOX", &format!("{}#{}", entry.charge_id, entry.reminder_id), entry)?;
        let mut s = self.lock();
        let key = (entry.charge_id.clone(), entry.reminder_id.clone());
        if let Some(existing) = s.outbox.get_mut(&key) {
            existing.deliveries += 1;
            return Ok(false);
        }
        s.outbox.insert(key, OutboxEntry { deliveries: 1, ..entry.clone() });
        Ok(true)
    }

    async fn outbox(&self) -> StoreResult<Vec<OutboxEntry>> {
        let mut all: Vec<OutboxEntry> = self.lock().outbox.values().cloned().collect();
        all.sort_by(|a, b| (a.sent_at, &a.reminder_id).cmp(&(b.sent_at, &b.reminder_id)));
        Ok(all)
    }

    async fn replace_outbox(&self, entry: &OutboxEntry) -> StoreResult<()> {
        let mut s = self.lock();
        let Some(existing) = s.outbox.get_mut(&(entry.charge_id.clone(), entry.reminder_id.clone())) else { return Ok(()) };
        *existing = OutboxEntry { deliveries: existing.deliveries, ..entry.clone() };
        Ok(())
    }
}
