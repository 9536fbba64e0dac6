//! Carnês (`POST /v1/installment-plans`) and renegotiations (`POST /v1/renegotiations`): a series of charges,
//! each taking the request's charge terms. The series' own fields are optional here so that their refusals keep
//! the codes they have always had (the handler names a missing one); the document marks them required.

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::charges::with_charge_terms;
use crate::domain::money::Money;
use crate::service::charges::charge_terms;
use crate::service::TermFields;

charge_terms!(with_charge_terms! {
    #[derive(Default)]
    pub(crate) struct InstallmentPlanInput {
        #[schema(value_type = String, required = true, pattern = "^cus_[0-9a-z_]{1,64}$")]
        pub customer_id: Option<String>,
        /// The plan's total, split to the cent (the first installments carry the leftover cents).
        #[schema(value_type = String, required = true, pattern = r"^\d+(\.\d{1,2})?$")]
        pub amount: Option<Money>,
        #[schema(value_type = u16, required = true, minimum = 2, maximum = 60)]
        pub installments: Option<Value>,
        /// Later installments fall due monthly on the same day (or the month's last).
        #[schema(value_type = String, required = true, format = Date)]
        pub first_due_date: Option<String>,
        #[schema(value_type = String, required = true, min_length = 1, max_length = 200)]
        pub description: Option<String>,
    }
});

charge_terms!(with_charge_terms! {
    pub(crate) struct RenegotiationInput {
        #[schema(value_type = String, required = true, pattern = "^cus_[0-9a-z_]{1,64}$")]
        pub customer_id: Option<Value>,
        /// Open charges of this customer, 1 to 100.
        #[schema(value_type = Vec<String>, required = true, min_items = 1, max_items = 100)]
        pub charge_ids: Option<Value>,
        #[schema(value_type = u16, required = true, minimum = 2, maximum = 60)]
        pub installments: Option<Value>,
        /// Later installments fall due monthly on the same day (or the month's last).
        #[schema(value_type = String, required = true, format = Date)]
        pub first_due_date: Option<String>,
        /// true: the face value less what was paid; false (default): what is owed today with fine and interest.
        #[schema(value_type = bool, required = false)]
        pub waive_late_fees: Option<Value>,
        #[schema(min_length = 1, max_length = 200)]
        pub description: Option<String>,
    }
});
