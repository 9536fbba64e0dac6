//! Domain events published on the event bus (EventBridge in AWS) for other systems to react to.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{ChargeId, MerchantId};

/// What happened: the EventBridge `detail-type` and the `kind` of every event. One closed list, so a new fact is
/// added here and the compiler finds every place that names events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A charge was made (any origin).
    ChargeCreated,
    /// Its value or due date changed.
    ChargeUpdated,
    /// It passed its due date unpaid.
    ChargeOverdue,
    /// A payment covered part of it.
    ChargePartiallyPaid,
    /// It is paid.
    PaymentConfirmed,
    /// Money went back to the payer.
    ChargeRefunded,
    /// The card holder disputed the payment.
    ChargeChargeback,
    /// The merchant cancelled it.
    ChargeCancelled,
    /// It was bundled into a renegotiation plan.
    ChargeRenegotiated,
    /// It expired unpaid (`expires_at`).
    ChargeExpired,
    /// A payment arrived that the charge could not take (paid twice, or after it closed): to refund.
    PaymentFlaggedForRefund,
    /// A régua message was handed to its provider.
    NotificationSent,
    /// A régua message could not be sent.
    NotificationFailed,
    /// A merchant's endpoint exhausted its retries and was paused (the operator is alerted).
    WebhookEndpointPaused,
    /// A merchant's endpoint answered 410 Gone and was disabled.
    WebhookEndpointDisabled,
}

impl EventKind {
    pub const ALL: [EventKind; 15] = [
        Self::ChargeCreated,
        Self::ChargeUpdated,
        Self::ChargeOverdue,
        Self::ChargePartiallyPaid,
        Self::PaymentConfirmed,
        Self::ChargeRefunded,
        Self::ChargeChargeback,
        Self::ChargeCancelled,
        Self::ChargeRenegotiated,
        Self::ChargeExpired,
        Self::PaymentFlaggedForRefund,
        Self::NotificationSent,
        Self::NotificationFailed,
        Self::WebhookEndpointPaused,
        Self::WebhookEndpointDisabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChargeCreated => "ChargeCreated",
            Self::ChargeUpdated => "ChargeUpdated",
            Self::ChargeOverdue => "ChargeOverdue",
            Self::ChargePartiallyPaid => "ChargePartiallyPaid",
            Self::PaymentConfirmed => "PaymentConfirmed",
            Self::ChargeRefunded => "ChargeRefunded",
            Self::ChargeChargeback => "ChargeChargeback",
            Self::ChargeCancelled => "ChargeCancelled",
            Self::ChargeRenegotiated => "ChargeRenegotiated",
            Self::ChargeExpired => "ChargeExpired",
            Self::PaymentFlaggedForRefund => "PaymentFlaggedForRefund",
            Self::NotificationSent => "NotificationSent",
            Self::NotificationFailed => "NotificationFailed",
            Self::WebhookEndpointPaused => "WebhookEndpointPaused",
            Self::WebhookEndpointDisabled => "WebhookEndpointDisabled",
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for EventKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// Stable across re-publication of the same fact, so consumers can deduplicate.
    pub id: String,
    /// EventBridge `detail-type`.
    pub kind: EventKind,
    pub merchant_id: MerchantId,
    pub charge_id: ChargeId,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event bus unavailable: {0}")]
pub struct PublishError(pub String);

#[async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PublishError>;
    /// Asks for the tick of `at` to run again (its budget ran out): a `TickContinuation` event whose rule
    /// invokes ruler-tick with the same time.
    async fn continue_tick(&self, at: DateTime<Utc>) -> Result<(), PublishError>;
}
