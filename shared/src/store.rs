//! The storage port: one trait, grouped by aggregate, with the operations the use cases really need.
//! Implemented by `adapters::memory` (tests, development) and `adapters::dynamodb` (production); the conformance
//! suite in `tests/store_conformance.rs` holds both to the same behaviour.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::charge::Charge;
use crate::customer::Customer;
use crate::api_keys::ApiKeyRecord;
use crate::recurrence::Subscription;
use crate::ids::{ApiKeyId, ChargeId, CustomerId, MerchantId, SubscriptionId, WalletId, WebhookEndpointId, WebhookMessageId};
use crate::merchant_webhooks::{WebhookDelivery, WebhookEndpoint};
use crate::wallet::Wallet;
use crate::merchant::{ApiKeyHash, Merchant};
use crate::notification::OutboxEntry;
use crate::payment::{LedgerEntry, UnmatchedPayment};
use crate::notification::Channel;
use crate::ruler::{Reminder, ReminderState, Ruler};
use crate::channel_policy::ChannelSpend;
use crate::tracking::NotificationRecord;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost to a concurrent one (optimistic concurrency): reload and retry.
    #[error("concurrent modification")]
    Conflict,
    /// The backend failed or is unreachable; the operation may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back: a bug or a manual edit.
    #[error("corrupt item {key}: {message}")]
    Corrupt { key: String, message: String },
    /// A page cursor this store did not issue for this query (a client's typo or forgery): the caller's mistake.
    #[error("invalid page cursor")]
    InvalidCursor,
    /// The write (or key) is over one of DynamoDB's hard limits (`adapters::limits`); retrying cannot help.
    /// Both stores refuse it alike, so an in-memory test cannot hide it.
    #[error("store limit exceeded: {0}")]
    LimitExceeded(crate::adapters::limits::Limit),
}

pub type StoreResult<T> = Result<T, StoreError>;

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

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Opaque; pass back to get the next page. None when there is no more.
    pub next: Option<String>,
}

/// What `append_to_ledger` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentRecorded {
    /// New payment stored (and the charge updated as asked).
    Recorded,
    /// This provider event or provider payment id was already recorded: nothing changed.
    Duplicate,
}

/// What the first request under an `Idempotency-Key` answered, kept to answer its repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SavedResponse {
    /// It made an object: kept for as long as the object exists, and replayed as the object is now (by
    /// reference, so no copy of its data outlives an erasure).
    Created { status: u16, object_id: String },
    /// A refusal, kept as it was for `idempotency::REFUSAL_REPLAY`; then the key is free again (nothing was made).
    Refused { status: u16, body: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// First use of the key: proceed, then `idempotency_complete` or `idempotency_abort`.
    Started,
    Replay(SavedResponse),
    /// The key was used with a different request body.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

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

/// Which of a merchant's charges a listing returns, ordered by due date then id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChargeQuery {
    pub status: Option<crate::charge::ChargeStatus>,
    pub customer: Option<CustomerId>,
    /// Due on or after this São Paulo date.
    pub due_from: Option<chrono::NaiveDate>,
    /// Due on or before this São Paulo date.
    pub due_to: Option<chrono::NaiveDate>,
}

impl ChargeQuery {
    pub fn matches(&self, c: &Charge) -> bool {
        self.status.is_none_or(|s| c.status == s)
            && self.customer.as_ref().is_none_or(|id| &c.customer_id == id)
            && self.due_from.is_none_or(|d| c.due_date.date() >= d)
            && self.due_to.is_none_or(|d| c.due_date.date() <= d)
    }
}

/// Where a régua is set: a merchant's default or a customer's override (a charge carries its own).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RulerScope {
    Merchant(MerchantId),
    Customer(MerchantId, CustomerId),
}

#[async_trait]
pub trait Store: Send + Sync {
    // Merchants.
    /// Registers (or re-registers) a merchant with a key known by its hash alone (`ApiKeyRecord::registered`):
    /// the development runner and the CLI, on every start. Overwrites; `create_merchant` is the API's way.
    async fn put_merchant(&self, merchant: &Merchant, key: &ApiKeyHash) -> StoreResult<()>;
    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Option<Merchant>>;
    /// The merchant a key belongs to, whatever the key's state (authentication uses `api_key_by_hash`).
    async fn merchant_by_key(&self, key: &ApiKeyHash) -> StoreResult<Option<Merchant>>;
    /// Registers a merchant and its first key, all or nothing, unless a merchant with its id exists: then false,
    /// nothing written.
    async fn create_merchant(&self, merchant: &Merchant, first_key: &ApiKeyRecord) -> StoreResult<bool>;

    // API keys: the hash finds one (authentication), the merchant lists them.
    /// Stores a new key (Conflict if its id or hash exists); with `replacing`, also the old key's new state (a
    /// rotation), conditional on the old one's stored version — all or nothing.
    async fn add_api_key(&self, key: &ApiKeyRecord, replacing: Option<(&ApiKeyRecord, u64)>) -> StoreResult<()>;
    /// Replaces a key if its stored version is `expected_version` (the new one carries version + 1), else Conflict.
    async fn update_api_key(&self, key: &ApiKeyRecord, expected_version: u64) -> StoreResult<()>;
    async fn get_api_key(&self, merchant: &MerchantId, id: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>>;
    /// A merchant's keys, by id.
    async fn api_keys_of(&self, merchant: &MerchantId) -> StoreResult<Vec<ApiKeyRecord>>;
    /// The key a presented secret hashes to, whatever its state: the caller judges expiry and revocation.
    async fn api_key_by_hash(&self, hash: &ApiKeyHash) -> StoreResult<Option<ApiKeyRecord>>;
    /// Counts one request of `key` in the rate window starting at `window` if fewer than `limit` were counted
    /// there: Some(the count, this one included), or None when the limit is reached (nothing counted). One atomic
    /// conditional write per request; windows expire on their own.
    async fn count_request(&self, key: &ApiKeyId, window: DateTime<Utc>, limit: u32) -> StoreResult<Option<u32>>;

    // Billing wallets.
    async fn put_wallet(&self, wallet: &Wallet) -> StoreResult<()>;
    async fn get_wallet(&self, merchant: &MerchantId, id: &WalletId) -> StoreResult<Option<Wallet>>;
    /// A merchant's wallets, oldest first (the first of a method is its default).
    async fn wallets_of(&self, merchant: &MerchantId) -> StoreResult<Vec<Wallet>>;
    /// Remembers which charge a provider's reference belongs to: a boleto's bank + nosso número (for return
    /// files), a card sale's acquirer + payment id (for the acquirer's notifications).
    async fn link_provider_reference(&self, provider: &str, reference: &str, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<()>;
    async fn charge_of_provider_reference(&self, provider: &str, reference: &str) -> StoreResult<Option<(MerchantId, ChargeId)>>;
    /// A charge's card attempts (`card_attempts`): its claim and counts.
    async fn get_card_attempts(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Option<crate::card_attempts::CardAttempts>>;
    /// Stores a charge's card attempts: new (`expected_version` None; Conflict if stored) or replacing the stored
    /// ones of that version, else Conflict. The one conditional write that makes a claim.
    async fn put_card_attempts(&self, attempts: &crate::card_attempts::CardAttempts, expected_version: Option<u64>) -> StoreResult<()>;
    /// The next number of a named sequence (1, 2, 3…), atomically: boleto nossos números per agreement.
    async fn next_sequence(&self, name: &str) -> StoreResult<u64>;

    // Réguas.
    async fn get_ruler(&self, scope: &RulerScope) -> StoreResult<Option<Ruler>>;
    async fn put_ruler(&self, scope: &RulerScope, ruler: &Ruler) -> StoreResult<()>;

    // Re-plans queued after a régua or an opt-out changed (`schedule::ReplanJob`), one per scope (a merchant's
    // default, a customer's override or opt-out).
    /// Stores a job: new (`expected_version` None; Conflict if its scope has one) or replacing the stored one of
    /// that version (the new one carries a higher version), else Conflict.
    async fn save_replan_job(&self, job: &crate::schedule::ReplanJob, expected_version: Option<u64>) -> StoreResult<()>;
    async fn get_replan_job(&self, scope: &crate::schedule::ReplanScope) -> StoreResult<Option<crate::schedule::ReplanJob>>;
    /// Queued jobs of every scope, in the order of their keys (`adapters::layout::replan_sk`), up to `limit`.
    async fn replan_jobs(&self, limit: usize) -> StoreResult<Vec<crate::schedule::ReplanJob>>;
    /// Removes a finished job if its stored version is `expected_version`; false if it changed (a newer request
    /// restarted it) or is gone.
    async fn finish_replan_job(&self, scope: &crate::schedule::ReplanScope, expected_version: u64) -> StoreResult<bool>;

    // Customers.
    async fn put_customer(&self, customer: &Customer) -> StoreResult<()>;
    async fn get_customer(&self, merchant: &MerchantId, id: &CustomerId) -> StoreResult<Option<Customer>>;
    /// A merchant's customers, oldest first (ids are time-ordered). A page may hold fewer than `limit`.
    async fn list_customers(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Customer>>;

    // Charges and their reminders.
    /// Stores a new charge with all its planned reminders, all or nothing.
    async fn create_charge(&self, charge: &Charge, reminders: &[Reminder]) -> StoreResult<()>;
    async fn get_charge(&self, merchant: &MerchantId, id: &ChargeId) -> StoreResult<Option<Charge>>;
    /// Whose charge this is, for callers that know only the charge id (payment providers).
    async fn charge_owner(&self, id: &ChargeId) -> StoreResult<Option<MerchantId>>;
    /// The charge behind a payment link (the payer's page knows only the token).
    async fn charge_by_payment_token(&self, token: &str) -> StoreResult<Option<Charge>>;
    /// Replaces the charge if its stored version is `expected_version` (the new one carries version + 1).
    async fn update_charge(&self, charge: &Charge, expected_version: u64) -> StoreResult<()>;
    /// Open (pending or overdue) charges of a merchant, oldest due first, page by page.
    async fn open_charges(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>>;
    async fn charges_of_customer(&self, merchant: &MerchantId, customer: &CustomerId) -> StoreResult<Vec<Charge>>;
    /// A merchant's charges that fit `query`, by due date then id, through an index (never a Scan). A page may
    /// hold fewer than `limit` items (a status filter is applied after the index reads `limit`); follow `next`.
    async fn list_charges(&self, merchant: &MerchantId, query: &ChargeQuery, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>>;
    async fn reminders_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<Reminder>>;
    async fn get_reminder(&self, merchant: &MerchantId, charge: &ChargeId, reminder_id: &str) -> StoreResult<Option<Reminder>>;
    /// Adds a reminder unless one with its id exists; true if added.
    async fn add_reminder(&self, reminder: &Reminder) -> StoreResult<bool>;

    // Due work.
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

    /// Counts message `message` (a charge's reminder: `{charge}/{reminder}`) to a customer on a frequency counter
    /// if fewer than `cap` messages were counted; false when the cap is reached. Counting the same message again
    /// (a retry after a transient failure, a redelivered queue message) succeeds without counting it twice.
    async fn reserve_contact(&self, merchant: &MerchantId, customer: &CustomerId, counter: &ContactCounter, cap: u32, message: &str) -> StoreResult<bool>;

    // Payments.
    /// Records a payment once per provider event id and once per provider payment id; when `settled` is
    /// given, also replaces the charge (conditional on `expected_version`) in the same transaction.
    async fn append_to_ledger(&self, payment: &LedgerEntry, settled: Option<(&Charge, u64)>) -> StoreResult<PaymentRecorded>;
    async fn ledger_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<LedgerEntry>>;
    /// Keeps a refund or chargeback notice until the payment it reverses is on the ledger (they can arrive first).
    async fn add_pending_reversal(&self, notice: &crate::webhook::PaymentNotice) -> StoreResult<()>;
    /// The reversals kept for a provider's payment id.
    async fn pending_reversals(&self, provider: &str, payment: &str) -> StoreResult<Vec<crate::webhook::PaymentNotice>>;
    /// A merchant's ledger entries whose money moved on São Paulo days `from..=to`, by day.
    async fn ledger_between(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<LedgerEntry>>;
    /// Unmatched notices attributed to a merchant (CNAB imports), received on São Paulo days `from..=to`.
    async fn unmatched_of(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<UnmatchedPayment>>;
    /// Keeps a payment that matched no charge, once per provider event.
    async fn put_unmatched(&self, unmatched: &UnmatchedPayment) -> StoreResult<bool>;
    async fn unmatched(&self, provider: &str) -> StoreResult<Vec<UnmatchedPayment>>;

    // Merchant webhook endpoints and their deliveries.
    async fn add_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()>;
    /// Replaces the endpoint if its stored version is `expected_version`.
    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint, expected_version: u64) -> StoreResult<()>;
    async fn get_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>>;
    /// A merchant's endpoints, oldest first.
    async fn webhook_endpoints_of(&self, merchant: &MerchantId) -> StoreResult<Vec<WebhookEndpoint>>;
    /// True if it existed.
    async fn delete_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<bool>;
    /// Stores a delivery unless one with its id exists; true if added.
    async fn add_webhook_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<bool>;
    async fn update_webhook_delivery(&self, delivery: &WebhookDelivery, expected_version: u64) -> StoreResult<()>;
    async fn get_webhook_delivery(&self, merchant: &MerchantId, id: &WebhookMessageId) -> StoreResult<Option<WebhookDelivery>>;
    /// An endpoint's deliveries, newest first, page by page.
    async fn webhook_deliveries_of(&self, merchant: &MerchantId, endpoint: &WebhookEndpointId, limit: usize, cursor: Option<String>) -> StoreResult<Page<WebhookDelivery>>;

    // Idempotency of API requests, per merchant and key: kept for good once an object was made, a refusal 24 h.
    async fn idempotency_begin(&self, merchant: &MerchantId, key: &str, request_hash: &str, now: DateTime<Utc>) -> StoreResult<IdempotencyBegin>;
    async fn idempotency_complete(&self, merchant: &MerchantId, key: &str, request_hash: &str, response: &SavedResponse, now: DateTime<Utc>) -> StoreResult<()>;
    async fn idempotency_abort(&self, merchant: &MerchantId, key: &str) -> StoreResult<()>;

    // Notifications: what became of each message, suppressed addresses, spend.
    /// Saves a notification record: version 1 must be new, any other must replace version - 1 (else Conflict).
    async fn save_notification(&self, record: &NotificationRecord) -> StoreResult<()>;
    async fn get_notification(&self, merchant: &MerchantId, charge: &ChargeId, reminder_id: &str) -> StoreResult<Option<NotificationRecord>>;
    /// A charge's notification records, by reminder id.
    async fn notifications_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<NotificationRecord>>;
    /// Never again send to this address on this channel (`tracking::recipient_key`): a bounce or complaint.
    async fn suppress_recipient(&self, merchant: &MerchantId, recipient_key: &str, reason: &str) -> StoreResult<()>;
    /// Why the address is suppressed, if it is.
    async fn recipient_suppressed(&self, merchant: &MerchantId, recipient_key: &str) -> StoreResult<Option<String>>;
    /// Counts message `message` in the month's spend, once however often it is counted (a redelivered send).
    /// With a `unit` (`ChannelPrice::unit_key`), the price is paid only by the unit's first message; the
    /// amount actually added is returned.
    async fn add_spend(&self, merchant: &MerchantId, month: &str, channel: Channel, price: Decimal, message: &str, unit: Option<&str>) -> StoreResult<Decimal>;
    /// A month's spend per channel.
    async fn spend_of(&self, merchant: &MerchantId, month: &str) -> StoreResult<BTreeMap<Channel, ChannelSpend>>;

    // Subscriptions.
    /// Stores a subscription: new (`expected_version` None; Conflict if its id exists) or replacing the stored one
    /// of that version (the new one carries version + 1), else Conflict. Indexed by `generate_on`.
    async fn put_subscription(&self, sub: &Subscription, expected_version: Option<u64>) -> StoreResult<()>;
    async fn get_subscription(&self, merchant: &MerchantId, id: &SubscriptionId) -> StoreResult<Option<Subscription>>;
    /// A merchant's subscriptions, oldest first (ids are time-ordered).
    async fn list_subscriptions(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Subscription>>;
    /// Subscriptions of every merchant whose `generate_on` is `through` or earlier, earliest first, up to `limit`:
    /// a sparse index, so the daily work costs what is due, not what exists.
    async fn subscriptions_to_generate(&self, through: NaiveDate, limit: usize) -> StoreResult<Vec<Subscription>>;

    // Merchant documents: small JSON settings a merchant keeps (notification settings, message templates).
    async fn put_merchant_document(&self, merchant: &MerchantId, key: &str, value: &serde_json::Value) -> StoreResult<()>;
    async fn get_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<Option<serde_json::Value>>;
    /// Documents whose key starts with `prefix`, by key.
    async fn merchant_documents(&self, merchant: &MerchantId, prefix: &str) -> StoreResult<Vec<(String, serde_json::Value)>>;
    /// True if it existed.
    async fn delete_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<bool>;

    // The development outbox channel.
    /// Records a delivery once per (charge, reminder); true if new.
    async fn record_outbox(&self, entry: &OutboxEntry) -> StoreResult<bool>;
    async fn outbox(&self) -> StoreResult<Vec<OutboxEntry>>;
    /// Rewrites a recorded entry (erasure of personal data), keeping its delivery count.
    async fn replace_outbox(&self, entry: &OutboxEntry) -> StoreResult<()>;
}
