//! The sandbox bank: what a wallet on provider `sandbox` talks to in development and tests. It registers a
//! boleto at once, computing the barcode itself from the agreement, so a mismatch with ours shows up as a
//! failed registration exactly as it would with a real bank. Cards: `adapters::cielo::SandboxAcquirer`.

use async_trait::async_trait;

use crate::pay::boleto::{Barcode, CampoLivre};
use crate::pay::pix::CobvBody;
use crate::providers::{BankApi, BoletoAgreement, BoletoRegistered, BoletoRegistration, CobvRegistered, ProviderError};
use crate::wallet::BOLETO_BANK;

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
        let campo_livre = CampoLivre::banco_do_brasil(r.agreement.convenio, sequence, r.agreement.carteira).map_err(|e| rejected("layout", e.to_string()))?;
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
