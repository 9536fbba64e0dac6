//! `Merchant` and `MerchantCreated`: the operator's answer to `POST /v1/merchants`, the merchant and its first
//! key, secret included, once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::customer::DocumentType;
use super::{object_kind, ApiKey};
use crate::domain::ids::MerchantId;

object_kind!(MerchantObject = "merchant");

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Merchant {
    #[schema(value_type = String)]
    pub id: MerchantId,
    #[schema(inline)]
    pub object: MerchantObject,
    /// True for a live merchant (real money and messages), false for a test merchant (sandbox and outbox); fixed for its life.
    pub livemode: bool,
    pub name: String,
    pub document: String,
    #[schema(inline)]
    pub document_type: DocumentType,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl Merchant {
    pub(crate) fn of(m: &crate::domain::merchant::Merchant) -> Self {
        Self {
            id: m.id.clone(),
            object: MerchantObject::Is,
            livemode: m.mode.is_live(),
            name: m.name.clone(),
            document: m.document.as_str().to_string(),
            document_type: DocumentType::of(&m.document),
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct MerchantCreated {
    pub merchant: Merchant,
    /// The first key, with its `secret`.
    pub api_key: ApiKey,
}
