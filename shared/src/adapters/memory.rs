//! In-memory adapters: the store, an event bus and a queue that record what they get. Used by unit tests and
//! the store conformance suite; they keep the same guarantees as the DynamoDB adapter (conditional writes,
//! all-or-nothing transactions) under one mutex, and refuse what DynamoDB refuses (`adapters::limits`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::charge::Charge;
use crate::customer::Customer;
use crate::events::{DomainEvent, EventBus, PublishError};
use crate::ids::{ChargeId, CustomerId, MerchantId, WalletId, WebhookEndpointId, WebhookMessageId};
use crate::merchant_webhooks::{WebhookDelivery, WebhookEndpoint, WebhookJob};
use crate::wallet::Wallet;
use crate::merchant::{ApiKeyHash, Merchant};
use crate::notification::{NotificationJob, OutboxEntry};
use crate::payment::{LedgerEntry, UnmatchedPayment};
use crate::queue::{EnqueueError, JobQueue};
use crate::registration::PaymentSetupJob;
use crate::ruler::{Reminder, ReminderState, Ruler};
use crate::store::*;
use crate::adapters::layout;
use crate::adapters::limits;

/// Request hash, saved response (None while the first request runs), when it started.
type IdempotencyRecord = (String, Option<SavedResponse>, DateTime<Utc>);

#[derive(Default)]
struct State {
    merchants: HashMap<MerchantId, Merchant>,
    /// API keys by merchant and id, and where each hash points.
    api_keys: BTreeMap<(MerchantId, crate::ids::ApiKeyId), crate::api_keys::ApiKeyRecord>,
    key_hashes: HashMap<String, (MerchantId, crate::ids::ApiKeyId)>,
    /// Requests counted per key and rate window (its start, Unix seconds).
    rate_windows: HashMap<(crate::ids::ApiKeyId, i64), u32>,
    subscriptions: BTreeMap<(MerchantId, crate::ids::SubscriptionId), crate::recurrence::Subscription>,
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
    card_attempts: HashMap<(MerchantId, ChargeId), crate::card_attempts::CardAttempts>,
    pending_reversals: BTreeMap<(String, String, String), crate::webhook::PaymentNotice>,
    webhook_endpoints: BTreeMap<(MerchantId, WebhookEndpointId), WebhookEndpoint>,
    webhook_deliveries: HashMap<(MerchantId, WebhookMessageId), WebhookDelivery>,
    notifications: BTreeMap<(MerchantId, ChargeId, String), crate::tracking::NotificationRecord>,
    suppressed: HashMap<(MerchantId, String), String>,
    spend: HashMap<(MerchantId, String), BTreeMap<crate::notification::Channel, crate::channel_policy::ChannelSpend>>,
    billed_units: std::collections::HashSet<(MerchantId, String)>,
    documents: BTreeMap<(MerchantId, String), serde_json::Value>,
    /// By `layout::replan_sk`, so that they list in DynamoDB's order.
    replan_jobs: BTreeMap<String, crate::schedule::ReplanJob>,
}

impl State {
    /// Whether another key already has this key's id or hash.
    fn key_taken(&self, key: &crate::api_keys::ApiKeyRecord) -> bool {
        self.api_keys.contains_key(&(key.merchant_id.clone(), key.id.clone())) || self.key_hashes.contains_key(key.hash.as_str())
    }

    fn put_key(&mut self, key: crate::api_keys::ApiKeyRecord) {
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
            merchants, api_keys, key_hashes, rate_windows, subscriptions, customers, charges, owners, payment_tokens, reminders, payments,
            provider_events, unmatched, idempotency, watermark, outbox, rulers, contacts, wallets, sequences, references, pending_reversals,
            webhook_endpoints, webhook_deliveries, notifications, suppressed, spend, billed_units, documents, card_attempts, replan_jobs,
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
        ("sending_stale", ReminderState::Sending { since, .. }) => *since + crate::delivery::SENDING_STALE_AFTER <= now,
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

#[async_trait]
impl Store for MemoryStore {
    async fn put_merchant(&self, merchant: &Merchant, key: &ApiKeyHash) -> StoreResult<()> {
        let mut s = self.lock();
        s.merchants.insert(merchant.id.clone(), merchant.clone());
        s.put_key(crate::api_keys::ApiKeyRecord::registered(&merchant.id, key, merchant.created_at));
        Ok(())
    }

    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Option<Merchant>> {
        Ok(self.lock().merchants.get(id).cloned())
    }

    async fn merchant_by_key(&self, key: &ApiKeyHash) -> StoreResult<Option<Merchant>> {
        let s = self.lock();
        Ok(s.key_hashes.get(key.as_str()).and_then(|(m, _)| s.merchants.get(m)).cloned())
    }

    async fn create_merchant(&self, merchant: &Merchant, first_key: &crate::api_keys::ApiKeyRecord) -> StoreResult<bool> {
        let mut s = self.lock();
        if s.merchants.contains_key(&merchant.id) {
            return Ok(false);
        }
        if s.key_taken(first_key) {
            return Err(StoreError::Conflict);
        }
        s.merchants.insert(merchant.id.clone(), merchant.clone());
        s.put_key(first_key.clone());
        Ok(true)
    }

    async fn add_api_key(&self, key: &crate::api_keys::ApiKeyRecord, replacing: Option<(&crate::api_keys::ApiKeyRecord, u64)>) -> StoreResult<()> {
        let mut s = self.lock();
        if s.key_taken(key) {
            return Err(StoreError::Conflict);
        }
        if let Some((old, expected)) = replacing {
            if s.api_keys.get(&(old.merchant_id.clone(), old.id.clone())).map(|k| k.version) != Some(expected) {
                return Err(StoreError::Conflict);
            }
            s.put_key(old.clone());
        }
        s.put_key(key.clone());
        Ok(())
    }

    async fn update_api_key(&self, key: &crate::api_keys::ApiKeyRecord, expected_version: u64) -> StoreResult<()> {
        let mut s = self.lock();
        if s.api_keys.get(&(key.merchant_id.clone(), key.id.clone())).map(|k| k.version) != Some(expected_version) {
            return Err(StoreError::Conflict);
        }
        s.put_key(key.clone());
        Ok(())
    }

    async fn get_api_key(&self, merchant: &MerchantId, id: &crate::ids::ApiKeyId) -> StoreResult<Option<crate::api_keys::ApiKeyRecord>> {
        Ok(self.lock().api_keys.get(&(merchant.clone(), id.clone())).cloned())
    }

    async fn api_keys_of(&self, merchant: &MerchantId) -> StoreResult<Vec<crate::api_keys::ApiKeyRecord>> {
        Ok(self.lock().api_keys.iter().filter(|((m, _), _)| m == merchant).map(|(_, k)| k.clone()).collect())
    }

    async fn api_key_by_hash(&self, hash: &ApiKeyHash) -> StoreResult<Option<crate::api_keys::ApiKeyRecord>> {
        let s = self.lock();
        Ok(s.key_hashes.get(hash.as_str()).and_then(|k| s.api_keys.get(k)).cloned())
    }

    async fn count_request(&self, key: &crate::ids::ApiKeyId, window: DateTime<Utc>, limit: u32) -> StoreResult<Option<u32>> {
        let mut s = self.lock();
        let at = window.timestamp();
        // Past windows are never counted again (the DynamoDB items expire by TTL).
        s.rate_windows.retain(|(_, w), _| *w >= at - 2 * crate::api_keys::RATE_WINDOW_SECONDS);
        let count = s.rate_windows.entry((key.clone(), at)).or_insert(0);
        if *count >= limit {
            return Ok(None);
        }
        *count += 1;
        Ok(Some(*count))
    }

    async fn put_wallet(&self, wallet: &Wallet) -> StoreResult<()> {
        fits(&layout::merchant_pk(&wallet.merchant_id), &format!("WALLET#{}", wallet.id), wallet)?;
        self.lock().wallets.insert((wallet.merchant_id.clone(), wallet.id.clone()), wallet.clone());
        Ok(())
    }

    async fn get_wallet(&self, merchant: &MerchantId, id: &WalletId) -> StoreResult<Option<Wallet>> {
        Ok(self.lock().wallets.get(&(merchant.clone(), id.clone())).cloned())
    }

    async fn wallets_of(&self, merchant: &MerchantId) -> StoreResult<Vec<Wallet>> {
        // Wallet ids are ULIDs: key order is creation order.
        Ok(self.lock().wallets.iter().filter(|((m, _), _)| m == merchant).map(|(_, w)| w.clone()).collect())
    }

    async fn link_provider_reference(&self, provider: &str, reference: &str, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<()> {
        limits::check_keys(&layout::reference_pk(provider, reference), "REF")?;
        self.lock().references.insert((provider.to_string(), reference.to_string()), (merchant.clone(), charge.clone()));
        Ok(())
    }

    async fn charge_of_provider_reference(&self, provider: &str, reference: &str) -> StoreResult<Option<(MerchantId, ChargeId)>> {
        limits::check_keys(&layout::reference_pk(provider, reference), "REF")?;
        Ok(self.lock().references.get(&(provider.to_string(), reference.to_string())).cloned())
    }

    async fn get_card_attempts(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Option<crate::card_attempts::CardAttempts>> {
        Ok(self.lock().card_attempts.get(&(merchant.clone(), charge.clone())).cloned())
    }

    async fn put_card_attempts(&self, attempts: &crate::card_attempts::CardAttempts, expected_version: Option<u64>) -> StoreResult<()> {
        let mut s = self.lock();
        let key = (attempts.merchant_id.clone(), attempts.charge_id.clone());
        if s.card_attempts.get(&key).map(|stored| stored.version) != expected_version {
            return Err(StoreError::Conflict);
        }
        s.card_attempts.insert(key, attempts.clone());
        Ok(())
    }

    async fn next_sequence(&self, name: &str) -> StoreResult<u64> {
        limits::check_keys(&layout::sequence_pk(name), "SEQ")?;
        let mut s = self.lock();
        let n = s.sequences.entry(name.to_string()).or_default();
        *n += 1;
        Ok(*n)
    }

    async fn get_ruler(&self, scope: &RulerScope) -> StoreResult<Option<Ruler>> {
        Ok(self.lock().rulers.get(scope).cloned())
    }

    async fn put_ruler(&self, scope: &RulerScope, ruler: &Ruler) -> StoreResult<()> {
        let (pk, sk) = layout::ruler_key(scope);
        fits(&pk, sk, ruler)?;
        self.lock().rulers.insert(scope.clone(), ruler.clone());
        Ok(())
    }

    async fn open_charges(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>> {
        let s = self.lock();
        let mut open: Vec<(String, Charge)> = s
            .charges
            .values()
            .filter(|c| &c.merchant_id == merchant && c.status.is_open())
            .map(|c| (format!("{}#{}", c.due_date.date(), c.id), c.clone()))
            .filter(|(k, _)| cursor.as_ref().is_none_or(|cur| k > cur))
            .collect();
        open.sort_by(|a, b| a.0.cmp(&b.0));
        let more = open.len() > limit;
        open.truncate(limit);
        let next = if more { open.last().map(|(k, _)| k.clone()) } else { None };
        Ok(Page { items: open.into_iter().map(|(_, c)| c).collect(), next })
    }

    async fn reserve_contact(&self, merchant: &MerchantId, customer: &CustomerId, counter: &ContactCounter, cap: u32, message: &str) -> StoreResult<bool> {
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

    async fn save_replan_job(&self, job: &crate::schedule::ReplanJob, expected_version: Option<u64>) -> StoreResult<()> {
        let key = layout::replan_sk(&job.scope());
        fits("REPLAN", &key, job)?;
        let mut s = self.lock();
        if s.replan_jobs.get(&key).map(|j| j.version) != expected_version {
            return Err(StoreError::Conflict);
        }
        s.replan_jobs.insert(key, job.clone());
        Ok(())
    }

    async fn get_replan_job(&self, scope: &crate::schedule::ReplanScope) -> StoreResult<Option<crate::schedule::ReplanJob>> {
        Ok(self.lock().replan_jobs.get(&layout::replan_sk(scope)).cloned())
    }

    async fn replan_jobs(&self, limit: usize) -> StoreResult<Vec<crate::schedule::ReplanJob>> {
        Ok(self.lock().replan_jobs.values().take(limit).cloned().collect())
    }

    async fn finish_replan_job(&self, scope: &crate::schedule::ReplanScope, expected_version: u64) -> StoreResult<bool> {
        let key = layout::replan_sk(scope);
        let mut s = self.lock();
        if s.replan_jobs.get(&key).map(|j| j.version) != Some(expected_version) {
            return Ok(false);
        }
        s.replan_jobs.remove(&key);
        Ok(true)
    }

    async fn put_customer(&self, customer: &Customer) -> StoreResult<()> {
        fits(&layout::customer_pk(&customer.merchant_id, &customer.id), "CUSTOMER", customer)?;
        self.lock().customers.insert((customer.merchant_id.clone(), customer.id.clone()), customer.clone());
        Ok(())
    }

    async fn get_customer(&self, merchant: &MerchantId, id: &CustomerId) -> StoreResult<Option<Customer>> {
        Ok(self.lock().customers.get(&(merchant.clone(), id.clone())).cloned())
    }

    async fn create_charge(&self, charge: &Charge, reminders: &[Reminder]) -> StoreResult<()> {
        // One transaction in DynamoDB: the charge, its owner, its payment link and every reminder.
        limits::check_transaction(3 + reminders.len())?;
        fits(&layout::charge_pk(&charge.merchant_id, &charge.id), "CHARGE", charge)?;
        reminders.iter().try_for_each(reminder_fits)?;
        let mut s = self.lock();
        let key = (charge.merchant_id.clone(), charge.id.clone());
        if s.charges.contains_key(&key) {
            return Err(StoreError::Conflict);
        }
        s.charges.insert(key, charge.clone());
        s.owners.insert(charge.id.clone(), charge.merchant_id.clone());
        s.payment_tokens.insert(charge.payment_token.clone(), (charge.merchant_id.clone(), charge.id.clone()));
        for r in reminders {
            s.reminders.insert((r.merchant_id.clone(), r.charge_id.clone(), r.id()), r.clone());
        }
        Ok(())
    }

    async fn get_charge(&self, merchant: &MerchantId, id: &ChargeId) -> StoreResult<Option<Charge>> {
        Ok(self.lock().charges.get(&(merchant.clone(), id.clone())).cloned())
    }

    async fn charge_owner(&self, id: &ChargeId) -> StoreResult<Option<MerchantId>> {
        Ok(self.lock().owners.get(id).cloned())
    }

    async fn charge_by_payment_token(&self, token: &str) -> StoreResult<Option<Charge>> {
        let s = self.lock();
        Ok(s.payment_tokens.get(token).and_then(|key| s.charges.get(key)).cloned())
    }

    async fn update_charge(&self, charge: &Charge, expected_version: u64) -> StoreResult<()> {
        fits(&layout::charge_pk(&charge.merchant_id, &charge.id), "CHARGE", charge)?;
        let mut s = self.lock();
        let key = (charge.merchant_id.clone(), charge.id.clone());
        match s.charges.get(&key) {
            Some(current) if current.version == expected_version => {
                s.charges.insert(key, charge.clone());
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn list_charges(&self, merchant: &MerchantId, query: &ChargeQuery, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>> {
        let s = self.lock();
        let mut all: Vec<(String, Charge)> = s
            .charges
            .values()
            .filter(|c| &c.merchant_id == merchant && query.matches(c))
            .map(|c| (format!("{}#{}", c.due_date.date(), c.id), c.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        page_after(all, limit, cursor)
    }

    async fn put_subscription(&self, sub: &crate::recurrence::Subscription, expected_version: Option<u64>) -> StoreResult<()> {
        fits(&format!("MER#{}#SUB#{}", sub.merchant_id, sub.id), "SUBSCRIPTION", sub)?;
        let mut s = self.lock();
        let key = (sub.merchant_id.clone(), sub.id.clone());
        if s.subscriptions.get(&key).map(|stored| stored.version) != expected_version {
            return Err(StoreError::Conflict);
        }
        s.subscriptions.insert(key, sub.clone());
        Ok(())
    }

    async fn get_subscription(&self, merchant: &MerchantId, id: &crate::ids::SubscriptionId) -> StoreResult<Option<crate::recurrence::Subscription>> {
        Ok(self.lock().subscriptions.get(&(merchant.clone(), id.clone())).cloned())
    }

    async fn list_subscriptions(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<crate::recurrence::Subscription>> {
        let s = self.lock();
        let all: Vec<(String, crate::recurrence::Subscription)> =
            s.subscriptions.iter().filter(|((m, _), _)| m == merchant).map(|((_, id), sub)| (id.to_string(), sub.clone())).collect();
        page_after(all, limit, cursor)
    }

    async fn subscriptions_to_generate(&self, through: chrono::NaiveDate, limit: usize) -> StoreResult<Vec<crate::recurrence::Subscription>> {
        let s = self.lock();
        let mut due: Vec<(chrono::NaiveDate, String, crate::recurrence::Subscription)> = s
            .subscriptions
            .values()
            .filter_map(|sub| sub.generate_on().filter(|on| *on <= through).map(|on| (on, format!("{}#{}", sub.merchant_id, sub.id), sub.clone())))
            .collect();
        due.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        Ok(due.into_iter().take(limit).map(|(_, _, sub)| sub).collect())
    }

    async fn list_customers(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Customer>> {
        let s = self.lock();
        let mut all: Vec<(String, Customer)> =
            s.customers.values().filter(|c| &c.merchant_id == merchant).map(|c| (c.id.to_string(), c.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        page_after(all, limit, cursor)
    }

    async fn charges_of_customer(&self, merchant: &MerchantId, customer: &CustomerId) -> StoreResult<Vec<Charge>> {
        let s = self.lock();
        let mut out: Vec<Charge> = s
            .charges
            .values()
            .filter(|c| &c.merchant_id == merchant && &c.customer_id == customer)
            .cloned()
            .collect();
        out.sort_by(|a, b| (a.due_date, a.id.as_str()).cmp(&(b.due_date, b.id.as_str())));
        Ok(out)
    }

    async fn reminders_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<Reminder>> {
        let s = self.lock();
        Ok(s.reminders
            .iter()
            .filter(|((m, c, _), _)| m == merchant && c == charge)
            .map(|(_, r)| r.clone())
            .collect())
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

    async fn append_to_ledger(&self, payment: &LedgerEntry, settled: Option<(&Charge, u64)>) -> StoreResult<PaymentRecorded> {
        limits::check_keys(&layout::provider_event_pk(&payment.merchant_id, &payment.provider, &payment.provider_event_id), "WHK")?;
        fits(&layout::charge_pk(&payment.merchant_id, &payment.charge_id), &format!("PAY#{}#{}", payment.provider, payment.provider_payment_id), payment)?;
        if let Some((charge, _)) = settled {
            fits(&layout::charge_pk(&charge.merchant_id, &charge.id), "CHARGE", charge)?;
        }
        let mut s = self.lock();
        let event = (payment.merchant_id.clone(), payment.provider.clone(), payment.provider_event_id.clone());
        let pkey = (
            payment.merchant_id.clone(),
            payment.charge_id.clone(),
            format!("{}#{}", payment.provider, payment.provider_payment_id),
        );
        if s.provider_events.contains(&event) || s.payments.contains_key(&pkey) {
            return Ok(PaymentRecorded::Duplicate);
        }
        if let Some((charge, expected)) = settled {
            let ckey = (charge.merchant_id.clone(), charge.id.clone());
            match s.charges.get(&ckey) {
                Some(current) if current.version == expected => {
                    s.charges.insert(ckey, charge.clone());
                }
                _ => return Err(StoreError::Conflict),
            }
        }
        s.provider_events.insert(event);
        s.payments.insert(pkey, payment.clone());
        Ok(PaymentRecorded::Recorded)
    }

    async fn ledger_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<LedgerEntry>> {
        let s = self.lock();
        Ok(s.payments
            .iter()
            .filter(|((m, c, _), _)| m == merchant && c == charge)
            .map(|(_, p)| p.clone())
            .collect())
    }

    async fn add_pending_reversal(&self, notice: &crate::webhook::PaymentNotice) -> StoreResult<()> {
        fits(&format!("PENDREV#{}#{}", notice.provider, notice.reverses.as_deref().unwrap_or_default()), &notice.provider_payment_id, notice)?;
        let key = (notice.provider.clone(), notice.reverses.clone().unwrap_or_default(), notice.provider_payment_id.clone());
        self.lock().pending_reversals.entry(key).or_insert_with(|| notice.clone());
        Ok(())
    }

    async fn pending_reversals(&self, provider: &str, payment: &str) -> StoreResult<Vec<crate::webhook::PaymentNotice>> {
        Ok(self.lock().pending_reversals.iter().filter(|((p, pay, _), _)| p == provider && pay == payment).map(|(_, n)| n.clone()).collect())
    }

    async fn ledger_between(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<LedgerEntry>> {
        let mut out: Vec<LedgerEntry> = self
            .lock()
            .payments
            .values()
            .filter(|e| &e.merchant_id == merchant && (from..=to).contains(&crate::calendar::local_date(e.paid_at)))
            .cloned()
            .collect();
        out.sort_by_key(|e| (crate::calendar::local_date(e.paid_at), e.received_at));
        Ok(out)
    }

    async fn unmatched_of(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<UnmatchedPayment>> {
        Ok(self
            .lock()
            .unmatched
            .values()
            .filter(|u| u.merchant_id.as_ref() == Some(merchant) && (from..=to).contains(&crate::calendar::local_date(u.received_at)))
            .cloned()
            .collect())
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

    async fn unmatched(&self, provider: &str) -> StoreResult<Vec<UnmatchedPayment>> {
        Ok(self.lock().unmatched.values().filter(|u| u.provider == provider).cloned().collect())
    }

    async fn idempotency_begin(&self, merchant: &MerchantId, key: &str, request_hash: &str, now: DateTime<Utc>) -> StoreResult<IdempotencyBegin> {
        let mut s = self.lock();
        let k = (merchant.clone(), key.to_string());
        match s.idempotency.get(&k) {
            // A refusal made nothing: once its replay is over the key is free. Anything else is kept for good.
            Some((_, Some(SavedResponse::Refused { .. }), created)) if now - *created > crate::idempotency::REFUSAL_REPLAY => {}
            Some((hash, _, _)) if hash != request_hash => return Ok(IdempotencyBegin::Mismatch),
            Some((_, Some(saved), _)) => return Ok(IdempotencyBegin::Replay(saved.clone())),
            Some((_, None, started)) if now - *started < crate::idempotency::IN_PROGRESS_LEASE => return Ok(IdempotencyBegin::InProgress),
            Some((_, None, _)) => {}
            None => {}
        }
        s.idempotency.insert(k, (request_hash.to_string(), None, now));
        Ok(IdempotencyBegin::Started)
    }

    async fn idempotency_complete(&self, merchant: &MerchantId, key: &str, request_hash: &str, response: &SavedResponse, now: DateTime<Utc>) -> StoreResult<()> {
        fits(&format!("MER#{merchant}#IDEM#{}", layout::sha256_hex(key)), "IDEM", response)?;
        self.lock()
            .idempotency
            .insert((merchant.clone(), key.to_string()), (request_hash.to_string(), Some(response.clone()), now));
        Ok(())
    }

    async fn idempotency_abort(&self, merchant: &MerchantId, key: &str) -> StoreResult<()> {
        self.lock().idempotency.remove(&(merchant.clone(), key.to_string()));
        Ok(())
    }

    async fn save_notification(&self, record: &crate::tracking::NotificationRecord) -> StoreResult<()> {
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

    async fn get_notification(&self, merchant: &MerchantId, charge: &ChargeId, reminder_id: &str) -> StoreResult<Option<crate::tracking::NotificationRecord>> {
        Ok(self.lock().notifications.get(&(merchant.clone(), charge.clone(), reminder_id.to_string())).cloned())
    }

    async fn notifications_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<crate::tracking::NotificationRecord>> {
        let s = self.lock();
        Ok(s.notifications.iter().filter(|((m, c, _), _)| m == merchant && c == charge).map(|(_, r)| r.clone()).collect())
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

    async fn add_spend(&self, merchant: &MerchantId, month: &str, channel: crate::notification::Channel, price: rust_decimal::Decimal, message: &str, unit: Option<&str>) -> StoreResult<rust_decimal::Decimal> {
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

    async fn spend_of(&self, merchant: &MerchantId, month: &str) -> StoreResult<BTreeMap<crate::notification::Channel, crate::channel_policy::ChannelSpend>> {
        Ok(self.lock().spend.get(&(merchant.clone(), month.to_string())).cloned().unwrap_or_default())
    }

    async fn put_merchant_document(&self, merchant: &MerchantId, key: &str, value: &serde_json::Value) -> StoreResult<()> {
        fits(&layout::document_pk(merchant), key, value)?;
        self.lock().documents.insert((merchant.clone(), key.to_string()), value.clone());
        Ok(())
    }

    async fn get_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<Option<serde_json::Value>> {
        limits::check_keys(&layout::document_pk(merchant), key)?;
        Ok(self.lock().documents.get(&(merchant.clone(), key.to_string())).cloned())
    }

    async fn merchant_documents(&self, merchant: &MerchantId, prefix: &str) -> StoreResult<Vec<(String, serde_json::Value)>> {
        let s = self.lock();
        Ok(s.documents.iter().filter(|((m, k), _)| m == merchant && k.starts_with(prefix)).map(|((_, k), v)| (k.clone(), v.clone())).collect())
    }

    async fn delete_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<bool> {
        limits::check_keys(&layout::document_pk(merchant), key)?;
        Ok(self.lock().documents.remove(&(merchant.clone(), key.to_string())).is_some())
    }

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

    async fn add_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()> {
        fits(&format!("MER#{}#WEP", endpoint.merchant_id), endpoint.id.as_str(), endpoint)?;
        self.lock().webhook_endpoints.insert((endpoint.merchant_id.clone(), endpoint.id.clone()), endpoint.clone());
        Ok(())
    }

    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint, expected_version: u64) -> StoreResult<()> {
        fits(&format!("MER#{}#WEP", endpoint.merchant_id), endpoint.id.as_str(), endpoint)?;
        let mut st = self.lock();
        match st.webhook_endpoints.get_mut(&(endpoint.merchant_id.clone(), endpoint.id.clone())) {
            Some(e) if e.version == expected_version => {
                *e = endpoint.clone();
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn get_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>> {
        Ok(self.lock().webhook_endpoints.get(&(merchant.clone(), id.clone())).cloned())
    }

    async fn webhook_endpoints_of(&self, merchant: &MerchantId) -> StoreResult<Vec<WebhookEndpoint>> {
        Ok(self.lock().webhook_endpoints.iter().filter(|((m, _), _)| m == merchant).map(|(_, e)| e.clone()).collect())
    }

    async fn delete_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<bool> {
        Ok(self.lock().webhook_endpoints.remove(&(merchant.clone(), id.clone())).is_some())
    }

    async fn add_webhook_delivery(&self, d: &WebhookDelivery) -> StoreResult<bool> {
        fits(&format!("MER#{}#WHD#{}", d.merchant_id, d.id), "WHD", d)?;
        let mut st = self.lock();
        let key = (d.merchant_id.clone(), d.id.clone());
        if st.webhook_deliveries.contains_key(&key) {
            return Ok(false);
        }
        st.webhook_deliveries.insert(key, d.clone());
        Ok(true)
    }

    async fn update_webhook_delivery(&self, d: &WebhookDelivery, expected_version: u64) -> StoreResult<()> {
        fits(&format!("MER#{}#WHD#{}", d.merchant_id, d.id), "WHD", d)?;
        let mut st = self.lock();
        match st.webhook_deliveries.get_mut(&(d.merchant_id.clone(), d.id.clone())) {
            Some(old) if old.version == expected_version => {
                *old = d.clone();
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn get_webhook_delivery(&self, merchant: &MerchantId, id: &WebhookMessageId) -> StoreResult<Option<WebhookDelivery>> {
        Ok(self.lock().webhook_deliveries.get(&(merchant.clone(), id.clone())).cloned())
    }

    async fn webhook_deliveries_of(&self, merchant: &MerchantId, endpoint: &WebhookEndpointId, limit: usize, cursor: Option<String>) -> StoreResult<Page<WebhookDelivery>> {
        let st = self.lock();
        let mut all: Vec<&WebhookDelivery> = st.webhook_deliveries.values().filter(|d| &d.merchant_id == merchant && &d.endpoint_id == endpoint).collect();
        all.sort_by_key(|d| std::cmp::Reverse((d.created_at, d.id.clone())));
        let start: usize = cursor.map(|c| c.parse().map_err(|_| StoreError::InvalidCursor)).transpose()?.unwrap_or(0);
        let items: Vec<WebhookDelivery> = all.iter().skip(start).take(limit).map(|d| (*d).clone()).collect();
        let next = (start + items.len() < all.len()).then(|| (start + items.len()).to_string());
        Ok(Page { items, next })
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
        .map(|c| engine.decode(c).ok().and_then(|b| String::from_utf8(b).ok()).and_then(|k| k.strip_prefix("mem:").map(str::to_string)).ok_or(StoreError::InvalidCursor))
        .transpose()?;
    let mut rest: Vec<(String, T)> = sorted.into_iter().filter(|(k, _)| after.as_ref().is_none_or(|a| k > a)).collect();
    let more = rest.len() > limit;
    rest.truncate(limit);
    let next = if more { rest.last().map(|(k, _)| engine.encode(format!("mem:{k}"))) } else { None };
    Ok(Page { items: rest.into_iter().map(|(_, v)| v).collect(), next })
}
