//! `InstallmentPlan`: a carnê (or a renegotiation's plan) with each installment as it stands now, and the
//! shorter `InstallmentPlanSummary` its list shows.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::object_kind;
use crate::domain::charge::ChargeStatus;
use crate::domain::ids::{ChargeId, PlanId};
use crate::domain::installment_plan::Plan;
use crate::domain::money::Money;

object_kind!(InstallmentPlanObject = "installment_plan");

// Nothing is `required` in the document's InstallmentPlan, though every field is always there: kept as it was.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct InstallmentPlan {
    #[schema(value_type = String, required = false)]
    pub id: PlanId,
    #[schema(inline, required = false)]
    pub object: InstallmentPlanObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    #[schema(required = false)]
    pub livemode: bool,
    #[schema(inline, required = false)]
    pub status: PlanStatus,
    #[schema(required = false)]
    pub customer_id: String,
    #[schema(value_type = String, required = false)]
    pub amount: Money,
    #[schema(required = false)]
    pub description: String,
    #[schema(required = false)]
    pub installments: Vec<PlanInstallmentView>,
    #[schema(value_type = String, format = DateTime, required = false)]
    pub created_at: DateTime<Utc>,
    /// The charges this plan replaced (a renegotiation); empty for a plain carnê.
    #[schema(value_type = Vec<String>, required = false)]
    pub renegotiates: Vec<ChargeId>,
    /// The payer's page for the whole plan: every installment, its state and its own link while payable.
    pub payment_url: Option<String>,
}

/// `paid` when every installment is paid (or refunded), `active` while one is open, `closed` otherwise.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PlanStatus {
    Active,
    Paid,
    Closed,
}

impl PlanStatus {
    pub(crate) fn of(installments: &[ChargeStatus]) -> Self {
        if installments.iter().all(|s| matches!(s, ChargeStatus::Paid | ChargeStatus::Refunded)) {
            Self::Paid
        } else if installments.iter().any(|s| s.is_open()) {
            Self::Active
        } else {
            Self::Closed
        }
    }
}

/// One installment: its charge as it stands now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PlanInstallmentView {
    pub number: u16,
    #[schema(value_type = String)]
    pub charge_id: ChargeId,
    #[schema(value_type = String)]
    pub amount: Money,
    #[schema(value_type = String, format = Date)]
    pub due_date: NaiveDate,
    /// The charge's status; `cancelled` for a charge that is gone.
    #[schema(value_type = String)]
    pub status: ChargeStatus,
    /// What is left to pay today, with two decimals.
    pub balance_due: String,
    /// The installment's own payment link; null for a charge that is gone.
    pub payment_url: Option<String>,
}

impl InstallmentPlan {
    pub(crate) fn of(plan: &Plan, installments: Vec<PlanInstallmentView>, payment_url: Option<String>, livemode: bool) -> Self {
        Self {
            id: plan.id.clone(),
            object: InstallmentPlanObject::Is,
            livemode,
            status: PlanStatus::of(&installments.iter().map(|i| i.status).collect::<Vec<_>>()),
            customer_id: plan.customer_id.clone(),
            amount: plan.total,
            description: plan.description.clone(),
            installments,
            created_at: plan.created_at,
            renegotiates: plan.renegotiates.clone(),
            payment_url,
        }
    }
}

/// A plan as its list shows it: how many installments, not their state (GET the plan for that).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct InstallmentPlanSummary {
    #[schema(value_type = String)]
    pub id: PlanId,
    #[schema(inline)]
    pub object: InstallmentPlanObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    pub livemode: bool,
    pub customer_id: String,
    #[schema(value_type = String)]
    pub amount: Money,
    pub description: String,
    /// How many installments.
    pub installments: usize,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl InstallmentPlanSummary {
    pub(crate) fn of(plan: &Plan, livemode: bool) -> Self {
        Self {
            id: plan.id.clone(),
            object: InstallmentPlanObject::Is,
            livemode,
            customer_id: plan.customer_id.clone(),
            amount: plan.total,
            description: plan.description.clone(),
            installments: plan.installments.len(),
            created_at: plan.created_at,
        }
    }
}
