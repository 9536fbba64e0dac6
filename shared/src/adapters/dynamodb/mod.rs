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

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::adapters::index_time_key;
use crate::adapters::layout::{charge_pk, customer_pk};
use crate::domain::api_keys::ApiKeyRecord;
use crate::domain::charge::Charge;
use crate::domain::ruler::{Reminder, ReminderState};
use crate::ports::store::*;

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
                let out = self.client.batch_write_item().request_items(&self.table, pending.clone()).send().await.map_err(unavailable)?;
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
        let r = self.client.put_item().table_name(&self.table).set_item(Some(item)).condition_expression("attribute_not_exists(PK)").send().await;
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
            let mut query = self.client.query().table_name(&self.table).expression_attribute_values(":pk", s(pk.clone())).consistent_read(true);
            // DynamoDB refuses an empty begins_with prefix.
            query = if sk_prefix.is_empty() {
                query.key_condition_expression("PK = :pk")
            } else {
                query.key_condition_expression("PK = :pk AND begins_with(SK, :sk)").expression_attribute_values(":sk", s(sk_prefix))
            };
            let page = query.set_exclusive_start_key(start).send().await.map_err(unavailable)?;
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
    let raw = item.get("data").and_then(|v| v.as_s().ok()).ok_or_else(|| StoreError::Corrupt { key: key(), message: "no data attribute".into() })?;
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
        E::TransactionCanceledException(tc) => Some(tc.cancellation_reasons().iter().map(|r| r.code() == Some("ConditionalCheckFailed")).collect()),
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
