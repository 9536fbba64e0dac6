//! Charges as bodies give them: a new one (`POST /v1/charges`) and its changes (`PATCH /v1/charges/{id}`).

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::CustomerInput;
use crate::domain::charge::Description;
use crate::domain::money::Money;
use crate::service::charges::charge_terms;
use crate::service::TermFields;

/// A request type with the charge terms among its own fields (`service::charges::charge_terms!`), and
/// `terms()` to hand them to the charge service.
macro_rules! with_charge_terms {
    ({ $(#[$m:meta])* pub(crate) struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* } }
     $($(#[$tm:meta])* $term:ident,)*) => {
        $(#[$m])*
        #[derive(Debug, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct $name {
            $($(#[$fm])* pub $f: $t,)*
            $($(#[$tm])* #[serde(default, deserialize_with = "crate::http::api::requests::charges::present")] pub $term: Option<Value>,)*
        }

        impl $name {
            /// The charge terms given, as the charge service reads them.
            pub fn terms(&self) -> TermFields {
                TermFields { $($term: self.$term.clone(),)* }
            }

            /// These charge terms instead of the ones given.
            #[allow(dead_code)]
            pub fn set_terms(&mut self, terms: TermFields) {
                $(self.$term = terms.$term;)*
            }
        }
    };
}
pub(crate) use with_charge_terms;

/// A field given, even as `null` (which `Option<Value>` alone would read as absent): the terms tell them apart.
pub(crate) fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

charge_terms!(with_charge_terms! {
    /// `customer_id` or an inline `customer`, not both. A boleto needs the customer's address; each method needs a
    /// wallet.
    pub(crate) struct ChargeInput {
        pub customer_id: Option<String>,
        pub customer: Option<CustomerInput>,
        #[schema(value_type = String, pattern = r"^\d+(\.\d{1,2})?$")]
        pub amount: Money,
        /// YYYY-MM-DD, from today (São Paulo) to 10 years ahead.
        #[schema(format = Date)]
        pub due_date: String,
        #[schema(value_type = String, min_length = 1, max_length = 500)]
        pub description: Description,
        /// RFC 3339; not before the due date.
        #[schema(format = DateTime)]
        pub expires_at: Option<String>,
    }
});

/// A new amount or due date notifies the payer (`on_changed`) and re-plans the régua.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChargeUpdate {
    #[schema(value_type = String, required = false, pattern = r"^\d+(\.\d{1,2})?$")]
    pub amount: Option<Money>,
    #[schema(format = Date)]
    pub due_date: Option<String>,
    #[schema(value_type = String, required = false, min_length = 1, max_length = 500)]
    pub description: Option<Description>,
}
