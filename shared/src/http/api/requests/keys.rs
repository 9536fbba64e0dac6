//! API keys and merchants: a new key (`POST /v1/api-keys`, and the operator's `POST /v1/merchants/{id}/api-keys`),
//! a rotation (`POST /v1/api-keys/{id}/rotate`) and a new merchant (`POST /v1/merchants`). Values stay JSON here:
//! the handlers check them as they always have, so a refusal keeps its code and message.

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::charges::present;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApiKeyInput {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100)]
    pub name: Option<Value>,
    /// At most the deployment's default limit.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000000)]
    pub rate_limit_per_minute: Option<Value>,
}

/// A key for a merchant, by the operator: the name optional (`issued by the operator`), the limit free of the
/// deployment's default.
// The document has it inline in its operation, as it always had (`openapi::INLINE`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OperatorKeyInput {
    #[schema(value_type = String, required = false, min_length = 1, max_length = 100)]
    pub name: Option<Value>,
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000000)]
    pub rate_limit_per_minute: Option<Value>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RotateApiKey {
    /// How long the old key keeps working; default 86400 (24 h), 0 ends it at once.
    #[schema(value_type = Option<u32>, minimum = 0, maximum = 604800)]
    pub grace_seconds: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MerchantInput {
    // `null` kept apart from absent: one is a wrong value, the other a missing field.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = true, min_length = 2, max_length = 200)]
    pub name: Option<Value>,
    /// CPF or CNPJ, punctuated or not.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = true)]
    pub document: Option<Value>,
    /// true makes a live merchant (real institutions and channel providers only, never the sandbox or the
    /// outbox); default false, a test merchant (sandbox wallets and the outbox only). Fixed for the merchant's
    /// life; its keys start `ck_live_` or `ck_test_`.
    #[schema(value_type = Option<bool>)]
    pub livemode: Option<Value>,
    /// Name of the first key; default `default`.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub api_key_name: Option<Value>,
    /// The first key's own limit (the operator may go above the default).
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000000)]
    pub rate_limit_per_minute: Option<Value>,
}
