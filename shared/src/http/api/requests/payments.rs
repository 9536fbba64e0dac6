//! The payment side: a new wallet (`POST /v1/wallets`), the payer's choice of wallet and a card payment. Values
//! stay JSON where the handler or the wallet's own parser has always checked them, so refusals keep their codes.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::charges::present;

/// `sandbox` serves every method; `banco_do_brasil` pix and boleto; `cielo` credit_card.
// Closed here; `Wallet::parse` reads the fields, `settings` by `method`. The document's schema stays hand-kept in
// `operations.json` (one alternative per method, each with its settings), which a derive on this type cannot say;
// a test in `openapi` holds its fields to these.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WalletInput {
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 60)]
    pub name: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = true)]
    pub provider: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = true)]
    pub method: Option<Value>,
    // `null` is not `{}`: a card wallet's settings may all default, a `null` is refused.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object, required = false)]
    pub settings: Option<Value>,
}

impl WalletInput {
    /// The body as `Wallet::parse` reads it: the fields given, `null` included.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("JSON values serialise")
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WalletChoice {
    #[schema(value_type = String, required = true)]
    pub wallet_id: Option<Value>,
}

/// A token from the acquirer's tokenization; the card number never reaches cobranca.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CardPayment {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100)]
    pub card_token: Option<Value>,
    #[schema(value_type = String, required = true, min_length = 2, max_length = 20)]
    pub brand: Option<Value>,
    #[schema(value_type = u8, required = true, minimum = 1, maximum = 12)]
    pub installments: Option<Value>,
}
