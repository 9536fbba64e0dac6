//! Notification records, and what the channel policy counts: contacts, suppressed addresses, spend.

use std::collections::BTreeMap;

use async_trait::async_trait;
use rust_decimal::Decimal;

use super::StoreResult;
use crate::domain::channel_policy::ChannelSpend;
use crate::domain::ids::{ChargeId, CustomerId, MerchantId};
use crate::domain::notification::Channel;
use crate::domain::tracking::NotificationRecord;

/// What a frequency cap counts, per customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactCounter {
    /// Collection reminders on one channel on one São Paulo day.
    ChannelDay { channel: Channel, day: chrono::NaiveDate },
    /// Reminders after the due date, all channels, in the week starting on Monday `week_start`.
    AfterDueWeek { week_start: chrono::NaiveDate },
}

impl ContactCounter {
    pub fn key(&self) -> String {
        match self {
            Self::ChannelDay { channel, day } => format!("{}#{day}", channel.as_str()),
            Self::AfterDueWeek { week_start } => format!("after_due_week#{week_start}"),
        }
    }

    /// Counters are kept a week past their period, then expire (TTL).
    pub fn expires(&self) -> chrono::NaiveDate {
        match self {
            Self::ChannelDay { day, .. } => *day + chrono::Duration::days(8),
            Self::AfterDueWeek { week_start } => *week_start + chrono::Duration::days(14),
        }
    }
}

/// What became of each message (`tracking::NotificationRecord`), one record per reminder.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Saves a notification record: version 1 must be new, any other must replace version - 1 (else Conflict).
    async fn save_notification(&self, record: &NotificationRecord) -> StoreResult<()>;
    async fn get_notification(&self, merchant: &MerchantId, charge: &ChargeId, reminder_id: &str) -> StoreResult<Option<NotificationRecord>>;
    /// A charge's notification records, by reminder id.
    async fn notifications_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<NotificationRecord>>;
}

/// What the channel policy checks before a message goes: frequency caps, suppressed addresses, spend.
#[async_trait]
pub trait ContactStore: Send + Sync {
    /// Counts message `message` (a charge's reminder: `{charge}/{reminder}`) to a customer on a frequency counter
    /// if fewer than `cap` messages were counted; false when the cap is reached. Counting the same message again
    /// (a retry after a transient failure, a redelivered queue message) succeeds without counting it twice.
    async fn reserve_contact(
        &self,
        merchant: &MerchantId,
        customer: &CustomerId,
        counter: &ContactCounter,
        cap: u32,
        message: &str,
    ) -> StoreResult<bool>;
    /// Never again send to this address on this channel (`tracking::recipient_key`): a bounce or complaint.
    async fn suppress_recipient(&self, merchant: &MerchantId, recipient_key: &str, reason: &str) -> StoreResult<()>;
    /// Why the address is suppressed, if it is.
    async fn recipient_suppressed(&self, merchant: &MerchantId, recipient_key: &str) -> StoreResult<Option<String>>;
    /// Counts message `message` in the month's spend, once however often it is counted (a redelivered send).
    /// With a `unit` (`ChannelPrice::unit_key`), the price is paid only by the unit's first message; the
    /// amount actually added is returned.
    async fn add_spend(
        &self,
        merchant: &MerchantId,
        month: &str,
        channel: Channel,
        price: Decimal,
        message: &str,
        unit: Option<&str>,
    ) -> StoreResult<Decimal>;
    /// A month's spend per channel.
    async fn spend_of(&self, merchant: &MerchantId, month: &str) -> StoreResult<BTreeMap<Channel, ChannelSpend>>;
}
