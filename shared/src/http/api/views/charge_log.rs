//! What a charge went through: its messages (`ChargeNotifications`), its money (`ChargeLedger`), and its régua's
//! schedule (`ChargeSchedule`, and `SchedulePreview` for a charge not made).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use super::{object_kind, ListObject};
use crate::domain::ids::ChargeId;
use crate::domain::notification::Channel;
use crate::domain::payment::LedgerEntry;
use crate::domain::tracking::{MessageStatus, NotificationRecord, StatusChange};
use crate::service::schedule::ScheduleEntry;

object_kind!(NotificationObject = "notification");

/// One message of a charge and what became of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Notification {
    #[schema(inline)]
    pub object: NotificationObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    pub livemode: bool,
    /// The reminder it was sent for.
    pub id: String,
    pub step: String,
    #[schema(value_type = String)]
    pub channel: Channel,
    #[schema(value_type = String)]
    pub status: MessageStatus,
    pub provider_message_id: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// What it cost the merchant, by its notification prices.
    pub cost: String,
    /// SMS segments, for an SMS.
    pub segments: Option<u32>,
    /// The channel it stood in for, when it was a fallback.
    #[schema(value_type = Option<String>)]
    pub fallback_from: Option<Channel>,
    /// Each status it went through, and when.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<StatusChange>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl Notification {
    pub(crate) fn of(r: &NotificationRecord, livemode: bool) -> Self {
        Self {
            object: NotificationObject::Is,
            livemode,
            id: r.reminder_id.clone(),
            step: r.step.clone(),
            channel: r.channel,
            status: r.status,
            provider_message_id: r.provider_message_id.clone(),
            attempts: r.attempts,
            last_error: r.last_error.clone(),
            cost: r.cost.to_string(),
            segments: r.segments,
            fallback_from: r.fallback_from,
            history: r.history.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// `GET /v1/charges/{id}/notifications`: every message of the charge, oldest first, whole (no paging).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ChargeNotifications {
    #[schema(inline)]
    pub object: ListObject,
    #[schema(value_type = String)]
    pub charge_id: ChargeId,
    pub data: Vec<Notification>,
}

impl ChargeNotifications {
    pub(crate) fn of(charge_id: ChargeId, data: Vec<Notification>) -> Self {
        Self { object: ListObject::Is, charge_id, data }
    }
}

/// `GET /v1/charges/{id}/ledger`: the money recorded for the charge (payments, refunds, chargebacks), oldest
/// first, whole.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ChargeLedger {
    #[schema(inline)]
    pub object: ListObject,
    #[schema(value_type = String)]
    pub charge_id: ChargeId,
    /// Received, net of refunds and chargebacks.
    #[schema(value_type = String)]
    pub received: Decimal,
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<LedgerEntry>,
}

impl ChargeLedger {
    pub(crate) fn of(charge_id: ChargeId, entries: Vec<LedgerEntry>) -> Self {
        Self { object: ListObject::Is, charge_id, received: crate::domain::payment::net_received(&entries), data: entries }
    }
}

/// `GET /v1/charges/{id}/schedule`: every message the charge's régua plans or sent, in time order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ChargeSchedule {
    #[schema(value_type = String)]
    pub charge_id: ChargeId,
    #[schema(value_type = Vec<Object>)]
    pub schedule: Vec<ScheduleEntry>,
}

/// `POST /v1/ruler/preview`: the régua that would apply and the schedule it would give a charge.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SchedulePreview {
    #[schema(value_type = Object)]
    pub ruler: crate::domain::ruler::Ruler,
    #[schema(value_type = Vec<Object>)]
    pub schedule: Vec<ScheduleEntry>,
}
