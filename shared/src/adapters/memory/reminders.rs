//! The in-memory store: reminders and the due work.

use super::*;

#[async_trait]
impl ReminderStore for MemoryStore {
    async fn reminders_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<Reminder>> {
        let s = self.lock();
        Ok(s.reminders.iter().filter(|((m, c, _), _)| m == merchant && c == charge).map(|(_, r)| r.clone()).collect())
    }

    async fn get_reminder(&self, merchant: &MerchantId, charge: &ChargeId, reminder_id: &str) -> StoreResult<Option<Reminder>> {
        Ok(self.lock().reminders.get(&(merchant.clone(), charge.clone(), reminder_id.to_string())).cloned())
    }

    async fn add_reminder(&self, reminder: &Reminder) -> StoreResult<bool> {
        reminder_fits(reminder)?;
        let mut s = self.lock();
        let key = (reminder.merchant_id.clone(), reminder.charge_id.clone(), reminder.id());
        if s.reminders.contains_key(&key) {
            return Ok(false);
        }
        s.reminders.insert(key, reminder.clone());
        Ok(true)
    }

    async fn due_reminders(&self, bucket: &DueBucket, until: DateTime<Utc>, limit: usize, cursor: Option<String>) -> StoreResult<Page<Reminder>> {
        let s = self.lock();
        let mut due: Vec<(String, Reminder)> = s
            .reminders
            .values()
            .filter_map(|r| {
                let at = r.index_time()?;
                (at <= until && &DueBucket::of(r, at) == bucket).then(|| (due_sort_key(r, at), r.clone()))
            })
            .filter(|(k, _)| cursor.as_ref().is_none_or(|c| k > c))
            .collect();
        due.sort_by(|a, b| a.0.cmp(&b.0));
        let more = due.len() > limit;
        due.truncate(limit);
        let next = if more { due.last().map(|(k, _)| k.clone()) } else { None };
        Ok(Page { items: due.into_iter().map(|(_, r)| r).collect(), next })
    }

    async fn transition_reminder(&self, reminder: &Reminder, from: &[&str], to: ReminderState, now: DateTime<Utc>) -> StoreResult<bool> {
        reminder_fits(&Reminder { state: to.clone(), ..reminder.clone() })?;
        let mut s = self.lock();
        let key = (reminder.merchant_id.clone(), reminder.charge_id.clone(), reminder.id());
        match s.reminders.get_mut(&key) {
            Some(current) if state_matches(&current.state, from, now) => {
                // The whole reminder is replaced, as in DynamoDB: a transition may also move `due_at`.
                *current = Reminder { state: to, ..reminder.clone() };
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn tick_watermark(&self) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self.lock().watermark)
    }

    async fn advance_tick_watermark(&self, to: DateTime<Utc>) -> StoreResult<()> {
        let mut s = self.lock();
        if s.watermark.is_none_or(|w| w < to) {
            s.watermark = Some(to);
        }
        Ok(())
    }
}
