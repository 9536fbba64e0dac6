//! The endpoints a merchant registers: their URLs (public `https` only), event types, secrets and status.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::events::EventKind;
use crate::domain::ids::{MerchantId, WebhookEndpointId};
use crate::domain::standard_webhooks::WebhookSecret;

/// The event types a merchant can subscribe to, and the domain events they come from.
pub const EVENT_TYPES: &[(&str, EventKind)] = &[
    ("charge.created", EventKind::ChargeCreated),
    ("charge.updated", EventKind::ChargeUpdated),
    ("charge.overdue", EventKind::ChargeOverdue),
    ("charge.paid", EventKind::PaymentConfirmed),
    ("charge.partially_paid", EventKind::ChargePartiallyPaid),
    ("charge.refunded", EventKind::ChargeRefunded),
    ("charge.chargeback", EventKind::ChargeChargeback),
    ("charge.cancelled", EventKind::ChargeCancelled),
    ("charge.renegotiated", EventKind::ChargeRenegotiated),
    ("charge.expired", EventKind::ChargeExpired),
    ("payment.flagged_for_refund", EventKind::PaymentFlaggedForRefund),
    ("notification.sent", EventKind::NotificationSent),
    ("notification.failed", EventKind::NotificationFailed),
];

pub fn event_type_of(domain_kind: EventKind) -> Option<&'static str> {
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
            Some(url::Host::Ipv4(ip)) => !crate::domain::outbound::is_public(ip.into()),
            Some(url::Host::Ipv6(ip)) => !crate::domain::outbound::is_public(ip.into()),
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
}
