//! The sandbox institutions: what a wallet on provider `sandbox` talks to in development and tests.
//! `SandboxBank` registers a boleto at once, computing the barcode itself from the agreement, so a mismatch
//! with ours shows up as a failed registration exactly as it would with a real bank. `SandboxAcquirer`
//! decides by the card token's last digits, like acquirers' own sandboxes do with test card numbers.

/// What it declares about itself, for the registry of institutions.
pub mod connector;

use async_trait::async_trait;

use crate::domain::money::Money;
use crate::domain::pay::boleto::{Barcode, CampoLivre};
use crate::domain::pay::pix::CobvBody;
use crate::domain::wallet::BOLETO_BANK;
use crate::ports::providers::{
    Acquirer, BankApi, BoletoAgreement, BoletoRegistered, BoletoRegistration, CardPaymentRequest, CardPaymentResult, CobvRegistered, ProviderError,
};

#[derive(Debug, Default, Clone)]
pub struct SandboxBank;

fn rejected(code: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::Rejected { code: code.into(), message: message.into() }
}

#[async_trait]
impl BankApi for SandboxBank {
    async fn register_boleto(&self, r: &BoletoRegistration) -> Result<BoletoRegistered, ProviderError> {
        let convenio = format!("{:07}", r.agreement.convenio);
        let sequence = r
            .nosso_numero
            .strip_prefix(&convenio)
            .filter(|rest| rest.len() == 10)
            .and_then(|rest| rest.parse::<u64>().ok())
            .ok_or_else(|| rejected("nosso_numero", "nosso número must be the convênio followed by 10 digits"))?;
        let campo_livre =
            CampoLivre::banco_do_brasil(r.agreement.convenio, sequence, r.agreement.carteira).map_err(|e| rejected("layout", e.to_string()))?;
        let barcode = Barcode::new(BOLETO_BANK, r.due_date, r.terms.amount, &campo_livre).map_err(|e| rejected("barcode", e.to_string()))?;
        Ok(BoletoRegistered { digitable_line: barcode.to_linha().as_str().to_string(), barcode: barcode.as_str().to_string(), pix_copy_paste: None })
    }

    async fn write_off_boleto(&self, _agreement: &BoletoAgreement, _nosso_numero: &str) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn register_cobv(&self, txid: &str, _body: &CobvBody) -> Result<CobvRegistered, ProviderError> {
        Ok(CobvRegistered { location: format!("pix.sandbox.cobranca.dev/qr/v2/cobv/{txid}") })
    }
}

/// Test cards as Cielo's sandbox treats them, by the last digit of the card (our sandbox tokens end in the card's
/// last four): 0, 1, 4 approved; 2 refused (05); 3 expired (57); 5 blocked (78); 6 the acquirer times out; 7
/// cancelled (77); 8 card problem (70); 9 approved (Cielo's is random; ours is deterministic). Ids derive from the
/// order id, so a retried request gets the same answer.
#[derive(Debug, Default, Clone)]
pub struct SandboxAcquirer;

#[async_trait]
impl Acquirer for SandboxAcquirer {
    async fn pay(&self, r: &CardPaymentRequest) -> Result<CardPaymentResult, ProviderError> {
        if !(1..=12).contains(&r.installments) || r.card_token.is_empty() {
            return Err(rejected("invalid_request", "installments 1 to 12 and a card token are required"));
        }
        use sha2::{Digest, Sha256};
        let digest = hex::encode(Sha256::digest(r.order_id.as_bytes()));
        let payment_id = format!("sbx_{}", &digest[..24]);
        let declined = |code: &str, message: &str| CardPaymentResult::Declined {
            provider_payment_id: Some(payment_id.clone()),
            code: code.into(),
            message: message.into(),
        };
        Ok(match r.card_token.chars().last() {
            Some('2') => declined("05", "Não autorizada"),
            Some('3') => declined("57", "Cartão expirado"),
            Some('5') => declined("78", "Cartão bloqueado"),
            Some('6') => return Err(ProviderError::Unavailable("sandbox: timeout".into())),
            Some('7') => declined("77", "Cancelada"),
            Some('8') => declined("70", "Problemas com o cartão de crédito"),
            _ => CardPaymentResult::Approved {
                authorization_code: format!("{:06}", u64::from_str_radix(&digest[24..32], 16).unwrap_or(0) % 1_000_000),
                provider_payment_id: payment_id,
            },
        })
    }

    async fn refund(&self, _provider_payment_id: &str, _amount: Money) -> Result<(), ProviderError> {
        Ok(())
    }

    /// The sandbox keeps no sales: an attempt that died is as if never sent (test money only).
    async fn sales_of_order(&self, _order_id: &str) -> Result<Vec<crate::ports::providers::SaleState>, ProviderError> {
        Ok(vec![])
    }

    /// The sandbox keeps no sales: it cannot say what became of one.
    async fn sale(&self, provider_payment_id: &str) -> Result<crate::ports::providers::SaleState, ProviderError> {
        Err(rejected("not_supported", format!("the sandbox acquirer keeps no sales ({provider_payment_id})")))
    }
}
