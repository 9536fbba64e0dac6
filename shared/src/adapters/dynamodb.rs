//! The store on one DynamoDB table. The key design (see docs/dynamodb.md) in short:
//!
//! | item | PK | SK | indexes |
//! |---|---|---|---|
//! | merchant | `MER#{m}` | `MERCHANT` | |
//! | API key, found by its hash (authentication) | `APIKEY#{sha256}` | `APIKEY` | |
//! | API key, listed by merchant (same record, written with the above) | `MER#{m}#APIKEY` | `{key id}` | |
//! | request count of a key in a rate window | `RATE#{key id}#{window start, Unix s}` | `RATE` | TTL |
//! | customer | `MER#{m}#CUS#{c}` | `CUSTOMER` | gsi1: `MER#{m}#CUSTOMERS` / `{c}` |
//! | charge | `MER#{m}#CHG#{c}` | `CHARGE` | gsi1: `MER#{m}#CUS#{cus}` / `CHG#{due}#{c}`; gsi2: `MER#{m}#CHARGES` / `{due}#{c}` |
//! | charge owner | `CHGREF#{c}` | `CHGREF` | |
//! | provider reference (boleto, card sale) | `REF#{provider}#{reference}` | `REF` | |
//! | reminder | `MER#{m}#CHG#{c}` | `REM#{id}` | due (while pending): `DUE#{day}#{shard}` / `{time}#{c}#{id}` |
//! | provider event seen | `MER#{m}#WHK#{provider}#{event id}` | `WHK` | |
//! | ledger entry (payment, refund, chargeback) | `MER#{m}#CHG#{c}` | `PAY#{provider}#{provider id}` | gsi1: `MER#{m}#LEDGER#{yyyy-mm}` / `{day}#{ms}#{id}` |
//! | reversal awaiting its payment | `PENDREV#{provider}#{payment id}` | `{reversal id}` | |
//! | unmatched payment | `UNMATCHED#{provider}` | `{event id}` | gsi1 (if a merchant's): `MER#{m}#UNMATCHED` / `{day}#{event id}` |
//! | idempotency record | `MER#{m}#IDEM#{sha256(key)}` | `IDEM` | kept (a refusal: TTL) |
//! | tick watermark | `TICK` | `WATERMARK` | |
//! | queued re-plan of a merchant's / a customer's charges | `REPLAN` | `{m}` / `{m}#CUS#{c}` | |
//! | outbox entry (dev) | `OUTBOX` | `{c}#{reminder id}` | |
//! | webhook endpoint | `MER#{m}#WEP` | `{endpoint id}` | |
//! | webhook delivery | `MER#{m}#WHD#{msg id}` | `WHD` | gsi1: `MER#{m}#WEP#{endpoint}` / `{created ms}#{msg id}` |
//!
//! Domain objects are stored whole as JSON in `data`; the few attributes conditions need (`version`, `st`,
//! `lease`, `since`) sit beside it and are written together with it, always in the same request.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, TimeZone, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::adapters::index_time_key;
use crate::adapters::layout::{charge_pk, customer_pk, document_pk, merchant_pk, outbox_sk, payment_token_pk, provider_event_pk, reference_pk, replan_sk, ruler_key, sequence_pk, sha256_hex, suppressed_pk, unmatched_pk};
use crate::api_keys::ApiKeyRecord;
use crate::charge::Charge;
use crate::customer::Customer;
use crate::ids::{ChargeId, CustomerId, MerchantId, WalletId, WebhookEndpointId, WebhookMessageId};
use crate::merchant_webhooks::{WebhookDelivery, WebhookEndpoint};
use crate::wallet::Wallet;
use crate::merchant::{ApiKeyHash, Merchant};
use crate::notification::OutboxEntry;
use crate::payment::{LedgerEntry, UnmatchedPayment};
use crate::ruler::{Reminder, ReminderState, Ruler};
use crate::store::*;

type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Load tests and benchmarks only: writes charges and their reminders as `create_charge` would lay them out,
    /// with BatchWriteItem (25 items a call, unconditional, unprocessed items retried) instead of one transaction
    /// per charge. Not for production data: it skips the owner and payment-token references.
    pub async fn seed_charges(&self, charges: &[(Charge, Vec<Reminder>)]) -> StoreResult<()> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let items: Vec<Item> = charges.iter().flat_map(|(c, rs)| std::iter::once(charge_item(c)).chain(rs.iter().map(reminder_item))).collect();
        for chunk in items.chunks(super::limits::MAX_BATCH_WRITE_ITEMS) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|i| WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(i.clone())).build().expect("item set")).build())
                .collect();
            for attempt in 0..10u64 {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending.clone())
                    .send()
                    .await
                    .map_err(unavailable)?;
                pending = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20 * (attempt + 1))).await;
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable(format!("{} items left unprocessed", pending.len())));
            }
        }
        Ok(())
    }

    async fn get(&self, pk: String, sk: &str) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    /// Replaces an item if its stored `version` is `expected` (optimistic concurrency).
    async fn put_versioned(&self, mut item: Item, version: u64, expected: u64) -> StoreResult<()> {
        item.insert("version".into(), n(version));
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// A put that must not overwrite: true if written, false if the item existed.
    async fn put_new(&self, item: Item) -> StoreResult<bool> {
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        conditional(r)
    }

    /// One page of a query on a secondary index, items parsed, with the cursor of the next page.
    async fn index_page<T: DeserializeOwned>(
        &self,
        index: &str,
        condition: &str,
        values: &[(&str, String)],
        limit: Option<usize>,
        cursor: Option<String>,
    ) -> StoreResult<Page<T>> {
        self.index_page_ordered(index, condition, values, limit, cursor, true).await
    }

    /// Every page of an index query, items parsed.
    async fn index_all<T: DeserializeOwned>(&self, index: &str, condition: &str, values: &[(&str, String)]) -> StoreResult<Vec<T>> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page: Page<T> = self.index_page(index, condition, values, None, cursor).await?;
            out.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    async fn index_page_ordered<T: DeserializeOwned>(
        &self,
        index: &str,
        condition: &str,
        values: &[(&str, String)],
        limit: Option<usize>,
        cursor: Option<String>,
        ascending: bool,
    ) -> StoreResult<Page<T>> {
        let start = cursor.map(|c| decode_cursor(&c, condition, values)).transpose()?;
        let mut query = self.client.query().table_name(&self.table).index_name(index).key_condition_expression(condition);
        for (name, value) in values {
            query = query.expression_attribute_values(*name, s(value.clone()));
        }
        let page = query
            .scan_index_forward(ascending)
            .set_limit(limit.map(|l| l as i32))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let items = page.items.unwrap_or_default().iter().map(parse_data).collect::<StoreResult<Vec<T>>>()?;
        Ok(Page { items, next: encode_cursor(page.last_evaluated_key) })
    }

    async fn query_all(&self, pk: String, sk_prefix: &str) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_values(":pk", s(pk.clone()))
                .consistent_read(true);
            // DynamoDB refuses an empty begins_with prefix.
            query = if sk_prefix.is_empty() {
                query.key_condition_expression("PK = :pk")
            } else {
                query.key_condition_expression("PK = :pk AND begins_with(SK, :sk)").expression_attribute_values(":sk", s(sk_prefix))
            };
            let page = query
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn data_item<T: Serialize>(pk: String, sk: impl Into<String>, value: &T) -> Item {
    let mut item = Item::new();
    item.insert("PK".into(), s(pk));
    item.insert("SK".into(), s(sk));
    item.insert("data".into(), s(serde_json::to_string(value).expect("domain types serialise")));
    item
}

fn parse_data<T: DeserializeOwned>(item: &Item) -> StoreResult<T> {
    let key = || format!("{:?}/{:?}", item.get("PK"), item.get("SK"));
    let raw = item
        .get("data")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt { key: key(), message: "no data attribute".into() })?;
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt { key: key(), message: e.to_string() })
}

/// Page cursors are the LastEvaluatedKey (all string attributes) as JSON.
fn encode_cursor(key: Option<Item>) -> Option<String> {
    let key = key.filter(|k| !k.is_empty())?;
    let keys: HashMap<String, String> = key.into_iter().filter_map(|(name, v)| v.as_s().ok().map(|s| (name, s.clone()))).collect();
    Some(serde_json::to_string(&keys).expect("string map serialises"))
}

/// A cursor is taken back only for the query that issued it: exactly the table's and the index's key attributes
/// (`XPK` is paired with `XSK`), in the partition the query reads. Anything else would be an error from DynamoDB
/// (a 500), or a page of another partition.
fn decode_cursor(c: &str, condition: &str, values: &[(&str, String)]) -> StoreResult<Item> {
    let keys: HashMap<String, String> = serde_json::from_str(c).map_err(|_| StoreError::InvalidCursor)?;
    let index_pk = condition.split_whitespace().next().unwrap_or_default();
    let index_sk = index_pk.strip_suffix("PK").map(|p| format!("{p}SK")).unwrap_or_default();
    let partition = values.iter().find(|(name, _)| condition.starts_with(&format!("{index_pk} = {name}"))).map(|(_, v)| v);
    let shape = keys.len() == 4 && ["PK", "SK", index_pk, &index_sk].iter().all(|k| keys.contains_key(*k));
    if !shape || keys.get(index_pk) != partition {
        return Err(StoreError::InvalidCursor);
    }
    Ok(keys.into_iter().map(|(k, v)| (k, s(v))).collect())
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn ledger_month_pk(merchant: &MerchantId, day: chrono::NaiveDate) -> String {
    format!("MER#{merchant}#LEDGER#{}", day.format("%Y-%m"))
}

fn webhook_delivery_item(d: &WebhookDelivery) -> Item {
    let mut item = data_item(format!("MER#{}#WHD#{}", d.merchant_id, d.id), "WHD", d);
    item.insert("GSI1PK".into(), s(format!("MER#{}#WEP#{}", d.merchant_id, d.endpoint_id)));
    item.insert("GSI1SK".into(), s(format!("{:013}#{}", d.created_at.timestamp_millis(), d.id)));
    item
}

/// A key's two items: listed under its merchant, and found by its hash (with `merchant_id` beside the data, as
/// keys stored before keys were records have it).
fn api_key_items(k: &ApiKeyRecord) -> (Item, Item) {
    let mut listed = data_item(format!("MER#{}#APIKEY", k.merchant_id), k.id.as_str(), k);
    listed.insert("version".into(), n(k.version));
    let mut by_hash = data_item(format!("APIKEY#{}", k.hash.as_str()), "APIKEY", k);
    by_hash.insert("merchant_id".into(), s(k.merchant_id.as_str()));
    by_hash.insert("version".into(), n(k.version));
    (listed, by_hash)
}

fn customer_item(c: &Customer) -> Item {
    let mut item = data_item(customer_pk(&c.merchant_id, &c.id), "CUSTOMER", c);
    item.insert("GSI1PK".into(), s(format!("MER#{}#CUSTOMERS", c.merchant_id)));
    item.insert("GSI1SK".into(), s(c.id.as_str()));
    item
}

/// A subscription: listed per merchant through gsi2, and in the sparse generation index (gsi1, one `SUBGEN`
/// partition: a day's due subscriptions are few, and read once per run) while it has charges to generate.
fn subscription_item(sub: &crate::recurrence::Subscription) -> Item {
    let mut item = data_item(format!("MER#{}#SUB#{}", sub.merchant_id, sub.id), "SUBSCRIPTION", sub);
    item.insert("version".into(), n(sub.version));
    item.insert("GSI2PK".into(), s(format!("MER#{}#SUBSCRIPTIONS", sub.merchant_id)));
    item.insert("GSI2SK".into(), s(sub.id.as_str()));
    if let Some(on) = sub.generate_on() {
        item.insert("GSI1PK".into(), s("SUBGEN"));
        item.insert("GSI1SK".into(), s(format!("{on}#{}#{}", sub.merchant_id, sub.id)));
    }
    item
}

fn charge_item(c: &Charge) -> Item {
    let mut item = data_item(charge_pk(&c.merchant_id, &c.id), "CHARGE", c);
    item.insert("version".into(), n(c.version));
    item.insert("status".into(), s(c.status.as_str()));
    item.insert("GSI1PK".into(), s(customer_pk(&c.merchant_id, &c.customer_id)));
    item.insert("GSI1SK".into(), s(format!("CHG#{}#{}", c.due_date.date(), c.id)));
    // Every charge of a merchant by due date: listings and the receivables/delinquency reports read it.
    item.insert("GSI2PK".into(), s(format!("MER#{}#CHARGES", c.merchant_id)));
    item.insert("GSI2SK".into(), s(format!("{}#{}", c.due_date.date(), c.id)));
    // Sparse: only open charges are in the `open` index (re-planning a merchant's charges reads it).
    if c.status.is_open() {
        item.insert("OPENPK".into(), s(format!("MER#{}#OPEN", c.merchant_id)));
        item.insert("OPENSK".into(), s(format!("{}#{}", c.due_date.date(), c.id)));
    }
    item
}

fn reminder_item(r: &Reminder) -> Item {
    let mut item = data_item(charge_pk(&r.merchant_id, &r.charge_id), format!("REM#{}", r.id()), r);
    item.insert("st".into(), s(r.state.name()));
    match &r.state {
        ReminderState::Queued { lease_until, .. } => {
            item.insert("lease".into(), n(millis(*lease_until)));
        }
        ReminderState::Sending { since, .. } => {
            item.insert("since".into(), n(millis(*since)));
        }
        ReminderState::Failed { redrivable: true, .. } => {
            item.insert("redrivable".into(), AttributeValue::Bool(true));
        }
        _ => {}
    }
    // Only pending reminders are in the (sparse) due-work index.
    if let Some(at) = r.index_time() {
        item.insert("DUEPK".into(), s(DueBucket::of(r, at).key()));
        item.insert("DUESK".into(), s(format!("{}#{}#{}", index_time_key(at), r.charge_id, r.id())));
    }
    item
}

/// A failed call: a hard limit DynamoDB refused (retrying cannot help), else the backend's failure.
fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = DisplayErrorContext(&e).to_string();
    match crate::adapters::limits::from_dynamodb_message(&text) {
        Some(limit) => StoreError::LimitExceeded(limit),
        None => StoreError::Unavailable(text),
    }
}

/// The outcome of a conditional write: true if it happened, false if its condition did not hold.
fn conditional<T, E, R>(r: Result<T, SdkError<E, R>>) -> StoreResult<bool>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match r {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failure(&e) => Ok(false),
        Err(e) => Err(unavailable(e)),
    }
}

fn is_condition_failure<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|se| se.code()) == Some("ConditionalCheckFailedException")
}

/// For a cancelled transaction: which of its items failed their condition.
fn cancelled_conditions<R>(e: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>) -> Option<Vec<bool>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
    match e.as_service_error()? {
        E::TransactionCanceledException(tc) => Some(
            tc.cancellation_reasons()
                .iter()
                .map(|r| r.code() == Some("ConditionalCheckFailed"))
                .collect(),
        ),
        _ => None,
    }
}

fn put(item: Item, condition: Option<&str>, values: Option<HashMap<String, AttributeValue>>) -> TransactWriteItem {
    let p = Put::builder()
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_string))
        .set_expression_attribute_values(values)
        .table_name("") // replaced by the caller
        .build()
        .expect("item and table are set");
    TransactWriteItem::builder().put(p).build()
}

impl DynamoStore {
    fn put_in_table(&self, item: Item, condition: Option<&str>, values: Option<HashMap<String, AttributeValue>>) -> TransactWriteItem {
        let mut w = put(item, condition, values);
        if let Some(p) = w.put.as_mut() {
            p.table_name = self.table.clone();
        }
        w
    }
}

/// `attribute_exists(PK) AND (a OR (b AND c))`, with no redundant parentheses: DynamoDB rejects them.
fn state_condition(clauses: &[String]) -> String {
    let wrap = |c: &String| if c.contains(" AND ") { format!("({c})") } else { c.clone() };
    match clauses {
        [one] => format!("attribute_exists(PK) AND {one}"),
        many => format!("attribute_exists(PK) AND ({})", many.iter().map(wrap).collect::<Vec<_>>().join(" OR ")),
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn put_merchant(&self, merchant: &Merchant, key: &ApiKeyHash) -> StoreResult<()> {
        let (listed, by_hash) = api_key_items(&ApiKeyRecord::registered(&merchant.id, key, merchant.created_at));
        self.client
            .transact_write_items()
            .transact_items(self.put_in_table(data_item(merchant_pk(&merchant.id), "MERCHANT", merchant), None, None))
            .transact_items(self.put_in_table(listed, None, None))
            .transact_items(self.put_in_table(by_hash, None, None))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_merchant(&self, id: &MerchantId) -> StoreResult<Option<Merchant>> {
        self.get(merchant_pk(id), "MERCHANT").await?.map(|i| parse_data(&i)).transpose()
    }

    async fn merchant_by_key(&self, key: &ApiKeyHash) -> StoreResult<Option<Merchant>> {
        let Some(item) = self.get(format!("APIKEY#{}", key.as_str()), "APIKEY").await? else {
            return Ok(None);
        };
        let Some(id) = item.get("merchant_id").and_then(|v| v.as_s().ok()).and_then(|s| MerchantId::parse(s).ok()) else {
            return Err(StoreError::Corrupt { key: "APIKEY".into(), message: "no merchant_id".into() });
        };
        self.get_merchant(&id).await
    }

    async fn create_merchant(&self, merchant: &Merchant, first_key: &ApiKeyRecord) -> StoreResult<bool> {
        let (listed, by_hash) = api_key_items(first_key);
        let new = Some("attribute_not_exists(PK)");
        let r = self
            .client
            .transact_write_items()
            .transact_items(self.put_in_table(data_item(merchant_pk(&merchant.id), "MERCHANT", merchant), new, None))
            .transact_items(self.put_in_table(listed, new, None))
            .transact_items(self.put_in_table(by_hash, new, None))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) => match cancelled_conditions(&e) {
                Some(failed) if failed.first() == Some(&true) => Ok(false),
                Some(failed) if failed.contains(&true) => Err(StoreError::Conflict),
                _ => Err(unavailable(e)),
            },
        }
    }

    async fn add_api_key(&self, key: &ApiKeyRecord, replacing: Option<(&ApiKeyRecord, u64)>) -> StoreResult<()> {
        let (listed, by_hash) = api_key_items(key);
        let new = Some("attribute_not_exists(PK)");
        let mut tx = self.client.transact_write_items().transact_items(self.put_in_table(listed, new, None)).transact_items(self.put_in_table(by_hash, new, None));
        if let Some((old, expected)) = replacing {
            let (listed, by_hash) = api_key_items(old);
            let values = || Some(HashMap::from([(":v".to_string(), n(expected))]));
            tx = tx.transact_items(self.put_in_table(listed, Some("version = :v"), values())).transact_items(self.put_in_table(by_hash, Some("version = :v"), values()));
        }
        match tx.send().await {
            Ok(_) => Ok(()),
            Err(e) if cancelled_conditions(&e).is_some_and(|f| f.contains(&true)) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn update_api_key(&self, key: &ApiKeyRecord, expected_version: u64) -> StoreResult<()> {
        let (listed, by_hash) = api_key_items(key);
        let values = || Some(HashMap::from([(":v".to_string(), n(expected_version))]));
        let r = self
            .client
            .transact_write_items()
            .transact_items(self.put_in_table(listed, Some("version = :v"), values()))
            .transact_items(self.put_in_table(by_hash, Some("version = :v"), values()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if cancelled_conditions(&e).is_some_and(|f| f.contains(&true)) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_api_key(&self, merchant: &MerchantId, id: &crate::ids::ApiKeyId) -> StoreResult<Option<ApiKeyRecord>> {
        self.get(format!("MER#{merchant}#APIKEY"), id.as_str()).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn api_keys_of(&self, merchant: &MerchantId) -> StoreResult<Vec<ApiKeyRecord>> {
        self.query_all(format!("MER#{merchant}#APIKEY"), "").await?.iter().map(parse_data).collect()
    }

    async fn api_key_by_hash(&self, hash: &ApiKeyHash) -> StoreResult<Option<ApiKeyRecord>> {
        let Some(item) = self.get(format!("APIKEY#{}", hash.as_str()), "APIKEY").await? else {
            return Ok(None);
        };
        if item.contains_key("data") {
            return parse_data(&item).map(Some);
        }
        // A key stored before keys were records: only its merchant is known; it works as registered.
        let Some(merchant) = item.get("merchant_id").and_then(|v| v.as_s().ok()).and_then(|s| MerchantId::parse(s).ok()) else {
            return Err(StoreError::Corrupt { key: "APIKEY".into(), message: "no merchant_id".into() });
        };
        Ok(Some(ApiKeyRecord::registered(&merchant, hash, DateTime::UNIX_EPOCH)))
    }

    async fn count_request(&self, key: &crate::ids::ApiKeyId, window: DateTime<Utc>, limit: u32) -> StoreResult<Option<u32>> {
        use aws_sdk_dynamodb::types::ReturnValue;
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(format!("RATE#{key}#{}", window.timestamp())))
            .key("SK", s("RATE"))
            // One atomic increment, refused once the window is full: no read, no race between concurrent requests.
            .update_expression("ADD #n :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#n) OR #n < :limit")
            .expression_attribute_names("#n", "requests")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":ttl", n(window.timestamp() + 2 * crate::api_keys::RATE_WINDOW_SECONDS))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match r {
            Ok(out) => {
                let count = out.attributes.as_ref().and_then(|a| a.get("requests")).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok());
                Ok(Some(count.unwrap_or(limit)))
            }
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn put_wallet(&self, wallet: &Wallet) -> StoreResult<()> {
        let item = data_item(merchant_pk(&wallet.merchant_id), format!("WALLET#{}", wallet.id), wallet);
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn get_wallet(&self, merchant: &MerchantId, id: &WalletId) -> StoreResult<Option<Wallet>> {
        self.get(merchant_pk(merchant), &format!("WALLET#{id}")).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn wallets_of(&self, merchant: &MerchantId) -> StoreResult<Vec<Wallet>> {
        // Sort keys hold ULIDs: query order is creation order.
        self.query_all(merchant_pk(merchant), "WALLET#").await?.iter().map(parse_data).collect()
    }

    async fn link_provider_reference(&self, provider: &str, reference: &str, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<()> {
        let mut item = Item::new();
        item.insert("PK".into(), s(reference_pk(provider, reference)));
        item.insert("SK".into(), s("REF"));
        item.insert("merchant_id".into(), s(merchant.as_str()));
        item.insert("charge_id".into(), s(charge.as_str()));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn charge_of_provider_reference(&self, provider: &str, reference: &str) -> StoreResult<Option<(MerchantId, ChargeId)>> {
        let Some(item) = self.get(reference_pk(provider, reference), "REF").await? else { return Ok(None) };
        let field = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        match (MerchantId::parse(&field("merchant_id")), ChargeId::parse(&field("charge_id"))) {
            (Ok(m), Ok(c)) => Ok(Some((m, c))),
            _ => Err(StoreError::Corrupt { key: reference_pk(provider, reference), message: "bad reference".into() }),
        }
    }

    async fn get_card_attempts(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Option<crate::card_attempts::CardAttempts>> {
        self.get(charge_pk(merchant, charge), "CARDATTEMPTS").await?.map(|i| parse_data(&i)).transpose()
    }

    async fn put_card_attempts(&self, attempts: &crate::card_attempts::CardAttempts, expected_version: Option<u64>) -> StoreResult<()> {
        let mut item = data_item(charge_pk(&attempts.merchant_id, &attempts.charge_id), "CARDATTEMPTS", attempts);
        // The condition of the next replacement reads it.
        item.insert("version".into(), n(attempts.version));
        match expected_version {
            None => match self.put_new(item).await? {
                true => Ok(()),
                false => Err(StoreError::Conflict),
            },
            Some(expected) => self.put_versioned(item, attempts.version, expected).await,
        }
    }

    async fn next_sequence(&self, name: &str) -> StoreResult<u64> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(sequence_pk(name)))
            .key("SK", s("SEQ"))
            .update_expression("ADD seq :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(unavailable)?;
        out.attributes
            .and_then(|a| a.get("seq").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()))
            .ok_or_else(|| StoreError::Corrupt { key: sequence_pk(name), message: "no seq".into() })
    }

    async fn get_ruler(&self, scope: &RulerScope) -> StoreResult<Option<Ruler>> {
        let (pk, sk) = ruler_key(scope);
        self.get(pk, sk).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn put_ruler(&self, scope: &RulerScope, ruler: &Ruler) -> StoreResult<()> {
        let (pk, sk) = ruler_key(scope);
        self.client.put_item().table_name(&self.table).set_item(Some(data_item(pk, sk, ruler))).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn open_charges(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>> {
        self.index_page("open", "OPENPK = :pk", &[(":pk", format!("MER#{merchant}#OPEN"))], Some(limit), cursor).await
    }

    async fn reserve_contact(&self, merchant: &MerchantId, customer: &CustomerId, counter: &ContactCounter, cap: u32, message: &str) -> StoreResult<bool> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(customer_pk(merchant, customer)))
            .key("SK", s(format!("CONTACT#{}", counter.key())))
            // The counted messages are a set: adding one already in it changes nothing and always passes.
            .update_expression("ADD #m :msg SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#m) OR size(#m) < :cap OR contains(#m, :one)")
            .expression_attribute_names("#m", "messages")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":msg", AttributeValue::Ss(vec![message.to_string()]))
            .expression_attribute_values(":one", s(message))
            .expression_attribute_values(":cap", n(cap))
            .expression_attribute_values(":ttl", n(counter.expires().and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp()))
            .send()
            .await;
        conditional(r)
    }

    async fn save_replan_job(&self, job: &crate::schedule::ReplanJob, expected_version: Option<u64>) -> StoreResult<()> {
        let mut item = data_item("REPLAN".into(), replan_sk(&job.scope()), job);
        match expected_version {
            None => {
                item.insert("version".into(), n(job.version));
                if self.put_new(item).await? { Ok(()) } else { Err(StoreError::Conflict) }
            }
            Some(expected) => self.put_versioned(item, job.version, expected).await,
        }
    }

    async fn get_replan_job(&self, scope: &crate::schedule::ReplanScope) -> StoreResult<Option<crate::schedule::ReplanJob>> {
        self.get("REPLAN".into(), &replan_sk(scope)).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn replan_jobs(&self, limit: usize) -> StoreResult<Vec<crate::schedule::ReplanJob>> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s("REPLAN"))
            .consistent_read(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        page.items.unwrap_or_default().iter().map(parse_data).collect()
    }

    async fn finish_replan_job(&self, scope: &crate::schedule::ReplanScope, expected_version: u64) -> StoreResult<bool> {
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s("REPLAN"))
            .key("SK", s(replan_sk(scope)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected_version))
            .send()
            .await;
        conditional(r)
    }

    async fn put_customer(&self, customer: &Customer) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(customer_item(customer)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_customer(&self, merchant: &MerchantId, id: &CustomerId) -> StoreResult<Option<Customer>> {
        self.get(customer_pk(merchant, id), "CUSTOMER").await?.map(|i| parse_data(&i)).transpose()
    }

    async fn create_charge(&self, charge: &Charge, reminders: &[Reminder]) -> StoreResult<()> {
        let mut owner = Item::new();
        owner.insert("PK".into(), s(format!("CHGREF#{}", charge.id)));
        owner.insert("SK".into(), s("CHGREF"));
        owner.insert("merchant_id".into(), s(charge.merchant_id.as_str()));
        let mut link = Item::new();
        link.insert("PK".into(), s(payment_token_pk(&charge.payment_token)));
        link.insert("SK".into(), s("PAYTOKEN"));
        link.insert("merchant_id".into(), s(charge.merchant_id.as_str()));
        link.insert("charge_id".into(), s(charge.id.as_str()));
        let not_exists = Some("attribute_not_exists(PK)");
        let mut tx = self
            .client
            .transact_write_items()
            .transact_items(self.put_in_table(charge_item(charge), not_exists, None))
            .transact_items(self.put_in_table(owner, not_exists, None))
            .transact_items(self.put_in_table(link, not_exists, None));
        for r in reminders {
            tx = tx.transact_items(self.put_in_table(reminder_item(r), not_exists, None));
        }
        match tx.send().await {
            Ok(_) => Ok(()),
            Err(e) if cancelled_conditions(&e).is_some_and(|c| c.iter().any(|f| *f)) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_charge(&self, merchant: &MerchantId, id: &ChargeId) -> StoreResult<Option<Charge>> {
        self.get(charge_pk(merchant, id), "CHARGE").await?.map(|i| parse_data(&i)).transpose()
    }

    async fn charge_owner(&self, id: &ChargeId) -> StoreResult<Option<MerchantId>> {
        let Some(item) = self.get(format!("CHGREF#{id}"), "CHGREF").await? else { return Ok(None) };
        Ok(item.get("merchant_id").and_then(|v| v.as_s().ok()).and_then(|s| MerchantId::parse(s).ok()))
    }

    async fn charge_by_payment_token(&self, token: &str) -> StoreResult<Option<Charge>> {
        let Some(item) = self.get(payment_token_pk(token), "PAYTOKEN").await? else { return Ok(None) };
        let field = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let (Ok(merchant), Ok(charge)) = (MerchantId::parse(&field("merchant_id")), ChargeId::parse(&field("charge_id"))) else {
            return Err(StoreError::Corrupt { key: "PAYTOKEN".into(), message: "bad reference".into() });
        };
        self.get_charge(&merchant, &charge).await
    }

    async fn update_charge(&self, charge: &Charge, expected_version: u64) -> StoreResult<()> {
        self.put_versioned(charge_item(charge), charge.version, expected_version).await
    }

    async fn list_charges(&self, merchant: &MerchantId, query: &ChargeQuery, limit: usize, cursor: Option<String>) -> StoreResult<Page<Charge>> {
        // '~' sorts after every character of ids, so charges due on `due_to` are included.
        // DynamoDB refuses an empty key value; every date sorts after "0000".
        let from = query.due_from.map(|d| d.to_string()).unwrap_or_else(|| "0000".into());
        let to = query.due_to.map(|d| format!("{d}#~")).unwrap_or_else(|| "~".into());
        let (index, condition, values) = match &query.customer {
            Some(customer) => (
                "gsi1",
                "GSI1PK = :pk AND GSI1SK BETWEEN :a AND :b",
                [(":pk", customer_pk(merchant, customer)), (":a", format!("CHG#{from}")), (":b", format!("CHG#{to}"))],
            ),
            None => ("gsi2", "GSI2PK = :pk AND GSI2SK BETWEEN :a AND :b", [(":pk", format!("MER#{merchant}#CHARGES")), (":a", from), (":b", to)]),
        };
        let start = cursor.map(|c| decode_cursor(&c, condition, &values)).transpose()?;
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(condition)
            .set_limit(Some(limit as i32))
            .set_exclusive_start_key(start);
        for (name, value) in values {
            request = request.expression_attribute_values(name, s(value));
        }
        if let Some(status) = query.status {
            request = request.filter_expression("#st = :st").expression_attribute_names("#st", "status").expression_attribute_values(":st", s(status.as_str()));
        }
        let page = request.send().await.map_err(unavailable)?;
        let items = page.items.unwrap_or_default().iter().map(parse_data).collect::<StoreResult<Vec<Charge>>>()?;
        Ok(Page { items, next: encode_cursor(page.last_evaluated_key) })
    }

    async fn put_subscription(&self, sub: &crate::recurrence::Subscription, expected_version: Option<u64>) -> StoreResult<()> {
        let item = subscription_item(sub);
        match expected_version {
            None => match self.put_new(item).await? {
                true => Ok(()),
                false => Err(StoreError::Conflict),
            },
            Some(expected) => self.put_versioned(item, sub.version, expected).await,
        }
    }

    async fn get_subscription(&self, merchant: &MerchantId, id: &crate::ids::SubscriptionId) -> StoreResult<Option<crate::recurrence::Subscription>> {
        self.get(format!("MER#{merchant}#SUB#{id}"), "SUBSCRIPTION").await?.map(|i| parse_data(&i)).transpose()
    }

    async fn list_subscriptions(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<crate::recurrence::Subscription>> {
        self.index_page("gsi2", "GSI2PK = :pk", &[(":pk", format!("MER#{merchant}#SUBSCRIPTIONS"))], Some(limit), cursor).await
    }

    async fn subscriptions_to_generate(&self, through: chrono::NaiveDate, limit: usize) -> StoreResult<Vec<crate::recurrence::Subscription>> {
        // "#~" sorts after every "#mer_…" that follows the date.
        let values = [(":pk", "SUBGEN".to_string()), (":to", format!("{through}#~"))];
        let page: Page<crate::recurrence::Subscription> = self.index_page("gsi1", "GSI1PK = :pk AND GSI1SK <= :to", &values, Some(limit), None).await?;
        Ok(page.items)
    }

    async fn list_customers(&self, merchant: &MerchantId, limit: usize, cursor: Option<String>) -> StoreResult<Page<Customer>> {
        self.index_page("gsi1", "GSI1PK = :pk", &[(":pk", format!("MER#{merchant}#CUSTOMERS"))], Some(limit), cursor).await
    }

    async fn charges_of_customer(&self, merchant: &MerchantId, customer: &CustomerId) -> StoreResult<Vec<Charge>> {
        let values = [(":pk", customer_pk(merchant, customer)), (":chg", "CHG#".to_string())];
        self.index_all("gsi1", "GSI1PK = :pk AND begins_with(GSI1SK, :chg)", &values).await
    }

    async fn reminders_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<Reminder>> {
        self.query_all(charge_pk(merchant, charge), "REM#").await?.iter().map(parse_data).collect()
    }

    async fn get_reminder(&self, merchant: &MerchantId, charge: &ChargeId, reminder_id: &str) -> StoreResult<Option<Reminder>> {
        self.get(charge_pk(merchant, charge), &format!("REM#{reminder_id}")).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn add_reminder(&self, reminder: &Reminder) -> StoreResult<bool> {
        self.put_new(reminder_item(reminder)).await
    }

    async fn due_reminders(&self, bucket: &DueBucket, until: DateTime<Utc>, limit: usize, cursor: Option<String>) -> StoreResult<Page<Reminder>> {
        // '~' sorts after every character of ids, so everything at `until` is included.
        let values = [(":pk", bucket.key()), (":until", format!("{}#~", index_time_key(until)))];
        self.index_page("due", "DUEPK = :pk AND DUESK <= :until", &values, Some(limit), cursor).await
    }

    async fn transition_reminder(&self, reminder: &Reminder, from: &[&str], to: ReminderState, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        let mut clauses = Vec::new();
        for f in from {
            match *f {
                "planned" | "queued" | "sending" | "sent" => {
                    values.insert(format!(":{f}"), s(*f));
                    clauses.push(format!("st = :{f}"));
                }
                "queued_expired" => {
                    values.insert(":queued".into(), s("queued"));
                    values.insert(":now".into(), n(millis(now)));
                    clauses.push("st = :queued AND lease <= :now".into());
                }
                "sending_stale" => {
                    values.insert(":sending".into(), s("sending"));
                    values.insert(":stale".into(), n(millis(now - crate::delivery::SENDING_STALE_AFTER)));
                    clauses.push("st = :sending AND since <= :stale".into());
                }
                "failed_redrivable" => {
                    values.insert(":failed".into(), s("failed"));
                    values.insert(":redrivable".into(), AttributeValue::Bool(true));
                    clauses.push("st = :failed AND redrivable = :redrivable".into());
                }
                other => panic!("unknown reminder state filter {other}"),
            }
        }
        let next = Reminder { state: to, ..reminder.clone() };
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(reminder_item(&next)))
            .condition_expression(state_condition(&clauses))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        conditional(r)
    }

    async fn tick_watermark(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let Some(item) = self.get("TICK".into(), "WATERMARK").await? else { return Ok(None) };
        let ms = item.get("at").and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok());
        Ok(ms.and_then(|ms| Utc.timestamp_millis_opt(ms).single()))
    }

    async fn advance_tick_watermark(&self, to: DateTime<Utc>) -> StoreResult<()> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s("TICK"))
            .key("SK", s("WATERMARK"))
            .update_expression("SET #at = :to")
            .condition_expression("attribute_not_exists(#at) OR #at < :to")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":to", n(millis(to)))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn append_to_ledger(&self, payment: &LedgerEntry, settled: Option<(&Charge, u64)>) -> StoreResult<PaymentRecorded> {
        let mut seen = Item::new();
        seen.insert("PK".into(), s(provider_event_pk(&payment.merchant_id, &payment.provider, &payment.provider_event_id)));
        seen.insert("SK".into(), s("WHK"));
        seen.insert("payment_id".into(), s(payment.id.as_str()));
        let mut payment_item = data_item(
            charge_pk(&payment.merchant_id, &payment.charge_id),
            format!("PAY#{}#{}", payment.provider, payment.provider_payment_id),
            payment,
        );
        // The merchant's ledger by São Paulo day, one partition per month, for reports without a Scan.
        let day = crate::calendar::local_date(payment.paid_at);
        payment_item.insert("GSI1PK".into(), s(ledger_month_pk(&payment.merchant_id, day)));
        payment_item.insert("GSI1SK".into(), s(format!("{day}#{:013}#{}", payment.received_at.timestamp_millis(), payment.id)));
        let not_exists = Some("attribute_not_exists(PK)");
        let mut tx = self
            .client
            .transact_write_items()
            .transact_items(self.put_in_table(seen, not_exists, None))
            .transact_items(self.put_in_table(payment_item, not_exists, None));
        if let Some((charge, expected)) = settled {
            let values = HashMap::from([(":v".to_string(), n(expected))]);
            tx = tx.transact_items(self.put_in_table(charge_item(charge), Some("version = :v"), Some(values)));
        }
        match tx.send().await {
            Ok(_) => Ok(PaymentRecorded::Recorded),
            Err(e) => match cancelled_conditions(&e) {
                Some(failed) if failed.iter().take(2).any(|f| *f) => Ok(PaymentRecorded::Duplicate),
                Some(failed) if failed.get(2) == Some(&true) => Err(StoreError::Conflict),
                _ => Err(unavailable(e)),
            },
        }
    }

    async fn ledger_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<LedgerEntry>> {
        let mut all: Vec<LedgerEntry> =
            self.query_all(charge_pk(merchant, charge), "PAY#").await?.iter().map(parse_data).collect::<StoreResult<_>>()?;
        all.sort_by_key(|p| p.received_at);
        Ok(all)
    }

    async fn put_unmatched(&self, unmatched: &UnmatchedPayment) -> StoreResult<bool> {
        let pk = unmatched_pk(&unmatched.provider);
        let mut item = data_item(pk, unmatched.provider_event_id.clone(), unmatched);
        if let Some(m) = &unmatched.merchant_id {
            item.insert("GSI1PK".into(), s(format!("MER#{m}#UNMATCHED")));
            item.insert("GSI1SK".into(), s(format!("{}#{}", crate::calendar::local_date(unmatched.received_at), unmatched.provider_event_id)));
        }
        self.put_new(item).await
    }

    async fn add_pending_reversal(&self, notice: &crate::webhook::PaymentNotice) -> StoreResult<()> {
        let pk = format!("PENDREV#{}#{}", notice.provider, notice.reverses.as_deref().unwrap_or_default());
        self.put_new(data_item(pk, notice.provider_payment_id.clone(), notice)).await.map(|_| ())
    }

    async fn pending_reversals(&self, provider: &str, payment: &str) -> StoreResult<Vec<crate::webhook::PaymentNotice>> {
        self.query_all(format!("PENDREV#{provider}#{payment}"), "").await?.iter().map(parse_data).collect()
    }

    async fn ledger_between(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<LedgerEntry>> {
        use chrono::Datelike;
        let mut out = Vec::new();
        let mut month = from.with_day(1).expect("day 1 exists");
        while month <= to {
            let values = [(":pk", ledger_month_pk(merchant, month)), (":a", from.to_string()), (":b", format!("{to}#~"))];
            out.extend(self.index_all::<LedgerEntry>("gsi1", "GSI1PK = :pk AND GSI1SK BETWEEN :a AND :b", &values).await?);
            month = month.checked_add_months(chrono::Months::new(1)).expect("in range");
        }
        Ok(out)
    }

    async fn unmatched_of(&self, merchant: &MerchantId, from: chrono::NaiveDate, to: chrono::NaiveDate) -> StoreResult<Vec<UnmatchedPayment>> {
        let values = [(":pk", format!("MER#{merchant}#UNMATCHED")), (":a", from.to_string()), (":b", format!("{to}#~"))];
        self.index_all("gsi1", "GSI1PK = :pk AND GSI1SK BETWEEN :a AND :b", &values).await
    }

    async fn unmatched(&self, provider: &str) -> StoreResult<Vec<UnmatchedPayment>> {
        self.query_all(unmatched_pk(provider), "").await?.iter().map(parse_data).collect()
    }

    async fn idempotency_begin(&self, merchant: &MerchantId, key: &str, request_hash: &str, now: DateTime<Utc>) -> StoreResult<IdempotencyBegin> {
        let pk = format!("MER#{merchant}#IDEM#{}", sha256_hex(key));
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(pk.clone()))
            .item("SK", s("IDEM"))
            .item("hash", s(request_hash))
            .item("created", n(millis(now)))
            // No TTL: a key is remembered for as long as what it made exists. A refusal past its replay (TTL
            // deletion is lazy) counts as absent; a first request of this body that never finished (no saved
            // response past the lease) is taken over.
            .condition_expression("attribute_not_exists(PK) OR (refused = :true AND created < :expired) OR (attribute_not_exists(#data) AND #hash = :hash AND created < :stale)")
            .expression_attribute_names("#data", "data")
            .expression_attribute_names("#hash", "hash")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":expired", n(millis(now - crate::idempotency::REFUSAL_REPLAY)))
            .expression_attribute_values(":hash", s(request_hash))
            .expression_attribute_values(":stale", n(millis(now - crate::idempotency::IN_PROGRESS_LEASE)))
            .send()
            .await;
        match r {
            Ok(_) => return Ok(IdempotencyBegin::Started),
            Err(e) if is_condition_failure(&e) => {}
            Err(e) => return Err(unavailable(e)),
        }
        let Some(item) = self.get(pk, "IDEM").await? else {
            return Ok(IdempotencyBegin::InProgress);
        };
        if item.get("hash").and_then(|v| v.as_s().ok()).map(String::as_str) != Some(request_hash) {
            return Ok(IdempotencyBegin::Mismatch);
        }
        match item.get("data") {
            Some(_) => Ok(IdempotencyBegin::Replay(parse_data(&item)?)),
            None => Ok(IdempotencyBegin::InProgress),
        }
    }

    async fn idempotency_complete(&self, merchant: &MerchantId, key: &str, request_hash: &str, response: &SavedResponse, now: DateTime<Utc>) -> StoreResult<()> {
        let mut item = data_item(format!("MER#{merchant}#IDEM#{}", sha256_hex(key)), "IDEM", response);
        item.insert("hash".into(), s(request_hash));
        item.insert("created".into(), n(millis(now)));
        if let SavedResponse::Refused { .. } = response {
            item.insert("refused".into(), AttributeValue::Bool(true));
            item.insert("ttl".into(), n((now + crate::idempotency::REFUSAL_REPLAY).timestamp()));
        }
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn idempotency_abort(&self, merchant: &MerchantId, key: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(format!("MER#{merchant}#IDEM#{}", sha256_hex(key))))
            .key("SK", s("IDEM"))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn record_outbox(&self, entry: &OutboxEntry) -> StoreResult<bool> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s("OUTBOX"))
            .key("SK", s(outbox_sk(entry)))
            .update_expression("SET #data = if_not_exists(#data, :data) ADD deliveries :one")
            .expression_attribute_names("#data", "data")
            .expression_attribute_values(":data", s(serde_json::to_string(entry).expect("entry serialises")))
            .expression_attribute_values(":one", n(1))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_none_or(|old| !old.contains_key("deliveries")))
    }

    async fn add_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()> {
        let mut item = data_item(format!("MER#{}#WEP", endpoint.merchant_id), endpoint.id.as_str(), endpoint);
        item.insert("version".into(), n(endpoint.version));
        self.put_new(item).await.map(|_| ())
    }

    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint, expected_version: u64) -> StoreResult<()> {
        let item = data_item(format!("MER#{}#WEP", endpoint.merchant_id), endpoint.id.as_str(), endpoint);
        self.put_versioned(item, endpoint.version, expected_version).await
    }

    async fn get_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<Option<WebhookEndpoint>> {
        self.get(format!("MER#{merchant}#WEP"), id.as_str()).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn webhook_endpoints_of(&self, merchant: &MerchantId) -> StoreResult<Vec<WebhookEndpoint>> {
        self.query_all(format!("MER#{merchant}#WEP"), "").await?.iter().map(parse_data).collect()
    }

    async fn delete_webhook_endpoint(&self, merchant: &MerchantId, id: &WebhookEndpointId) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(format!("MER#{merchant}#WEP")))
            .key("SK", s(id.as_str()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn add_webhook_delivery(&self, d: &WebhookDelivery) -> StoreResult<bool> {
        let mut item = webhook_delivery_item(d);
        item.insert("version".into(), n(d.version));
        self.put_new(item).await
    }

    async fn update_webhook_delivery(&self, d: &WebhookDelivery, expected_version: u64) -> StoreResult<()> {
        self.put_versioned(webhook_delivery_item(d), d.version, expected_version).await
    }

    async fn get_webhook_delivery(&self, merchant: &MerchantId, id: &WebhookMessageId) -> StoreResult<Option<WebhookDelivery>> {
        self.get(format!("MER#{merchant}#WHD#{id}"), "WHD").await?.map(|i| parse_data(&i)).transpose()
    }

    async fn webhook_deliveries_of(&self, merchant: &MerchantId, endpoint: &WebhookEndpointId, limit: usize, cursor: Option<String>) -> StoreResult<Page<WebhookDelivery>> {
        let values = [(":pk", format!("MER#{merchant}#WEP#{endpoint}"))];
        self.index_page_ordered("gsi1", "GSI1PK = :pk", &values, Some(limit), cursor, false).await
    }

    async fn save_notification(&self, record: &crate::tracking::NotificationRecord) -> StoreResult<()> {
        let item = data_item(charge_pk(&record.merchant_id, &record.charge_id), format!("NOTIF#{}", record.reminder_id), record);
        match record.version {
            0 | 1 => {
                let mut item = item;
                item.insert("version".into(), n(1));
                if self.put_new(item).await? { Ok(()) } else { Err(StoreError::Conflict) }
            }
            v => self.put_versioned(item, v, v - 1).await,
        }
    }

    async fn get_notification(&self, merchant: &MerchantId, charge: &ChargeId, reminder_id: &str) -> StoreResult<Option<crate::tracking::NotificationRecord>> {
        self.get(charge_pk(merchant, charge), &format!("NOTIF#{reminder_id}")).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn notifications_of(&self, merchant: &MerchantId, charge: &ChargeId) -> StoreResult<Vec<crate::tracking::NotificationRecord>> {
        self.query_all(charge_pk(merchant, charge), "NOTIF#").await?.iter().map(parse_data).collect()
    }

    async fn suppress_recipient(&self, merchant: &MerchantId, recipient_key: &str, reason: &str) -> StoreResult<()> {
        let mut item = Item::new();
        item.insert("PK".into(), s(suppressed_pk(merchant)));
        item.insert("SK".into(), s(recipient_key));
        item.insert("reason".into(), s(reason));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn recipient_suppressed(&self, merchant: &MerchantId, recipient_key: &str) -> StoreResult<Option<String>> {
        let item = self.get(suppressed_pk(merchant), recipient_key).await?;
        Ok(item.map(|i| i.get("reason").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()))
    }

    async fn add_spend(&self, merchant: &MerchantId, month: &str, channel: crate::notification::Channel, price: rust_decimal::Decimal, message: &str, unit: Option<&str>) -> StoreResult<rust_decimal::Decimal> {
        let update = |amount: rust_decimal::Decimal| {
            aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.table)
                .key("PK", s(format!("MER#{merchant}#SPEND#{month}")))
                .key("SK", s(channel.as_str()))
                .update_expression("ADD messages :one, amount :amount")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":amount", n(amount))
                .build()
                .expect("update has its key and expression")
        };
        let marker = |key: String| {
            let mut item = Item::new();
            item.insert("PK".into(), s(format!("MER#{merchant}#SPENDUNIT")));
            item.insert("SK".into(), s(key));
            item
        };
        // The message's marker, the unit's marker and the amount are written together: a message is counted
        // once, a unit is paid once.
        let new = Some("attribute_not_exists(PK)");
        let mut tx = self.client.transact_write_items().transact_items(self.put_in_table(marker(format!("message#{message}")), new, None));
        if let Some(unit) = unit {
            tx = tx.transact_items(self.put_in_table(marker(unit.to_string()), new, None));
        }
        match tx.transact_items(TransactWriteItem::builder().update(update(price)).build()).send().await {
            Ok(_) => Ok(price),
            Err(e) => match cancelled_conditions(&e) {
                // Counted before.
                Some(c) if c.first() == Some(&true) => Ok(rust_decimal::Decimal::ZERO),
                // A new message in a unit already paid: counted, at no cost.
                Some(c) if c.get(1) == Some(&true) => {
                    let r = self
                        .client
                        .transact_write_items()
                        .transact_items(self.put_in_table(marker(format!("message#{message}")), new, None))
                        .transact_items(TransactWriteItem::builder().update(update(rust_decimal::Decimal::ZERO)).build())
                        .send()
                        .await;
                    match r {
                        Ok(_) => Ok(rust_decimal::Decimal::ZERO),
                        Err(e) if cancelled_conditions(&e).is_some_and(|c| c.first() == Some(&true)) => Ok(rust_decimal::Decimal::ZERO),
                        Err(e) => Err(unavailable(e)),
                    }
                }
                _ => Err(unavailable(e)),
            },
        }
    }

    async fn spend_of(&self, merchant: &MerchantId, month: &str) -> StoreResult<std::collections::BTreeMap<crate::notification::Channel, crate::channel_policy::ChannelSpend>> {
        let mut out = std::collections::BTreeMap::new();
        for item in self.query_all(format!("MER#{merchant}#SPEND#{month}"), "").await? {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().or_else(|_| v.as_n()).ok()).cloned().unwrap_or_default();
            let corrupt = || StoreError::Corrupt { key: format!("MER#{merchant}#SPEND#{month}"), message: "bad spend line".into() };
            let channel = crate::notification::Channel::parse(&text("SK")).ok_or_else(corrupt)?;
            let messages = text("messages").parse().map_err(|_| corrupt())?;
            let amount = text("amount").parse().map_err(|_| corrupt())?;
            out.insert(channel, crate::channel_policy::ChannelSpend { messages, amount });
        }
        Ok(out)
    }

    async fn put_merchant_document(&self, merchant: &MerchantId, key: &str, value: &serde_json::Value) -> StoreResult<()> {
        let item = data_item(document_pk(merchant), key, value);
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn get_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<Option<serde_json::Value>> {
        self.get(document_pk(merchant), key).await?.map(|i| parse_data(&i)).transpose()
    }

    async fn merchant_documents(&self, merchant: &MerchantId, prefix: &str) -> StoreResult<Vec<(String, serde_json::Value)>> {
        let mut out = Vec::new();
        for item in self.query_all(document_pk(merchant), prefix).await? {
            let key = item.get("SK").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            out.push((key, parse_data(&item)?));
        }
        Ok(out)
    }

    async fn delete_merchant_document(&self, merchant: &MerchantId, key: &str) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(document_pk(merchant)))
            .key("SK", s(key))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn outbox(&self) -> StoreResult<Vec<OutboxEntry>> {
        let mut all = Vec::new();
        for item in self.query_all("OUTBOX".into(), "").await? {
            let mut entry: OutboxEntry = parse_data(&item)?;
            entry.deliveries = item.get("deliveries").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(1);
            all.push(entry);
        }
        all.sort_by(|a, b| (a.sent_at, &a.reminder_id).cmp(&(b.sent_at, &b.reminder_id)));
        Ok(all)
    }

    async fn replace_outbox(&self, entry: &OutboxEntry) -> StoreResult<()> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s("OUTBOX"))
            .key("SK", s(outbox_sk(entry)))
            .update_expression("SET #data = :data")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#data", "data")
            .expression_attribute_values(":data", s(serde_json::to_string(entry).expect("entry serialises")))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}
