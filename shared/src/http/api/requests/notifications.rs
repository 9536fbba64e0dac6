//! Notifications: the merchant's settings (`PUT /v1/notification-settings`), a template (`PUT
//! /v1/templates/{channel}/{step}`) and a template's preview (`POST /v1/templates/preview`). Values stay JSON where
//! the handler or the settings' own parser has always checked them, so refusals keep their codes and fields.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::openapi::schema::{AdditionalProperties, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::ToSchema;

use super::charges::present;
use crate::domain::notification::Channel;

/// Replaces the merchant's prices, monthly budget, fallback chain and own channel providers.
// Closed at the top; its parts go as given (`null` included) to `NotificationSettings::parse`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NotificationSettings)]
pub(crate) struct NotificationSettingsInput {
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = prices)]
    pub prices: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = monthly_budget)]
    pub monthly_budget: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = fallback)]
    pub fallback: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = providers)]
    pub providers: Option<Value>,
}

impl NotificationSettingsInput {
    /// The body as `NotificationSettings::parse` reads it.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("JSON values serialise")
    }
}

/// minijinja limited to variables, the filters upper/lower/title/capitalize/trim/default and if/elif/else.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Template {
    #[schema(value_type = Option<String>)]
    pub subject: Option<Value>,
    #[schema(value_type = Option<String>)]
    pub body: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplatePreview {
    #[schema(schema_with = channel, required = true)]
    pub channel: Option<Value>,
    #[schema(schema_with = step, required = true)]
    pub step: Option<Value>,
    #[schema(value_type = String, required = false)]
    pub charge_id: Option<Value>,
    // Read as a `Template` by the handler, whose refusals name `template.…`.
    #[schema(schema_with = template)]
    pub template: Option<Value>,
}

fn nullable(types: Type) -> SchemaType {
    SchemaType::from_iter([types, Type::Null])
}

/// A map keyed by channel, the channels' names inline (a bare `$ref` is not a `Schema` to utoipa).
fn by_channel(value: impl Into<RefOr<Schema>>) -> ObjectBuilder {
    let names = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(Channel::ALL.iter().map(|c| c.as_str())));
    ObjectBuilder::new()
        .schema_type(nullable(Type::Object))
        .property_names(Some(names))
        .additional_properties(Some(AdditionalProperties::RefOr(value.into())))
}

fn prices() -> Schema {
    let price = ObjectBuilder::new().schema_type(Type::Object).required("amount").property("amount", Ref::from_schema_name("Amount")).property(
        "per",
        ObjectBuilder::new().schema_type(nullable(Type::String)).enum_values(Some([json!("send"), json!("charge"), json!("day"), Value::Null])),
    );
    Schema::Object(by_channel(price).build())
}

fn monthly_budget() -> Schema {
    Schema::AnyOf(AnyOfBuilder::new().item(Ref::from_schema_name("Amount")).item(ObjectBuilder::new().schema_type(Type::Null)).build())
}

fn fallback() -> Schema {
    Schema::Array(ArrayBuilder::new().schema_type(nullable(Type::Array)).items(Ref::from_schema_name("Channel")).unique_items(true).build())
}

fn providers() -> Schema {
    let secret = ObjectBuilder::new().schema_type(Type::String).description(Some(
        "The merchant's own Secrets Manager secret under `cobranca/{merchant_id}/` (name or ARN), or `env:COBRANCA_MERCHANT_{MERCHANT_ID}__…` locally; another merchant's is refused (422).",
    ));
    Schema::Object(by_channel(secret).build())
}

fn channel() -> Ref {
    Ref::from_schema_name("Channel")
}

fn step() -> Ref {
    Ref::from_schema_name("TemplateStep")
}

fn template() -> Schema {
    Schema::AnyOf(AnyOfBuilder::new().item(Ref::from_schema_name("Template")).item(ObjectBuilder::new().schema_type(Type::Null)).build())
}
