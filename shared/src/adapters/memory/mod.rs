//! In-memory adapters: the store, an event bus and a queue that record what they get. Used by unit tests and
//! the store conformance suite; they keep the same guarantees as the DynamoDB adapter (conditional writes,
//! all-or-nothing transactions) under one mutex, and refuse what DynamoDB refuses (`adapters::limits`).

mod api_keys;
mod charges;
mod customers;
mod idempotency;
mod ledger;
mod merchants;
mod notifications;
mod outbox;
mod reminders;
mod rulers;
mod subscriptions;
mod webhooks;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::adapters::layout;
use crate::adapters::limits;
use crate::domain::charge::Charge;
use crate::domain::customer::Customer;
use crate::domain::events::{DomainEvent, EventBus, PublishError};
use crate::domain::ids::{ChargeId, CustomerId, MerchantId, WalletId, WebhookEndpointId, WebhookMessageId};
use crate::domain::merchant::Merchant;
use crate::domain::notification::{NotificationJob, OutboxEntry};
use crate::domain::payment::{LedgerEntry, UnmatchedPayment};
use crate::domain::ruler::{Reminder, ReminderState, Ruler};
use crate::domain::wallet::Wallet;
use crate::ports::queue::{EnqueueError, JobQueue};
use crate::ports::store::*;
use crate::service::merchant_webhooks::{WebhookDelivery, WebhookEndpoint, WebhookJob};
use crate::service::registration::PaymentSetupJob;

/// Request hash, saved response (None while the first request runs), when it started.
type IdempotencyRecord = (String, Option<SavedResponse>, DateTime<Utc>);

#[derive(Default)]
struct State {
    merchants: HashMap<MerchantId, Merchant>,
    /// API keys by merchant and id, and where each hash points.
    api_keys: BTreeMap<(MerchantId, crate::domain::ids::ApiKeyId), crate::domain::api_keys::ApiKeyRecord>,
    key_hashes: HashMap<String, (MerchantId, crate::domain::ids::ApiKeyId)>,
    /// Requests counted per key and rate window (its start, Unix seconds).
    rate_windows: HashMap<(crate::domain::ids::ApiKeyId, i64), u32>,
    subscriptions: BTreeMap<(MerchantId, crate::domain::ids::SubscriptionId), crate::domain::recurrence::Subscription>,
    customers: HashMap<(MerchantId, CustomerId), Customer>,
    charges: HashMap<(MerchantId, ChargeId), Charge>,
    owners: HashMap<ChargeId, MerchantId>,
    payment_tokens: HashMap<String, (MerchantId, ChargeId)>,
    reminders: BTreeMap<(MerchantId, ChargeId, String), Reminder>,
    payments: BTreeMap<(MerchantId, ChargeId, String), LedgerEntry>,
    provider_events: std::collections::HashSet<(MerchantId, String, String)>,
    unmatched: BTreeMap<(String, String), UnmatchedPayment>,
    idempotency: HashMap<(MerchantId, String), IdempotencyRecord>,
    watermark: Option<DateTime<Utc>>,
    outbox: BTreeMap<(ChargeId, String), OutboxEntry>,
    rulers: HashMap<RulerScope, Ruler>,
    contacts: HashMap<(MerchantId, CustomerId, ContactCounter), std::collections::HashSet<String>>,
    wallets: BTreeMap<(MerchantId, WalletId), Wallet>,
    sequences: HashMap<String, u64>,
    references: HashMap<(String, String), (MerchantId, ChargeId)>,
    card_attempts: HashMap<(MerchantId, ChargeId), crate::domain::card_attempts::CardAttempts>,
    pending_reversals: BTreeMap<(String, String, String), crate::domain::payment_notice::PaymentNotice>,
    webhook_endpoints: BTreeMap<(MerchantId, WebhookEndpointId), WebhookEndpoint>,
    webhook_deliveries: HashMap<(MerchantId, WebhookMessageId), WebhookDelivery>,
    notifications: BTreeMap<(MerchantId, ChargeId, String), crate::domain::tracking::NotificationRecord>,
    suppressed: HashMap<(MerchantId, String), String>,
    spend: HashMap<(MerchantId, String), BTreeMap<crate::domain::notification::Channel, crate::domain::channel_policy::ChannelSpend>>,
    billed_units: std::collections::HashSet<(MerchantId, String)>,
    documents: BTreeMap<(MerchantId, String), serde_json::Value>,
    /// By `layout::replan_sk`, so that they list in DynamoDB's order.
    replan_jobs: BTreeMap<String, crate::service::schedule::ReplanJob>,
}

impl State {
    /// Whether another key already has this key's id or hash.
    fn key_taken(&self, key: &crate::domain::api_keys::ApiKeyRecord) -> bool {
        self.api_keys.contains_key(&(key.merchant_id.clone(), key.id.clone())) || self.key_hashes.contains_key(key.hash.as_str())
    }

    fn put_key(&mut self, key: crate::domain::api_keys::ApiKeyRecord) {
        self.key_hashes.insert(key.hash.as_str().to_string(), (key.merchant_id.clone(), key.id.clone()));
        self.api_keys.insert((key.merchant_id.clone(), key.id.clone()), key);
    }
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every stored item as text (its key, then its stored JSON): what a scan of the whole table would read. The
    /// destructuring is exhaustive, so a new kind of item cannot be left out of scans (the erasure test's).
    pub fn every_item(&self) -> Vec<String> {
        fn item<K: std::fmt::Debug, V: serde::Serialize>(k: &K, v: &V) -> String {
            format!("{k:?} {}", serde_json::to_string(v).unwrap_or_else(|e| format!("unserialisable: {e}")))
        }
        let s = self.lock();
        let State {
            merchants,
            api_keys,
            key_hashes,
            rate_windows,
            subscriptions,
            customers,
            charges,
            owners,
            payment_tokens,
            reminders,
            payments,
            provider_events,
            unmatched,
            idempotency,
            watermark,
            outbox,
            rulers,
            contacts,
            wallets,
            sequences,
            references,
            pending_reversals,
            webhook_endpoints,
            webhook_deliveries,
            notifications,
            suppressed,
            spend,
            billed_units,
            documents,
            card_attempts,
            replan_jobs,
        } = &*s;
        let mut out = Vec::new();
        out.extend(merchants.iter().map(|(k, v)| item(k, v)));
        out.extend(api_keys.iter().map(|(k, v)| item(k, v)));
        out.extend(key_hashes.iter().map(|(k, v)| item(k, v)));
        out.extend(rate_windows.iter().map(|(k, v)| item(k, v)));
        out.extend(subscriptions.iter().map(|(k, v)| item(k, v)));
        out.extend(customers.iter().map(|(k, v)| item(k, v)));
        out.extend(charges.iter().map(|(k, v)| item(k, v)));
        out.extend(owners.iter().map(|(k, v)| item(k, v)));
        out.extend(payment_tokens.iter().map(|(k, v)| item(k, v)));
        out.extend(reminders.iter().map(|(k, v)| item(k, v)));
        out.extend(payments.iter().map(|(k, v)| item(k, v)));
        out.extend(provider_events.iter().map(|k| item(k, &())));
        out.extend(unmatched.iter().map(|(k, v)| item(k, v)));
        out.extend(idempotency.iter().map(|(k, v)| item(k, v)));
        out.extend(watermark.iter().map(|v| item(&"watermark", v)));
        out.extend(outbox.iter().map(|(k, v)| item(k, v)));
        out.extend(rulers.iter().map(|(k, v)| item(k, v)));
        out.extend(contacts.iter().map(|(k, v)| item(k, v)));
        out.extend(wallets.iter().map(|(k, v)| item(k, v)));
        out.extend(sequences.iter().map(|(k, v)| item(k, v)));
        out.extend(references.iter().map(|(k, v)| item(k, v)));
        out.extend(pending_reversals.iter().map(|(k, v)| item(k, v)));
        out.extend(webhook_endpoints.iter().map(|(k, v)| item(k, v)));
        out.extend(webhook_deliveries.iter().map(|(k, v)| item(k, v)));
        out.extend(notifications.iter().map(|(k, v)| item(k, v)));
        out.extend(suppressed.iter().map(|(k, v)| item(k, v)));
        out.extend(spend.iter().map(|(k, v)| item(k, v)));
        out.extend(billed_units.iter().map(|k| item(k, &())));
        out.extend(documents.iter().map(|(k, v)| item(k, v)));
        out.extend(card_attempts.iter().map(|(k, v)| item(k, v)));
        out.extend(replan_jobs.iter().map(|(k, v)| item(k, v)));
        out
    }
}

/// Whether a stored reminder state matches one of the names a transition accepts.
pub(crate) fn state_matches(state: &ReminderState, from: &[&str], now: DateTime<Utc>) -> bool {
    from.iter().any(|f| match (*f, state) {
        ("planned", ReminderState::Planned) => true,
        ("queued", ReminderState::Queued { .. }) => true,
        ("queued_expired", ReminderState::Queued { lease_until, .. }) => *lease_until <= now,
        ("sending", ReminderState::Sending { .. }) => true,
        ("sending_stale", ReminderState::Sending { since, .. }) => *since + crate::service::delivery::SENDING_STALE_AFTER <= now,
        ("sent", ReminderState::Sent { .. }) => true,
        ("failed_redrivable", ReminderState::Failed { redrivable, .. }) => *redrivable,
        _ => false,
    })
}

/// Refuses what DynamoDB refuses (`adapters::limits`): keys over their limits, items over 400 KB, measured as
/// the DynamoDB adapter lays the item out (`PK`, `SK`, the JSON `data`; the few index and condition attributes
/// beside it, a few hundred bytes at most, are left out).
fn fits<T: serde::Serialize + ?Sized>(pk: &str, sk: &str, data: &T) -> StoreResult<()> {
    limits::check_keys(pk, sk)?;
    let json = serde_json::to_string(data).map_err(|e| StoreError::Corrupt { key: format!("{pk}/{sk}"), message: e.to_string() })?;
    limits::check_item_size(limits::item_size([("PK", pk.len()), ("SK", sk.len()), ("data", json.len())]))
}

fn reminder_fits(r: &Reminder) -> StoreResult<()> {
    fits(&layout::charge_pk(&r.merchant_id, &r.charge_id), &format!("REM#{}", r.id()), r)
}

fn due_sort_key(r: &Reminder, at: DateTime<Utc>) -> String {
    format!("{}#{}#{}", crate::adapters::index_time_key(at), r.charge_id, r.id())
}

/// Records published events; tests read them back.
#[derive(Default)]
pub struct RecordingEventBus {
    pub events: Mutex<Vec<DomainEvent>>,
    pub continuations: Mutex<Vec<DateTime<Utc>>>,
}

#[async_trait]
impl EventBus for RecordingEventBus {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PublishError> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(events);
        Ok(())
    }

    async fn continue_tick(&self, at: DateTime<Utc>) -> Result<(), PublishError> {
        self.continuations.lock().unwrap_or_else(|p| p.into_inner()).push(at);
        Ok(())
    }
}

/// Holds enqueued jobs; tests drain them into the delivery use case.
#[derive(Default)]
pub struct MemoryQueue {
    pub jobs: Mutex<std::collections::VecDeque<NotificationJob>>,
    pub setup_jobs: Mutex<Vec<PaymentSetupJob>>,
    pub webhook_jobs: Mutex<Vec<WebhookJob>>,
}

impl MemoryQueue {
    pub fn drain(&self) -> Vec<NotificationJob> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect()
    }

    pub fn drain_webhooks(&self) -> Vec<WebhookJob> {
        self.webhook_jobs.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect()
    }

    pub fn drain_setup(&self) -> Vec<PaymentSetupJob> {
        self.setup_jobs.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect()
    }
}

#[async_trait]
impl JobQueue for MemoryQueue {
    async fn enqueue(&self, jobs: &[NotificationJob]) -> Result<(), EnqueueError> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).extend(jobs.iter().cloned());
        Ok(())
    }

    async fn enqueue_setup(&self, jobs: &[PaymentSetupJob]) -> Result<(), EnqueueError> {
        self.setup_jobs.lock().unwrap_or_else(|p| p.into_inner()).extend(jobs.iter().cloned());
        Ok(())
    }

    async fn enqueue_webhooks(&self, jobs: &[WebhookJob]) -> Result<(), EnqueueError> {
        self.webhook_jobs.lock().unwrap_or_else(|p| p.into_inner()).extend(jobs.iter().cloned());
        Ok(())
    }
}

/// One page of items sorted by key, after the key a cursor names. The cursor is an opaque, encoded sort key:
/// anything else is refused as the DynamoDB store refuses a cursor it did not issue.
fn page_after<T>(sorted: Vec<(String, T)>, limit: usize, cursor: Option<String>) -> StoreResult<Page<T>> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let after = cursor
        .map(|c| {
            engine
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|k| k.strip_prefix("mem:").map(str::to_string))
                .ok_or(StoreError::InvalidCursor)
        })
        .transpose()?;
    let mut rest: Vec<(String, T)> = sorted.into_iter().filter(|(k, _)| after.as_ref().is_none_or(|a| k > a)).collect();
    let more = rest.len() > limit;
    rest.truncate(limit);
    let next = if more { rest.last().map(|(k, _)| engine.encode(format!("mem:{k}"))) } else { None };
    Ok(Page { items: rest.into_iter().map(|(_, v)| v).collect(), next })
}
