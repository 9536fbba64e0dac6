//! `Error`: every refusal the API answers, `{"error": {"code", "message", "field"}}`.

use serde::Serialize;
use utoipa::ToSchema;

// `deny_unknown_fields` only for the schema's `additionalProperties: false`: nothing deserialises these.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Error {
    #[schema(inline)]
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErrorDetail {
    /// Stable, machine-readable: `invalid_field`, `missing_field`, `unknown_field`, `not_found`, `unauthorized`, …
    pub code: &'static str,
    /// Portuguese / English.
    pub message: String,
    /// The field at fault, when there is one (`customer.address.cep`, `steps[2].days`).
    #[schema(required = true)]
    pub field: Option<String>,
}

impl Error {
    pub(crate) fn new(code: &'static str, message: String, field: Option<String>) -> Self {
        Self { error: ErrorDetail { code, message, field } }
    }
}
