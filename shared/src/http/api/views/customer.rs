//! `Customer`: a payer as the API shows it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::object_kind;
use crate::domain::address::Address;
use crate::domain::contact::{Email, Phone};
use crate::domain::ids::CustomerId;

object_kind!(CustomerObject = "customer");

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Customer {
    #[schema(value_type = String)]
    pub id: CustomerId,
    #[schema(inline)]
    pub object: CustomerObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    #[schema(required = false)]
    pub livemode: bool,
    pub name: String,
    pub document: String,
    #[schema(inline)]
    pub document_type: DocumentType,
    #[schema(value_type = Option<String>)]
    pub email: Option<Email>,
    #[schema(value_type = Option<String>)]
    pub phone: Option<Phone>,
    #[schema(value_type = Option<Object>)]
    pub address: Option<Address>,
    #[schema(value_type = Option<String>)]
    pub erased_at: Option<DateTime<Utc>>,
    #[schema(value_type = String, required = false)]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DocumentType {
    Cpf,
    Cnpj,
}

impl DocumentType {
    pub(crate) fn of(d: &crate::domain::document::Document) -> Self {
        if d.kind() == "cpf" {
            Self::Cpf
        } else {
            Self::Cnpj
        }
    }
}

impl Customer {
    pub(crate) fn of(c: &crate::domain::customer::Customer, livemode: bool) -> Self {
        Self {
            id: c.id.clone(),
            object: CustomerObject::Is,
            livemode,
            name: c.name.as_str().to_string(),
            document: c.document.as_str().to_string(),
            document_type: DocumentType::of(&c.document),
            email: c.email.clone(),
            phone: c.phone.clone(),
            address: c.address.clone(),
            erased_at: c.erased_at,
            created_at: c.created_at,
        }
    }
}
