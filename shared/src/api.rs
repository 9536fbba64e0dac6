//! The HTTP API, independent of how requests arrive (API Gateway through lambda_http, or tests).
//! Parsing and error mapping happen here once; use cases receive domain types.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::address::Address;
use crate::calendar;
use crate::charge::{Charge, ChargeStatus, Description, DueDate, PaymentMethod};
use crate::contact::{Email, Phone};
use crate::customer::{Customer, OptOut, PersonName};
use crate::delivery::payment_url;
use crate::document::Document;
use crate::events::{DomainEvent, EventBus};
use crate::idempotency;
use crate::ids::{ChargeId, CustomerId};
use crate::merchant::{ApiKeyHash, Merchant};
use crate::money::Money;
use crate::notification::Channel;
use crate::pay::late_fees::LateFees;
use crate::providers::{ProviderError, Providers};
use crate::queue::JobQueue;
use crate::ruler::{self, Action, Reminder, ReminderState, Ruler};
use crate::schedule::{schedule_of, ReplanScope, Schedules};
use crate::service::{ChargeError, ChargeService, Created, NewCharge, Payer, TermFields};
use crate::settlement::{Settled, Settlement};
use crate::store::{IdempotencyBegin, RulerScope, SavedResponse, Store, StoreError};
use crate::webhook::{self, WebhookSecret};

/// Largest request body accepted; a charge is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: String,
    /// The path, with its query string if there is one.
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// The client certificate API Gateway's mutual TLS accepted and forwarded; never taken from a header.
    pub client_cert: Option<crate::mtls::ClientCertificate>,
}

impl ApiRequest {
    /// The path without its query string.
    pub fn route_path(&self) -> &str {
        self.path.split_once('?').map_or(&self.path, |(p, _)| p)
    }

    /// A query-string parameter, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let (_, q) = self.path.split_once('?')?;
        serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok()?.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub body: String,
    /// None is JSON.
    pub content_type: Option<&'static str>,
    /// Headers beyond the content type (names in lower case): `retry-after`, `x-ratelimit-*`.
    pub headers: Vec<(&'static str, String)>,
}

impl ApiResponse {
    pub fn json(status: u16, body: &impl Serialize) -> Self {
        Self { status, body: serde_json::to_string(body).expect("serialisable response"), content_type: None, headers: Vec::new() }
    }

    pub fn csv(body: String) -> Self {
        Self { status: 200, body, content_type: Some("text/csv; charset=utf-8"), headers: Vec::new() }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every object a merchant is shown carries `livemode`, its merchant's mode (objects have no mode of their own:
    /// a merchant is test or live as a whole), so an integrator can tell test data from real money wherever it
    /// appears: top-level objects, list items and nested objects alike. Errors, CSV and recorded delivery
    /// payloads (what was sent, kept as sent) are left as they are.
    fn mark_livemode(&mut self, livemode: bool) {
        fn mark(value: &mut Value, livemode: bool) {
            match value {
                Value::Object(fields) => {
                    if fields.get("object").and_then(Value::as_str).is_some_and(|kind| kind != "list") {
                        fields.entry("livemode").or_insert(Value::Bool(livemode));
                    }
                    for (name, inner) in fields.iter_mut() {
                        if name != "payload" {
                            mark(inner, livemode);
                        }
                    }
                }
                Value::Array(items) => items.iter_mut().for_each(|item| mark(item, livemode)),
                _ => {}
            }
        }
        if self.content_type.is_some() || !(200..300).contains(&self.status) {
            return;
        }
        if let Ok(mut body) = serde_json::from_str::<Value>(&self.body) {
            mark(&mut body, livemode);
            self.body = body.to_string();
        }
    }
}

/// Every error the API returns: `{"error":{"code","message","field"}}`, message in Portuguese / English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None }
    }

    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        Self { status: 422, code: "invalid_field", message: message.to_string(), field: Some(field.to_string()) }
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(500, "internal_error", "erro interno, tente novamente / internal error, please retry")
    }

    pub fn into_response(self) -> ApiResponse {
        ApiResponse::json(self.status, &json!({"error": {"code": self.code, "message": self.message, "field": self.field}}))
    }
}

impl From<crate::pay::late_fees::Unpriceable> for ApiError {
    /// A charge stored with terms that overflow the pricing (accepted before the bounds existed): an error for
    /// that one charge, never a 500.
    fn from(e: crate::pay::late_fees::Unpriceable) -> Self {
        Self { status: 409, code: "charge_unpriceable", message: e.to_string(), field: Some("late_fees".into()) }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::new(409, "conflict", "conflito de concorrência, tente novamente / concurrent update, please retry"),
            StoreError::InvalidCursor => {
                Self::invalid("cursor", "cursor inválido: use o next_cursor da página anterior / invalid cursor: use the previous page's next_cursor")
            }
            // Inputs are bounded at the door so this is not reached; if it is, the request is refused, not retried.
            StoreError::LimitExceeded(limit) => {
                tracing::error!(%limit, "store limit reached: a bound at the door is missing");
                Self::new(422, "too_large", format!("o pedido excede um limite de armazenamento / the request exceeds a storage limit ({limit})"))
            }
            other => Self::internal(other),
        }
    }
}

impl From<ChargeError> for ApiError {
    /// The charge service's refusals, each with the status, code and field the API has always given it.
    fn from(e: ChargeError) -> Self {
        let status = match e {
            ChargeError::Checkout(e) => return e.into(),
            ChargeError::Store(e) => return e.into(),
            ChargeError::EventNotPublished(_) => 503,
            ChargeError::InlineCustomerErased | ChargeError::KeyReusedWithAnotherCustomer => 409,
            ChargeError::SubscriptionGone => 404,
            _ => 422,
        };
        let code = e.refusal().map_or("event_not_published", |(code, _)| code);
        Self { status, code, message: e.to_string(), field: e.field() }
    }
}

enum Create {
    Customer,
    Charge,
    Subscription,
}

mod keys;
mod management;
pub(crate) mod plans;
mod subscriptions;
pub use crate::service::{SubscriptionRun, MAX_SUBSCRIPTIONS_PER_RUN};
mod notifications;
mod openapi;
mod payments;
mod reconciliation;
mod reports;
mod webhooks;

/// Every route of the merchant API, as method and path pattern (`{…}` is one path segment). The router
/// dispatches these; the OpenAPI test and the tenant-isolation sweep enumerate them.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/openapi.json"),
    ("POST", "/v1/merchants"),
    ("POST", "/v1/merchants/{merchant_id}/api-keys"),
    ("POST", "/v1/api-keys"),
    ("GET", "/v1/api-keys"),
    ("POST", "/v1/api-keys/{key_id}/rotate"),
    ("DELETE", "/v1/api-keys/{key_id}"),
    ("POST", "/v1/customers"),
    ("GET", "/v1/customers"),
    ("PATCH", "/v1/customers/{customer_id}"),
    ("GET", "/v1/customers/{customer_id}"),
    ("DELETE", "/v1/customers/{customer_id}/personal-data"),
    ("GET", "/v1/customers/{customer_id}/ruler"),
    ("PUT", "/v1/customers/{customer_id}/ruler"),
    ("PUT", "/v1/customers/{customer_id}/opt-out"),
    ("POST", "/v1/charges"),
    ("GET", "/v1/charges"),
    ("GET", "/v1/charges/{charge_id}"),
    ("PATCH", "/v1/charges/{charge_id}"),
    ("GET", "/v1/charges/{charge_id}/schedule"),
    ("POST", "/v1/charges/{charge_id}/cancel"),
    ("POST", "/v1/charges/{charge_id}/wallet"),
    ("POST", "/v1/charges/{charge_id}/card-payments"),
    ("GET", "/v1/charges/{charge_id}/ledger"),
    ("GET", "/v1/charges/{charge_id}/notifications"),
    ("POST", "/v1/installment-plans"),
    ("GET", "/v1/installment-plans"),
    ("GET", "/v1/installment-plans/{plan_id}"),
    ("POST", "/v1/installment-plans/{plan_id}/cancel"),
    ("POST", "/v1/renegotiations"),
    ("POST", "/v1/subscriptions"),
    ("GET", "/v1/subscriptions"),
    ("GET", "/v1/subscriptions/{subscription_id}"),
    ("PATCH", "/v1/subscriptions/{subscription_id}"),
    ("POST", "/v1/subscriptions/{subscription_id}/pause"),
    ("POST", "/v1/subscriptions/{subscription_id}/resume"),
    ("POST", "/v1/subscriptions/{subscription_id}/cancel"),
    ("POST", "/v1/wallets"),
    ("GET", "/v1/wallets"),
    ("GET", "/v1/wallets/{wallet_id}"),
    ("POST", "/v1/reconciliation/cnab240"),
    ("GET", "/v1/reports/reconciliation"),
    ("GET", "/v1/reports/notification-spend"),
    ("GET", "/v1/reports/receivables"),
    ("GET", "/v1/reports/aging"),
    ("GET", "/v1/reports/delinquency"),
    ("GET", "/v1/reports/received"),
    ("GET", "/v1/reports/recovery"),
    ("GET", "/v1/notification-settings"),
    ("PUT", "/v1/notification-settings"),
    ("GET", "/v1/templates"),
    ("POST", "/v1/templates/preview"),
    ("GET", "/v1/templates/{channel}/{step}"),
    ("PUT", "/v1/templates/{channel}/{step}"),
    ("DELETE", "/v1/templates/{channel}/{step}"),
    ("POST", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}"),
    ("PATCH", "/v1/webhook-endpoints/{endpoint_id}"),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret"),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries"),
    ("GET", "/v1/webhook-deliveries/{delivery_id}"),
    ("POST", "/v1/webhook-deliveries/{delivery_id}/replay"),
    ("GET", "/v1/ruler"),
    ("PUT", "/v1/ruler"),
    ("POST", "/v1/ruler/preview"),
];

/// Whether a request path's segments fit a route pattern of `ROUTES`.
pub fn route_matches(pattern: &str, segments: &[&str]) -> bool {
    let parts: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    parts.len() == segments.len() && parts.iter().zip(segments).all(|(p, s)| (p.starts_with('{') && !s.is_empty()) || p == s)
}

pub struct Api<'a> {
    pub store: &'a dyn Store,
    pub events: &'a dyn EventBus,
    pub queue: &'a dyn JobQueue,
    pub providers: &'a Providers,
    pub public_base_url: &'a str,
    /// Which webhook endpoint URLs merchants may register.
    pub webhook_urls: crate::merchant_webhooks::UrlPolicy,
    /// The operator key and the default rate limit.
    pub access: crate::api_keys::AccessPolicy,
}

impl Api<'_> {
    /// The merchant API (`/v1/customers`, `/v1/charges`).
    pub async fn handle(&self, req: &ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        match self.route(req, now).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        }
    }

    async fn route(&self, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let segments: Vec<&str> = req.route_path().trim_matches('/').split('/').collect();
        // The API's description is public: no key needed to read it.
        if req.method == "GET" && segments == ["v1", "openapi.json"] {
            return Ok(openapi::document());
        }
        let known = ROUTES.iter().any(|(_, pattern)| route_matches(pattern, &segments));
        if !known {
            return Err(ApiError::new(404, "not_found", "recurso não encontrado / resource not found"));
        }
        let limit = if segments == ["v1", "reconciliation", "cnab240"] { reconciliation::MAX_CNAB_BYTES } else { MAX_BODY_BYTES };
        if req.body.len() > limit {
            return Err(ApiError::new(413, "body_too_large", "corpo da requisição muito grande / request body too large"));
        }
        // The operator's routes: its own key, no merchant's, no rate limit.
        match (req.method.as_str(), segments.as_slice()) {
            ("POST", ["v1", "merchants"]) => return self.create_merchant(req, now).await,
            ("POST", ["v1", "merchants", id, "api-keys"]) => return self.issue_merchant_key(id, req, now).await,
            _ => {}
        }
        let (merchant, key) = self.authenticate(req, now).await?;
        let quota = match self.take_request_quota(&key, now).await {
            Ok(headers) => headers,
            Err(limited) => return Ok(limited),
        };
        let livemode = merchant.mode.is_live();
        let mut response = self.dispatch(merchant, req, now, &segments).await.unwrap_or_else(ApiError::into_response);
        response.mark_livemode(livemode);
        response.headers.extend(quota);
        Ok(response)
    }

    async fn dispatch(&self, merchant: Merchant, req: &ApiRequest, now: DateTime<Utc>, segments: &[&str]) -> Result<ApiResponse, ApiError> {
        match (req.method.as_str(), segments) {
            ("POST", ["v1", "api-keys"]) => self.create_api_key(&merchant, req, now).await,
            ("GET", ["v1", "api-keys"]) => self.list_api_keys(&merchant, now).await,
            ("POST", ["v1", "api-keys", id, "rotate"]) => self.rotate_api_key(&merchant, id, req, now).await,
            ("DELETE", ["v1", "api-keys", id]) => self.revoke_api_key(&merchant, id, now).await,
            ("POST", ["v1", "customers"]) => self.idempotent(&merchant, req, now, Create::Customer).await,
            ("GET", ["v1", "customers"]) => self.list_customers(&merchant, req).await,
            ("GET", ["v1", "customers", id]) => self.get_customer(&merchant, id).await,
            ("PATCH", ["v1", "customers", id]) => self.update_customer(&merchant, id, req, now).await,
            ("GET", ["v1", "charges"]) => self.list_charges(&merchant, req).await,
            ("POST", ["v1", "installment-plans"]) => self.create_plan(&merchant, req, now).await,
            ("GET", ["v1", "installment-plans"]) => self.list_plans(&merchant, req).await,
            ("GET", ["v1", "installment-plans", id]) => self.get_plan(&merchant, id, now).await,
            ("POST", ["v1", "installment-plans", id, "cancel"]) => self.cancel_plan(&merchant, id, now).await,
            ("POST", ["v1", "subscriptions"]) => self.idempotent(&merchant, req, now, Create::Subscription).await,
            ("GET", ["v1", "subscriptions"]) => self.list_subscriptions(&merchant, req).await,
            ("GET", ["v1", "subscriptions", id]) => self.get_subscription(&merchant, id, now).await,
            ("PATCH", ["v1", "subscriptions", id]) => self.update_subscription(&merchant, id, req, now).await,
            ("POST", ["v1", "subscriptions", id, "pause"]) => self.pause_subscription(&merchant, id, now).await,
            ("POST", ["v1", "subscriptions", id, "resume"]) => self.resume_subscription(&merchant, id, now).await,
            ("POST", ["v1", "subscriptions", id, "cancel"]) => self.cancel_subscription(&merchant, id, req, now).await,
            ("POST", ["v1", "renegotiations"]) => self.renegotiate(&merchant, req, now).await,
            ("DELETE", ["v1", "customers", id, "personal-data"]) => self.erase_customer(&merchant, id, now).await,
            ("POST", ["v1", "charges"]) => self.idempotent(&merchant, req, now, Create::Charge).await,
            ("GET", ["v1", "charges", id]) => self.get_charge(&merchant, id, now).await,
            ("GET", ["v1", "charges", id, "schedule"]) => self.get_schedule(&merchant, id).await,
            ("PATCH", ["v1", "charges", id]) => self.update_charge(&merchant, id, req, now).await,
            ("POST", ["v1", "charges", id, "cancel"]) => self.cancel_charge(&merchant, id, now).await,
            ("POST", ["v1", "charges", id, "wallet"]) => self.choose_wallet(&merchant, id, req, now).await,
            ("POST", ["v1", "charges", id, "card-payments"]) => self.pay_by_card(&merchant, id, req, now).await,
            ("POST", ["v1", "wallets"]) => self.create_wallet(&merchant, req, now).await,
            ("POST", ["v1", "reconciliation", "cnab240"]) => self.import_cnab240(&merchant, req, now).await,
            ("GET", ["v1", "wallets"]) => self.list_wallets(&merchant).await,
            ("GET", ["v1", "wallets", id]) => self.get_wallet(&merchant, id).await,
            ("GET", ["v1", "charges", id, "ledger"]) => self.charge_ledger(&merchant, id).await,
            ("GET", ["v1", "charges", id, "notifications"]) => self.charge_notifications(&merchant, id).await,
            ("GET", ["v1", "notification-settings"]) => self.get_notification_settings(&merchant).await,
            ("PUT", ["v1", "notification-settings"]) => self.put_notification_settings(&merchant, req).await,
            ("GET", ["v1", "reports", "notification-spend"]) => self.notification_spend(&merchant, req, now).await,
            ("GET", ["v1", "templates"]) => self.list_templates(&merchant).await,
            ("POST", ["v1", "templates", "preview"]) => self.preview_template(&merchant, req, now).await,
            ("GET", ["v1", "templates", channel, step]) => self.get_template(&merchant, channel, step).await,
            ("PUT", ["v1", "templates", channel, step]) => self.put_template(&merchant, channel, step, req).await,
            ("DELETE", ["v1", "templates", channel, step]) => self.delete_template(&merchant, channel, step).await,
            ("GET", ["v1", "reports", "reconciliation"]) => self.reconciliation_report(&merchant, req, now).await,
            ("GET", ["v1", "reports", "receivables"]) => self.receivables_report(&merchant, req, now).await,
            ("GET", ["v1", "reports", "aging"]) => self.aging_report(&merchant, req, now).await,
            ("GET", ["v1", "reports", "delinquency"]) => self.delinquency_report(&merchant, req, now).await,
            ("GET", ["v1", "reports", "received"]) => self.received_report(&merchant, req, now).await,
            ("GET", ["v1", "reports", "recovery"]) => self.recovery_report(&merchant, req, now).await,
            ("POST", ["v1", "webhook-endpoints"]) => self.create_webhook_endpoint(&merchant, req, now).await,
            ("GET", ["v1", "webhook-endpoints"]) => self.list_webhook_endpoints(&merchant).await,
            ("GET", ["v1", "webhook-endpoints", id]) => self.get_webhook_endpoint(&merchant, id).await,
            ("PATCH", ["v1", "webhook-endpoints", id]) => self.update_webhook_endpoint(&merchant, id, req, now).await,
            ("DELETE", ["v1", "webhook-endpoints", id]) => self.delete_webhook_endpoint(&merchant, id).await,
            ("POST", ["v1", "webhook-endpoints", id, "rotate-secret"]) => self.rotate_webhook_secret(&merchant, id, req, now).await,
            ("GET", ["v1", "webhook-endpoints", id, "deliveries"]) => self.list_webhook_deliveries(&merchant, id, req).await,
            ("GET", ["v1", "webhook-deliveries", id]) => self.get_webhook_delivery(&merchant, id).await,
            ("POST", ["v1", "webhook-deliveries", id, "replay"]) => self.replay_webhook_delivery(&merchant, id).await,
            ("GET", ["v1", "ruler"]) => self.get_ruler(&RulerScope::Merchant(merchant.id.clone())).await,
            ("PUT", ["v1", "ruler"]) => self.put_merchant_ruler(&merchant, req, now).await,
            ("POST", ["v1", "ruler", "preview"]) => self.preview(&merchant, req, now).await,
            ("GET", ["v1", "customers", id, "ruler"]) => {
                let customer = self.customer(&merchant, id).await?;
                self.get_ruler(&RulerScope::Customer(merchant.id.clone(), customer.id)).await
            }
            ("PUT", ["v1", "customers", id, "ruler"]) => self.put_customer_ruler(&merchant, id, req, now).await,
            ("PUT", ["v1", "customers", id, "opt-out"]) => self.put_opt_out(&merchant, id, req, now).await,
            _ => Err(ApiError::new(405, "method_not_allowed", "método não permitido / method not allowed")),
        }
    }

    /// The merchant and the key a request carries. A revoked key, or a rotated one past its grace period, is
    /// refused as an unknown one is.
    async fn authenticate(&self, req: &ApiRequest, now: DateTime<Utc>) -> Result<(Merchant, crate::api_keys::ApiKeyRecord), ApiError> {
        let unauthorized = || {
            ApiError::new(401, "unauthorized", "chave de API ausente, inválida, revogada ou expirada / missing, invalid, revoked or expired API key")
        };
        let token = req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).ok_or_else(unauthorized)?;
        let key = self.store.api_key_by_hash(&ApiKeyHash::of(token.trim())).await?.filter(|k| k.usable(now)).ok_or_else(unauthorized)?;
        let merchant = self.store.get_merchant(&key.merchant_id).await?.ok_or_else(unauthorized)?;
        // A key that names a mode is only good for a merchant of that mode (keys made before modes name none).
        if crate::merchant::ApiKey::mode_of(token.trim()).is_some_and(|m| m != merchant.mode) {
            return Err(unauthorized());
        }
        Ok((merchant, key))
    }

    /// Runs `handler` at most once per `Idempotency-Key`, remembered per merchant with the request's fingerprint
    /// (method, path, canonical body): a repeat with the same request answers what the first did — the object it
    /// made, as it is now, for as long as it exists; a refusal for 24 h — and one with another request is refused
    /// (409), however late it comes.
    async fn idempotent(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>, op: Create) -> Result<ApiResponse, ApiError> {
        let Some(key) = req.header("idempotency-key") else {
            return self.create(op, merchant, req, now).await;
        };
        if !idempotency::valid_key(key) {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "chave de idempotência inválida (1 a 255 caracteres visíveis) / invalid idempotency key",
            ));
        }
        let hash = idempotency::request_hash(&req.method, &req.path, &req.body);
        match self.store.idempotency_begin(&merchant.id, key, &hash, now).await? {
            IdempotencyBegin::Replay(SavedResponse::Created { status, object_id }) => {
                let mut current = self.show(&op, merchant, &object_id, now).await?;
                current.status = status;
                return Ok(current);
            }
            IdempotencyBegin::Replay(SavedResponse::Refused { status, body }) => {
                return Ok(ApiResponse { status, body, content_type: None, headers: Vec::new() })
            }
            IdempotencyBegin::Mismatch => {
                return Err(ApiError::new(
                    409,
                    "idempotency_key_reused",
                    "chave de idempotência já usada com outra requisição / idempotency key reused with a different request",
                ))
            }
            IdempotencyBegin::InProgress => {
                return Err(ApiError::new(
                    409,
                    "idempotency_in_progress",
                    "requisição com esta chave ainda em andamento / a request with this key is in progress",
                ))
            }
            IdempotencyBegin::Started => {}
        }
        let response = match self.create(op, merchant, req, now).await {
            Ok(r) => r,
            Err(e) if e.status < 500 => e.into_response(),
            Err(e) => {
                // Nothing was saved: let the client retry with the same key.
                let _ = self.store.idempotency_abort(&merchant.id, key).await;
                return Err(e);
            }
        };
        let saved = if (200..300).contains(&response.status) {
            // Kept by reference: the object's id, never a copy of its data (an erasure must reach every copy).
            let made: Value = serde_json::from_str(&response.body).map_err(ApiError::internal)?;
            let object_id = made["id"].as_str().ok_or_else(|| ApiError::internal("created object without an id"))?;
            SavedResponse::Created { status: response.status, object_id: object_id.to_string() }
        } else {
            SavedResponse::Refused { status: response.status, body: response.body.clone() }
        };
        self.store.idempotency_complete(&merchant.id, key, &hash, &saved, now).await?;
        Ok(response)
    }

    /// The object a keyed request made, as it is now: what a replay answers.
    async fn show(&self, op: &Create, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        match op {
            Create::Customer => self.get_customer(merchant, id).await,
            Create::Charge => self.get_charge(merchant, id, now).await,
            Create::Subscription => self.get_subscription(merchant, id, now).await,
        }
    }

    async fn create(&self, op: Create, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        match op {
            Create::Customer => self.create_customer(merchant, req, now).await,
            Create::Charge => self.create_charge(merchant, req, now).await,
            Create::Subscription => self.create_subscription(merchant, req, now).await,
        }
    }

    async fn create_customer(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body = json_object(&req.body)?;
        reject_unknown(&body, CUSTOMER_FIELDS, "")?;
        let customer = parse_customer(&body, merchant, now, "")?;
        self.store.put_customer(&customer).await?;
        Ok(ApiResponse::json(201, &customer_json(&customer)))
    }

    async fn get_customer(&self, merchant: &Merchant, id: &str) -> Result<ApiResponse, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cliente não encontrado / customer not found");
        let id = CustomerId::parse(id).map_err(|_| not_found())?;
        let customer = self.store.get_customer(&merchant.id, &id).await?.ok_or_else(not_found)?;
        Ok(ApiResponse::json(200, &customer_json(&customer)))
    }

    /// `DELETE /v1/customers/{id}/personal-data`: the payer's right to erasure (LGPD art. 18, VI). Refused while
    /// the customer has open charges (collecting a debt is a legal basis of its own, art. 7, X); cancel or settle
    /// them first. Charges, ledger and reports stay, naming the anonymised customer.
    async fn erase_customer(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cliente não encontrado / customer not found");
        let id = CustomerId::parse(id).map_err(|_| not_found())?;
        let mut customer = self.store.get_customer(&merchant.id, &id).await?.ok_or_else(not_found)?;
        let open = self.store.charges_of_customer(&merchant.id, &id).await?.into_iter().filter(|c| c.status.is_open()).count();
        if open > 0 {
            return Err(ApiError::new(
                409,
                "open_charges",
                format!("o cliente tem {open} cobrança(s) em aberto; cancele ou receba antes de apagar os dados / the customer has {open} open charge(s); cancel or settle them before erasing"),
            ));
        }
        if customer.erased_at.is_none() {
            // Copies first, from the intact record: a retry after a failure part-way finds everything to erase again.
            let copies = crate::erasure::erase_copies(self.store, &customer).await?;
            customer.erase(now);
            self.store.put_customer(&customer).await?;
            tracing::info!(customer_id = %customer.id, ?copies, "customer personal data erased");
        }
        Ok(ApiResponse::json(200, &customer_json(&customer)))
    }

    /// `POST /v1/charges`: the body read into a `NewCharge` (in the order a refusal names its field: amount, due
    /// date, description, payer, terms, expiry), made by the charge service, shown as the charge.
    async fn create_charge(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body = json_object(&req.body)?;
        // Under an Idempotency-Key the new charge's id (and an inline customer's) follow from the key.
        let keyed = req.header("idempotency-key").filter(|k| idempotency::valid_key(k)).map(|k| format!("{}/{k}", merchant.id));
        reject_unknown(&body, &[TermFields::NAMES, &["customer_id", "customer", "amount", "due_date", "description", "expires_at"]].concat(), "")?;
        let amount = parse_amount(body.get("amount"))?;
        let due_date = DueDate::parse_new(required_str(&body, "due_date")?, now).map_err(|e| ApiError::invalid("due_date", e))?;
        let description = Description::parse(required_str(&body, "description")?).map_err(|e| ApiError::invalid("description", e))?;
        let charges = self.charges();
        // The payer first: what late fees the law allows depends on it (CPF or CNPJ).
        let payer = match (body.get("customer_id"), body.get("customer")) {
            (Some(Value::String(id)), None) => Payer::Existing(charges.billable_customer(merchant, id).await?),
            (None, Some(Value::Object(inline))) => {
                reject_unknown(inline, CUSTOMER_FIELDS, "customer.")?;
                let mut c = parse_customer(inline, merchant, now, "customer.")?;
                if let Some(key) = &keyed {
                    c.id = CustomerId::derived(&format!("{key}/customer"));
                }
                Payer::Inline(c)
            }
            (None, None) => return Err(missing("customer_id")),
            _ => return Err(ApiError::invalid("customer", "informe customer_id ou customer, não ambos / give customer_id or customer, not both")),
        };
        let terms = charges.terms(merchant, &TermFields::from_map(&body), amount, due_date, &payer.customer().document).await?;
        let expires_at = match body.get("expires_at") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let at = DateTime::parse_from_rfc3339(s)
                    .map_err(|_| ApiError::invalid("expires_at", "data e hora RFC 3339 / RFC 3339 date-time"))?
                    .with_timezone(&Utc);
                // Expiring before the due date would make the due date meaningless.
                if calendar::local_date(at) < due_date.date() {
                    return Err(ApiError::invalid(
                        "expires_at",
                        "a validade não pode ser anterior ao vencimento / expires_at cannot be before the due date",
                    ));
                }
                Some(at)
            }
            Some(_) => return Err(ApiError::invalid("expires_at", "data e hora RFC 3339 / RFC 3339 date-time")),
        };
        let new = NewCharge { payer, amount, due_date, description, terms, expires_at, origin: crate::charge::ChargeOrigin::Single, key: keyed };
        let Created { charge, reminders } = charges.create(merchant, new, now).await?;
        Ok(ApiResponse::json(201, &self.charge_view(merchant, &charge, &reminders, now).await?))
    }

    /// The use case that makes charges, over this API's store, events, queue and providers.
    pub(crate) fn charges(&self) -> ChargeService<'_> {
        ChargeService { store: self.store, events: self.events, queue: self.queue, providers: self.providers }
    }

    /// Reminders already due at creation (the "new charge" notice) go straight to the queue; if that fails
    /// the next tick finds them, so the request still succeeds.
    async fn send_now(&self, reminders: &mut [Reminder], now: DateTime<Utc>) {
        self.charges().send_now(reminders, now).await
    }

    /// The queued re-plans' next pages (after a régua or an opt-out changed), as ruler-tick runs them.
    pub async fn run_replans(&self, now: DateTime<Utc>) -> Result<crate::schedule::ReplanRun, ApiError> {
        Ok(self.schedules().run_replans(now, crate::schedule::REPLAN_PAGES_PER_RUN).await?)
    }

    fn schedules(&self) -> Schedules<'_> {
        Schedules { store: self.store }
    }

    async fn customer(&self, merchant: &Merchant, id: &str) -> Result<Customer, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cliente não encontrado / customer not found");
        let id = CustomerId::parse(id).map_err(|_| not_found())?;
        self.store.get_customer(&merchant.id, &id).await?.ok_or_else(not_found)
    }

    async fn get_ruler(&self, scope: &RulerScope) -> Result<ApiResponse, ApiError> {
        let (ruler, source) = match self.store.get_ruler(scope).await? {
            Some(r) => (
                r,
                match scope {
                    RulerScope::Merchant(_) => "merchant",
                    RulerScope::Customer(..) => "customer",
                },
            ),
            None => match scope {
                RulerScope::Merchant(_) => (Ruler::default(), "default"),
                RulerScope::Customer(m, _) => match self.store.get_ruler(&RulerScope::Merchant(m.clone())).await? {
                    Some(r) => (r, "merchant"),
                    None => (Ruler::default(), "default"),
                },
            },
        };
        Ok(ApiResponse::json(200, &json!({"ruler": ruler, "source": source})))
    }

    async fn put_merchant_ruler(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let ruler = parse_ruler_body(&req.body)?;
        self.store.put_ruler(&RulerScope::Merchant(merchant.id.clone()), &ruler).await?;
        let replan = self.queue_replan(ReplanScope::Merchant(merchant.id.clone()), now).await?;
        Ok(ApiResponse::json(200, &json!({"ruler": ruler, "source": "merchant", "replan": replan})))
    }

    async fn put_customer_ruler(&self, merchant: &Merchant, id: &str, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let customer = self.customer(merchant, id).await?;
        let ruler = parse_ruler_body(&req.body)?;
        self.store.put_ruler(&RulerScope::Customer(merchant.id.clone(), customer.id.clone()), &ruler).await?;
        let replan = self.queue_replan(ReplanScope::Customer(merchant.id.clone(), customer.id), now).await?;
        Ok(ApiResponse::json(200, &json!({"ruler": ruler, "source": "customer", "replan": replan})))
    }

    /// `{"all": true}` or `{"channels": ["whatsapp", "sms"]}`: replaces the customer's opt-out. It holds from the
    /// answer on, because delivery checks it again before every send; the planned sends it rules out are
    /// cancelled by the queued re-plan.
    async fn put_opt_out(&self, merchant: &Merchant, id: &str, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let mut customer = self.customer(merchant, id).await?;
        let body = json_object(&req.body)?;
        reject_unknown(&body, &["all", "channels"], "")?;
        let all = match body.get("all") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ApiError::invalid("all", "deve ser booleano / must be a boolean")),
        };
        let channels = match body.get("channels") {
            None | Some(Value::Null) => vec![],
            Some(v) => serde_json::from_value::<Vec<Channel>>(v.clone())
                .map_err(|_| ApiError::invalid("channels", "canais: email, whatsapp, sms, voice / channels: email, whatsapp, sms, voice"))?,
        };
        customer.opt_out = OptOut { all, channels };
        self.store.put_customer(&customer).await?;
        let replan = self.queue_replan(ReplanScope::Customer(merchant.id.clone(), customer.id.clone()), now).await?;
        Ok(ApiResponse::json(200, &json!({"customer": customer_json(&customer), "replan": replan})))
    }

    /// After a change to a régua or an opt-out (already stored): re-planning the open charges it touches is queued
    /// work for the ruler tick, page by page, so the answer says what will be done, at once, however many charges
    /// there are. The change is stored first, so whichever run of the job comes later plans from it.
    async fn queue_replan(&self, scope: ReplanScope, now: DateTime<Utc>) -> Result<Value, ApiError> {
        let (job, charges, counted_all) = self.schedules().request_replan(&scope, now).await?;
        Ok(
            json!({"status": "queued", "scope": scope.name(), "requested_at": job.requested_at, "charges": charges, "charges_counted_all": counted_all}),
        )
    }

    async fn get_schedule(&self, merchant: &Merchant, id: &str) -> Result<ApiResponse, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cobrança não encontrada / charge not found");
        let id = ChargeId::parse(id).map_err(|_| not_found())?;
        self.store.get_charge(&merchant.id, &id).await?.ok_or_else(not_found)?;
        let reminders = self.store.reminders_of(&merchant.id, &id).await?;
        Ok(ApiResponse::json(200, &json!({"charge_id": id, "schedule": schedule_of(&reminders)})))
    }

    /// The schedule a hypothetical charge would get: `{"amount","due_date","customer_id" | "customer", "ruler"?}`.
    async fn preview(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body = json_object(&req.body)?;
        reject_unknown(&body, &["customer_id", "customer", "amount", "due_date", "ruler", "payment_methods", "description"], "")?;
        let amount = parse_amount(body.get("amount"))?;
        let due_date = DueDate::parse_new(required_str(&body, "due_date")?, now).map_err(|e| ApiError::invalid("due_date", e))?;
        let customer = match (body.get("customer_id"), body.get("customer")) {
            (Some(Value::String(id)), None) => self.customer(merchant, id).await?,
            (None, Some(Value::Object(inline))) => parse_customer(inline, merchant, now, "customer.")?,
            _ => return Err(missing("customer_id")),
        };
        let ruler = match body.get("ruler") {
            None | Some(Value::Null) => self.schedules().ruler_for(None, &merchant.id, &customer.id).await?,
            Some(v) => Ruler::parse(v).map_err(|e| ApiError::invalid(&format!("ruler.{}", e.field), e.message))?,
        };
        let charge = Charge {
            id: ChargeId::parse("chg_preview").expect("valid id"),
            payment_token: String::new(),
            ..Charge::new_pending(
                merchant.id.clone(),
                customer.id.clone(),
                amount,
                due_date,
                Description::parse("preview").expect("valid"),
                vec![PaymentMethod::Pix],
                now,
            )
        };
        let plan = ruler::plan(&charge, &customer, &ruler, now);
        Ok(ApiResponse::json(200, &json!({"ruler": ruler, "schedule": schedule_of(&plan)})))
    }

    async fn open_charge(&self, merchant: &Merchant, id: &str) -> Result<Charge, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cobrança não encontrada / charge not found");
        let id = ChargeId::parse(id).map_err(|_| not_found())?;
        let charge = self.store.get_charge(&merchant.id, &id).await?.ok_or_else(not_found)?;
        if !charge.status.is_open() {
            return Err(ApiError::new(
                409,
                "charge_not_open",
                format!("cobrança está {} / charge is {}", charge.status.as_str(), charge.status.as_str()),
            ));
        }
        Ok(charge)
    }

    /// `PATCH /v1/charges/{id}` with `amount` and/or `due_date`: the payer is told (`on_changed`), and the
    /// pending reminders follow the new numbers. Reminders relative to a new due date are new reminders.
    async fn update_charge(&self, merchant: &Merchant, id: &str, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body = json_object(&req.body)?;
        reject_unknown(&body, &["amount", "due_date", "description"], "")?;
        let before = self.open_charge(merchant, id).await?;
        let mut charge = before.clone();
        if body.contains_key("amount") {
            charge.amount = parse_amount(body.get("amount"))?;
        }
        if body.contains_key("due_date") {
            let due = DueDate::parse_new(required_str(&body, "due_date")?, now).map_err(|e| ApiError::invalid("due_date", e))?;
            if due != charge.due_date {
                charge.due_date = due;
                charge.due_date_changes += 1;
                // A later due date makes an overdue charge current again.
                if calendar::local_date(now) < due.first_overdue_day() {
                    charge.status = ChargeStatus::Pending;
                }
            }
        }
        if body.contains_key("description") {
            charge.description = Description::parse(required_str(&body, "description")?).map_err(|e| ApiError::invalid("description", e))?;
        }
        if charge == before {
            return Ok(ApiResponse::json(
                200,
                &self.charge_view(merchant, &charge, &self.store.reminders_of(&merchant.id, &charge.id).await?, now).await?,
            ));
        }
        charge.version += 1;
        charge.updated_at = now;
        // A boleto and a cobv carry the value and due date: new numbers need new ones, and the old boleto is
        // written off so that it cannot be paid as well.
        let mut setup_jobs = Vec::new();
        if charge.amount != before.amount || charge.due_date != before.due_date {
            // The terms stay within the law for the new numbers (a fixed fine may exceed 2 % of a lower amount).
            let payer = self.store.get_customer(&merchant.id, &charge.customer_id).await?.ok_or_else(|| ApiError::internal("customer missing"))?;
            charge.late_fees.admit(charge.amount, charge.due_date.date(), &payer.document).map_err(terms_error)?;
            let reissue: Vec<_> = [charge.setup.boleto.as_ref().map(|b| b.wallet_id.clone()), charge.setup.pix.as_ref().map(|p| p.wallet_id.clone())]
                .into_iter()
                .flatten()
                .collect();
            setup_jobs.extend(crate::registration::supersede_boleto(&mut charge));
            for id in reissue {
                if let Some(wallet) = self.store.get_wallet(&merchant.id, &id).await? {
                    setup_jobs.extend(self.checkout().issue(&mut charge, &wallet, now).await?);
                }
            }
        }
        self.store.update_charge(&charge, before.version).await?;
        self.checkout().queue_setup(&setup_jobs).await;
        let customer = self.store.get_customer(&merchant.id, &charge.customer_id).await?.ok_or_else(|| ApiError::internal("customer missing"))?;
        self.schedules().replan_charge(&charge, &customer, now).await?;
        if charge.amount != before.amount || charge.due_date != before.due_date {
            let ruler = self.schedules().ruler_for(charge.ruler.as_ref(), &merchant.id, &customer.id).await?;
            let mut notices = ruler::event_reminders(ruler::Step::OnChanged, &charge, &customer, &ruler, charge.version as u16, now);
            for n in &notices {
                self.store.add_reminder(n).await?;
            }
            self.send_now(&mut notices, now).await;
        }
        self.publish(&charge, "ChargeUpdated", now, json!({"amount": charge.amount, "due_date": charge.due_date, "version": charge.version})).await;
        let reminders = self.store.reminders_of(&merchant.id, &charge.id).await?;
        Ok(ApiResponse::json(200, &self.charge_view(merchant, &charge, &reminders, now).await?))
    }

    /// `POST /v1/charges/{id}/cancel`: the charge can no longer be paid and its régua stops.
    /// `POST /v1/charges/{id}/cancel`. Repeating it on a cancelled charge answers the same (and finishes what a
    /// request that died midway left: reminders, the event); any other closed charge is a 409.
    async fn cancel_charge(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let charge = match self.open_charge(merchant, id).await {
            Ok(before) => self.close_charge(before, ChargeStatus::Cancelled, None, now).await?,
            Err(e) if e.status == 409 => {
                let charge = self
                    .store
                    .get_charge(&merchant.id, &ChargeId::parse(id).map_err(ApiError::internal)?)
                    .await?
                    .ok_or_else(|| ApiError::internal("charge vanished"))?;
                if charge.status != ChargeStatus::Cancelled {
                    return Err(e);
                }
                self.finish_closing(&charge, now).await?;
                charge
            }
            Err(e) => return Err(e),
        };
        let reminders = self.store.reminders_of(&merchant.id, &charge.id).await?;
        Ok(ApiResponse::json(200, &self.charge_view(merchant, &charge, &reminders, now).await?))
    }

    /// Ends an open charge (cancelled, or renegotiated into a plan): its boleto is written off, its pending
    /// reminders are cancelled and the change is published. Tick and delivery also check the status before
    /// sending, so a crash between these steps sends nothing for it.
    async fn close_charge(
        &self,
        before: Charge,
        status: ChargeStatus,
        into: Option<crate::ids::PlanId>,
        now: DateTime<Utc>,
    ) -> Result<Charge, ApiError> {
        let mut charge = Charge { status, renegotiated_into: into, version: before.version + 1, updated_at: now, ..before.clone() };
        let write_off: Vec<_> = crate::registration::supersede_boleto(&mut charge).into_iter().collect();
        self.store.update_charge(&charge, before.version).await?;
        self.checkout().queue_setup(&write_off).await;
        self.finish_closing(&charge, now).await?;
        Ok(charge)
    }

    /// What follows a charge's closing, once stored: its pending reminders cancelled and the event published
    /// (its id is the charge's version, so publishing it again is the same event). Also run by a retry that finds
    /// the charge already closed, for a request that died in between.
    async fn finish_closing(&self, charge: &Charge, now: DateTime<Utc>) -> Result<(), ApiError> {
        for r in self.store.reminders_of(&charge.merchant_id, &charge.id).await? {
            if r.state.is_pending() {
                let cancelled = ReminderState::Cancelled { reason: format!("charge {}", charge.status.as_str()) };
                // False when claimed by a tick meanwhile: the delivery worker finds the charge closed and skips it.
                self.store.transition_reminder(&r, &["planned", "queued"], cancelled, now).await?;
            }
        }
        let kind = if charge.status == ChargeStatus::Renegotiated { "ChargeRenegotiated" } else { "ChargeCancelled" };
        self.publish(charge, kind, now, json!({"version": charge.version, "renegotiated_into": charge.renegotiated_into})).await;
        Ok(())
    }

    /// Publishes after the change is stored; a failure is logged, not returned, since the change stands.
    async fn publish(&self, charge: &Charge, kind: &str, now: DateTime<Utc>, data: Value) {
        let event = DomainEvent {
            id: format!("{}:{}:{}", charge.id, kind, charge.version),
            kind: kind.into(),
            merchant_id: charge.merchant_id.clone(),
            charge_id: charge.id.clone(),
            occurred_at: now,
            data,
        };
        if let Err(e) = self.events.publish(&[event]).await {
            tracing::error!(charge_id = %charge.id, error = %e, kind, "event not published");
        }
    }

    async fn get_charge(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cobrança não encontrada / charge not found");
        let id = ChargeId::parse(id).map_err(|_| not_found())?;
        let charge = self.store.get_charge(&merchant.id, &id).await?.ok_or_else(not_found)?;
        let reminders = self.store.reminders_of(&merchant.id, &id).await?;
        Ok(ApiResponse::json(200, &self.charge_view(merchant, &charge, &reminders, now).await?))
    }

    fn charge_json(&self, c: &Charge, reminders: &[Reminder]) -> Value {
        let mut reminders: Vec<&Reminder> = reminders.iter().filter(|r| matches!(r.action, Action::Notify(_))).collect();
        reminders.sort_by_key(|r| r.due_at);
        json!({
            "id": c.id,
            "object": "charge",
            "status": c.status,
            "version": c.version,
            "amount": c.amount,
            "due_date": c.due_date,
            "description": c.description,
            "customer_id": c.customer_id,
            "payment_methods": c.payment_methods,
            "max_installments": c.max_installments,
            "external_reference": c.external_reference,
            "payment_url": payment_url(self.public_base_url, &c.payment_token),
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "paid_at": c.paid_at,
            "renegotiated_into": c.renegotiated_into,
            "origin": if c.origin.is_single() { Value::Null } else { json!(c.origin) },
            "reminders": reminders.iter().map(|r| reminder_json(r)).collect::<Vec<_>>(),
        })
    }
}

/// Payment providers' webhooks (`POST /v1/webhooks/{provider}`).
pub struct WebhookApi<'a> {
    pub settlement: Settlement<'a>,
    pub secrets: &'a [WebhookSecret],
    /// How PSPs' BCB Pix webhooks prove who they are; None turns `/v1/webhooks/pix` off.
    pub pix_auth: Option<&'a PixWebhookAuth>,
    /// Card acquirers' notifications (`/v1/webhooks/cielo`); None turns them off.
    pub acquirers: Option<AcquirerNotices<'a>>,
    /// Message status callbacks (`/v1/webhooks/notifications/{provider}`); None turns them off.
    pub channel_callbacks: Option<&'a dyn crate::tracking::ChannelCallbacks>,
}

/// What acquirer notifications need: the acquirers to ask about the sale, and the static header value the
/// acquirer was set up to send (`x-webhook-secret`; Cielo signs nothing).
#[derive(Clone, Copy)]
pub struct AcquirerNotices<'a> {
    pub providers: &'a Providers,
    pub secret: &'a str,
}

/// PSPs post the BCB Pix webhook without a signature: in AWS, API Gateway's mutual TLS checks their client
/// certificate's chain (custom domain with a truststore, default endpoint disabled) and forwards it, and the pin
/// says it is the PSP's; without it, a shared secret in the `x-webhook-secret` header (development, or PSPs that
/// support custom headers).
#[derive(Clone)]
pub enum PixWebhookAuth {
    MutualTls(crate::mtls::ClientCertPin),
    SharedSecret(String),
}

impl WebhookApi<'_> {
    /// A channel provider's status callback: verified, then each update applied to its message's record
    /// (unknown message ids are acknowledged and ignored: other systems may share the sender).
    async fn channel_status(&self, provider: &str, merchant: Option<&str>, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let unknown = || ApiError::new(404, "unknown_provider", "provedor desconhecido / unknown provider");
        let callbacks = self.channel_callbacks.ok_or_else(unknown)?;
        let channel = callbacks.channel_of(provider).ok_or_else(unknown)?;
        let merchant = merchant.map(|m| crate::ids::MerchantId::parse(m).map_err(|_| unknown())).transpose()?;
        let source = crate::tracking::CallbackSource { provider, merchant: merchant.as_ref() };
        let query: Vec<(String, String)> = req.path.split_once('?').and_then(|(_, q)| serde_urlencoded::from_str(q).ok()).unwrap_or_default();
        let refused = |e: crate::tracking::CallbackError| match e {
            crate::tracking::CallbackError::Unauthorized(m) => ApiError::new(401, "invalid_signature", m),
            crate::tracking::CallbackError::Malformed(m) => ApiError::new(400, "malformed_callback", m),
        };
        if req.method == "GET" {
            return match callbacks.handshake(source, &query).await {
                Some(Ok(answer)) => {
                    Ok(ApiResponse { status: 200, body: answer, content_type: Some("text/plain; charset=utf-8"), headers: Vec::new() })
                }
                Some(Err(e)) => Err(ApiError { status: 403, ..refused(e) }),
                None => Err(ApiError::new(405, "method_not_allowed", "método não permitido / method not allowed")),
            };
        }
        if req.method != "POST" {
            return Err(ApiError::new(405, "method_not_allowed", "método não permitido / method not allowed"));
        }
        if req.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::new(413, "body_too_large", "corpo da requisição muito grande / request body too large"));
        }
        let updates = callbacks.parse(source, &query, &req.headers, &req.body).await.map_err(refused)?;
        let mut applied = 0;
        for update in &updates {
            if crate::delivery::apply_status(self.settlement.store, channel, merchant.as_ref(), update, now).await? {
                applied += 1;
            }
        }
        Ok(ApiResponse::json(200, &json!({"received": updates.len(), "applied": applied})))
    }

    pub async fn handle(&self, req: &ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        match self.route(req, now).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        }
    }

    async fn route(&self, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let segments: Vec<&str> = req.route_path().trim_matches('/').split('/').collect();
        match segments.as_slice() {
            ["v1", "webhooks", "notifications", provider] => return self.channel_status(provider, None, req, now).await,
            ["v1", "webhooks", "notifications", provider, merchant] => return self.channel_status(provider, Some(merchant), req, now).await,
            _ => {}
        }
        // The BCB Pix API has PSPs post to the configured URL plus "/pix".
        let provider = match segments.as_slice() {
            ["v1", "webhooks", provider] => *provider,
            ["v1", "webhooks", "pix", "pix"] => "pix",
            _ => return Err(ApiError::new(404, "not_found", "recurso não encontrado / resource not found")),
        };
        if req.method != "POST" {
            return Err(ApiError::new(405, "method_not_allowed", "método não permitido / method not allowed"));
        }
        if req.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::new(413, "body_too_large", "corpo da requisição muito grande / request body too large"));
        }
        match provider {
            "cobranca" => {}
            "pix" => return self.bcb_pix(req, now).await,
            "cielo" => return self.cielo(req, now).await,
            _ => return Err(ApiError::new(404, "unknown_provider", "provedor desconhecido / unknown provider")),
        }
        let id = req.header("webhook-id");
        webhook::verify(self.secrets, id, req.header("webhook-timestamp"), req.header("webhook-signature"), &req.body, now)
            .map_err(|e| ApiError::new(401, "invalid_signature", e.to_string()))?;
        let id = id.unwrap_or_default();
        let event = webhook::parse_cobranca(id, &req.body).map_err(|e| match e {
            webhook::PayloadError::Malformed(m) => ApiError::new(400, "malformed_json", format!("JSON inválido / malformed JSON: {m}")),
            webhook::PayloadError::UnsupportedType(t) => ApiError::invalid("type", format!("tipo não suportado / unsupported type: {t}")),
            webhook::PayloadError::Field { field, message } => ApiError::invalid(field, message),
        })?;
        let notice = match event {
            webhook::CobrancaEvent::Money(notice) => notice,
            // No money moved: acknowledged so the provider stops resending, and nothing changes.
            webhook::CobrancaEvent::Status { kind, charge_ref } => {
                tracing::info!(%kind, charge_ref = %charge_ref, "payment status without money: acknowledged");
                return Ok(ApiResponse::json(200, &json!({"result": "acknowledged", "type": kind})));
            }
        };
        let raw = String::from_utf8_lossy(&req.body);
        let settled = self.settlement.apply(&notice, &raw, now).await.map_err(ApiError::internal)?;
        let status = match settled {
            Settled::Paid { .. } | Settled::Duplicate { .. } | Settled::Reversed { .. } => 200,
            _ => 202,
        };
        Ok(ApiResponse::json(status, &settled.to_json()))
    }
}

/// A shared secret compared in constant time, so it cannot be guessed byte by byte from response times.
fn secret_matches(given: Option<&str>, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(expected.as_bytes())))
}

impl WebhookApi<'_> {
    /// `POST /v1/webhooks/cielo`: Cielo's notification post `{"PaymentId","ChangeType","RecurrentPaymentId"?}`.
    /// ChangeType 1 (status change) and 25 (cancelled or partly refunded) read the sale and apply what it says;
    /// 7 is a chargeback; the others (recurrence, anti-fraud) are acknowledged.
    async fn cielo(&self, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let Some(acquirers) = self.acquirers else {
            return Err(ApiError::new(404, "unknown_provider", "notificações da Cielo não configuradas / Cielo notifications not configured"));
        };
        if !secret_matches(req.header("x-webhook-secret"), acquirers.secret) {
            return Err(ApiError::new(401, "unauthorized", "origem da notificação não autenticada / notification sender not authenticated"));
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Notification {
            payment_id: String,
            change_type: Value,
        }
        let n: Notification =
            serde_json::from_slice(&req.body).map_err(|e| ApiError::new(400, "malformed_json", format!("JSON inválido / malformed JSON: {e}")))?;
        let change_type = match &n.change_type {
            Value::Number(v) => v.as_u64(),
            Value::String(v) => v.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| ApiError::invalid("ChangeType", "número / number"))?;
        let uuid_like = n.payment_id.len() == 36 && n.payment_id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if !uuid_like {
            return Err(ApiError::invalid("PaymentId", "GUID de 36 caracteres / 36-character GUID"));
        }
        let change = match change_type {
            1 | 25 => crate::checkout::SaleChange::Status,
            7 => crate::checkout::SaleChange::Chargeback,
            other => return Ok(ApiResponse::json(200, &json!({"result": "acknowledged", "ChangeType": other}))),
        };
        let checkout = crate::checkout::Checkout {
            store: self.settlement.store,
            queue: self.settlement.queue,
            events: self.settlement.events,
            providers: acquirers.providers,
        };
        let results = match checkout.acquirer_notice(crate::providers::Provider::Cielo, &n.payment_id, change, now).await {
            Ok(r) => r,
            // Cielo retries a notification that did not get 200; a sale it cannot tell us about now may later.
            Err(crate::checkout::CheckoutError::Provider(ProviderError::Unavailable(m))) => {
                tracing::warn!(error = %m, "cielo unavailable while reading a notified sale");
                return Err(ApiError::new(503, "provider_unavailable", "Cielo indisponível, tente novamente / Cielo unavailable, retry"));
            }
            Err(e) => return Err(ApiError::internal(e)),
        };
        Ok(ApiResponse::json(200, &json!({"results": results.iter().map(Settled::to_json).collect::<Vec<_>>()})))
    }

    /// `POST /v1/webhooks/pix`: the BCB Pix API webhook, one or more received Pix, each matched by txid.
    async fn bcb_pix(&self, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let unauthorized = || ApiError::new(401, "unauthorized", "origem do webhook Pix não autenticada / Pix webhook sender not authenticated");
        match self.pix_auth {
            None => return Err(ApiError::new(404, "unknown_provider", "webhook Pix não configurado / Pix webhook not configured")),
            Some(PixWebhookAuth::MutualTls(pin)) => {
                if let Err(why) = pin.admits(req.client_cert.as_ref(), now) {
                    let presented = req.client_cert.as_ref().map(|c| (c.subject_dn.as_str(), c.issuer_dn.as_str(), c.fingerprint_hex()));
                    tracing::warn!(reason = why, ?presented, "pix webhook refused");
                    return Err(unauthorized());
                }
            }
            Some(PixWebhookAuth::SharedSecret(secret)) => {
                if !secret_matches(req.header("x-webhook-secret"), secret) {
                    return Err(unauthorized());
                }
            }
        }
        let notices = webhook::parse_bcb_pix(&req.body).map_err(|e| match e {
            webhook::PayloadError::Field { field, message } => ApiError::invalid(field, message),
            other => ApiError::new(400, "malformed_json", other.to_string()),
        })?;
        let raw = String::from_utf8_lossy(&req.body);
        let mut results = Vec::new();
        for notice in &notices {
            let mut result = self.settlement.apply(notice, &raw, now).await.map_err(ApiError::internal)?.to_json();
            let id_field = if notice.kind.is_reversal() { "rtrId" } else { "endToEndId" };
            result[id_field] = json!(notice.provider_payment_id);
            results.push(result);
        }
        Ok(ApiResponse::json(200, &json!({"results": results})))
    }
}

fn reminder_json(r: &Reminder) -> Value {
    let reason = match &r.state {
        ReminderState::Skipped { reason } | ReminderState::Failed { reason, .. } | ReminderState::Cancelled { reason } => Some(reason.clone()),
        _ => None,
    };
    let channel = match r.action {
        Action::Notify(c) => Some(c),
        Action::MarkOverdue | Action::Expire => None,
    };
    json!({"id": r.id(), "step": r.step.name(), "channel": channel, "scheduled_at": r.due_at, "state": r.state.name(), "reason": reason})
}

fn customer_json(c: &Customer) -> Value {
    json!({
        "id": c.id,
        "object": "customer",
        "name": c.name,
        "document": c.document.as_str(),
        "document_type": c.document.kind(),
        "email": c.email,
        "phone": c.phone,
        "address": c.address,
        "erased_at": c.erased_at,
        "created_at": c.created_at,
    })
}

fn parse_customer(body: &Map<String, Value>, merchant: &Merchant, now: DateTime<Utc>, prefix: &str) -> Result<Customer, ApiError> {
    let f = |name: &str| format!("{prefix}{name}");
    let str_of = |name: &str| -> Result<&str, ApiError> {
        match body.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(ApiError::invalid(&f(name), "deve ser texto / must be a string")),
            None => Err(missing(&f(name))),
        }
    };
    let optional = |name: &str| -> Result<Option<&str>, ApiError> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(&f(name), "deve ser texto / must be a string")),
        }
    };
    Ok(Customer {
        id: CustomerId::generate(),
        merchant_id: merchant.id.clone(),
        name: PersonName::parse(str_of("name")?).map_err(|e| ApiError::invalid(&f("name"), e))?,
        document: Document::parse(str_of("document")?).map_err(|e| ApiError::invalid(&f("document"), e))?,
        email: optional("email")?.map(Email::parse).transpose().map_err(|e| ApiError::invalid(&f("email"), e))?,
        phone: optional("phone")?.map(Phone::parse).transpose().map_err(|e| ApiError::invalid(&f("phone"), e))?,
        address: match body.get("address") {
            None | Some(Value::Null) => None,
            Some(Value::Object(a)) => {
                reject_unknown(a, &["street", "number", "complement", "district", "city", "state", "cep"], &f("address."))?;
                Some(Address::parse(a).map_err(|(field, e)| ApiError::invalid(&f(&format!("address.{field}")), e))?)
            }
            Some(_) => return Err(ApiError::invalid(&f("address"), "deve ser um objeto / must be an object")),
        },
        opt_out: Default::default(),
        erased_at: None,
        created_at: now,
    })
}

const CUSTOMER_FIELDS: &[&str] = &["name", "document", "email", "phone", "address"];

/// `late_fees` admitted for a charge of `amount` due on `due_date` to `payer` (`service::charges::late_fees`).
fn parse_late_fees(v: Option<&Value>, amount: Money, due_date: DueDate, payer: &Document) -> Result<LateFees, ApiError> {
    Ok(crate::service::charges::late_fees(v, amount, due_date, payer)?)
}

/// A refused term, naming its field (`late_fees.fine`, `late_fees.interest`, …) and the limit it broke.
fn terms_error(e: crate::pay::late_fees::TermsError) -> ApiError {
    ApiError::invalid(e.field(), e)
}

fn parse_amount(v: Option<&Value>) -> Result<Money, ApiError> {
    match v {
        Some(Value::String(s)) => Money::parse(s).map_err(|e| ApiError::invalid("amount", e)),
        Some(_) => Err(ApiError::invalid("amount", "envie o valor como texto, ex. \"150.00\" / send the amount as a string, e.g. \"150.00\"")),
        None => Err(missing("amount")),
    }
}

fn parse_ruler_body(body: &[u8]) -> Result<Ruler, ApiError> {
    let value = Value::Object(json_object(body)?);
    Ruler::parse(&value).map_err(|e| ApiError::invalid(&e.field, e.message))
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::new(400, "malformed_json", "o corpo deve ser um objeto JSON / body must be a JSON object")),
        Err(e) => Err(ApiError::new(400, "malformed_json", format!("JSON inválido / malformed JSON: {e}"))),
    }
}

fn reject_unknown(body: &Map<String, Value>, allowed: &[&str], prefix: &str) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError {
            status: 422,
            code: "unknown_field",
            message: "campo desconhecido / unknown field".into(),
            field: Some(format!("{prefix}{k}")),
        }),
        None => Ok(()),
    }
}

fn required_str<'b>(body: &'b Map<String, Value>, name: &str) -> Result<&'b str, ApiError> {
    match body.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::invalid(name, "deve ser texto / must be a string")),
        None => Err(missing(name)),
    }
}

fn missing(field: &str) -> ApiError {
    ApiError { status: 422, code: "missing_field", message: "campo obrigatório / required field".into(), field: Some(field.to_string()) }
}
