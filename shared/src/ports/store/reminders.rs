//! Reminders and the due work.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Page, StoreResult};
use crate::domain::ids::{ChargeId, MerchantId};
use crate::domain::ruler::{Reminder, ReminderState};

/// The due-work index is partitioned by UTC day and shard, so a tick reads only what is due and no single
/// partition takes every write of a busy day.
pub const DUE_SHARDS: u8 = 8;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DueBucket {
    pub day: chrono::NaiveDate,
    pub shard: u8,
}

impl DueBucket {
    pub fn of(reminder: &Reminder, at: DateTime<Utc>) -> Self {
        use sha2::{Digest, Sha256};
        let h = Sha256::digest(format!("{}/{}", reminder.charge_id, reminder.id()).as_bytes());
        Self { day: at.date_naive(), shard: h[0] % DUE_SHARDS }
    }

    pub fn key(&self) -> String {
        format!("DUE#{}#{}", self.day.format("%Y-%m-%d"), self.shard)
    }
}

/// A charge's reminders (created with it: `ChargeStore::create_charge`) and the due work: the due-reminder
/// index, reminder state transitions and the tick's watermark.
#[async_trait]
pub trait ReminderStore: Send + Sync {
    async fn reminders_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<Reminder>>;
    async fn get_reminder(&self, merchant: &MerchantId, charge: &ChargeId, reminder_id: &str) -> StoreResult<Option<Reminder>>;
    /// Adds a reminder unless one with its id exists; true if added.
    async fn add_reminder(&self, reminder: &Reminder) -> StoreResult<bool>;
    /// Pending reminders of a bucket whose index time is at or before `until`, oldest first.
    async fn due_reminders(&self, bucket: &DueBucket, until: DateTime<Utc>, limit: usize, cursor: Option<String>) -> StoreResult<Page<Reminder>>;
    /// Moves a reminder to `to` if its stored state is one of `from`: "planned", "queued",
    /// "queued_expired" (queued with its lease expired at `now`) or "sending_stale" (a send that started
    /// `delivery::SENDING_STALE_AFTER` before `now` and never finished). The stored reminder becomes
    /// `reminder` with state `to`, so a transition can also move its time (re-planning, deferral). True if this call won the race.
    async fn transition_reminder(&self, reminder: &Reminder, from: &[&str], to: ReminderState, now: DateTime<Utc>) -> StoreResult<bool>;
    async fn tick_watermark(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Moves the watermark forward (never back).
    async fn advance_tick_watermark(&self, to: DateTime<Utc>) -> StoreResult<()>;
}
