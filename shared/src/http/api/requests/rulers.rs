//! The régua's preview (`POST /v1/ruler/preview`): the schedule a charge would get.

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::contact::{Email, Phone};
use crate::domain::customer::PersonName;
use crate::domain::money::Money;

/// The schedule a charge would get; `payment_methods` and `description` are accepted and ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulerPreview {
    pub customer_id: Option<String>,
    pub customer: Option<PreviewCustomer>,
    #[schema(value_type = String, pattern = r"^\d+(\.\d{1,2})?$")]
    pub amount: Money,
    #[schema(format = Date)]
    pub due_date: String,
    #[schema(schema_with = crate::service::charges::schema_refs::ruler)]
    pub ruler: Option<Value>,
    #[allow(dead_code)]
    #[schema(schema_with = any_value, required = false)]
    pub payment_methods: Option<Value>,
    #[allow(dead_code)]
    #[schema(schema_with = any_value, required = false)]
    pub description: Option<Value>,
}

/// As in CustomerInput (other fields are ignored here): the contacts decide which steps can be sent.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct PreviewCustomer {
    #[schema(value_type = String)]
    pub name: PersonName,
    #[serde(deserialize_with = "super::customers::new_document")]
    #[schema(value_type = String)]
    pub document: crate::domain::document::Document,
    #[schema(value_type = Option<String>)]
    pub email: Option<Email>,
    #[schema(value_type = Option<String>)]
    pub phone: Option<Phone>,
    pub address: Option<super::AddressInput>,
}

/// Any JSON value (fields accepted and ignored).
fn any_value() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::Schema::Object(utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::AnyValue).build())
}
