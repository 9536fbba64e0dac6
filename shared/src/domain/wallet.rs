//! Billing wallets (carteiras de cobrança): the merchant's agreements with the institutions that collect for
//! them — a Pix key at a PSP, a boleto agreement with a bank, a card acquirer with its fee table. A charge
//! allows one or several; when several offer the same method, the payer picks one at pay time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::ids::{MerchantId, WalletId};
use crate::domain::merchant::Mode;
use crate::domain::pay::installments::{FeeMode, FeeTable, MAX_INSTALLMENTS};
use crate::domain::pay::method::PaymentMethod;
use crate::domain::pay::pix;
use crate::ports::providers::{BoletoAgreement, Provider};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wallet {
    pub id: WalletId,
    pub merchant_id: MerchantId,
    /// The merchant's own label, shown to the payer when there is a choice ("Banco do Brasil", "Cielo").
    pub name: String,
    pub provider: Provider,
    #[serde(flatten)]
    pub config: WalletConfig,
    pub created_at: DateTime<Utc>,
}

// A card wallet carries its 12-row fee table inline; wallets are few and read rarely, so no boxing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "settings", rename_all = "snake_case")]
pub enum WalletConfig {
    Pix(PixWallet),
    Boleto(BoletoWallet),
    CreditCard(CardWallet),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PixWallet {
    /// The receiving Pix key (CPF/CNPJ, e-mail, +55 phone or random key).
    pub key: String,
    /// Merchant city printed in the BR Code (field 60).
    pub city: String,
    /// Register a cobv at the PSP and issue dynamic codes (the amount then follows fines and interest day by
    /// day); otherwise a static code with today's amount.
    #[serde(default)]
    pub dynamic: bool,
    /// validadeAposVencimento: days after the due date the cobv can still be paid.
    #[serde(default = "default_days_after_due")]
    pub days_payable_after_due: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoletoWallet {
    #[serde(flatten)]
    pub agreement: BoletoAgreement,
    /// Days after the due date the bank still accepts payment.
    #[serde(default = "default_days_after_due")]
    pub days_payable_after_due: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardWallet {
    /// The acquirer's price per installment count (1 to 12).
    #[serde(default = "FeeTable::free")]
    pub fees: FeeTable,
    /// Who pays the fee unless a charge says otherwise.
    #[serde(default)]
    pub fee_mode: FeeMode,
    /// The most installments this wallet offers (a charge may offer fewer).
    #[serde(default = "max_installments")]
    pub max_installments: u8,
}

fn default_days_after_due() -> u32 {
    30
}

fn max_installments() -> u8 {
    MAX_INSTALLMENTS
}

/// The bank code of the only campo livre layout we implement (Banco do Brasil, convênio of 7 digits).
pub const BOLETO_BANK: &str = "001";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WalletError {
    pub field: String,
    pub message: String,
}

/// The institutions' API names as a list: "sandbox, banco_do_brasil or cielo".
fn institutions(or: &str) -> String {
    let names: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} {or} {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn invalid(field: &str, message: impl Into<String>) -> WalletError {
    WalletError { field: field.into(), message: message.into() }
}

impl WalletConfig {
    pub fn method(&self) -> PaymentMethod {
        match self {
            Self::Pix(_) => PaymentMethod::Pix,
            Self::Boleto(_) => PaymentMethod::Boleto,
            Self::CreditCard(_) => PaymentMethod::CreditCard,
        }
    }
}

impl Wallet {
    /// Parses `POST /v1/wallets`: `{"name","provider","method","settings":{…}}`, for a merchant of `mode`: a test
    /// merchant's wallets are the sandbox's, a live merchant's never are.
    pub fn parse(body: &Value, merchant_id: &MerchantId, mode: Mode, now: DateTime<Utc>) -> Result<Wallet, WalletError> {
        let obj = body.as_object().ok_or_else(|| invalid("", "o corpo deve ser um objeto JSON / body must be a JSON object"))?;
        if let Some(k) = obj.keys().find(|k| !["name", "provider", "method", "settings"].contains(&k.as_str())) {
            return Err(invalid(k, "campo desconhecido / unknown field"));
        }
        let name = obj.get("name").and_then(Value::as_str).map(str::trim).unwrap_or_default();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(invalid("name", "nome de 1 a 60 caracteres / name of 1 to 60 characters"));
        }
        let provider: Provider = serde_json::from_value(obj.get("provider").cloned().unwrap_or(Value::Null))
            .map_err(|_| invalid("provider", format!("provedor: {} / provider: {}", institutions("ou"), institutions("or"))))?;
        let method = obj.get("method").and_then(Value::as_str).unwrap_or_default();
        let settings = obj.get("settings").cloned().unwrap_or_else(|| Value::Object(Default::default()));
        let settings_error = |e: serde_json::Error| invalid("settings", format!("configuração inválida / invalid settings: {e}"));
        let config = match method {
            "pix" => WalletConfig::Pix(serde_json::from_value(settings).map_err(settings_error)?),
            "boleto" => WalletConfig::Boleto(serde_json::from_value(settings).map_err(settings_error)?),
            "credit_card" => WalletConfig::CreditCard(serde_json::from_value(settings).map_err(settings_error)?),
            _ => return Err(invalid("method", "método: pix, boleto ou credit_card / method: pix, boleto or credit_card")),
        };
        if !mode.serves(provider) {
            return Err(invalid(
                "provider",
                match mode {
                    Mode::Live => "lojista em modo produção não usa o sandbox / a live merchant cannot use the sandbox provider",
                    Mode::Test => "lojista em modo teste só usa o sandbox / a test merchant can only use the sandbox provider",
                },
            ));
        }
        let wallet = Wallet { id: WalletId::generate(), merchant_id: merchant_id.clone(), name: name.to_string(), provider, config, created_at: now };
        wallet.check()?;
        Ok(wallet)
    }

    /// What a wallet must satisfy beyond its JSON shape.
    fn check(&self) -> Result<(), WalletError> {
        // What each institution serves is declared in its entry of the list of institutions.
        if !self.provider.serves(self.config.method()) {
            return Err(invalid(
                "provider",
                format!(
                    "{} não atende {} / {} does not serve {}",
                    self.provider.as_str(),
                    self.config.method().as_str(),
                    self.provider.as_str(),
                    self.config.method().as_str()
                ),
            ));
        }
        match &self.config {
            WalletConfig::Pix(p) => {
                pix::check_key(&p.key).map_err(|_| invalid("settings.key", "chave Pix inválida / invalid Pix key"))?;
                if pix::emv_text(&p.city, 15).is_empty() {
                    return Err(invalid("settings.city", "cidade obrigatória / city is required"));
                }
                if p.days_payable_after_due > 365 {
                    return Err(invalid("settings.days_payable_after_due", "no máximo 365 dias / at most 365 days"));
                }
            }
            WalletConfig::Boleto(b) => {
                if !(1_000_000..=9_999_999).contains(&b.agreement.convenio) {
                    return Err(invalid("settings.convenio", "convênio de 7 dígitos / 7-digit agreement number"));
                }
                if !(1..=99).contains(&b.agreement.carteira) {
                    return Err(invalid("settings.carteira", "carteira de 1 a 99 / wallet code 1 to 99"));
                }
                if b.days_payable_after_due > 365 {
                    return Err(invalid("settings.days_payable_after_due", "no máximo 365 dias / at most 365 days"));
                }
            }
            WalletConfig::CreditCard(c) => {
                if !(1..=MAX_INSTALLMENTS).contains(&c.max_installments) {
                    return Err(invalid("settings.max_installments", "parcelas de 1 a 12 / installments must be 1 to 12"));
                }
            }
        }
        Ok(())
    }

    pub fn method(&self) -> PaymentMethod {
        self.config.method()
    }

    /// One wallet per method on the sandbox provider, for a merchant created in development.
    pub fn sandbox_set(merchant_id: &MerchantId, now: DateTime<Utc>) -> Vec<Wallet> {
        let wallet = |name: &str, config| Wallet {
            id: WalletId::generate(),
            merchant_id: merchant_id.clone(),
            name: name.into(),
            provider: Provider::Sandbox,
            config,
            created_at: now,
        };
        vec![
            wallet(
                "Pix (sandbox)",
                WalletConfig::Pix(PixWallet {
                    key: "3d94a1c4-6b1e-4f52-9c1a-8e2f5b7d0c11".into(),
                    city: "São Paulo".into(),
                    dynamic: false,
                    days_payable_after_due: 30,
                }),
            ),
            wallet(
                "Boleto (sandbox)",
                WalletConfig::Boleto(BoletoWallet {
                    agreement: BoletoAgreement { convenio: 3128557, carteira: 17, variacao: 35 },
                    days_payable_after_due: 30,
                }),
            ),
            wallet(
                "Cartão (sandbox)",
                WalletConfig::CreditCard(CardWallet { fees: FeeTable::free(), fee_mode: FeeMode::MerchantAbsorbs, max_installments: 12 }),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merchant() -> MerchantId {
        MerchantId::parse("mer_1").unwrap()
    }

    #[test]
    fn parses_each_kind_of_wallet() {
        let pix = Wallet::parse(&json!({"name":"Pix BB","provider":"banco_do_brasil","method":"pix","settings":{"key":"financeiro@example.com","city":"Recife","dynamic":true}}), &merchant(), Mode::Live, Utc::now()).unwrap();
        assert_eq!(pix.method(), PaymentMethod::Pix);
        let boleto = Wallet::parse(
            &json!({"name":"BB","provider":"banco_do_brasil","method":"boleto","settings":{"convenio":3128557,"carteira":17,"variacao":35}}),
            &merchant(),
            Mode::Live,
            Utc::now(),
        )
        .unwrap();
        assert!(matches!(boleto.config, WalletConfig::Boleto(BoletoWallet { days_payable_after_due: 30, .. })));
        let fees: Vec<Value> = (1..=12).map(|n| json!({"percent": format!("{}.99", n + 1), "fixed": "0.30"})).collect();
        let card = Wallet::parse(&json!({"name":"Cielo","provider":"cielo","method":"credit_card","settings":{"fees": fees, "fee_mode":"payer_pays","max_installments":10}}), &merchant(), Mode::Live, Utc::now()).unwrap();
        let WalletConfig::CreditCard(c) = &card.config else { panic!() };
        assert_eq!(c.fee_mode, FeeMode::PayerPays);
        assert_eq!(c.fees.rate(12).unwrap().percent.to_string(), "13.99");
    }

    #[test]
    fn round_trips_through_storage() {
        for w in Wallet::sandbox_set(&merchant(), Utc::now()) {
            let stored = serde_json::to_string(&w).unwrap();
            assert_eq!(serde_json::from_str::<Wallet>(&stored).unwrap(), w);
        }
    }

    #[test]
    fn refuses_what_cannot_collect() {
        let cases = [
            (json!({"name":"x","provider":"cielo","method":"pix","settings":{"key":"a@b.com","city":"Recife"}}), "provider"),
            (json!({"name":"x","provider":"sandbox","method":"pix","settings":{"key":"not a key","city":"Recife"}}), "settings.key"),
            (json!({"name":"x","provider":"sandbox","method":"boleto","settings":{"convenio":123,"carteira":17,"variacao":35}}), "settings.convenio"),
            (json!({"name":"x","provider":"sandbox","method":"credit_card","settings":{"fees":[{"percent":"2","fixed":"0"}]}}), "settings"),
            (json!({"name":"x","provider":"sandbox","method":"credit_card","settings":{"max_installments":13}}), "settings.max_installments"),
            (json!({"name":"x","provider":"sandbox","method":"cheque"}), "method"),
            (json!({"name":"","provider":"sandbox","method":"pix"}), "name"),
            (json!({"name":"x","provider":"sandbox","method":"pix","settings":{"key":"a@b.com","city":"Recife","color":"red"}}), "settings"),
        ];
        for (body, field) in cases {
            assert_eq!(Wallet::parse(&body, &merchant(), Mode::Test, Utc::now()).unwrap_err().field, field, "{body}");
        }
    }

    #[test]
    fn a_live_merchant_has_no_sandbox_wallet_and_a_test_merchant_only_sandbox_ones() {
        let sandbox = json!({"name":"x","provider":"sandbox","method":"credit_card","settings":{}});
        assert_eq!(Wallet::parse(&sandbox, &merchant(), Mode::Live, Utc::now()).unwrap_err().field, "provider");
        assert!(Wallet::parse(&sandbox, &merchant(), Mode::Test, Utc::now()).is_ok());
        let cielo = json!({"name":"x","provider":"cielo","method":"credit_card","settings":{}});
        assert_eq!(Wallet::parse(&cielo, &merchant(), Mode::Test, Utc::now()).unwrap_err().field, "provider");
        assert!(Wallet::parse(&cielo, &merchant(), Mode::Live, Utc::now()).is_ok());
    }
}
