//! A customer as a body gives it: on its own (`POST /v1/customers`), inline on a charge, or changed (`PATCH`).

use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use super::Patch;
use crate::domain::address::{Address, AddressError};
use crate::domain::contact::{Email, Phone};
use crate::domain::customer::PersonName;
use crate::domain::document::Document;

/// A new customer. `document` is checked strictly (check digits), unlike a stored one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustomerInput {
    #[schema(value_type = String, min_length = 2, max_length = 200)]
    pub name: PersonName,
    /// CPF (11 digits) or CNPJ (14), punctuation optional; check digits are verified.
    #[serde(deserialize_with = "new_document")]
    #[schema(value_type = String)]
    pub document: Document,
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    pub email: Option<Email>,
    /// A Brazilian number: `+5511987654321`, `(11) 98765-4321`.
    #[schema(value_type = Option<String>)]
    pub phone: Option<Phone>,
    #[schema(schema_with = crate::service::charges::schema_refs::address)]
    pub address: Option<AddressInput>,
}

/// A customer's changes: a field absent is left as it is, `null` clears an optional one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustomerUpdate {
    #[serde(default)]
    #[schema(value_type = String, required = false, min_length = 2, max_length = 200)]
    pub name: Option<PersonName>,
    /// Only the customer's own CPF/CNPJ (it cannot change: 422 `document_immutable`).
    #[serde(default)]
    #[schema(value_type = String, required = false)]
    pub document: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    pub email: Patch<Email>,
    /// A Brazilian number: `+5511987654321`, `(11) 98765-4321`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone: Patch<Phone>,
    #[serde(default)]
    #[schema(schema_with = crate::service::charges::schema_refs::address)]
    pub address: Patch<AddressInput>,
}

/// Needed for a boleto. Texts are trimmed; `number` defaults to `S/N`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Address)]
pub(crate) struct AddressInput {
    #[schema(min_length = 1, max_length = 100)]
    pub street: String,
    #[schema(max_length = 10)]
    pub number: Option<String>,
    #[schema(max_length = 60)]
    pub complement: Option<String>,
    #[schema(min_length = 1, max_length = 60)]
    pub district: String,
    #[schema(min_length = 1, max_length = 60)]
    pub city: String,
    /// UF, e.g. `SP` (any case).
    #[schema(min_length = 2, max_length = 2)]
    pub state: String,
    /// 8 digits, with or without the dash: `01310-100`.
    pub cep: String,
}

impl AddressInput {
    /// The address, checked; an error names the field it is about.
    pub fn parse(&self) -> Result<Address, (&'static str, AddressError)> {
        Address::parse_fields(|field| match field {
            "street" => Some(self.street.as_str()),
            "number" => self.number.as_deref(),
            "complement" => self.complement.as_deref(),
            "district" => Some(self.district.as_str()),
            "city" => Some(self.city.as_str()),
            "state" => Some(self.state.as_str()),
            "cep" => Some(self.cep.as_str()),
            _ => None,
        })
    }
}

/// A CPF or CNPJ given now: check digits verified (a stored one is read leniently, as it was once checked).
pub(super) fn new_document<'de, D: Deserializer<'de>>(d: D) -> Result<Document, D::Error> {
    let s = String::deserialize(d)?;
    Document::parse(&s).map_err(serde::de::Error::custom)
}
