//! The régua as bodies give it (`PUT /v1/ruler`, `PUT /v1/customers/{id}/ruler`), its preview (`POST
//! /v1/ruler/preview`) and a customer's opt-out.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::Ref;
use utoipa::ToSchema;

use super::charges::present;
use crate::domain::notification::Channel;

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

/// A régua: its steps, the time of day it sends at, and the limits on contacting the payer.
// Closed at the top; its parts go as given (`null` included) to `Ruler::parse`, which checks steps and hours as it
// always has.
// `RulerStep` and `ContactHours` stay hand-kept schemas in `operations.json`: a step is one alternative per kind
// with its own fields, read by the domain's tagged enum, which this type does not repeat.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Ruler)]
pub(crate) struct RulerInput {
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = steps, required = true)]
    pub steps: Option<Value>,
    /// HH:MM, São Paulo time.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = true, pattern = r"^\d{2}:\d{2}$")]
    pub send_time: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = contact_hours, required = false)]
    pub contact_hours: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u8>, minimum = 1, maximum = 255)]
    pub max_per_week_after_due: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool, required = false)]
    pub combine_per_customer: Option<Value>,
}

impl RulerInput {
    /// The body as `Ruler::parse` reads it.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("JSON values serialise")
    }
}

/// Replaces the customer's opt-out: `{"all": true}` or `{"channels": ["whatsapp"]}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OptOut {
    #[schema(value_type = Option<bool>)]
    pub all: Option<Value>,
    #[schema(schema_with = channels)]
    pub channels: Option<Value>,
}

fn steps() -> Schema {
    Schema::Array(ArrayBuilder::new().items(Ref::from_schema_name("RulerStep")).max_items(Some(30)).build())
}

fn contact_hours() -> Schema {
    let map = ObjectBuilder::new()
        .schema_type(Type::Object)
        // The channels' names inline (a bare `$ref` is not a `Schema` to utoipa), from the list the parser knows.
        .property_names(Some(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(Channel::ALL.iter().map(|c| c.as_str())))))
        .additional_properties(Some(Ref::from_schema_name("ContactHours")));
    Schema::Object(map.build())
}

fn channels() -> Schema {
    let list = ArrayBuilder::new().schema_type(SchemaType::from_iter([Type::Array, Type::Null])).items(Ref::from_schema_name("Channel"));
    Schema::Array(list.build())
}
