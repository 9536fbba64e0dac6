//! The HTTP API, independent of how requests arrive (API Gateway through lambda_http, or tests).
//! Parsing and error mapping happen here once; use cases receive domain types.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::address::Address;
use crate::domain::calendar;
use crate::domain::charge::{Charge, ChargeChanges, Description, DueDate, PaymentMethod};
use crate::domain::customer::{Customer, OptOut};
use crate::domain::document::Document;
use crate::domain::events::EventBus;
use crate::domain::idempotency;
use crate::domain::ids::{ChargeId, CustomerId};
use crate::domain::merchant::{ApiKeyHash, Merchant};
use crate::domain::money::Money;
use crate::domain::notification::Channel;
use crate::domain::pay::late_fees::LateFees;
use crate::domain::payment_notice;
use crate::domain::ruler::{self, Ruler};
use crate::domain::standard_webhooks::{self, WebhookSecret};
use crate::ports::providers::{ProviderError, Providers};
use crate::ports::queue::JobQueue;
use crate::ports::store::{IdempotencyBegin, RulerScope, SavedResponse, Store, StoreError};
use crate::service::schedule::{schedule_of, ReplanScope, Schedules};
use crate::service::settlement::{Settled, Settlement};
use crate::service::{ChargeError, ChargeService, Created, NewCharge, Payer};

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
    pub client_cert: Option<crate::http::mtls::ClientCertificate>,
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
        // Through a `Value`, whose map sorts keys: the bytes clients have always had, whatever order a view
        // declares its fields in (views follow the document's order).
        let value = serde_json::to_value(body).expect("serialisable response");
        Self { status, body: value.to_string(), content_type: None, headers: Vec::new() }
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
    ///
    /// Views (`views`) carry it as a field; this re-parse of the body stamps it only on the answers of routes not
    /// yet built from views (all but `views::ROUTES`).
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
        ApiResponse::json(self.status, &views::Error::new(self.code, self.message, self.field))
    }
}

impl From<crate::domain::pay::late_fees::Unpriceable> for ApiError {
    /// A charge stored with terms that overflow the pricing (accepted before the bounds existed): an error for
    /// that one charge, never a 500.
    fn from(e: crate::domain::pay::late_fees::Unpriceable) -> Self {
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
            ChargeError::Internal(e) => return Self::internal(e),
            ChargeError::EventNotPublished(_) => 503,
            ChargeError::InlineCustomerErased | ChargeError::KeyReusedWithAnotherCustomer | ChargeError::NotOpen(_) => 409,
            ChargeError::SubscriptionGone | ChargeError::ChargeNotFound => 404,
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

mod charges;
mod customers;
mod keys;
mod management;
mod plans;
mod requests;
mod subscriptions;
pub(crate) mod views;
pub use crate::service::{SubscriptionRun, MAX_SUBSCRIPTIONS_PER_RUN};
mod notifications;
mod openapi;
mod payments;
pub mod provider_webhooks;
mod reconciliation;
mod reports;
mod rulers;
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
    pub webhook_urls: crate::service::merchant_webhooks::UrlPolicy,
    /// The operator key and the default rate limit.
    pub access: crate::domain::api_keys::AccessPolicy,
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
        let from_views = views::ROUTES.iter().any(|(method, pattern)| *method == req.method && route_matches(pattern, &segments));
        if !from_views {
            response.mark_livemode(livemode);
        }
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
    async fn authenticate(&self, req: &ApiRequest, now: DateTime<Utc>) -> Result<(Merchant, crate::domain::api_keys::ApiKeyRecord), ApiError> {
        let unauthorized = || {
            ApiError::new(401, "unauthorized", "chave de API ausente, inválida, revogada ou expirada / missing, invalid, revoked or expired API key")
        };
        let token = req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).ok_or_else(unauthorized)?;
        let key = self.store.api_key_by_hash(&ApiKeyHash::of(token.trim())).await?.filter(|k| k.usable(now)).ok_or_else(unauthorized)?;
        let merchant = self.store.get_merchant(&key.merchant_id).await?.ok_or_else(unauthorized)?;
        // A key that names a mode is only good for a merchant of that mode (keys made before modes name none).
        if crate::domain::merchant::ApiKey::mode_of(token.trim()).is_some_and(|m| m != merchant.mode) {
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

    /// The use case that makes charges, over this API's store, events, queue and providers.
    pub(crate) fn charges(&self) -> ChargeService<'_> {
        ChargeService { store: self.store, events: self.events, queue: self.queue, providers: self.providers }
    }

    /// The queued re-plans' next pages (after a régua or an opt-out changed), as ruler-tick runs them.
    pub async fn run_replans(&self, now: DateTime<Utc>) -> Result<crate::service::schedule::ReplanRun, ApiError> {
        Ok(self.schedules().run_replans(now, crate::service::schedule::REPLAN_PAGES_PER_RUN).await?)
    }

    fn schedules(&self) -> Schedules<'_> {
        Schedules { store: self.store }
    }

    async fn customer(&self, merchant: &Merchant, id: &str) -> Result<Customer, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cliente não encontrado / customer not found");
        let id = CustomerId::parse(id).map_err(|_| not_found())?;
        self.store.get_customer(&merchant.id, &id).await?.ok_or_else(not_found)
    }
}

/// `late_fees` admitted for a charge of `amount` due on `due_date` to `payer` (`service::charges::late_fees`).
fn parse_late_fees(v: Option<&Value>, amount: Money, due_date: DueDate, payer: &Document) -> Result<LateFees, ApiError> {
    Ok(crate::service::charges::late_fees(v, amount, due_date, payer)?)
}

fn parse_amount(v: Option<&Value>) -> Result<Money, ApiError> {
    match v {
        Some(Value::String(s)) => Money::parse(s).map_err(|e| ApiError::invalid("amount", e)),
        Some(_) => Err(ApiError::invalid("amount", "envie o valor como texto, ex. \"150.00\" / send the amount as a string, e.g. \"150.00\"")),
        None => Err(missing("amount")),
    }
}

fn missing(field: &str) -> ApiError {
    ApiError { status: 422, code: "missing_field", message: "campo obrigatório / required field".into(), field: Some(field.to_string()) }
}

/// A shared secret compared in constant time, so it cannot be guessed byte by byte from response times.
fn secret_matches(given: Option<&str>, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(expected.as_bytes())))
}
