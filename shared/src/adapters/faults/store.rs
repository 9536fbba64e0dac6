//! `FaultyStore`'s ports, one `impl` per aggregate's trait: every call goes through `FaultyStore::call`.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::*;
use crate::domain::channel_policy::ChannelSpend;
use crate::domain::charge::Charge;
use crate::domain::customer::Customer;
use crate::domain::ids::{ChargeId, CustomerId, MerchantId, WalletId, WebhookEndpointId, WebhookMessageId};
use crate::domain::merchant::{ApiKeyHash, Merchant};
use crate::domain::notification::{Channel, OutboxEntry};
use crate::domain::payment::{LedgerEntry, UnmatchedPayment};
use crate::domain::ruler::{Reminder, ReminderState, Ruler};
use crate::domain::tracking::NotificationRecord;
use crate::domain::wallet::Wallet;
use crate::service::merchant_webhooks::{WebhookDelivery, WebhookEndpoint};

#[async_trait]
impl MerchantStore for FaultyStore {
    async fn put_merchant(&self, merchant: &Merchant, key: &ApiKeyHash) -> StoreResult<()> {
        self.call("put_merchant", self.inner.put_merchant(merchant, key)).await
    }

    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Option<Merchant>> {
        self.call("get_merchant", self.inner.get_merchant(id)).await
    }

    async fn merchant_by_key(&self, key: &ApiKeyHash) -> StoreResult<Option<Merchant>> {
        self.call("merchant_by_key", self.inner.merchant_by_key(key)).await
    }

    async fn create_merchant(&self, merchant: &Merchant, first_key: &crate::domain::api_keys::ApiKeyRecord) -> StoreResult<bool> {
        self.call("create_merchant", self.inner.create_merchant(merchant, first_key)).await
    }
}

#[async_trait]
impl WalletStore for FaultyStore {
    async fn put_wallet(&self, wallet: &Wallet) -> StoreResult<()> {
        self.call("put_wallet", self.inner.put_wallet(wallet)).await
    }

    async fn get_wallet(&self, merchant: &MerchantId, id: &WalletId) -> StoreResult<Option<Wallet>> {
        self.call("get_wallet", self.inner.get_wallet(merchant, id)).await
    }

    async fn wallets_of(&self, merchant: &MerchantId) -> StoreResult<Vec<Wallet>> {
        self.call("wallets_of", self.inner.wallets_of(merchant)).await
    }
}

#[async_trait]
impl DocumentStore for FaultyStore {
    async fn put_merchant_document(&self, merchant: &MerchantId, key: &str, value: &serde_json::Value) -> StoreResult<()> {
        self.call("put_merchant_document", self.inner.put_merchant_document(merchant, key, value)).await
    }

    async fn get_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<Option<serde_json::Value>> {
        self.call("get_merchant_document", self.inner.get_merchant_document(merchant, key)).await
    }

    async fn merchant_documents(&self, merchant: &MerchantId, prefix: &str) -> StoreResult<Vec<(String, serde_json::Value)>> {
        self.call("merchant_documents", self.inner.merchant_documents(merchant, prefix)).await
    }

    async fn delete_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<bool> {
        self.call("delete_merchant_document", self.inner.delete_merchant_document(merchant, key)).await
    }
}

#[async_trait]
impl ApiKeyStore for FaultyStore {
    async fn add_api_key(
        &self,
        key: &crate::domain::api_keys::ApiKeyRecord,
        replacing: Option<(&crate::domain::api_keys::ApiKeyRecord, u64)>,
    ) -> StoreResult<()> {
        self.call("add_api_key", self.inner.add_api_key(key, replacing)).await
    }

    async fn update_api_key(&self, key: &crate::domain::api_keys::ApiKeyRecord, expected_version: u64) -> StoreResult<()> {
        self.call("update_api_key", self.inner.update_api_key(key, expected_version)).await
    }

    async fn get_api_key(
        &self,
        merchant: &MerchantId,
        id: &crate::domain::ids::ApiKeyId,
    ) -> StoreResult<Option<crate::domain::api_keys::ApiKeyRecord>> {
        self.call("get_api_key", self.inner.get_api_key(merchant, id)).await
    }

    async fn api_keys_of(&self, merchant: &MerchantId) -> StoreResult<Vec<crate::domain::api_keys::ApiKeyRecord>> {
        self.call("api_keys_of", self.inner.api_keys_of(merchant)).await
    }

    async fn api_key_by_hash(&self, hash: &ApiKeyHash) -> StoreResult<Option<crate::domain::api_keys::ApiKeyRecord>> {
        self.call("api_key_by_hash", self.inner.api_key_by_hash(hash)).await
    }

    async fn count_request(&self, key: &crate::domain::ids::ApiKeyId, window: DateTime<Utc>, limit: u32) -> StoreResult<Option<u32>> {
        self.call("count_request", self.inner.count_request(key, window, limit)).await
    }
}

#[async_trait]
impl CustomerStore for FaultyStore {
    async fn put_customer(&self, customer: &Customer) -> StoreResult<()> {
        self.call("put_customer", self.inner.put_customer(customer)).await
    }

    async fn get_customer(&self, merchant: &MerchantId, id: &CustomerId) -> StoreResult<Option<Customer>> {
        self.call("get_customer", self.inner.get_customer(merchant, id)).await
    }

    async fn list_customers(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Customer>> {
        self.call("list_customers", self.inner.list_customers(merchant, limit, cursor)).await
    }
}

#[async_trait]
impl ChargeStore for FaultyStore {
    async fn create_charge(&self, charge: &Charge, reminders: &[Reminder]) -> StoreResult<()> {
        self.call("create_charge", self.inner.create_charge(charge, reminders)).await
    }

    async fn get_charge(&self, merchant: &MerchantId, id: &ChargeId) -> StoreResult<Option<Charge>> {
        self.call("get_charge", self.inner.get_charge(merchant, id)).await
    }

    async fn charge_owner(&self, id: &ChargeId) -> StoreResult<Option<MerchantId>> {
        self.call("charge_owner", self.inner.charge_owner(id)).await
    }

    async fn charge_by_payment_token(&self, token: &str) -> StoreResult<Option<Charge>> {
        self.call("charge_by_payment_token", self.inner.charge_by_payment_token(token)).await
    }

    async fn update_charge(&self, charge: &Charge, expected_version: u64) -> StoreResult<()> {
        self.call("update_charge", self.inner.update_charge(charge, expected_version)).await
    }

    async fn open_charges(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>> {
        self.call("open_charges", self.inner.open_charges(merchant, limit, cursor)).await
    }

    async fn charges_of_customer(&self, merchant: &MerchantId, customer: &CustomerId) -> StoreResult<Vec<Charge>> {
        self.call("charges_of_customer", self.inner.charges_of_customer(merchant, customer)).await
    }

    async fn list_charges(&self, merchant: &MerchantId, query: &ChargeQuery, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>> {
        self.call("list_charges", self.inner.list_charges(merchant, query, limit, cursor)).await
    }

    async fn append_to_ledger(&self, payment: &LedgerEntry, settled: Option<(&Charge, u64)>) -> StoreResult<PaymentRecorded> {
        self.call("append_to_ledger", self.inner.append_to_ledger(payment, settled)).await
    }
}

#[async_trait]
impl ProviderReferenceStore for FaultyStore {
    async fn link_provider_reference(&self, provider: &str, reference: &str, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<()> {
        self.call("link_provider_reference", self.inner.link_provider_reference(provider, reference, merchant, charge)).await
    }

    async fn charge_of_provider_reference(&self, provider: &str, reference: &str) -> StoreResult<Option<(MerchantId, ChargeId)>> {
        self.call("charge_of_provider_reference", self.inner.charge_of_provider_reference(provider, reference)).await
    }

    async fn next_sequence(&self, name: &str) -> StoreResult<u64> {
        self.call("next_sequence", self.inner.next_sequence(name)).await
    }
}

#[async_trait]
impl CardAttemptStore for FaultyStore {
    async fn get_card_attempts(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Option<crate::domain::card_attempts::CardAttempts>> {
        self.call("get_card_attempts", self.inner.get_card_attempts(merchant, charge)).await
    }

    async fn put_card_attempts(&self, attempts: &crate::domain::card_attempts::CardAttempts, expected_version: Option<u64>) -> StoreResult<()> {
        self.call("put_card_attempts", self.inner.put_card_attempts(attempts, expected_version)).await
    }
}

#[async_trait]
impl ReminderStore for FaultyStore {
    async fn reminders_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<Reminder>> {
        self.call("reminders_of", self.inner.reminders_of(merchant, charge)).await
    }

    async fn get_reminder(&self, merchant: &MerchantId, charge: &ChargeId, reminder_id: &str) -> StoreResult<Option<Reminder>> {
        self.call("get_reminder", self.inner.get_reminder(merchant, charge, reminder_id)).await
    }

    async fn add_reminder(&self, reminder: &Reminder) -> StoreResult<bool> {
        self.call("add_reminder", self.inner.add_reminder(reminder)).await
    }

    async fn due_reminders(&self, bucket: &DueBucket, until: DateTime<Utc>, limit: usize, cursor: Option<String>) -> StoreResult<Page<Reminder>> {
        self.call("due_reminders", self.inner.due_reminders(bucket, until, limit, cursor)).await
    }

    async fn transition_reminder(&self, reminder: &Reminder, from: &[&str], to: ReminderState, now: DateTime<Utc>) -> StoreResult<bool> {
        self.call("transition_reminder", self.inner.transition_reminder(reminder, from, to, now)).await
    }

    async fn tick_watermark(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.call("tick_watermark", self.inner.tick_watermark()).await
    }

    async fn advance_tick_watermark(&self, to: DateTime<Utc>) -> StoreResult<()> {
        self.call("advance_tick_watermark", self.inner.advance_tick_watermark(to)).await
    }
}

#[async_trait]
impl LedgerStore for FaultyStore {
    async fn ledger_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<LedgerEntry>> {
        self.call("ledger_of", self.inner.ledger_of(merchant, charge)).await
    }

    async fn ledger_between(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<LedgerEntry>> {
        self.call("ledger_between", self.inner.ledger_between(merchant, from, to)).await
    }

    async fn add_pending_reversal(&self, notice: &crate::domain::payment_notice::PaymentNotice) -> StoreResult<()> {
        self.call("add_pending_reversal", self.inner.add_pending_reversal(notice)).await
    }

    async fn pending_reversals(&self, provider: &str, payment: &str) -> StoreResult<Vec<crate::domain::payment_notice::PaymentNotice>> {
        self.call("pending_reversals", self.inner.pending_reversals(provider, payment)).await
    }

    async fn put_unmatched(&self, unmatched: &UnmatchedPayment) -> StoreResult<bool> {
        self.call("put_unmatched", self.inner.put_unmatched(unmatched)).await
    }

    async fn unmatched_of(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<UnmatchedPayment>> {
        self.call("unmatched_of", self.inner.unmatched_of(merchant, from, to)).await
    }

    async fn unmatched(&self, provider: &str) -> StoreResult<Vec<UnmatchedPayment>> {
        self.call("unmatched", self.inner.unmatched(provider)).await
    }
}

#[async_trait]
impl RulerStore for FaultyStore {
    async fn get_ruler(&self, scope: &RulerScope) -> StoreResult<Option<Ruler>> {
        self.call("get_ruler", self.inner.get_ruler(scope)).await
    }

    async fn put_ruler(&self, scope: &RulerScope, ruler: &Ruler) -> StoreResult<()> {
        self.call("put_ruler", self.inner.put_ruler(scope, ruler)).await
    }
}

#[async_trait]
impl ReplanJobStore for FaultyStore {
    async fn save_replan_job(&self, job: &crate::service::schedule::ReplanJob, expected_version: Option<u64>) -> StoreResult<()> {
        self.call("save_replan_job", self.inner.save_replan_job(job, expected_version)).await
    }

    async fn get_replan_job(&self, scope: &crate::service::schedule::ReplanScope) -> StoreResult<Option<crate::service::schedule::ReplanJob>> {
        self.call("get_replan_job", self.inner.get_replan_job(scope)).await
    }

    async fn replan_jobs(&self, limit: usize) -> StoreResult<Vec<crate::service::schedule::ReplanJob>> {
        self.call("replan_jobs", self.inner.replan_jobs(limit)).await
    }

    async fn finish_replan_job(&self, scope: &crate::service::schedule::ReplanScope, expected_version: u64) -> StoreResult<bool> {
        self.call("finish_replan_job", self.inner.finish_replan_job(scope, expected_version)).await
    }
}

#[async_trait]
impl NotificationStore for FaultyStore {
    async fn save_notification(&self, record: &NotificationRecord) -> StoreResult<()> {
        self.call("save_notification", self.inner.save_notification(record)).await
    }

    async fn get_notification(&self, merchant: &MerchantId, charge: &ChargeId, reminder_id: &str) -> StoreResult<Option<NotificationRecord>> {
        self.call("get_notification", self.inner.get_notification(merchant, charge, reminder_id)).await
    }

    async fn notifications_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<NotificationRecord>> {
        self.call("notifications_of", self.inner.notifications_of(merchant, charge)).await
    }
}

#[async_trait]
impl ContactStore for FaultyStore {
    async fn reserve_contact(
        &self,
        merchant: &MerchantId,
        customer: &CustomerId,
        counter: &ContactCounter,
        cap: u32,
        message: &str,
    ) -> StoreResult<bool> {
        self.call("reserve_contact", self.inner.reserve_contact(merchant, customer, counter, cap, message)).await
    }

    async fn suppress_recipient(&self, merchant: &MerchantId, recipient_key: &str, reason: &str) -> StoreResult<()> {
        self.call("suppress_recipient", self.inner.suppress_recipient(merchant, recipient_key, reason)).await
    }

    async fn recipient_suppressed(&self, merchant: &MerchantId, recipient_key: &str) -> StoreResult<Option<String>> {
        self.call("recipient_suppressed", self.inner.recipient_suppressed(merchant, recipient_key)).await
    }

    async fn add_spend(
        &self,
        merchant: &MerchantId,
        month: &str,
        channel: Channel,
        price: Decimal,
        message: &str,
        unit: Option<&str>,
    ) -> StoreResult<Decimal> {
        self.call("add_spend", self.inner.add_spend(merchant, month, channel, price, message, unit)).await
    }

    async fn spend_of(&self, merchant: &MerchantId, month: &str) -> StoreResult<BTreeMap<Channel, ChannelSpend>> {
        self.call("spend_of", self.inner.spend_of(merchant, month)).await
    }
}

#[async_trait]
impl WebhookEndpointStore for FaultyStore {
    async fn add_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()> {
        self.call("add_webhook_endpoint", self.inner.add_webhook_endpoint(endpoint)).await
    }

    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint, expected_version: u64) -> StoreResult<()> {
        self.call("update_webhook_endpoint", self.inner.update_webhook_endpoint(endpoint, expected_version)).await
    }

    async fn get_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>> {
        self.call("get_webhook_endpoint", self.inner.get_webhook_endpoint(merchant, id)).await
    }

    async fn webhook_endpoints_of(&self, merchant: &MerchantId) -> StoreResult<Vec<WebhookEndpoint>> {
        self.call("webhook_endpoints_of", self.inner.webhook_endpoints_of(merchant)).await
    }

    async fn delete_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<bool> {
        self.call("delete_webhook_endpoint", self.inner.delete_webhook_endpoint(merchant, id)).await
    }
}

#[async_trait]
impl WebhookDeliveryStore for FaultyStore {
    async fn add_webhook_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<bool> {
        self.call("add_webhook_delivery", self.inner.add_webhook_delivery(delivery)).await
    }

    async fn update_webhook_delivery(&self, delivery: &WebhookDelivery, expected_version: u64) -> StoreResult<()> {
        self.call("update_webhook_delivery", self.inner.update_webhook_delivery(delivery, expected_version)).await
    }

    async fn get_webhook_delivery(&self, merchant: &MerchantId, id: &WebhookMessageId) -> StoreResult<Option<WebhookDelivery>> {
        self.call("get_webhook_delivery", self.inner.get_webhook_delivery(merchant, id)).await
    }

    async fn webhook_deliveries_of(
        &self,
        merchant: &MerchantId,
        endpoint: &WebhookEndpointId,
        limit: usize,
        cursor: Option<String>,
    ) -> StoreResult<Page<WebhookDelivery>> {
        self.call("webhook_deliveries_of", self.inner.webhook_deliveries_of(merchant, endpoint, limit, cursor)).await
    }
}

#[async_trait]
impl IdempotencyStore for FaultyStore {
    async fn idempotency_begin(&self, merchant: &MerchantId, key: &str, request_hash: &str, now: DateTime<Utc>) -> StoreResult<IdempotencyBegin> {
        self.call("idempotency_begin", self.inner.idempotency_begin(merchant, key, request_hash, now)).await
    }

    async fn idempotency_complete(
        &self,
        merchant: &MerchantId,
        key: &str,
        request_hash: &str,
        response: &SavedResponse,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.call("idempotency_complete", self.inner.idempotency_complete(merchant, key, request_hash, response, now)).await
    }

    async fn idempotency_abort(&self, merchant: &MerchantId, key: &str) -> StoreResult<()> {
        self.call("idempotency_abort", self.inner.idempotency_abort(merchant, key)).await
    }
}

#[async_trait]
impl SubscriptionStore for FaultyStore {
    async fn put_subscription(&self, sub: &crate::domain::recurrence::Subscription, expected_version: Option<u64>) -> StoreResult<()> {
        self.call("put_subscription", self.inner.put_subscription(sub, expected_version)).await
    }

    async fn get_subscription(
        &self,
        merchant: &MerchantId,
        id: &crate::domain::ids::SubscriptionId,
    ) -> StoreResult<Option<crate::domain::recurrence::Subscription>> {
        self.call("get_subscription", self.inner.get_subscription(merchant, id)).await
    }

    async fn list_subscriptions(
        &self,
        merchant: &MerchantId,
        limit: usize,
        cursor: Option<String>,
    ) -> StoreResult<Page<crate::domain::recurrence::Subscription>> {
        self.call("list_subscriptions", self.inner.list_subscriptions(merchant, limit, cursor)).await
    }

    async fn subscriptions_to_generate(&self, through: chrono::NaiveDate, limit: usize) -> StoreResult<Vec<crate::domain::recurrence::Subscription>> {
        self.call("subscriptions_to_generate", self.inner.subscriptions_to_generate(through, limit)).await
    }
}

#[async_trait]
impl OutboxStore for FaultyStore {
    async fn record_outbox(&self, entry: &OutboxEntry) -> StoreResult<bool> {
        self.call("record_outbox", self.inner.record_outbox(entry)).await
    }

    async fn outbox(&self) -> StoreResult<Vec<OutboxEntry>> {
        self.call("outbox", self.inner.outbox()).await
    }

    async fn replace_outbox(&self, entry: &OutboxEntry) -> StoreResult<()> {
        self.call("replace_outbox", self.inner.replace_outbox(entry)).await
    }
}
