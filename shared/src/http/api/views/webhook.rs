//! `WebhookEndpoint` and `WebhookDelivery`: where a merchant's events go and what was sent there. An endpoint
//! never shows its signing secrets, only how many sign and until when; a new secret is shown once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::object_kind;
use crate::domain::ids::{ChargeId, WebhookEndpointId, WebhookMessageId};
use crate::service::merchant_webhooks::{DeliveryAttempt, DeliveryStatus, EndpointStatus};

object_kind!(WebhookEndpointObject = "webhook_endpoint");
object_kind!(WebhookDeliveryObject = "webhook_delivery");

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct WebhookEndpoint {
    #[schema(value_type = String)]
    pub id: WebhookEndpointId,
    #[schema(inline)]
    pub object: WebhookEndpointObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    pub livemode: bool,
    pub url: String,
    pub description: String,
    /// The event types sent to it; `*` is every one.
    pub event_types: Vec<String>,
    /// `enabled`, `paused` (deliveries kept failing) or `disabled`.
    pub status: &'static str,
    /// Since when and why it is paused or disabled; null while enabled.
    pub status_detail: Option<StatusDetail>,
    /// The secrets that sign, oldest first: a rotated-out one signs too until it expires.
    pub secrets: Vec<SecretValidity>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// The new signing secret (`whsec_…`): only in the answer that made it, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct StatusDetail {
    #[schema(value_type = String, format = DateTime)]
    pub since: DateTime<Utc>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SecretValidity {
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Set when rotated out: when it stops signing.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
}

impl WebhookEndpoint {
    pub(crate) fn of(e: &crate::service::merchant_webhooks::WebhookEndpoint, livemode: bool) -> Self {
        Self {
            id: e.id.clone(),
            object: WebhookEndpointObject::Is,
            livemode,
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: e.event_types.clone(),
            status: e.status.as_str(),
            status_detail: match &e.status {
                EndpointStatus::Enabled => None,
                EndpointStatus::Paused { since, reason } | EndpointStatus::Disabled { since, reason } => {
                    Some(StatusDetail { since: *since, reason: reason.clone() })
                }
            },
            secrets: e.secrets.iter().map(|s| SecretValidity { created_at: s.created_at, expires_at: s.expires_at }).collect(),
            created_at: e.created_at,
            updated_at: e.updated_at,
            secret: None,
        }
    }

    /// With a secret just made, shown this once.
    pub(crate) fn with_secret(self, secret: String) -> Self {
        Self { secret: Some(secret), ..self }
    }
}

/// The answer to deleting an endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct WebhookEndpointDeleted {
    #[schema(value_type = String)]
    pub id: WebhookEndpointId,
    #[schema(inline)]
    pub object: WebhookEndpointObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    pub livemode: bool,
    /// Always true.
    pub deleted: bool,
}

impl WebhookEndpointDeleted {
    pub(crate) fn of(id: WebhookEndpointId, livemode: bool) -> Self {
        Self { id, object: WebhookEndpointObject::Is, livemode, deleted: true }
    }
}

/// One event sent (or being sent) to one endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct WebhookDelivery {
    #[schema(value_type = String)]
    pub id: WebhookMessageId,
    #[schema(inline)]
    pub object: WebhookDeliveryObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    pub livemode: bool,
    #[schema(value_type = String)]
    pub endpoint_id: WebhookEndpointId,
    #[schema(value_type = String)]
    pub charge_id: ChargeId,
    pub event_id: String,
    pub event_type: String,
    #[schema(schema_with = delivery_status)]
    pub status: DeliveryStatus,
    /// The latest attempts: when, the answer's status or the error.
    #[schema(value_type = Vec<Object>)]
    pub attempts: Vec<DeliveryAttempt>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// How many times the merchant asked for it again.
    pub replays: u32,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// The event as sent, kept as sent; null if it could not be read back.
    #[schema(value_type = Object)]
    pub payload: Value,
}

fn delivery_status() -> utoipa::openapi::schema::ObjectBuilder {
    super::string_enum(&[DeliveryStatus::Pending, DeliveryStatus::Succeeded, DeliveryStatus::Failed, DeliveryStatus::Skipped])
}

impl WebhookDelivery {
    pub(crate) fn of(d: &crate::service::merchant_webhooks::WebhookDelivery, livemode: bool) -> Self {
        Self {
            id: d.id.clone(),
            object: WebhookDeliveryObject::Is,
            livemode,
            endpoint_id: d.endpoint_id.clone(),
            charge_id: d.charge_id.clone(),
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            status: d.status,
            attempts: d.attempts.clone(),
            next_attempt_at: d.next_attempt_at,
            replays: d.replays,
            created_at: d.created_at,
            payload: serde_json::from_str(&d.payload).unwrap_or(Value::Null),
        }
    }
}
