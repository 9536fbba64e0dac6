//! Faults on purpose: decorators over the ports that fail a share of calls (before the call, or after it took
//! effect — the timeout whose write happened) and can "crash" the process at a chosen call: the call never
//! returns, as if the function had been killed there. The reliability suite (`shared/tests/chaos.rs`, `make
//! chaos`) runs the use cases through them; production never wires them.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::channel_policy::ChannelSpend;
use crate::charge::Charge;
use crate::customer::Customer;
use crate::events::{DomainEvent, EventBus, PublishError};
use crate::ids::{ChargeId, CustomerId, MerchantId, WalletId, WebhookEndpointId, WebhookMessageId};
use crate::merchant::{ApiKeyHash, Merchant};
use crate::merchant_webhooks::{WebhookDelivery, WebhookEndpoint, WebhookJob};
use crate::notification::{Channel, NotificationJob, OutboxEntry};
use crate::payment::{LedgerEntry, UnmatchedPayment};
use crate::queue::{EnqueueError, JobQueue};
use crate::registration::PaymentSetupJob;
use crate::ruler::{Reminder, ReminderState, Ruler};
use crate::store::*;
use crate::tracking::NotificationRecord;
use crate::wallet::Wallet;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// What happens to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Fails without doing anything (throttling, a 5xx, a refused connection).
    Before,
    /// Does its work, then fails as a timeout would: the caller cannot know it took effect.
    After,
}

#[derive(Debug, Default)]
struct PlanState {
    calls: u64,
    crash_at: Option<u64>,
    crashed: bool,
    rate_permille: u32,
    injected: u64,
    rng: Option<StdRng>,
    log: Vec<String>,
}

/// Which calls fail and where the process dies; shared by the decorators of one run.
#[derive(Debug, Default)]
pub struct FaultPlan {
    state: Mutex<PlanState>,
    crash: tokio::sync::Notify,
}

impl FaultPlan {
    /// No faults: counts calls (a run's steps).
    pub fn counting() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The process dies at call `at` (0-based): the calls before it completed, this one never returns.
    pub fn crash_at(at: u64) -> Arc<Self> {
        let plan = Self::default();
        plan.state.lock().unwrap().crash_at = Some(at);
        Arc::new(plan)
    }

    /// `permille`/1000 of calls fail, half before and half after taking effect; reproducible from `seed`.
    pub fn random(permille: u32, seed: u64) -> Arc<Self> {
        let plan = Self::default();
        {
            let mut s = plan.state.lock().unwrap();
            s.rate_permille = permille;
            s.rng = Some(StdRng::seed_from_u64(seed));
        }
        Arc::new(plan)
    }

    pub fn calls(&self) -> u64 {
        self.state.lock().unwrap().calls
    }

    pub fn injected(&self) -> u64 {
        self.state.lock().unwrap().injected
    }

    pub fn crashed(&self) -> bool {
        self.state.lock().unwrap().crashed
    }

    /// The operations called, in order ("get_charge", "append_to_ledger", …).
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    /// Resolves once the process has "died".
    pub async fn until_crash(&self) {
        loop {
            let notified = self.crash.notified();
            if self.crashed() {
                return;
            }
            notified.await;
        }
    }

    /// Called at the start of every port call: decides its fault, or never returns (the crash).
    pub async fn enter(&self, operation: &str) -> Fault {
        let fault = {
            let mut s = self.state.lock().unwrap();
            if s.crashed || s.crash_at == Some(s.calls) {
                s.crashed = true;
                None
            } else {
                s.calls += 1;
                s.log.push(operation.to_string());
                let rate = s.rate_permille;
                let roll = s.rng.as_mut().map(|r| (r.gen_range(0..1000u32), r.gen_bool(0.5)));
                match roll {
                    Some((n, before)) if n < rate => {
                        s.injected += 1;
                        Some(if before { Fault::Before } else { Fault::After })
                    }
                    _ => Some(Fault::None),
                }
            }
        };
        match fault {
            Some(f) => f,
            None => {
                self.crash.notify_waiters();
                std::future::pending().await
            }
        }
    }
}

/// Runs `work` under `plan`: Some(result), or None if the process "died" first.
pub async fn run_until_crash<T>(plan: &FaultPlan, work: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::select! {
        biased;
        r = work => Some(r),
        _ = plan.until_crash() => None,
    }
}

pub struct FaultyStore {
    pub inner: Arc<dyn Store>,
    pub plan: Arc<FaultPlan>,
}

#[async_trait]
impl Store for FaultyStore {
    async fn put_merchant(&self, merchant: &Merchant, key: &ApiKeyHash) -> StoreResult<()> {
        let fault = self.plan.enter("put_merchant").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in put_merchant")));
        }
        let result = self.inner.put_merchant(merchant, key).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after put_merchant")));
        }
        result
    }

    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Option<Merchant>> {
        let fault = self.plan.enter("get_merchant").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in get_merchant")));
        }
        let result = self.inner.get_merchant(id).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after get_merchant")));
        }
        result
    }

    async fn merchant_by_key(&self, key: &ApiKeyHash) -> StoreResult<Option<Merchant>> {
        let fault = self.plan.enter("merchant_by_key").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in merchant_by_key")));
        }
        let result = self.inner.merchant_by_key(key).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after merchant_by_key")));
        }
        result
    }

    async fn put_wallet(&self, wallet: &Wallet) -> StoreResult<()> {
        let fault = self.plan.enter("put_wallet").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in put_wallet")));
        }
        let result = self.inner.put_wallet(wallet).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after put_wallet")));
        }
        result
    }

    async fn get_wallet(&self, merchant: &MerchantId, id: &WalletId) -> StoreResult<Option<Wallet>> {
        let fault = self.plan.enter("get_wallet").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in get_wallet")));
        }
        let result = self.inner.get_wallet(merchant, id).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after get_wallet")));
        }
        result
    }

    async fn wallets_of(&self, merchant: &MerchantId) -> StoreResult<Vec<Wallet>> {
        let fault = self.plan.enter("wallets_of").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in wallets_of")));
        }
        let result = self.inner.wallets_of(merchant).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after wallets_of")));
        }
        result
    }

    async fn link_provider_reference(&self, provider: &str, reference: &str, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<()> {
        let fault = self.plan.enter("link_provider_reference").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in link_provider_reference")));
        }
        let result = self.inner.link_provider_reference(provider, reference, merchant, charge).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after link_provider_reference")));
        }
        result
    }

    async fn charge_of_provider_reference(&self, provider: &str, reference: &str) -> StoreResult<Option<(MerchantId, ChargeId)>> {
        let fault = self.plan.enter("charge_of_provider_reference").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in charge_of_provider_reference")));
        }
        let result = self.inner.charge_of_provider_reference(provider, reference).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after charge_of_provider_reference")));
        }
        result
    }

    async fn next_sequence(&self, name: &str) -> StoreResult<u64> {
        let fault = self.plan.enter("next_sequence").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in next_sequence")));
        }
        let result = self.inner.next_sequence(name).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after next_sequence")));
        }
        result
    }

    async fn get_ruler(&self, scope: &RulerScope) -> StoreResult<Option<Ruler>> {
        let fault = self.plan.enter("get_ruler").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in get_ruler")));
        }
        let result = self.inner.get_ruler(scope).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after get_ruler")));
        }
        result
    }

    async fn put_ruler(&self, scope: &RulerScope, ruler: &Ruler) -> StoreResult<()> {
        let fault = self.plan.enter("put_ruler").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in put_ruler")));
        }
        let result = self.inner.put_ruler(scope, ruler).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after put_ruler")));
        }
        result
    }

    async fn put_customer(&self, customer: &Customer) -> StoreResult<()> {
        let fault = self.plan.enter("put_customer").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in put_customer")));
        }
        let result = self.inner.put_customer(customer).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after put_customer")));
        }
        result
    }

    async fn get_customer(&self, merchant: &MerchantId, id: &CustomerId) -> StoreResult<Option<Customer>> {
        let fault = self.plan.enter("get_customer").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in get_customer")));
        }
        let result = self.inner.get_customer(merchant, id).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after get_customer")));
        }
        result
    }

    async fn create_charge(&self, charge: &Charge, reminders: &[Reminder]) -> StoreResult<()> {
        let fault = self.plan.enter("create_charge").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in create_charge")));
        }
        let result = self.inner.create_charge(charge, reminders).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after create_charge")));
        }
        result
    }

    async fn get_charge(&self, merchant: &MerchantId, id: &ChargeId) -> StoreResult<Option<Charge>> {
        let fault = self.plan.enter("get_charge").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in get_charge")));
        }
        let result = self.inner.get_charge(merchant, id).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after get_charge")));
        }
        result
    }

    async fn charge_owner(&self, id: &ChargeId) -> StoreResult<Option<MerchantId>> {
        let fault = self.plan.enter("charge_owner").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in charge_owner")));
        }
        let result = self.inner.charge_owner(id).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after charge_owner")));
        }
        result
    }

    async fn charge_by_payment_token(&self, token: &str) -> StoreResult<Option<Charge>> {
        let fault = self.plan.enter("charge_by_payment_token").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in charge_by_payment_token")));
        }
        let result = self.inner.charge_by_payment_token(token).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after charge_by_payment_token")));
        }
        result
    }

    async fn update_charge(&self, charge: &Charge, expected_version: u64) -> StoreResult<()> {
        let fault = self.plan.enter("update_charge").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in update_charge")));
        }
        let result = self.inner.update_charge(charge, expected_version).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after update_charge")));
        }
        result
    }

    async fn open_charges(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>> {
        let fault = self.plan.enter("open_charges").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in open_charges")));
        }
        let result = self.inner.open_charges(merchant, limit, cursor).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after open_charges")));
        }
        result
    }

    async fn charges_of_customer(&self, merchant: &MerchantId, customer: &CustomerId) -> StoreResult<Vec<Charge>> {
        let fault = self.plan.enter("charges_of_customer").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in charges_of_customer")));
        }
        let result = self.inner.charges_of_customer(merchant, customer).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after charges_of_customer")));
        }
        result
    }

    async fn reminders_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<Reminder>> {
        let fault = self.plan.enter("reminders_of").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in reminders_of")));
        }
        let result = self.inner.reminders_of(merchant, charge).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after reminders_of")));
        }
        result
    }

    async fn get_reminder(&self, merchant: &MerchantId, charge: &ChargeId, reminder_id: &str) -> StoreResult<Option<Reminder>> {
        let fault = self.plan.enter("get_reminder").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in get_reminder")));
        }
        let result = self.inner.get_reminder(merchant, charge, reminder_id).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after get_reminder")));
        }
        result
    }

    async fn add_reminder(&self, reminder: &Reminder) -> StoreResult<bool> {
        let fault = self.plan.enter("add_reminder").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in add_reminder")));
        }
        let result = self.inner.add_reminder(reminder).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after add_reminder")));
        }
        result
    }

    async fn due_reminders(&self, bucket: &DueBucket, until: DateTime<Utc>, limit: usize, cursor: Option<String>) -> StoreResult<Page<Reminder>> {
        let fault = self.plan.enter("due_reminders").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in due_reminders")));
        }
        let result = self.inner.due_reminders(bucket, until, limit, cursor).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after due_reminders")));
        }
        result
    }

    async fn transition_reminder(&self, reminder: &Reminder, from: &[&str], to: ReminderState, now: DateTime<Utc>) -> StoreResult<bool> {
        let fault = self.plan.enter("transition_reminder").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in transition_reminder")));
        }
        let result = self.inner.transition_reminder(reminder, from, to, now).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after transition_reminder")));
        }
        result
    }

    async fn tick_watermark(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let fault = self.plan.enter("tick_watermark").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in tick_watermark")));
        }
        let result = self.inner.tick_watermark().await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after tick_watermark")));
        }
        result
    }

    async fn advance_tick_watermark(&self, to: DateTime<Utc>) -> StoreResult<()> {
        let fault = self.plan.enter("advance_tick_watermark").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in advance_tick_watermark")));
        }
        let result = self.inner.advance_tick_watermark(to).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after advance_tick_watermark")));
        }
        result
    }

    async fn reserve_contact(&self, merchant: &MerchantId, customer: &CustomerId, counter: &ContactCounter, cap: u32, message: &str) -> StoreResult<bool> {
        let fault = self.plan.enter("reserve_contact").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in reserve_contact")));
        }
        let result = self.inner.reserve_contact(merchant, customer, counter, cap, message).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after reserve_contact")));
        }
        result
    }

    async fn append_to_ledger(&self, payment: &LedgerEntry, settled: Option<(&Charge, u64)>) -> StoreResult<PaymentRecorded> {
        let fault = self.plan.enter("append_to_ledger").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in append_to_ledger")));
        }
        let result = self.inner.append_to_ledger(payment, settled).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after append_to_ledger")));
        }
        result
    }

    async fn ledger_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<LedgerEntry>> {
        let fault = self.plan.enter("ledger_of").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in ledger_of")));
        }
        let result = self.inner.ledger_of(merchant, charge).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after ledger_of")));
        }
        result
    }

    async fn add_pending_reversal(&self, notice: &crate::webhook::PaymentNotice) -> StoreResult<()> {
        let fault = self.plan.enter("add_pending_reversal").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in add_pending_reversal")));
        }
        let result = self.inner.add_pending_reversal(notice).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after add_pending_reversal")));
        }
        result
    }

    async fn pending_reversals(&self, provider: &str, payment: &str) -> StoreResult<Vec<crate::webhook::PaymentNotice>> {
        let fault = self.plan.enter("pending_reversals").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in pending_reversals")));
        }
        let result = self.inner.pending_reversals(provider, payment).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after pending_reversals")));
        }
        result
    }

    async fn ledger_between(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<LedgerEntry>> {
        let fault = self.plan.enter("ledger_between").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in ledger_between")));
        }
        let result = self.inner.ledger_between(merchant, from, to).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after ledger_between")));
        }
        result
    }

    async fn unmatched_of(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<UnmatchedPayment>> {
        let fault = self.plan.enter("unmatched_of").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in unmatched_of")));
        }
        let result = self.inner.unmatched_of(merchant, from, to).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after unmatched_of")));
        }
        result
    }

    async fn put_unmatched(&self, unmatched: &UnmatchedPayment) -> StoreResult<bool> {
        let fault = self.plan.enter("put_unmatched").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in put_unmatched")));
        }
        let result = self.inner.put_unmatched(unmatched).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after put_unmatched")));
        }
        result
    }

    async fn unmatched(&self, provider: &str) -> StoreResult<Vec<UnmatchedPayment>> {
        let fault = self.plan.enter("unmatched").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in unmatched")));
        }
        let result = self.inner.unmatched(provider).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after unmatched")));
        }
        result
    }

    async fn add_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()> {
        let fault = self.plan.enter("add_webhook_endpoint").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in add_webhook_endpoint")));
        }
        let result = self.inner.add_webhook_endpoint(endpoint).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after add_webhook_endpoint")));
        }
        result
    }

    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint, expected_version: u64) -> StoreResult<()> {
        let fault = self.plan.enter("update_webhook_endpoint").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in update_webhook_endpoint")));
        }
        let result = self.inner.update_webhook_endpoint(endpoint, expected_version).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after update_webhook_endpoint")));
        }
        result
    }

    async fn get_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>> {
        let fault = self.plan.enter("get_webhook_endpoint").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in get_webhook_endpoint")));
        }
        let result = self.inner.get_webhook_endpoint(merchant, id).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after get_webhook_endpoint")));
        }
        result
    }

    async fn webhook_endpoints_of(&self, merchant: &MerchantId) -> StoreResult<Vec<WebhookEndpoint>> {
        let fault = self.plan.enter("webhook_endpoints_of").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in webhook_endpoints_of")));
        }
        let result = self.inner.webhook_endpoints_of(merchant).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after webhook_endpoints_of")));
        }
        result
    }

    async fn delete_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<bool> {
        let fault = self.plan.enter("delete_webhook_endpoint").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in delete_webhook_endpoint")));
        }
        let result = self.inner.delete_webhook_endpoint(merchant, id).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after delete_webhook_endpoint")));
        }
        result
    }

    async fn add_webhook_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<bool> {
        let fault = self.plan.enter("add_webhook_delivery").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in add_webhook_delivery")));
        }
        let result = self.inner.add_webhook_delivery(delivery).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after add_webhook_delivery")));
        }
        result
    }

    async fn update_webhook_delivery(&self, delivery: &WebhookDelivery, expected_version: u64) -> StoreResult<()> {
        let fault = self.plan.enter("update_webhook_delivery").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in update_webhook_delivery")));
        }
        let result = self.inner.update_webhook_delivery(delivery, expected_version).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after update_webhook_delivery")));
        }
        result
    }

    async fn get_webhook_delivery(&self, merchant: &MerchantId, id: &WebhookMessageId) -> StoreResult<Option<WebhookDelivery>> {
        let fault = self.plan.enter("get_webhook_delivery").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in get_webhook_delivery")));
        }
        let result = self.inner.get_webhook_delivery(merchant, id).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after get_webhook_delivery")));
        }
        result
    }

    async fn webhook_deliveries_of(&self, merchant: &MerchantId, endpoint: &WebhookEndpointId, limit: usize, cursor: Option<String>) -> StoreResult<Page<WebhookDelivery>> {
        let fault = self.plan.enter("webhook_deliveries_of").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in webhook_deliveries_of")));
        }
        let result = self.inner.webhook_deliveries_of(merchant, endpoint, limit, cursor).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after webhook_deliveries_of")));
        }
        result
    }

    async fn idempotency_begin(&self, merchant: &MerchantId, key: &str, request_hash: &str, now: DateTime<Utc>) -> StoreResult<IdempotencyBegin> {
        let fault = self.plan.enter("idempotency_begin").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in idempotency_begin")));
        }
        let result = self.inner.idempotency_begin(merchant, key, request_hash, now).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after idempotency_begin")));
        }
        result
    }

    async fn idempotency_complete(&self, merchant: &MerchantId, key: &str, request_hash: &str, response: &SavedResponse, now: DateTime<Utc>) -> StoreResult<()> {
        let fault = self.plan.enter("idempotency_complete").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in idempotency_complete")));
        }
        let result = self.inner.idempotency_complete(merchant, key, request_hash, response, now).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after idempotency_complete")));
        }
        result
    }

    async fn idempotency_abort(&self, merchant: &MerchantId, key: &str) -> StoreResult<()> {
        let fault = self.plan.enter("idempotency_abort").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in idempotency_abort")));
        }
        let result = self.inner.idempotency_abort(merchant, key).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after idempotency_abort")));
        }
        result
    }

    async fn save_notification(&self, record: &NotificationRecord) -> StoreResult<()> {
        let fault = self.plan.enter("save_notification").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in save_notification")));
        }
        let result = self.inner.save_notification(record).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after save_notification")));
        }
        result
    }

    async fn get_notification(&self, merchant: &MerchantId, charge: &ChargeId, reminder_id: &str) -> StoreResult<Option<NotificationRecord>> {
        let fault = self.plan.enter("get_notification").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in get_notification")));
        }
        let result = self.inner.get_notification(merchant, charge, reminder_id).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after get_notification")));
        }
        result
    }

    async fn notifications_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<NotificationRecord>> {
        let fault = self.plan.enter("notifications_of").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in notifications_of")));
        }
        let result = self.inner.notifications_of(merchant, charge).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after notifications_of")));
        }
        result
    }

    async fn suppress_recipient(&self, merchant: &MerchantId, recipient_key: &str, reason: &str) -> StoreResult<()> {
        let fault = self.plan.enter("suppress_recipient").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in suppress_recipient")));
        }
        let result = self.inner.suppress_recipient(merchant, recipient_key, reason).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after suppress_recipient")));
        }
        result
    }

    async fn recipient_suppressed(&self, merchant: &MerchantId, recipient_key: &str) -> StoreResult<Option<String>> {
        let fault = self.plan.enter("recipient_suppressed").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in recipient_suppressed")));
        }
        let result = self.inner.recipient_suppressed(merchant, recipient_key).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after recipient_suppressed")));
        }
        result
    }

    async fn add_spend(&self, merchant: &MerchantId, month: &str, channel: Channel, price: Decimal, unit: Option<&str>) -> StoreResult<Decimal> {
        let fault = self.plan.enter("add_spend").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in add_spend")));
        }
        let result = self.inner.add_spend(merchant, month, channel, price, unit).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after add_spend")));
        }
        result
    }

    async fn spend_of(&self, merchant: &MerchantId, month: &str) -> StoreResult<BTreeMap<Channel, ChannelSpend>> {
        let fault = self.plan.enter("spend_of").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in spend_of")));
        }
        let result = self.inner.spend_of(merchant, month).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after spend_of")));
        }
        result
    }

    async fn put_merchant_document(&self, merchant: &MerchantId, key: &str, value: &serde_json::Value) -> StoreResult<()> {
        let fault = self.plan.enter("put_merchant_document").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in put_merchant_document")));
        }
        let result = self.inner.put_merchant_document(merchant, key, value).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after put_merchant_document")));
        }
        result
    }

    async fn get_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<Option<serde_json::Value>> {
        let fault = self.plan.enter("get_merchant_document").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in get_merchant_document")));
        }
        let result = self.inner.get_merchant_document(merchant, key).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after get_merchant_document")));
        }
        result
    }

    async fn merchant_documents(&self, merchant: &MerchantId, prefix: &str) -> StoreResult<Vec<(String, serde_json::Value)>> {
        let fault = self.plan.enter("merchant_documents").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in merchant_documents")));
        }
        let result = self.inner.merchant_documents(merchant, prefix).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after merchant_documents")));
        }
        result
    }

    async fn delete_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<bool> {
        let fault = self.plan.enter("delete_merchant_document").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in delete_merchant_document")));
        }
        let result = self.inner.delete_merchant_document(merchant, key).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after delete_merchant_document")));
        }
        result
    }

    async fn record_outbox(&self, entry: &OutboxEntry) -> StoreResult<bool> {
        let fault = self.plan.enter("record_outbox").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in record_outbox")));
        }
        let result = self.inner.record_outbox(entry).await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after record_outbox")));
        }
        result
    }

    async fn outbox(&self) -> StoreResult<Vec<OutboxEntry>> {
        let fault = self.plan.enter("outbox").await;
        if fault == Fault::Before {
            return Err(StoreError::Unavailable(format!("injected fault in outbox")));
        }
        let result = self.inner.outbox().await;
        if fault == Fault::After && result.is_ok() {
            return Err(StoreError::Unavailable(format!("injected timeout after outbox")));
        }
        result
    }
}

pub struct FaultyQueue<'a> {
    pub inner: &'a dyn JobQueue,
    pub plan: Arc<FaultPlan>,
}

#[async_trait]
impl JobQueue for FaultyQueue<'_> {
    async fn enqueue(&self, jobs: &[NotificationJob]) -> Result<(), EnqueueError> {
        let fault = self.plan.enter("enqueue").await;
        if fault == Fault::Before {
            return Err(EnqueueError("injected fault in enqueue".into()));
        }
        let result = self.inner.enqueue(jobs).await;
        if fault == Fault::After && result.is_ok() {
            return Err(EnqueueError("injected timeout after enqueue".into()));
        }
        result
    }

    async fn enqueue_setup(&self, jobs: &[PaymentSetupJob]) -> Result<(), EnqueueError> {
        let fault = self.plan.enter("enqueue_setup").await;
        if fault == Fault::Before {
            return Err(EnqueueError("injected fault in enqueue_setup".into()));
        }
        let result = self.inner.enqueue_setup(jobs).await;
        if fault == Fault::After && result.is_ok() {
            return Err(EnqueueError("injected timeout after enqueue_setup".into()));
        }
        result
    }

    async fn enqueue_webhooks(&self, jobs: &[WebhookJob]) -> Result<(), EnqueueError> {
        let fault = self.plan.enter("enqueue_webhooks").await;
        if fault == Fault::Before {
            return Err(EnqueueError("injected fault in enqueue_webhooks".into()));
        }
        let result = self.inner.enqueue_webhooks(jobs).await;
        if fault == Fault::After && result.is_ok() {
            return Err(EnqueueError("injected timeout after enqueue_webhooks".into()));
        }
        result
    }
}

pub struct FaultyEventBus<'a> {
    pub inner: &'a dyn EventBus,
    pub plan: Arc<FaultPlan>,
}

#[async_trait]
impl EventBus for FaultyEventBus<'_> {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PublishError> {
        let fault = self.plan.enter("publish").await;
        if fault == Fault::Before {
            return Err(PublishError("injected fault in publish".into()));
        }
        let result = self.inner.publish(events).await;
        if fault == Fault::After && result.is_ok() {
            return Err(PublishError("injected timeout after publish".into()));
        }
        result
    }

    async fn continue_tick(&self, at: DateTime<Utc>) -> Result<(), PublishError> {
        let fault = self.plan.enter("continue_tick").await;
        if fault == Fault::Before {
            return Err(PublishError("injected fault in continue_tick".into()));
        }
        self.inner.continue_tick(at).await
    }
}
