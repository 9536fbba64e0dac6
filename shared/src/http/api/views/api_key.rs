//! `ApiKey`: a merchant's key as the API shows it, never its hash; its secret only in the answer that made it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::ToSchema;

use super::object_kind;
use crate::domain::api_keys::{ApiKeyRecord, KeyStatus};
use crate::domain::ids::ApiKeyId;

object_kind!(ApiKeyObject = "api_key");

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ApiKey {
    #[schema(value_type = String)]
    pub id: ApiKeyId,
    #[schema(inline)]
    pub object: ApiKeyObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    // None only in the operator's answers (a new merchant, a key issued to one), which have never carried it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool)]
    pub livemode: Option<bool>,
    pub name: String,
    /// `ck_test_…` or `ck_live_…` (the merchant's mode) and the key's last four characters; null for a key registered by its hash alone.
    pub redacted: Option<String>,
    #[schema(schema_with = key_status)]
    pub status: &'static str,
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    /// Set by a rotation: the end of the grace period.
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>)]
    pub revoked_at: Option<DateTime<Utc>>,
    /// The key's own limit; null uses the deployment's.
    pub rate_limit_per_minute: Option<u32>,
    #[schema(value_type = Option<String>)]
    pub rotated_from: Option<ApiKeyId>,
    /// Only in the answer that made the key, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub secret: Option<String>,
}

fn key_status() -> ObjectBuilder {
    let all = [KeyStatus::Active, KeyStatus::Expiring, KeyStatus::Expired, KeyStatus::Revoked];
    super::string_enum(&all.map(KeyStatus::as_str))
}

impl ApiKey {
    /// The key as it stands at `now`, without its secret.
    pub(crate) fn of(key: &ApiKeyRecord, now: DateTime<Utc>, livemode: Option<bool>) -> Self {
        Self {
            id: key.id.clone(),
            object: ApiKeyObject::Is,
            livemode,
            name: key.name.clone(),
            redacted: key.redacted(),
            status: key.status(now).as_str(),
            created_at: key.created_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            rate_limit_per_minute: key.rate_limit,
            rotated_from: key.rotated_from.clone(),
            secret: None,
        }
    }

    /// A new key as shown once: with its secret.
    pub(crate) fn with_secret(self, secret: &crate::domain::merchant::ApiKey) -> Self {
        Self { secret: Some(secret.expose().to_string()), ..self }
    }
}
