//! `Replan`: the answer to a change of a régua or an opt-out, saying what the ruler tick will re-plan.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::object_kind;
use crate::service::schedule::ReplanScope;

object_kind!(Queued = "queued");

/// A re-plan queued for the ruler tick after a régua or an opt-out changed, answered at once, before anything is re-planned. The tick goes through the open charges a page at a time, planning each from the régua and opt-out stored when its page runs; a newer change to the same merchant default or customer restarts it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Replan {
    #[schema(inline)]
    pub status: Queued,
    #[schema(inline)]
    pub scope: ReplanScopeName,
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: DateTime<Utc>,
    /// The open charges the re-plan will go through, counted over at most 1000 charges read.
    pub charges: usize,
    /// False when there were more charges than were read to count them.
    pub charges_counted_all: bool,
}

/// `merchant`: the merchant's open charges that follow its default (not those with a régua of their own); `customer`: every open charge of the customer.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReplanScopeName {
    Merchant,
    Customer,
}

impl Replan {
    pub(crate) fn queued(scope: &ReplanScope, requested_at: DateTime<Utc>, charges: usize, charges_counted_all: bool) -> Self {
        let scope = match scope {
            ReplanScope::Merchant(_) => ReplanScopeName::Merchant,
            ReplanScope::Customer(..) => ReplanScopeName::Customer,
        };
        Self { status: Queued::Is, scope, requested_at, charges, charges_counted_all }
    }
}

/// A régua as `GET|PUT /v1/ruler` and `…/customers/{id}/ruler` answer it: `{ruler, source}`, and after a change
/// the re-plan it queued.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct RulerAnswer {
    #[schema(value_type = Object)]
    pub ruler: crate::domain::ruler::Ruler,
    /// Whose régua applies: `customer`, `merchant` or `default`.
    pub source: &'static str,
    /// Only after a change.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Replan)]
    pub replan: Option<Replan>,
}

/// `PUT /v1/customers/{id}/opt-out`'s answer: the customer, and the re-plan that cancels the sends ruled out.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct OptedOut {
    pub customer: super::Customer,
    pub replan: Replan,
}
