//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the merchant API, served without authentication.
//!
//! Its schemas are generated with utoipa from the types the API reads bodies into (`api::requests`) and the types
//! it answers with (`api::views`), so the document cannot drift from what the API accepts and says. The operations — paths, parameters, prose, examples, links —
//! and the schemas not yet typed are kept by hand in `operations.json` beside this file.
//! `shared/tests/openapi.rs` keeps the operations equal to `ROUTES`, and compares the generated document with the
//! hand-written one it replaced (same operations, same required fields).

use std::sync::OnceLock;

use serde_json::Value;
use utoipa::OpenApi;

use super::requests::{
    AddressInput, ApiKeyInput, CancelSubscription, CardPayment, ChargeInput, ChargeUpdate, CustomerInput, CustomerUpdate, InstallmentPlanInput,
    MerchantInput, NotificationSettingsInput, OperatorKeyInput, OptOut, RenegotiationInput, RotateApiKey, RotateSecret, RulerInput, RulerPreview,
    SubscriptionInput, SubscriptionUpdate, Template, TemplatePreview, WalletChoice, WebhookEndpointInput, WebhookEndpointUpdate,
};
use super::ApiResponse;

/// The request types whose schemas are generated.
#[derive(OpenApi)]
#[openapi(components(schemas(
    CustomerInput,
    CustomerUpdate,
    AddressInput,
    ChargeInput,
    ChargeUpdate,
    InstallmentPlanInput,
    RenegotiationInput,
    RulerPreview,
    SubscriptionInput,
    SubscriptionUpdate,
    CancelSubscription,
    ApiKeyInput,
    OperatorKeyInput,
    RotateApiKey,
    MerchantInput,
    WalletChoice,
    CardPayment,
    WebhookEndpointInput,
    WebhookEndpointUpdate,
    RotateSecret,
    OptOut,
    RulerInput,
    NotificationSettingsInput,
    Template,
    TemplatePreview
)))]
struct RequestTypes;

/// The operations and the schemas not (yet) generated from types.
const OPERATIONS: &str = include_str!("operations.json");

/// The document, generated once per container.
pub fn document_json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| generate().to_string())
}

fn generate() -> Value {
    let mut doc: Value = serde_json::from_str(OPERATIONS).expect("operations.json is JSON (a unit test holds it)");
    let generated = serde_json::to_value(RequestTypes::openapi()).expect("utoipa's document serialises");
    let schemas = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut).expect("operations.json has components.schemas");
    for (name, schema) in generated["components"]["schemas"].as_object().into_iter().flatten() {
        schemas.insert(name.clone(), schema.clone());
    }
    // The answers' schemas, from the view types the handlers serialise.
    for (name, schema) in super::views::schemas() {
        schemas.insert(name, serde_json::to_value(schema).expect("utoipa's schema serialises"));
    }
    // "customer_id or an inline customer, exactly one": a rule across fields, which a derive cannot say.
    for name in ["ChargeInput", "RulerPreview"] {
        schemas[name]["oneOf"] = serde_json::json!([{"required": ["customer_id"]}, {"required": ["customer"]}]);
    }
    // Bodies the document has always had inline, not as components: `operations.json` refers to the type, and its
    // generated schema takes the reference's place.
    let inlined: Vec<(&str, Value)> =
        INLINE.iter().map(|name| (*name, schemas.remove(*name).expect("an inline request type is in RequestTypes"))).collect();
    for (name, schema) in inlined {
        let reference = serde_json::json!({"$ref": format!("#/components/schemas/{name}")});
        inline(&mut doc["paths"], &reference, &schema);
    }
    doc
}

/// Request types whose schemas go inline in their operation.
const INLINE: &[&str] = &["OperatorKeyInput"];

fn inline(v: &mut Value, reference: &Value, schema: &Value) {
    if v == reference {
        *v = schema.clone();
        return;
    }
    match v {
        Value::Object(m) => m.values_mut().for_each(|v| inline(v, reference, schema)),
        Value::Array(a) => a.iter_mut().for_each(|v| inline(v, reference, schema)),
        _ => {}
    }
}

pub(super) fn document() -> ApiResponse {
    ApiResponse { status: 200, body: document_json().to_string(), content_type: None, headers: Vec::new() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_generated() {
        let doc: serde_json::Value = serde_json::from_str(super::document_json()).unwrap();
        assert_eq!(doc["components"]["schemas"]["ChargeInput"]["additionalProperties"], serde_json::json!(false));
    }

    #[test]
    fn fields_accepted_and_ignored_take_any_value() {
        let doc: serde_json::Value = serde_json::from_str(super::document_json()).unwrap();
        assert_eq!(doc["components"]["schemas"]["RulerPreview"]["properties"]["description"], serde_json::json!({}));
    }

    /// `WalletInput`'s schema is hand-kept (one alternative per method); each alternative names the type's fields.
    #[test]
    fn the_hand_kept_wallet_schema_names_the_fields_the_api_reads() {
        use std::collections::BTreeSet;
        let fields = |schema: &serde_json::Value| -> BTreeSet<String> { schema["properties"].as_object().unwrap().keys().cloned().collect() };
        let typed = serde_json::to_value(<crate::http::api::requests::WalletInput as utoipa::PartialSchema>::schema()).unwrap();
        let kept: serde_json::Value = serde_json::from_str(super::OPERATIONS).unwrap();
        for alternative in kept["components"]["schemas"]["WalletInput"]["oneOf"].as_array().unwrap() {
            assert_eq!(fields(alternative), fields(&typed), "{}", alternative["title"]);
        }
    }
}
