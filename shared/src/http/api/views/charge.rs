//! `Charge`: a charge as the API shows it, and the reminders of its régua.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::ToSchema;

use super::object_kind;
use crate::domain::charge::{ChargeOrigin, ChargeStatus, Description, DueDate, PaymentMethod};
use crate::domain::ids::{ChargeId, CustomerId, PlanId};
use crate::domain::money::Money;
use crate::domain::notification::Channel;
use crate::domain::ruler::{Action, Reminder, ReminderState};

object_kind!(ChargeObject = "charge");

/// A charge: its own fields, then (one charge, not a list) its régua's messages, what it costs today and how it
/// can be paid.
// The payment part is `checkout::payment_view`'s, shared with the payer's page, and kept as its JSON here.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Charge {
    #[schema(value_type = String)]
    pub id: ChargeId,
    #[schema(inline)]
    pub object: ChargeObject,
    /// Whether the charge is a live merchant's (real money and messages) or a test merchant's (sandbox and outbox).
    #[schema(required = false)]
    pub livemode: bool,
    #[schema(schema_with = charge_status)]
    pub status: ChargeStatus,
    #[schema(required = false)]
    pub version: u64,
    #[schema(value_type = String)]
    pub amount: Money,
    #[schema(value_type = String)]
    pub due_date: DueDate,
    #[schema(value_type = String, required = false)]
    pub description: Description,
    #[schema(value_type = String, required = false)]
    pub customer_id: CustomerId,
    #[schema(value_type = Vec<String>, required = false)]
    pub payment_methods: Vec<PaymentMethod>,
    #[schema(required = false)]
    pub max_installments: u8,
    pub external_reference: Option<String>,
    #[schema(required = false)]
    pub payment_url: String,
    #[schema(value_type = String, required = false)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, required = false)]
    pub updated_at: DateTime<Utc>,
    #[schema(value_type = Option<String>)]
    pub paid_at: Option<DateTime<Utc>>,
    /// The installment plan a renegotiation turned this charge into.
    #[schema(value_type = Option<String>)]
    pub renegotiated_into: Option<PlanId>,
    /// The subscription or installment plan that made it; null for a charge made on its own.
    #[schema(value_type = Option<Object>)]
    pub origin: Option<ChargeOrigin>,
    /// The régua's messages, planned and done, by when they fall due; not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<ChargeReminder>)]
    pub reminders: Option<Vec<ChargeReminder>>,
    /// Today's amount: the original, discount, abatement, fine and interest, and their total. Not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub amount_due: Option<Value>,
    /// Paid so far. Not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub received: Option<Value>,
    /// Refunded so far. Not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub refunded: Option<Value>,
    /// What is left to pay today. Not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub balance_due: Option<Value>,
    /// Paid beyond what was owed. Not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub credit: Option<Value>,
    /// Not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub late_fees: Option<Value>,
    /// Not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Value>,
    /// The wallets the payer may choose among. Not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<Object>)]
    pub wallets: Option<Value>,
    /// The Pix offer (copia-e-cola, QR code), or null. Not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub pix: Option<Value>,
    /// The boleto (digitable line, barcode, registration), or null. Not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub boleto: Option<Value>,
    /// The card offer (installment options), or null. Not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub card: Option<Value>,
}

/// Every status a charge shows, `renegotiated` included.
fn charge_status() -> ObjectBuilder {
    let all = [
        ChargeStatus::Pending,
        ChargeStatus::Overdue,
        ChargeStatus::PartiallyPaid,
        ChargeStatus::Paid,
        ChargeStatus::Cancelled,
        ChargeStatus::Expired,
        ChargeStatus::Refunded,
        ChargeStatus::Renegotiated,
    ];
    super::string_enum(&all)
}

impl Charge {
    /// The charge's own fields, without reminders or payment part: as a list shows it.
    pub(crate) fn summary(c: &crate::domain::charge::Charge, payment_url: String, livemode: bool) -> Self {
        Self {
            id: c.id.clone(),
            object: ChargeObject::Is,
            livemode,
            status: c.status,
            version: c.version,
            amount: c.amount,
            due_date: c.due_date,
            description: c.description.clone(),
            customer_id: c.customer_id.clone(),
            payment_methods: c.payment_methods.clone(),
            max_installments: c.max_installments,
            external_reference: c.external_reference.clone(),
            payment_url,
            created_at: c.created_at,
            updated_at: c.updated_at,
            paid_at: c.paid_at,
            renegotiated_into: c.renegotiated_into.clone(),
            origin: (!c.origin.is_single()).then(|| c.origin.clone()),
            reminders: None,
            amount_due: None,
            received: None,
            refunded: None,
            balance_due: None,
            credit: None,
            late_fees: None,
            expires_at: None,
            wallets: None,
            pix: None,
            boleto: None,
            card: None,
        }
    }

    /// With the régua's messages (notifications only: marking overdue and expiring are the charge's own), by
    /// when they fall due.
    pub(crate) fn with_reminders(self, reminders: &[Reminder]) -> Self {
        let mut shown: Vec<&Reminder> = reminders.iter().filter(|r| matches!(r.action, Action::Notify(_))).collect();
        shown.sort_by_key(|r| r.due_at);
        Self { reminders: Some(shown.into_iter().map(ChargeReminder::of).collect()), ..self }
    }

    /// With `checkout::payment_view`'s answer: its fields become the charge's.
    pub(crate) fn with_payment(self, payment: Value) -> Self {
        let Value::Object(mut p) = payment else { return self };
        let mut take = |name: &str| Some(p.remove(name).unwrap_or(Value::Null));
        let charge = Self {
            amount_due: take("amount_due"),
            received: take("received"),
            refunded: take("refunded"),
            balance_due: take("balance_due"),
            credit: take("credit"),
            late_fees: take("late_fees"),
            expires_at: take("expires_at"),
            wallets: take("wallets"),
            pix: take("pix"),
            boleto: take("boleto"),
            card: take("card"),
            ..self
        };
        // A field payment_view gained and this type did not would silently leave the answer.
        debug_assert!(p.is_empty(), "payment_view fields the Charge view lacks: {:?}", p.keys().collect::<Vec<_>>());
        charge
    }
}

/// One message of a charge's régua.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ChargeReminder {
    pub id: String,
    /// `on_created`, `before_due`, `on_due`, `after_due`, …
    pub step: &'static str,
    #[schema(value_type = Option<String>)]
    pub channel: Option<Channel>,
    #[schema(value_type = String)]
    pub scheduled_at: DateTime<Utc>,
    /// `planned`, `queued`, `sent`, `skipped`, `failed`, `cancelled`, …
    pub state: &'static str,
    /// Why it was skipped, failed or cancelled.
    pub reason: Option<String>,
}

impl ChargeReminder {
    pub(crate) fn of(r: &Reminder) -> Self {
        let reason = match &r.state {
            ReminderState::Skipped { reason } | ReminderState::Failed { reason, .. } | ReminderState::Cancelled { reason } => Some(reason.clone()),
            _ => None,
        };
        let channel = match r.action {
            Action::Notify(c) => Some(c),
            Action::MarkOverdue | Action::Expire => None,
        };
        Self { id: r.id(), step: r.step.name(), channel, scheduled_at: r.due_at, state: r.state.name(), reason }
    }
}
