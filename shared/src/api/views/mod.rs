//! What the merchant API answers with, as types: each object's fields, and its OpenAPI schema derived from
//! them (`schemas`), so the document cannot describe an object the handlers do not build.
//!
//! Every object carries `livemode`, its merchant's mode, set when the view is built from the merchant the
//! request authenticated (objects have no mode of their own: a merchant is test or live as a whole).
//!
//! Parts still `serde_json::Value` (typed in the schema by `value_type` only): a charge's payment offers (`pix`,
//! `boleto`, `card`, `wallets`, `amount_due`), built by `checkout::payment_view`, which the payer's page shares;
//! a subscription's charge terms, kept as the request gave them.

use serde::Serialize;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

mod api_key;
mod charge;
mod customer;
mod error;
mod plan;
mod replan;
mod subscription;
#[cfg(test)]
mod tests;

pub(crate) use api_key::ApiKey;
pub(crate) use charge::Charge;
pub(crate) use customer::Customer;
pub(crate) use error::Error;
pub(crate) use plan::{InstallmentPlan, InstallmentPlanSummary, PlanInstallmentView};
pub(crate) use replan::{OptedOut, Replan, RulerAnswer};
pub(crate) use subscription::{Subscription, SubscriptionCharge};

/// The `object` field of a view: one variant, so its schema is the constant it always is.
macro_rules! object_kind {
    ($(#[$doc:meta])* $name:ident = $value:tt) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, serde::Serialize, utoipa::ToSchema)]
        pub(crate) enum $name {
            #[default]
            #[serde(rename = $value)]
            Is,
        }
    };
}
pub(crate) use object_kind;

object_kind!(ListObject = "list");

/// The schema of a field whose type is the domain's (no schema of its own): a string, one of `values` as they
/// serialise.
pub(crate) fn string_enum<T: Serialize>(values: &[T]) -> utoipa::openapi::schema::ObjectBuilder {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let names = values.iter().map(|v| serde_json::to_value(v).expect("a unit variant serialises"));
    ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)).enum_values(Some(names))
}

/// A page of a list: `{object: "list", data, has_more, next_cursor}`.
// One schema, `List`, whatever the items (derived from `ListOf<Value>`): the document says each route's items
// where it names the route.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = List)]
pub(crate) struct ListOf<T> {
    #[schema(inline)]
    pub object: ListObject,
    #[schema(inline)]
    pub data: Vec<T>,
    /// Whether another page follows; not in every list (a merchant's wallets come whole).
    #[schema(required = false)]
    pub has_more: bool,
    /// What to pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

impl<T> ListOf<T> {
    pub(crate) fn page(data: Vec<T>, next_cursor: Option<String>) -> Self {
        Self { object: ListObject::Is, data, has_more: next_cursor.is_some(), next_cursor }
    }
}

/// Every view's schema, by its name: what `components.schemas` of the generated document holds for responses.
#[cfg_attr(not(test), allow(dead_code, reason = "openapi.rs generates the document from it (the request side's change)"))]
pub(crate) fn schemas() -> Vec<(String, RefOr<Schema>)> {
    fn named<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) {
        out.push((T::name().into_owned(), T::schema()));
        T::schemas(out);
    }
    let mut out = Vec::new();
    named::<Error>(&mut out);
    named::<ListOf<serde_json::Value>>(&mut out);
    named::<Customer>(&mut out);
    named::<Charge>(&mut out);
    named::<InstallmentPlan>(&mut out);
    named::<InstallmentPlanSummary>(&mut out);
    named::<Subscription>(&mut out);
    named::<ApiKey>(&mut out);
    named::<Replan>(&mut out);
    named::<RulerAnswer>(&mut out);
    named::<OptedOut>(&mut out);
    out
}
