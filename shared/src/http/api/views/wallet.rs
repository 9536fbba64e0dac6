//! `Wallet`: an account a merchant collects through (an institution and the method it serves), with its settings.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::object_kind;
use crate::domain::charge::PaymentMethod;
use crate::domain::ids::{MerchantId, WalletId};
use crate::domain::wallet::WalletConfig;
use crate::ports::providers::Provider;

object_kind!(WalletObject = "wallet");

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Wallet {
    #[schema(value_type = String)]
    pub id: WalletId,
    #[schema(inline)]
    pub object: WalletObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    pub livemode: bool,
    #[schema(value_type = String)]
    pub merchant_id: MerchantId,
    /// The merchant's own label, shown to the payer when there is a choice.
    pub name: String,
    /// `sandbox`, `banco_do_brasil`, `cielo`, …
    #[schema(value_type = String)]
    pub provider: Provider,
    #[schema(value_type = String)]
    pub method: PaymentMethod,
    /// The method's settings at the institution, as the wallet was made with them.
    #[schema(value_type = Object)]
    pub settings: Value,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl Wallet {
    pub(crate) fn of(w: &crate::domain::wallet::Wallet, livemode: bool) -> Self {
        // Each method's settings as the wallet serialises them (`{method, settings}`), whatever their type.
        let settings = match &w.config {
            WalletConfig::Pix(s) => serde_json::to_value(s),
            WalletConfig::Boleto(s) => serde_json::to_value(s),
            WalletConfig::CreditCard(s) => serde_json::to_value(s),
        }
        .expect("wallet settings serialise");
        Self {
            id: w.id.clone(),
            object: WalletObject::Is,
            livemode,
            merchant_id: w.merchant_id.clone(),
            name: w.name.clone(),
            provider: w.provider,
            method: w.method(),
            settings,
            created_at: w.created_at,
        }
    }
}
