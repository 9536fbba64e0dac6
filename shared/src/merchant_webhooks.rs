//! Webhooks out, to the merchant's own systems. A merchant registers endpoints and the event types each wants;
//! every domain event becomes one delivery per subscribed endpoint, signed with Standard Webhooks under a
//! `webhook-id` that stays the same across retries and replays. Failures are retried for about three days on a
//! schedule with jitter, honouring `Retry-After`; a `410 Gone` disables the endpoint; an endpoint whose delivery
//! exhausts the schedule is paused and the operator alerted (`WebhookEndpointPaused` on the bus).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::events::{DomainEvent, EventBus, PublishError};
use crate::ids::{ChargeId, MerchantId, WebhookEndpointId, WebhookMessageId};
pub use crate::jobs::WebhookJob;
use crate::queue::{EnqueueError, JobQueue};
use crate::store::{Store, StoreError};
use crate::webhook::WebhookSecret;

/// The event types a merchant can subscribe to, and the domain events they come from.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("charge.created", "ChargeCreated"),
    ("charge.updated", "ChargeUpdated"),
    ("charge.overdue", "ChargeOverdue"),
    ("charge.paid", "PaymentConfirmed"),
    ("charge.partially_paid", "ChargePartiallyPaid"),
    ("charge.refunded", "ChargeRefunded"),
    ("charge.chargeback", "ChargeChargeback"),
    ("charge.cancelled", "ChargeCancelled"),
    ("charge.renegotiated", "ChargeRenegotiated"),
    ("charge.expired", "ChargeExpired"),
    ("payment.flagged_for_refund", "PaymentFlaggedForRefund"),
    ("notification.sent", "NotificationSent"),
    ("notification.failed", "NotificationFailed"),
];

pub fn event_type_of(domain_kind: &str) -> Option<&'static str> {
    EVENT_TYPES.iter().find(|(_, k)| *k == domain_kind).map(|(t, _)| *t)
}

/// How long a rotated-out secret keeps signing alongside the new one, unless the merchant says otherwise.
/// Endpoints a merchant may register: every event is delivered to each of them, so this bounds the fan-out.
pub const MAX_ENDPOINTS_PER_MERCHANT: usize = 16;
pub const DEFAULT_ROTATION_GRACE: chrono::Duration = chrono::Duration::hours(24);
/// How long one attempt may hold a delivery before another worker may try it.
pub const ATTEMPT_LEASE: chrono::Duration = chrono::Duration::seconds(30);
/// A `Retry-After` longer than this is not waited for in full.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// What is kept of a response body in the delivery log.
const RESPONSE_EXCERPT: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSecret {
    /// "whsec_" + base64, as the merchant's verifier takes it.
    pub secret: String,
    pub created_at: DateTime<Utc>,
    /// Set when rotated out: it keeps signing (a second signature) until then, so receivers can switch calmly.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EndpointStatus {
    Enabled,
    /// Deliveries kept failing for the whole retry schedule; the merchant re-enables it after fixing it.
    Paused {
        since: DateTime<Utc>,
        reason: String,
    },
    /// The endpoint answered 410 Gone, or the merchant disabled it.
    Disabled {
        since: DateTime<Utc>,
        reason: String,
    },
}

impl EndpointStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Paused { .. } => "paused",
            Self::Disabled { .. } => "disabled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub merchant_id: MerchantId,
    pub url: String,
    pub description: String,
    /// Subscribed event types; `["*"]` is every type, including ones added later.
    pub event_types: Vec<String>,
    pub secrets: Vec<SigningSecret>,
    pub status: EndpointStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

/// Which endpoint URLs are acceptable. Production accepts only public `https` URLs: an endpoint on a loopback or
/// private address would let a merchant make our functions call inside their network (SSRF).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UrlPolicy {
    /// Local development and tests: plain http and loopback/private hosts are accepted.
    pub allow_local: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), message: message.into() }
}

impl UrlPolicy {
    pub fn parse(&self, raw: &str) -> Result<String, FieldError> {
        let bad = |m: &str| field_error("url", m);
        if raw.len() > 2000 {
            return Err(bad("URL longa demais (máx. 2000) / URL too long (max 2000)"));
        }
        let url = url::Url::parse(raw).map_err(|e| bad(&format!("URL inválida / invalid URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credenciais na URL não são aceitas / credentials in the URL are not accepted"));
        }
        // A name is checked again on every address it resolves to when we connect (`adapters::http_webhooks`).
        let local = match url.host() {
            Some(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.');
                d == "localhost" || d.ends_with(".localhost") || d.ends_with(".internal") || d.ends_with(".local") || !d.contains('.')
            }
            Some(url::Host::Ipv4(ip)) => !crate::outbound::is_public(ip.into()),
            Some(url::Host::Ipv6(ip)) => !crate::outbound::is_public(ip.into()),
            None => return Err(bad("URL sem host / URL without a host")),
        };
        match (url.scheme(), self.allow_local) {
            ("https", _) | ("http", true) => {}
            _ => return Err(bad("use https / the endpoint must use https")),
        }
        if local && !self.allow_local {
            return Err(bad("endereço local ou privado não é aceito / local or private addresses are not accepted"));
        }
        Ok(url.to_string())
    }
}

fn parse_event_types(v: &Value) -> Result<Vec<String>, FieldError> {
    let list = v.as_array().ok_or_else(|| field_error("event_types", "lista de tipos de evento / list of event types"))?;
    let mut out: Vec<String> = Vec::new();
    for t in list {
        let t = t.as_str().ok_or_else(|| field_error("event_types", "tipos são textos / types are strings"))?;
        if t != "*" && !EVENT_TYPES.iter().any(|(known, _)| *known == t) {
            let known: Vec<&str> = EVENT_TYPES.iter().map(|(t, _)| *t).collect();
            return Err(field_error(
                "event_types",
                format!("tipo desconhecido / unknown event type {t:?}; use \"*\" or one of {}", known.join(", ")),
            ));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    if out.is_empty() {
        return Err(field_error("event_types", "escolha ao menos um tipo / choose at least one event type"));
    }
    Ok(out)
}

fn parse_description(v: Option<&Value>) -> Result<String, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) if s.chars().count() <= 200 => Ok(s.clone()),
        _ => Err(field_error("description", "texto de até 200 caracteres / text of at most 200 characters")),
    }
}

impl WebhookEndpoint {
    /// A new endpoint from the API body `{"url","event_types","description"?}`; also returns its first secret,
    /// which the merchant sees only now (and on rotation).
    pub fn create(body: &Value, merchant: &MerchantId, policy: UrlPolicy, now: DateTime<Utc>) -> Result<(Self, String), FieldError> {
        let obj = body.as_object().ok_or_else(|| field_error("body", "objeto JSON / JSON object"))?;
        if let Some(k) = obj.keys().find(|k| !["url", "event_types", "description"].contains(&k.as_str())) {
            return Err(field_error(k, "campo desconhecido / unknown field"));
        }
        let url = policy.parse(obj.get("url").and_then(Value::as_str).ok_or_else(|| field_error("url", "obrigatório / required"))?)?;
        let event_types = parse_event_types(obj.get("event_types").ok_or_else(|| field_error("event_types", "obrigatório / required"))?)?;
        let (_, secret) = WebhookSecret::generate();
        let endpoint = Self {
            id: WebhookEndpointId::generate(),
            merchant_id: merchant.clone(),
            url,
            description: parse_description(obj.get("description"))?,
            event_types,
            secrets: vec![SigningSecret { secret: secret.clone(), created_at: now, expires_at: None }],
            status: EndpointStatus::Enabled,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        Ok((endpoint, secret))
    }

    /// Applies `{"url"?, "event_types"?, "description"?, "status"?: "enabled"|"disabled"}`. Enabling a paused
    /// or disabled endpoint resumes deliveries of new events (older ones can be replayed).
    pub fn update(&mut self, body: &Value, policy: UrlPolicy, now: DateTime<Utc>) -> Result<(), FieldError> {
        let obj = body.as_object().ok_or_else(|| field_error("body", "objeto JSON / JSON object"))?;
        if let Some(k) = obj.keys().find(|k| !["url", "event_types", "description", "status"].contains(&k.as_str())) {
            return Err(field_error(k, "campo desconhecido / unknown field"));
        }
        if let Some(url) = obj.get("url") {
            self.url = policy.parse(url.as_str().ok_or_else(|| field_error("url", "texto / string"))?)?;
        }
        if let Some(types) = obj.get("event_types") {
            self.event_types = parse_event_types(types)?;
        }
        if obj.contains_key("description") {
            self.description = parse_description(obj.get("description"))?;
        }
        match obj.get("status").map(|s| s.as_str()) {
            None => {}
            Some(Some("enabled")) => self.status = EndpointStatus::Enabled,
            Some(Some("disabled")) => {
                if self.status.as_str() != "disabled" {
                    self.status = EndpointStatus::Disabled { since: now, reason: "disabled by the merchant".into() };
                }
            }
            _ => return Err(field_error("status", "\"enabled\" ou \"disabled\" / \"enabled\" or \"disabled\"")),
        }
        self.updated_at = now;
        self.version += 1;
        Ok(())
    }

    pub fn subscribes(&self, event_type: &str) -> bool {
        self.event_types.iter().any(|t| t == "*" || t == event_type)
    }

    /// A new secret signs from now on; the current one keeps signing too until `now + grace` (0 = revoke now).
    pub fn rotate_secret(&mut self, grace: chrono::Duration, now: DateTime<Utc>) -> String {
        self.secrets.retain(|s| s.expires_at.is_none_or(|e| e > now));
        for s in &mut self.secrets {
            let until = now + grace;
            s.expires_at = Some(s.expires_at.map_or(until, |e| e.min(until)));
        }
        self.secrets.retain(|s| s.expires_at.is_none_or(|e| e > now));
        let (_, secret) = WebhookSecret::generate();
        self.secrets.push(SigningSecret { secret: secret.clone(), created_at: now, expires_at: None });
        self.updated_at = now;
        self.version += 1;
        secret
    }

    /// The secrets that sign a delivery made at `now`, newest first.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<WebhookSecret> {
        self.secrets.iter().rev().filter(|s| s.expires_at.is_none_or(|e| e > now)).filter_map(|s| WebhookSecret::parse(&s.secret)).collect()
    }

    /// What the API shows: never the secrets, only how many sign and until when.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "webhook_endpoint",
            "url": self.url,
            "description": self.description,
            "event_types": self.event_types,
            "status": self.status.as_str(),
            "status_detail": match &self.status {
                EndpointStatus::Enabled => Value::Null,
                EndpointStatus::Paused { since, reason } | EndpointStatus::Disabled { since, reason } => json!({"since": since, "reason": reason}),
            },
            "secrets": self.secrets.iter().map(|s| json!({"created_at": s.created_at, "expires_at": s.expires_at})).collect::<Vec<_>>(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    Succeeded,
    /// Given up: the schedule ran out, or the endpoint answered 410.
    Failed,
    /// Not attempted: the endpoint was paused or disabled when the event happened. Can be replayed.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub at: DateTime<Utc>,
    /// The HTTP status, if the endpoint answered.
    pub status_code: Option<u16>,
    /// Connection failure, timeout…
    pub error: Option<String>,
    pub duration_ms: u64,
    pub response_excerpt: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// The `webhook-id` header: the same on every attempt and replay.
    pub id: WebhookMessageId,
    pub merchant_id: MerchantId,
    pub endpoint_id: WebhookEndpointId,
    pub charge_id: ChargeId,
    pub event_id: String,
    pub event_type: String,
    /// The exact JSON body that is signed and sent.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<DeliveryAttempt>,
    /// Attempts since the delivery was made or last replayed: the position in the retry schedule.
    pub round_attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Set while an attempt is in flight, so a duplicate job does not send in parallel.
    pub leased_until: Option<DateTime<Utc>>,
    pub replays: u32,
    pub created_at: DateTime<Utc>,
    pub version: u64,
}

/// The delivery log keeps the latest attempts only; the first ones are the least useful.
const KEPT_ATTEMPTS: usize = 30;

impl WebhookDelivery {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "webhook_delivery",
            "endpoint_id": self.endpoint_id,
            "charge_id": self.charge_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at,
            "replays": self.replays,
            "created_at": self.created_at,
            "payload": serde_json::from_str::<Value>(&self.payload).unwrap_or(Value::Null),
        })
    }
}

/// Delays between attempts. The standard one spans about three days (71 h 36 min after the first attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl RetrySchedule {
    pub fn standard() -> Self {
        let (s, m, h) = (1u64, 60u64, 3600u64);
        let delays = [5 * s, m, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 12 * h, 12 * h, 12 * h, 18 * h];
        Self { delays: delays.iter().map(|d| Duration::from_secs(*d)).collect() }
    }

    /// "5s,1m,2h": for local runs and tests, where three days cannot be waited for.
    pub fn parse(s: &str) -> Option<Self> {
        let delays: Option<Vec<Duration>> = s
            .split(',')
            .map(str::trim)
            .map(|p| {
                let (n, unit) = p.split_at(p.find(|c: char| !c.is_ascii_digit())?);
                let n: u64 = n.parse().ok()?;
                Some(Duration::from_secs(match unit {
                    "s" => n,
                    "m" => n * 60,
                    "h" => n * 3600,
                    _ => return None,
                }))
            })
            .collect();
        delays.filter(|d| !d.is_empty()).map(|delays| Self { delays })
    }

    /// Attempts in one round: the first plus one per delay.
    pub fn attempts(&self) -> usize {
        self.delays.len() + 1
    }

    pub fn total(&self) -> Duration {
        self.delays.iter().sum()
    }

    /// The wait after the `failed`-th failed attempt of a round (1-based), or None when the round is over.
    /// `jitter_permille` in [-100, 100] moves it by up to ±10 %, so endpoints that failed together are not
    /// retried together; a `Retry-After` longer than the schedule's wait is honoured (up to `MAX_RETRY_AFTER`).
    pub fn next_delay(&self, failed: usize, retry_after: Option<Duration>, jitter_permille: i64) -> Option<Duration> {
        let base = *self.delays.get(failed.checked_sub(1)?)?;
        let base_ms = base.as_millis() as i64;
        let jittered = Duration::from_millis((base_ms + base_ms * jitter_permille.clamp(-100, 100) / 1000).max(0) as u64);
        Some(jittered.max(retry_after.unwrap_or_default().min(MAX_RETRY_AFTER)))
    }
}

/// A `Retry-After` value: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    (at - now).to_std().ok()
}

/// What the merchant's endpoint did with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointReply {
    Answered {
        status: u16,
        retry_after: Option<String>,
        body_excerpt: String,
    },
    /// No HTTP answer: connection refused, TLS failure, timeout.
    Unreachable(String),
}

/// Sends one signed POST. Redirects are not followed (a webhook URL that moves must be updated).
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    async fn post(&self, url: &str, headers: &[(&str, String)], body: &str) -> EndpointReply;
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] EnqueueError),
    #[error(transparent)]
    Events(#[from] PublishError),
}

/// What the queue should do with a job once handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Done,
    /// Bring the job back after this long (SQS visibility), when the next attempt is due.
    RetryIn(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("entrega não encontrada / delivery not found")]
    NotFound,
    #[error("o endpoint não está ativo ({0}); ative-o antes / the endpoint is {0}; enable it first")]
    EndpointNotEnabled(&'static str),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
}

impl From<StoreError> for ReplayError {
    fn from(e: StoreError) -> Self {
        Self::Webhook(e.into())
    }
}

pub struct MerchantWebhooks<'a> {
    pub store: &'a dyn Store,
    pub queue: &'a dyn JobQueue,
    pub events: &'a dyn EventBus,
    pub transport: &'a dyn WebhookTransport,
    pub schedule: &'a RetrySchedule,
}

/// The body every delivery carries (Standard Webhooks' recommended shape): `type`, `timestamp`, `data`, and
/// `livemode`, the merchant's mode, so a receiver shared by test and live can keep test events off real books.
pub fn payload_of(event: &DomainEvent, event_type: &str, livemode: bool) -> String {
    let mut data = serde_json::Map::new();
    data.insert("charge_id".into(), json!(event.charge_id));
    data.insert("event_id".into(), json!(event.id));
    if let Value::Object(extra) = &event.data {
        for (k, v) in extra {
            data.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    json!({
        "type": event_type,
        "timestamp": event.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "livemode": livemode,
        "data": data,
    })
    .to_string()
}

impl MerchantWebhooks<'_> {
    /// Turns a domain event into deliveries for the endpoints that want it. Safe to repeat: a redelivered event
    /// finds its deliveries made, and only re-queues ones that never got their first attempt.
    pub async fn dispatch(&self, event: &DomainEvent, now: DateTime<Utc>) -> Result<usize, WebhookError> {
        let Some(event_type) = event_type_of(&event.kind) else {
            return Ok(0);
        };
        let endpoints: Vec<WebhookEndpoint> =
            self.store.webhook_endpoints_of(&event.merchant_id).await?.into_iter().filter(|e| e.subscribes(event_type)).collect();
        if endpoints.is_empty() {
            return Ok(0);
        }
        // A merchant stored without a mode is live (see `merchant::Mode`); one not found is taken as live too.
        let livemode = self.store.get_merchant(&event.merchant_id).await?.is_none_or(|m| m.mode.is_live());
        let mut jobs = Vec::new();
        for endpoint in endpoints {
            let delivery = WebhookDelivery {
                id: WebhookMessageId::of(&endpoint.id, &event.id),
                merchant_id: event.merchant_id.clone(),
                endpoint_id: endpoint.id.clone(),
                charge_id: event.charge_id.clone(),
                event_id: event.id.clone(),
                event_type: event_type.to_string(),
                payload: payload_of(event, event_type, livemode),
                status: if endpoint.status == EndpointStatus::Enabled { DeliveryStatus::Pending } else { DeliveryStatus::Skipped },
                attempts: Vec::new(),
                round_attempts: 0,
                next_attempt_at: None,
                leased_until: None,
                replays: 0,
                created_at: now,
                version: 1,
            };
            let stored = if self.store.add_webhook_delivery(&delivery).await? {
                delivery
            } else {
                match self.store.get_webhook_delivery(&event.merchant_id, &delivery.id).await? {
                    Some(d) => d,
                    None => continue,
                }
            };
            if stored.status == DeliveryStatus::Pending && stored.attempts.is_empty() {
                jobs.push(WebhookJob { merchant_id: stored.merchant_id.clone(), delivery_id: stored.id.clone() });
            }
        }
        self.queue.enqueue_webhooks(&jobs).await?;
        Ok(jobs.len())
    }

    /// Makes the delivery's next attempt if it is due.
    pub async fn attempt(&self, job: &WebhookJob, now: DateTime<Utc>) -> Result<Disposition, WebhookError> {
        let Some(mut delivery) = self.store.get_webhook_delivery(&job.merchant_id, &job.delivery_id).await? else {
            tracing::warn!(delivery_id = %job.delivery_id, "webhook delivery not found");
            return Ok(Disposition::Done);
        };
        if delivery.status != DeliveryStatus::Pending {
            return Ok(Disposition::Done);
        }
        if let Some(wait) = [delivery.next_attempt_at, delivery.leased_until].into_iter().flatten().filter(|t| *t > now).max() {
            return Ok(Disposition::RetryIn((wait - now).to_std().unwrap_or_default()));
        }
        let endpoint = self.store.get_webhook_endpoint(&job.merchant_id, &delivery.endpoint_id).await?;
        let Some(endpoint) = endpoint.filter(|e| e.status == EndpointStatus::Enabled) else {
            // Deleted, paused or disabled since: kept in the log, replayable once it is enabled again.
            let expected = delivery.version;
            delivery.status = DeliveryStatus::Skipped;
            delivery.version += 1;
            self.store.update_webhook_delivery(&delivery, expected).await.or_else(ignore_conflict)?;
            return Ok(Disposition::Done);
        };

        // Claim the attempt: a duplicate job racing this one loses here instead of sending twice.
        let claimed = delivery.version;
        delivery.leased_until = Some(now + ATTEMPT_LEASE);
        delivery.version += 1;
        match self.store.update_webhook_delivery(&delivery, claimed).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Ok(Disposition::Done),
            Err(e) => return Err(e.into()),
        }

        let timestamp = now.timestamp();
        let signature = endpoint
            .signing_secrets(now)
            .iter()
            .map(|s| s.sign(delivery.id.as_str(), timestamp, delivery.payload.as_bytes()))
            .collect::<Vec<_>>()
            .join(" ");
        let headers = [
            ("content-type", "application/json".to_string()),
            ("user-agent", "cobranca-webhooks/1".to_string()),
            ("webhook-id", delivery.id.to_string()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        let started = std::time::Instant::now();
        let reply = self.transport.post(&endpoint.url, &headers, &delivery.payload).await;
        let duration_ms = started.elapsed().as_millis() as u64;

        let mut attempt = DeliveryAttempt { at: now, status_code: None, error: None, duration_ms, response_excerpt: String::new() };
        let mut retry_after = None;
        enum Verdict {
            Delivered,
            Gone,
            Failed,
        }
        let verdict = match reply {
            EndpointReply::Answered { status, retry_after: ra, body_excerpt } => {
                attempt.status_code = Some(status);
                attempt.response_excerpt = body_excerpt.chars().take(RESPONSE_EXCERPT).collect();
                retry_after = ra.as_deref().and_then(|v| parse_retry_after(v, now));
                match status {
                    200..=299 => Verdict::Delivered,
                    410 => Verdict::Gone,
                    _ => Verdict::Failed,
                }
            }
            EndpointReply::Unreachable(e) => {
                attempt.error = Some(e.chars().take(RESPONSE_EXCERPT).collect());
                Verdict::Failed
            }
        };
        delivery.attempts.push(attempt);
        if delivery.attempts.len() > KEPT_ATTEMPTS {
            delivery.attempts.remove(0);
        }
        delivery.round_attempts += 1;
        delivery.leased_until = None;
        let mut disposition = Disposition::Done;
        let mut endpoint_change = None;
        match verdict {
            Verdict::Delivered => {
                delivery.status = DeliveryStatus::Succeeded;
                delivery.next_attempt_at = None;
            }
            Verdict::Gone => {
                delivery.status = DeliveryStatus::Failed;
                delivery.next_attempt_at = None;
                endpoint_change = Some(EndpointStatus::Disabled { since: now, reason: "the endpoint answered 410 Gone".into() });
            }
            Verdict::Failed => {
                let jitter = (rand::random::<u32>() % 201) as i64 - 100;
                match self.schedule.next_delay(delivery.round_attempts as usize, retry_after, jitter) {
                    Some(delay) => {
                        delivery.next_attempt_at = Some(now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX));
                        disposition = Disposition::RetryIn(delay);
                    }
                    None => {
                        delivery.status = DeliveryStatus::Failed;
                        delivery.next_attempt_at = None;
                        let reason = format!("{} attempts failed over {} hours", delivery.round_attempts, self.schedule.total().as_secs() / 3600);
                        endpoint_change = Some(EndpointStatus::Paused { since: now, reason });
                    }
                }
            }
        }
        let expected = delivery.version;
        delivery.version += 1;
        self.store.update_webhook_delivery(&delivery, expected).await?;
        if let Some(status) = endpoint_change {
            self.change_endpoint_status(&endpoint, status, &delivery, now).await?;
        }
        Ok(disposition)
    }

    async fn change_endpoint_status(
        &self,
        endpoint: &WebhookEndpoint,
        status: EndpointStatus,
        cause: &WebhookDelivery,
        now: DateTime<Utc>,
    ) -> Result<(), WebhookError> {
        let mut current = endpoint.clone();
        for _ in 0..5 {
            if current.status != EndpointStatus::Enabled {
                return Ok(());
            }
            let expected = current.version;
            current.status = status.clone();
            current.updated_at = now;
            current.version += 1;
            match self.store.update_webhook_endpoint(&current, expected).await {
                Ok(()) => {
                    tracing::warn!(endpoint_id = %current.id, status = current.status.as_str(), "webhook endpoint stopped");
                    // The operator hears of it (template.yaml routes this to the alerts topic).
                    self.events
                        .publish(&[DomainEvent {
                            id: format!("{}:{}:{}", current.id, current.status.as_str(), now.timestamp_millis()),
                            kind: if matches!(status, EndpointStatus::Paused { .. }) { "WebhookEndpointPaused" } else { "WebhookEndpointDisabled" }
                                .into(),
                            merchant_id: current.merchant_id.clone(),
                            charge_id: cause.charge_id.clone(),
                            occurred_at: now,
                            data: json!({"endpoint_id": current.id, "url": current.url, "status": current.status, "last_delivery_id": cause.id}),
                        }])
                        .await?;
                    return Ok(());
                }
                Err(StoreError::Conflict) => match self.store.get_webhook_endpoint(&current.merchant_id, &current.id).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok(()),
                },
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }
}

fn ignore_conflict(e: StoreError) -> Result<(), StoreError> {
    match e {
        StoreError::Conflict => Ok(()),
        e => Err(e),
    }
}

/// Sends a delivery again, with the same `webhook-id` and body and a fresh retry schedule.
pub async fn replay(store: &dyn Store, queue: &dyn JobQueue, merchant: &MerchantId, id: &WebhookMessageId) -> Result<WebhookDelivery, ReplayError> {
    for _ in 0..5 {
        let mut delivery = store.get_webhook_delivery(merchant, id).await?.ok_or(ReplayError::NotFound)?;
        let endpoint = store.get_webhook_endpoint(merchant, &delivery.endpoint_id).await?.ok_or(ReplayError::EndpointNotEnabled("deleted"))?;
        if endpoint.status != EndpointStatus::Enabled {
            return Err(ReplayError::EndpointNotEnabled(endpoint.status.as_str()));
        }
        let expected = delivery.version;
        delivery.status = DeliveryStatus::Pending;
        delivery.round_attempts = 0;
        delivery.next_attempt_at = None;
        delivery.leased_until = None;
        delivery.replays += 1;
        delivery.version += 1;
        match store.update_webhook_delivery(&delivery, expected).await {
            Ok(()) => {
                queue
                    .enqueue_webhooks(&[WebhookJob { merchant_id: merchant.clone(), delivery_id: delivery.id.clone() }])
                    .await
                    .map_err(WebhookError::from)?;
                return Ok(delivery);
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{MemoryQueue, MemoryStore, RecordingEventBus};
    use crate::store::{WebhookDeliveryStore, WebhookEndpointStore};
    use chrono::TimeZone;
    use std::sync::Mutex;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 15, 0, 0).unwrap()
    }

    /// Answers with the scripted statuses in turn (the last one repeats) and records what it got.
    struct ScriptedEndpoint {
        replies: Mutex<Vec<EndpointReply>>,
        seen: Mutex<Vec<Vec<(String, String)>>>,
    }

    impl ScriptedEndpoint {
        fn new(replies: Vec<EndpointReply>) -> Self {
            Self { replies: Mutex::new(replies), seen: Mutex::new(Vec::new()) }
        }
        fn status(s: u16) -> EndpointReply {
            EndpointReply::Answered { status: s, retry_after: None, body_excerpt: format!("status {s}") }
        }
    }

    #[async_trait]
    impl WebhookTransport for ScriptedEndpoint {
        async fn post(&self, _url: &str, headers: &[(&str, String)], _body: &str) -> EndpointReply {
            self.seen.lock().unwrap().push(headers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect());
            let mut replies = self.replies.lock().unwrap();
            if replies.len() > 1 {
                replies.remove(0)
            } else {
                replies[0].clone()
            }
        }
    }

    struct World {
        store: MemoryStore,
        queue: MemoryQueue,
        events: RecordingEventBus,
        schedule: RetrySchedule,
    }

    impl World {
        fn new() -> Self {
            Self {
                store: MemoryStore::new(),
                queue: MemoryQueue::default(),
                events: RecordingEventBus::default(),
                schedule: RetrySchedule::standard(),
            }
        }
        fn webhooks<'a>(&'a self, transport: &'a dyn WebhookTransport) -> MerchantWebhooks<'a> {
            MerchantWebhooks { store: &self.store, queue: &self.queue, events: &self.events, transport, schedule: &self.schedule }
        }
        async fn endpoint(&self, types: Value) -> (WebhookEndpoint, String) {
            let (e, secret) = WebhookEndpoint::create(
                &json!({"url": "https://erp.example.com/hooks", "event_types": types}),
                &merchant(),
                UrlPolicy::default(),
                now(),
            )
            .unwrap();
            self.store.add_webhook_endpoint(&e).await.unwrap();
            (e, secret)
        }
    }

    fn merchant() -> MerchantId {
        MerchantId::parse("mer_01test").unwrap()
    }

    fn paid_event() -> DomainEvent {
        DomainEvent {
            id: "pix:E1:paid".into(),
            kind: "PaymentConfirmed".into(),
            merchant_id: merchant(),
            charge_id: ChargeId::parse("chg_01abc").unwrap(),
            occurred_at: now(),
            data: json!({"amount": "150.00", "method": "pix"}),
        }
    }

    #[test]
    fn the_standard_schedule_spans_about_three_days_in_twelve_attempts() {
        let s = RetrySchedule::standard();
        assert_eq!(s.attempts(), 12);
        let minutes = s.total().as_secs() / 60;
        assert!((70 * 60..=72 * 60).contains(&minutes), "{minutes} min");
        assert_eq!(s.next_delay(1, None, 0), Some(Duration::from_secs(5)));
        assert_eq!(s.next_delay(11, None, 0), Some(Duration::from_secs(18 * 3600)));
        assert_eq!(s.next_delay(12, None, 0), None, "the round is over after the 12th attempt");
    }

    #[test]
    fn jitter_stays_within_ten_percent_and_retry_after_can_only_lengthen_the_wait() {
        let s = RetrySchedule::standard();
        assert_eq!(s.next_delay(4, None, 100), Some(Duration::from_secs(30 * 60 * 11 / 10)));
        assert_eq!(s.next_delay(4, None, -100), Some(Duration::from_secs(30 * 60 * 9 / 10)));
        assert_eq!(s.next_delay(1, Some(Duration::from_secs(120)), 0), Some(Duration::from_secs(120)));
        assert_eq!(s.next_delay(4, Some(Duration::from_secs(1)), 0), Some(Duration::from_secs(30 * 60)));
        assert_eq!(s.next_delay(1, Some(Duration::from_secs(10 * 86400)), 0), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("120", now()), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Sun, 22 Nov 2026 15:01:00 GMT", now()), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(RetrySchedule::parse("1s,2m,3h").map(|s| s.total()), Some(Duration::from_secs(1 + 120 + 3 * 3600)));
        assert_eq!(RetrySchedule::parse("1x"), None);
    }

    #[test]
    fn endpoint_urls_on_any_non_public_address_are_refused() {
        let p = UrlPolicy::default();
        for (ip, why) in crate::outbound::NOT_PUBLIC {
            let host = if ip.contains(':') { format!("[{ip}]") } else { ip.to_string() };
            let url = format!("https://{host}/hooks");
            let e = WebhookEndpoint::create(&json!({"url": url, "event_types": ["*"]}), &merchant(), p, now())
                .err()
                .unwrap_or_else(|| panic!("{url} ({why}) accepted"));
            assert_eq!(e.field, "url");
        }
        // The same addresses in the other spellings a URL parser accepts, and names that are never public.
        for url in [
            "https://2130706433/",
            "https://0x7f.1/",
            "https://0251.0376.0251.0376/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[0:0:0:0:0:ffff:7f00:1]/",
            "https://localhost./",
            "https://metadata/",
            "https://metadata.google.internal/",
        ] {
            assert!(p.parse(url).is_err(), "{url} accepted");
        }
    }

    #[test]
    fn endpoint_urls_must_be_public_https() {
        let p = UrlPolicy::default();
        assert!(p.parse("https://erp.example.com/hooks").is_ok());
        for bad in [
            "http://erp.example.com/h",
            "https://127.0.0.1/h",
            "https://10.0.0.7/h",
            "https://169.254.169.254/latest",
            "https://localhost:9001/",
            "https://[::1]/",
            "https://user:pw@erp.example.com/",
            "ftp://x.com",
        ] {
            assert!(p.parse(bad).is_err(), "{bad} accepted");
        }
        assert!(UrlPolicy { allow_local: true }.parse("http://127.0.0.1:8080/h").is_ok());
        let e = WebhookEndpoint::create(&json!({"url": "https://a.com", "event_types": ["charge.payed"]}), &merchant(), p, now()).unwrap_err();
        assert_eq!(e.field, "event_types");
    }

    #[tokio::test]
    async fn an_event_becomes_one_delivery_per_subscribed_endpoint_even_when_redelivered() {
        let w = World::new();
        let (all, _) = w.endpoint(json!(["*"])).await;
        let (paid, _) = w.endpoint(json!(["charge.paid"])).await;
        let (_created_only, _) = w.endpoint(json!(["charge.created"])).await;
        let transport = ScriptedEndpoint::new(vec![ScriptedEndpoint::status(200)]);
        let hooks = w.webhooks(&transport);
        assert_eq!(hooks.dispatch(&paid_event(), now()).await.unwrap(), 2);
        assert_eq!(hooks.dispatch(&paid_event(), now()).await.unwrap(), 2, "not attempted yet: queued again, same ids");
        let jobs = w.queue.drain_webhooks();
        assert_eq!(jobs.len(), 4);
        let ids: std::collections::BTreeSet<_> = jobs.iter().map(|j| j.delivery_id.clone()).collect();
        assert_eq!(ids, [WebhookMessageId::of(&all.id, "pix:E1:paid"), WebhookMessageId::of(&paid.id, "pix:E1:paid")].into_iter().collect());
        for job in &jobs {
            hooks.attempt(job, now()).await.unwrap();
        }
        assert_eq!(transport.seen.lock().unwrap().len(), 2, "the duplicate jobs found their deliveries done");
        assert_eq!(hooks.dispatch(&paid_event(), now()).await.unwrap(), 0, "delivered: a redelivered event adds nothing");
    }

    #[tokio::test]
    async fn deliveries_are_signed_for_every_current_secret_under_a_stable_id() {
        let w = World::new();
        let (mut endpoint, first) = w.endpoint(json!(["*"])).await;
        let transport = ScriptedEndpoint::new(vec![ScriptedEndpoint::status(503), ScriptedEndpoint::status(200)]);
        let hooks = w.webhooks(&transport);
        hooks.dispatch(&paid_event(), now()).await.unwrap();
        let job = w.queue.drain_webhooks().remove(0);
        let Disposition::RetryIn(wait) = hooks.attempt(&job, now()).await.unwrap() else { panic!("a 503 is retried") };
        assert!((4500..=5500).contains(&wait.as_millis()), "{wait:?}");
        // Rotated while the retry waits: both secrets sign the next attempt.
        let expected = endpoint.version;
        let second = endpoint.rotate_secret(chrono::Duration::hours(24), now());
        w.store.update_webhook_endpoint(&endpoint, expected).await.unwrap();
        let later = now() + chrono::Duration::seconds(6);
        assert_eq!(hooks.attempt(&job, later).await.unwrap(), Disposition::Done);
        let seen = transport.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        let header = |i: usize, name: &str| seen[i].iter().find(|(k, _)| k == name).unwrap().1.clone();
        assert_eq!(header(0, "webhook-id"), header(1, "webhook-id"));
        let delivery = w.store.get_webhook_delivery(&merchant(), &job.delivery_id).await.unwrap().unwrap();
        for secret in [&first, &second] {
            let s = WebhookSecret::parse(secret).unwrap();
            let r = crate::webhook::verify(
                &[s],
                Some(&header(1, "webhook-id")),
                Some(&header(1, "webhook-timestamp")),
                Some(&header(1, "webhook-signature")),
                delivery.payload.as_bytes(),
                later,
            );
            assert_eq!(r, Ok(()));
        }
        assert_eq!(delivery.status, DeliveryStatus::Succeeded);
        assert_eq!(delivery.attempts.iter().map(|a| a.status_code).collect::<Vec<_>>(), vec![Some(503), Some(200)]);
        // After the grace period only the new secret signs.
        assert_eq!(endpoint.signing_secrets(now() + chrono::Duration::hours(25)).len(), 1);
    }

    #[tokio::test]
    async fn a_410_disables_the_endpoint_and_alerts() {
        let w = World::new();
        let (endpoint, _) = w.endpoint(json!(["*"])).await;
        let transport = ScriptedEndpoint::new(vec![ScriptedEndpoint::status(410)]);
        let hooks = w.webhooks(&transport);
        hooks.dispatch(&paid_event(), now()).await.unwrap();
        let job = w.queue.drain_webhooks().remove(0);
        assert_eq!(hooks.attempt(&job, now()).await.unwrap(), Disposition::Done);
        let stored = w.store.get_webhook_endpoint(&merchant(), &endpoint.id).await.unwrap().unwrap();
        assert_eq!(stored.status.as_str(), "disabled");
        assert_eq!(w.events.events.lock().unwrap().last().unwrap().kind, "WebhookEndpointDisabled");
        let mut next = paid_event();
        next.id = "pix:E2:paid".into();
        hooks.dispatch(&next, now()).await.unwrap();
        assert!(w.queue.drain_webhooks().is_empty(), "a disabled endpoint gets no attempts");
        let skipped = w.store.get_webhook_delivery(&merchant(), &WebhookMessageId::of(&endpoint.id, "pix:E2:paid")).await.unwrap().unwrap();
        assert_eq!(skipped.status, DeliveryStatus::Skipped);
        assert!(matches!(replay(&w.store, &w.queue, &merchant(), &skipped.id).await, Err(ReplayError::EndpointNotEnabled("disabled"))));
    }

    #[tokio::test]
    async fn an_endpoint_failing_for_the_whole_schedule_is_paused_and_its_delivery_can_be_replayed() {
        let w = World::new();
        let (endpoint, _) = w.endpoint(json!(["*"])).await;
        let transport = ScriptedEndpoint::new(vec![EndpointReply::Unreachable("connection refused".into())]);
        let hooks = w.webhooks(&transport);
        hooks.dispatch(&paid_event(), now()).await.unwrap();
        let job = w.queue.drain_webhooks().remove(0);
        let mut at = now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            match hooks.attempt(&job, at).await.unwrap() {
                Disposition::RetryIn(d) => at += chrono::Duration::from_std(d).unwrap(),
                Disposition::Done => break,
            }
        }
        assert_eq!(attempts, 12);
        let minutes = (at - now()).num_minutes();
        assert!((60 * 60..=80 * 60).contains(&minutes), "gave up after {minutes} min");
        let stored = w.store.get_webhook_endpoint(&merchant(), &endpoint.id).await.unwrap().unwrap();
        assert_eq!(stored.status.as_str(), "paused");
        assert_eq!(w.events.events.lock().unwrap().last().unwrap().kind, "WebhookEndpointPaused");

        // Fixed and re-enabled by the merchant: the failed delivery is replayed with its id and a fresh round.
        let mut enabled = stored.clone();
        enabled.update(&json!({"status": "enabled"}), UrlPolicy::default(), at).unwrap();
        w.store.update_webhook_endpoint(&enabled, stored.version).await.unwrap();
        let replayed = replay(&w.store, &w.queue, &merchant(), &job.delivery_id).await.unwrap();
        assert_eq!((replayed.status, replayed.round_attempts, replayed.replays), (DeliveryStatus::Pending, 0, 1));
        assert_eq!(w.queue.drain_webhooks(), vec![job]);
    }

    #[tokio::test]
    async fn an_attempt_in_flight_is_not_duplicated_by_a_second_job() {
        let w = World::new();
        w.endpoint(json!(["*"])).await;
        let transport = ScriptedEndpoint::new(vec![ScriptedEndpoint::status(200)]);
        let hooks = w.webhooks(&transport);
        hooks.dispatch(&paid_event(), now()).await.unwrap();
        let job = w.queue.drain_webhooks().remove(0);
        // Another worker holds the lease.
        let mut d = w.store.get_webhook_delivery(&merchant(), &job.delivery_id).await.unwrap().unwrap();
        d.leased_until = Some(now() + ATTEMPT_LEASE);
        d.version += 1;
        w.store.update_webhook_delivery(&d, d.version - 1).await.unwrap();
        assert_eq!(hooks.attempt(&job, now()).await.unwrap(), Disposition::RetryIn(Duration::from_secs(30)));
        assert!(transport.seen.lock().unwrap().is_empty());
    }
}
