//! `Subscription`: a recurring charge plan as the API shows it, with (one subscription, not a list) its latest
//! charges.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::object_kind;
use crate::domain::charge::{ChargeStatus, DueDate};
use crate::domain::ids::{ChargeId, CustomerId, SubscriptionId};
use crate::domain::money::Money;
use crate::domain::recurrence::{Cycle, End, SubscriptionStatus};
use crate::service::TermFields;

object_kind!(SubscriptionObject = "subscription");

// Nothing is `required` in the document's Subscription, though most fields are always there: kept as it was.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Subscription {
    #[schema(value_type = String, required = false)]
    pub id: SubscriptionId,
    #[schema(inline, required = false)]
    pub object: SubscriptionObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    #[schema(required = false)]
    pub livemode: bool,
    #[schema(inline, required = false)]
    pub status: SubscriptionState,
    /// Set when a charge was refused and generation paused itself.
    pub paused_reason: Option<String>,
    #[schema(value_type = String, required = false)]
    pub customer_id: CustomerId,
    #[schema(required = false)]
    pub description: String,
    /// The price of the next charge not yet made.
    #[schema(value_type = String, required = false)]
    pub amount: Money,
    #[schema(schema_with = cycle, required = false)]
    pub cycle: Cycle,
    #[schema(value_type = String, format = Date, required = false)]
    pub first_due_date: NaiveDate,
    #[schema(value_type = Option<String>, format = Date)]
    pub next_due_date: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub next_generation_date: Option<NaiveDate>,
    #[schema(required = false)]
    pub lead_days: u32,
    #[schema(value_type = Option<String>, format = Date)]
    pub end_date: Option<NaiveDate>,
    pub max_charges: Option<u32>,
    #[schema(required = false)]
    pub charges_generated: u32,
    #[schema(required = false)]
    pub prices: Vec<SubscriptionPrice>,
    /// The latest charges made (up to 12), newest first; not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<SubscriptionCharge>)]
    pub charges: Option<Vec<SubscriptionCharge>>,
    #[schema(value_type = String, format = DateTime, required = false)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime, required = false)]
    pub updated_at: DateTime<Utc>,
    // The charge terms its charges are made with, each as the request gave it; absent when not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<String>)]
    pub payment_methods: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u8)]
    pub max_installments: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub late_fees: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub ruler: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<String>)]
    pub wallet_ids: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub fee_mode: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub external_reference: Option<Value>,
}

fn cycle() -> utoipa::openapi::schema::ObjectBuilder {
    super::string_enum(&[Cycle::Weekly, Cycle::Biweekly, Cycle::Monthly, Cycle::Quarterly, Cycle::Semiannual, Cycle::Yearly])
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SubscriptionState {
    Active,
    Paused,
    Cancelled,
    /// Active, with every charge it will make made.
    Completed,
}

/// A price from one cycle on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SubscriptionPrice {
    pub from_cycle: u32,
    #[schema(value_type = String)]
    pub amount: Money,
}

/// One charge the subscription made, as it stands now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SubscriptionCharge {
    pub cycle: u32,
    #[schema(value_type = String)]
    pub charge_id: ChargeId,
    #[schema(value_type = String)]
    pub amount: Money,
    #[schema(value_type = String, format = Date)]
    pub due_date: DueDate,
    #[schema(value_type = String)]
    pub status: ChargeStatus,
    /// What is left to pay today, with two decimals.
    pub balance_due: String,
    pub payment_url: String,
}

impl Subscription {
    /// Without its charges: as a list shows it.
    pub(crate) fn summary(sub: &crate::domain::recurrence::Subscription, livemode: bool) -> Self {
        let (max_charges, end_date) = match sub.end {
            End::Never => (None, None),
            End::AfterCount { count } => (Some(count), None),
            End::OnDate { date } => (None, Some(date)),
        };
        let status = match sub.status {
            SubscriptionStatus::Active if sub.completed() => SubscriptionState::Completed,
            SubscriptionStatus::Active => SubscriptionState::Active,
            SubscriptionStatus::Paused => SubscriptionState::Paused,
            SubscriptionStatus::Cancelled => SubscriptionState::Cancelled,
        };
        // Destructured, so a term added to TermFields does not compile until it is shown here too.
        let TermFields { payment_methods, max_installments, late_fees, ruler, wallet_ids, fee_mode, external_reference } =
            TermFields::from_map(&sub.charge_fields);
        // Kept as given (`TermFields::to_map`): only the terms' names can be in it.
        debug_assert!(sub.charge_fields.keys().all(|k| TermFields::NAMES.contains(&k.as_str())), "{:?}", sub.charge_fields);
        Self {
            id: sub.id.clone(),
            object: SubscriptionObject::Is,
            livemode,
            status,
            paused_reason: sub.paused_reason.clone(),
            customer_id: sub.customer_id.clone(),
            description: sub.description.clone(),
            amount: sub.current_price(),
            cycle: sub.cycle,
            first_due_date: sub.first_due,
            next_due_date: sub.next_occurrence().filter(|_| sub.status != SubscriptionStatus::Cancelled).map(|(_, d)| d),
            next_generation_date: sub.generate_on(),
            lead_days: sub.lead_days,
            end_date,
            max_charges,
            charges_generated: sub.next_cycle,
            prices: sub.prices.iter().map(|p| SubscriptionPrice { from_cycle: p.cycle, amount: p.amount }).collect(),
            charges: None,
            created_at: sub.created_at,
            updated_at: sub.updated_at,
            payment_methods,
            max_installments,
            late_fees,
            ruler,
            wallet_ids,
            fee_mode,
            external_reference,
        }
    }
}
