//! The merchant API's request bodies as types: each is `serde` with `deny_unknown_fields`, so a body is read in
//! one step into what the handler needs, and a refusal names the field by its path (`customer.address.cep`,
//! `ruler.steps[2].channel`). Their OpenAPI schemas are derived from the same types (`api::openapi`), so the
//! document cannot promise a field the API does not read, nor miss one it does.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ApiError;

mod charges;
mod customers;
mod keys;
mod notifications;
mod payments;
mod plans;
mod rulers;
mod subscriptions;
mod webhooks;

pub(crate) use charges::{ChargeInput, ChargeUpdate};
pub(crate) use customers::{AddressInput, CustomerInput, CustomerUpdate};
pub(crate) use keys::{ApiKeyInput, MerchantInput, OperatorKeyInput, RotateApiKey};
pub(crate) use notifications::{NotificationSettingsInput, Template, TemplatePreview};
pub(crate) use payments::{CardPayment, WalletChoice, WalletInput};
pub(crate) use plans::{InstallmentPlanInput, RenegotiationInput};
pub(crate) use rulers::{OptOut, RulerInput, RulerPreview};
pub(crate) use subscriptions::{CancelSubscription, SubscriptionInput, SubscriptionUpdate};
pub(crate) use webhooks::{RotateSecret, WebhookEndpointInput, WebhookEndpointUpdate};

/// A JSON object body read as `T`. A body that is not JSON, or not an object, is 400 `malformed_json`; a field
/// the type does not have is 422 `unknown_field`, a missing one 422 `missing_field`, a bad value 422
/// `invalid_field`, each naming the field's path.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value = match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return Err(ApiError::new(400, "malformed_json", "o corpo deve ser um objeto JSON / body must be a JSON object")),
        Err(e) => return Err(ApiError::new(400, "malformed_json", format!("JSON inválido / malformed JSON: {e}"))),
    };
    from_value(value)
}

/// As `parse`, with an empty body read as `{}` (actions whose every field is optional: rotate, cancel).
pub(crate) fn parse_or_empty<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        from_value(Value::Object(Default::default()))
    } else {
        parse(body)
    }
}

/// A JSON value read as `T`, refusals as `parse` gives them.
pub(crate) fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| refusal(e.path(), &e.inner().to_string()))
}

/// serde's error, whose kind only its message tells, as the API's refusal naming the field.
fn refusal(path: &serde_path_to_error::Path, message: &str) -> ApiError {
    let at = field_path(path);
    let join = |name: &str| if at.is_empty() { name.to_string() } else { format!("{at}.{name}") };
    if let Some(name) = quoted_after(message, "unknown field `") {
        // The path may or may not already end at the unknown key, depending on where serde stopped.
        let field = if at.rsplit(['.', '[']).next() == Some(name) { at.clone() } else { join(name) };
        return ApiError { status: 422, code: "unknown_field", message: "campo desconhecido / unknown field".into(), field: Some(field) };
    }
    if let Some(name) = quoted_after(message, "missing field `") {
        return ApiError { status: 422, code: "missing_field", message: "campo obrigatório / required field".into(), field: Some(join(name)) };
    }
    let message = if message.starts_with("invalid type") || message.starts_with("invalid value") || message.starts_with("unknown variant") {
        format!("valor ou tipo inválido / invalid value or type: {message}")
    } else {
        // Our own value types' refusals, already in Portuguese and English.
        message.to_string()
    };
    ApiError { status: 422, code: "invalid_field", message, field: Some(if at.is_empty() { "body".into() } else { at }) }
}

/// `customer.address.cep`, `steps[2].channel`: the path as the API's errors have always named fields.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

fn quoted_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// A request field that may be absent, null, or a value: PATCH bodies tell "leave as is" (absent) from "clear"
/// (null), which `Option` alone cannot.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Patch::Null,
            Some(v) => Patch::Value(v),
        })
    }
}

#[cfg(test)]
mod tests;
