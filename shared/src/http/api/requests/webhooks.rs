//! Webhook endpoints: a new one (`POST /v1/webhook-endpoints`), its changes (`PATCH`) and a secret's rotation.
//! The endpoint's fields stay JSON: `WebhookEndpoint::create`/`update` check them as they always have.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::ToSchema;

use super::charges::present;
use crate::service::merchant_webhooks::EVENT_TYPES;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookEndpointInput {
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = url, required = true)]
    pub url: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = event_types, required = true)]
    pub event_types: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub description: Option<Value>,
}

/// A field absent is left as it is.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookEndpointUpdate {
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = url, required = false)]
    pub url: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = event_types, required = false)]
    pub event_types: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub description: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = status, required = false)]
    pub status: Option<Value>,
}

// Both carry their fields as given (`null` included) to the endpoint's own parser, which reads a JSON object.
macro_rules! to_value {
    ($($t:ty),*) => {$(
        impl $t {
            /// The body as `WebhookEndpoint` reads it.
            pub fn to_value(&self) -> Value {
                serde_json::to_value(self).expect("JSON values serialise")
            }
        }
    )*};
}
to_value!(WebhookEndpointInput, WebhookEndpointUpdate);

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RotateSecret {
    /// How long the old secret keeps signing too; default 24.
    #[schema(value_type = Option<u32>, minimum = 0, maximum = 168)]
    pub grace_hours: Option<Value>,
}

/// utoipa's `Uri` format needs a feature this crate does not enable; the format is named as the document had it.
fn url() -> Schema {
    let url = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("uri".into())))
        .max_length(Some(2000))
        .description(Some("A public https URL (local and private addresses only with COBRANCA_WEBHOOK_ALLOW_LOCAL=true)."));
    Schema::Object(url.build())
}

/// `*` or the event types the API knows, from the same list the endpoint's parser checks against.
fn event_types() -> Schema {
    let names = std::iter::once("*").chain(EVENT_TYPES.iter().map(|(name, _)| *name));
    let item = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names));
    Schema::Array(ArrayBuilder::new().items(item).min_items(Some(1)).build())
}

fn status() -> Schema {
    Schema::Object(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["enabled", "disabled"])).build())
}
