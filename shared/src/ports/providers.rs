//! Ports to the institutions that move the money. A billing wallet (`wallet::Wallet`) names one of them:
//! the bank behind a boleto agreement or a Pix key (`BankApi`: boleto registration and write-off, Pix cobv),
//! and the card acquirer (`Acquirer`). Adapters: `adapters::providers::sandbox` (local development and tests),
//! `adapters::providers::bb` (Banco do Brasil's Cobranças and Pix APIs) and `adapters::providers::cielo` (Cielo API 3.0).

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::address::Address;
use crate::domain::document::Document;
pub use crate::domain::institution::Provider;
use crate::domain::merchant::Mode;
use crate::domain::money::Money;
use crate::domain::pay::late_fees::ChargeTerms;
use crate::domain::pay::pix::CobvBody;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the request as it is: retrying will not help (bad data, agreement not enabled).
    #[error("recusado pelo provedor / rejected by the provider: {code}: {message}")]
    Rejected { code: String, message: String },
    /// Timeout, 5xx, throttling, network: the same request may be retried.
    #[error("provedor indisponível / provider unavailable: {0}")]
    Unavailable(String),
}

/// A boleto agreement (convênio de cobrança) with Banco do Brasil.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoletoAgreement {
    /// Número do convênio de cobrança, 7 digits.
    pub convenio: u32,
    /// Carteira (17 or 18, usually).
    pub carteira: u8,
    /// Variação da carteira (e.g. 35).
    pub variacao: u16,
}

/// The payer as a registered boleto names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoletoPayer {
    pub document: Document,
    pub name: String,
    pub address: Address,
}

/// Everything a bank needs to register one boleto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoletoRegistration {
    pub agreement: BoletoAgreement,
    /// 17 digits for BB's 7-digit convênios: convênio + a 10-digit sequence.
    pub nosso_numero: String,
    /// Our reference (the charge id), printed as "seu número"/"número do documento".
    pub seu_numero: String,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    /// Amount, fine, interest, discount and abatement, the same terms `amount_due` prices.
    pub terms: ChargeTerms,
    /// Days after the due date the bank still accepts payment (then writes it off).
    pub days_payable_after_due: u32,
    pub payer: BoletoPayer,
    pub description: String,
}

/// What the bank returns for a registered boleto.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoletoRegistered {
    /// 44 digits, as the bank computed them (we check they match ours).
    pub barcode: String,
    /// 47 digits.
    pub digitable_line: String,
    /// The Pix copia-e-cola of a "boleto híbrido", when the bank issues one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pix_copy_paste: Option<String>,
}

/// What a PSP returns for a cobv (Pix charge with due date).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CobvRegistered {
    /// The payload location, without scheme, as the dynamic BR Code carries it.
    pub location: String,
}

/// The bank behind a boleto or Pix wallet.
#[async_trait]
pub trait BankApi: Send + Sync {
    async fn register_boleto(&self, registration: &BoletoRegistration) -> Result<BoletoRegistered, ProviderError>;
    /// Baixa: the boleto can no longer be paid (charge cancelled, expired, or replaced by another wallet's).
    async fn write_off_boleto(&self, agreement: &BoletoAgreement, nosso_numero: &str) -> Result<(), ProviderError>;
    /// `PUT /cobv/{txid}` of the BCB Pix API. Idempotent by txid: the same body twice is one charge.
    async fn register_cobv(&self, txid: &str, body: &CobvBody) -> Result<CobvRegistered, ProviderError>;
}

/// A card payment with a token the payer's browser got from the acquirer: we never see the card number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPaymentRequest {
    /// Our order reference, the attempt's stable key (`card_attempts`): one per attempt, the same on a retry,
    /// and what `Acquirer::sales_of_order` finds the attempt's sale by.
    pub order_id: String,
    pub payer_name: String,
    /// What the payer is charged in all (fee pass-through included), split into `installments`.
    pub total: Money,
    pub installments: u8,
    pub card_token: String,
    /// Visa, Master, Elo, Amex, Hipercard…, as the tokenization reported it.
    pub brand: String,
    /// Shown on the payer's card statement, up to 13 characters.
    pub soft_descriptor: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CardPaymentResult {
    /// Authorised and captured.
    Approved { provider_payment_id: String, authorization_code: String },
    /// Refused by the issuer or the acquirer's antifraud; `code` is the acquirer's return code.
    Declined { provider_payment_id: Option<String>, code: String, message: String },
}

#[async_trait]
pub trait Acquirer: Send + Sync {
    async fn pay(&self, request: &CardPaymentRequest) -> Result<CardPaymentResult, ProviderError>;
    /// Full or partial refund of a captured payment.
    async fn refund(&self, provider_payment_id: &str, amount: Money) -> Result<(), ProviderError>;
    /// What the sale is now. Acquirers' notifications only say that something changed; this says what.
    async fn sale(&self, provider_payment_id: &str) -> Result<SaleState, ProviderError>;
    /// The sales made under our `order_id` (an attempt's key), as they are now; empty when the acquirer never
    /// took one. How an attempt that died before it heard the answer learns what became of it.
    async fn sales_of_order(&self, order_id: &str) -> Result<Vec<SaleState>, ProviderError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaleStatus {
    /// Authorized, not captured: no money yet.
    Authorized,
    Captured,
    /// Denied or aborted.
    Refused,
    /// Voided or refunded in full (a partial refund keeps `Captured` with `voided` > 0).
    Voided,
    /// Still being decided (pending, scheduled).
    Pending,
}

/// A card sale as its acquirer reports it. Amounts are what the payer was charged (fees passed on included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleState {
    pub provider_payment_id: String,
    pub status: SaleStatus,
    pub amount: Money,
    pub captured: Option<Money>,
    /// Voided or refunded so far, cumulative.
    pub voided: Option<Money>,
    pub captured_at: Option<chrono::DateTime<chrono::Utc>>,
    pub voided_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The adapters a deployment has, by provider. A wallet naming a provider that is not configured fails its
/// registration or payment with a clear `Rejected { code: "provider_not_configured" }`.
#[derive(Default, Clone)]
pub struct Providers {
    banks: std::collections::HashMap<Provider, std::sync::Arc<dyn BankApi>>,
    acquirers: std::collections::HashMap<Provider, std::sync::Arc<dyn Acquirer>>,
}

impl Providers {
    pub fn with_bank(mut self, provider: Provider, bank: std::sync::Arc<dyn BankApi>) -> Self {
        self.banks.insert(provider, bank);
        self
    }

    pub fn with_acquirer(mut self, provider: Provider, acquirer: std::sync::Arc<dyn Acquirer>) -> Self {
        self.acquirers.insert(provider, acquirer);
        self
    }

    /// The bank for a merchant of `mode`: never the sandbox for a live merchant, never a real bank for a test one.
    pub fn bank(&self, mode: Mode, provider: Provider) -> Result<&dyn BankApi, ProviderError> {
        allowed(mode, provider)?;
        self.banks.get(&provider).map(|b| b.as_ref()).ok_or_else(|| not_configured(provider))
    }

    /// The acquirer for a merchant of `mode`: a live card payment needs a real acquirer, a test one the sandbox.
    pub fn acquirer(&self, mode: Mode, provider: Provider) -> Result<&dyn Acquirer, ProviderError> {
        allowed(mode, provider)?;
        self.acquirers.get(&provider).map(|a| a.as_ref()).ok_or_else(|| not_configured(provider))
    }
}

fn allowed(mode: Mode, provider: Provider) -> Result<(), ProviderError> {
    if mode.serves(provider) {
        return Ok(());
    }
    Err(ProviderError::Rejected {
        code: "provider_not_allowed_in_mode".into(),
        message: format!(
            "o provedor {0} não atende lojistas em modo {1} / provider {0} does not serve {1}-mode merchants",
            provider.as_str(),
            mode.as_str()
        ),
    })
}

fn not_configured(provider: Provider) -> ProviderError {
    ProviderError::Rejected {
        code: "provider_not_configured".into(),
        message: format!("provedor {0} não configurado nesta implantação / provider {0} is not configured in this deployment", provider.as_str()),
    }
}
