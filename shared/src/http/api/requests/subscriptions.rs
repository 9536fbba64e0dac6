//! Subscriptions: a new one (`POST /v1/subscriptions`, with the charge terms its charges take), its changes and
//! its cancellation. Fields whose refusal has always been the handler's own are optional here; the document marks
//! the required ones.

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::charges::{present, with_charge_terms};
use crate::domain::money::Money;
use crate::service::charges::charge_terms;
use crate::service::TermFields;

charge_terms!(with_charge_terms! {
    pub(crate) struct SubscriptionInput {
        #[schema(value_type = String, required = true, pattern = "^cus_[0-9a-z_]{1,64}$")]
        pub customer_id: Option<String>,
        /// Each charge's amount until changed (a change applies from the next charge not yet made).
        #[schema(value_type = String, required = true, pattern = r"^\d+(\.\d{1,2})?$")]
        pub amount: Option<Money>,
        /// `weekly`, `biweekly`, `monthly`, `quarterly`, `semiannual` or `yearly`.
        #[schema(value_type = String, required = true)]
        pub cycle: Option<Value>,
        /// Later charges fall due a cycle apart, counted from it (a 31st falls on the last day of shorter months).
        #[schema(value_type = String, required = true, format = Date)]
        pub first_due_date: Option<String>,
        #[schema(value_type = String, required = true, min_length = 1, max_length = 200)]
        pub description: Option<String>,
        /// Each charge is made this many days before it falls due (10 by default).
        #[schema(value_type = Option<u32>, minimum = 0, maximum = 60)]
        pub lead_days: Option<Value>,
        /// No charge due after it. Not with max_charges.
        #[serde(default, deserialize_with = "present")]
        #[schema(value_type = Option<String>, format = Date)]
        pub end_date: Option<Value>,
        /// How many charges in all. Not with end_date.
        #[serde(default, deserialize_with = "present")]
        #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000)]
        pub max_charges: Option<Value>,
    }
});

/// A subscription's changes, from the next charge not yet made; `end_date` and `max_charges` both `null` clear its
/// end.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubscriptionUpdate {
    /// From the next charge not yet made.
    #[schema(value_type = String, required = false, pattern = r"^\d+(\.\d{1,2})?$")]
    pub amount: Option<Value>,
    #[schema(value_type = String, required = false, min_length = 1, max_length = 200)]
    pub description: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Date)]
    pub end_date: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub max_charges: Option<Value>,
    #[schema(value_type = u32, required = false, minimum = 0, maximum = 60)]
    pub lead_days: Option<Value>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelSubscription {
    /// Also cancel the charges it made that are still open (their régua stops).
    #[schema(value_type = bool, required = false)]
    pub cancel_open_charges: Option<Value>,
}
