//! Registering what a charge issued with the institutions behind its wallets, off the request path: the bank
//! registers the boleto (until then the payer is asked to wait up to 30 minutes), the PSP takes the cobv, and
//! superseded boletos are written off. Jobs travel on the payment-setup queue; a job that fails with a
//! transient error is retried by SQS and ends in its dead-letter queue if it keeps failing.

use chrono::{DateTime, Utc};

use crate::domain::charge::Charge;
use crate::domain::customer::Customer;
use crate::domain::events::EventBus;
use crate::domain::ids::WalletId;
use crate::domain::merchant::Merchant;
use crate::domain::pay::pix::{cobv_body, Debtor};
use crate::domain::pay::setup::Registration;
use crate::domain::wallet::{Wallet, WalletConfig};
pub use crate::ports::jobs::{pending_setup, pending_write_offs, supersede_boleto, PaymentSetupJob, SetupTask};
use crate::ports::providers::{BoletoPayer, BoletoRegistration, ProviderError, Providers};
use crate::ports::queue::JobQueue;
use crate::ports::store::{Store, StoreError};
use crate::service::settlement::{SettleError, Settlement};

/// What a job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupOutcome {
    Registered,
    /// The institution refused for good; the charge records why.
    Failed(String),
    WrittenOff,
    /// A payment's follow-ups are done.
    FollowedUp,
    /// Nothing to do: already done, superseded, or the charge is gone.
    Skipped(&'static str),
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Retry later (the queue redelivers).
    #[error(transparent)]
    Provider(ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    FollowUp(#[from] SettleError),
}

pub struct Registrar<'a> {
    pub store: &'a dyn Store,
    pub providers: &'a Providers,
    /// For a payment's follow-ups: receipts to send, write-offs to queue, events to publish.
    pub queue: &'a dyn JobQueue,
    pub events: &'a dyn EventBus,
}

impl Registrar<'_> {
    pub async fn run(&self, job: &PaymentSetupJob, now: DateTime<Utc>) -> Result<SetupOutcome, SetupError> {
        let Some(charge) = self.store.get_charge(&job.merchant_id, &job.charge_id).await? else {
            return Ok(SetupOutcome::Skipped("charge not found"));
        };
        match &job.task {
            SetupTask::RegisterBoleto { nosso_numero } => self.register_boleto(charge, nosso_numero, now).await,
            SetupTask::RegisterCobv { txid } => self.register_cobv(charge, txid, now).await,
            SetupTask::WriteOffBoleto { wallet_id, nosso_numero } => self.write_off(charge, wallet_id, nosso_numero, now).await,
            SetupTask::AfterPayment(payment) => {
                Settlement { store: self.store, queue: self.queue, events: self.events }.follow_up(&charge, payment, now).await?;
                Ok(SetupOutcome::FollowedUp)
            }
        }
    }

    async fn context(&self, charge: &Charge, wallet_id: &WalletId) -> Result<Option<(Wallet, Customer, Merchant)>, SetupError> {
        let wallet = self.store.get_wallet(&charge.merchant_id, wallet_id).await?;
        let customer = self.store.get_customer(&charge.merchant_id, &charge.customer_id).await?;
        let merchant = self.store.get_merchant(&charge.merchant_id).await?;
        Ok(match (wallet, customer, merchant) {
            (Some(w), Some(c), Some(m)) => Some((w, c, m)),
            _ => None,
        })
    }

    async fn register_boleto(&self, charge: Charge, nosso_numero: &str, now: DateTime<Utc>) -> Result<SetupOutcome, SetupError> {
        let Some(boleto) = charge.setup.boleto.clone().filter(|b| b.nosso_numero == nosso_numero) else {
            return Ok(SetupOutcome::Skipped("boleto superseded"));
        };
        if !matches!(boleto.registration, Registration::Registering { .. }) {
            return Ok(SetupOutcome::Skipped("already registered"));
        }
        let Some((wallet, customer, merchant)) = self.context(&charge, &boleto.wallet_id).await? else {
            return self.boleto_result(charge, nosso_numero, Err("wallet or customer missing".into()), now).await;
        };
        let WalletConfig::Boleto(settings) = &wallet.config else {
            return self.boleto_result(charge, nosso_numero, Err("wallet is not a boleto wallet".into()), now).await;
        };
        let bank = match self.providers.bank(merchant.mode, wallet.provider) {
            Ok(bank) => bank,
            Err(ProviderError::Rejected { code, message }) => {
                return self.boleto_result(charge, nosso_numero, Err(format!("{code}: {message}")), now).await
            }
            Err(e) => return Err(SetupError::Provider(e)),
        };
        let Some(address) = customer.address.clone() else {
            return self.boleto_result(charge, nosso_numero, Err("payer address missing".into()), now).await;
        };
        let registration = BoletoRegistration {
            agreement: settings.agreement.clone(),
            nosso_numero: nosso_numero.to_string(),
            seu_numero: charge.id.to_string(),
            issue_date: crate::domain::calendar::local_date(charge.created_at),
            due_date: boleto.due_date,
            terms: charge.late_fees.terms(boleto.amount, boleto.due_date),
            days_payable_after_due: settings.days_payable_after_due,
            payer: BoletoPayer { document: customer.document.clone(), name: customer.name.as_str().to_string(), address },
            description: charge.description.as_str().to_string(),
        };
        // Before the bank knows it, so any return file that mentions it finds its charge.
        self.store.link_provider_reference(&boleto.bank, nosso_numero, &charge.merchant_id, &charge.id).await?;
        match bank.register_boleto(&registration).await {
            Ok(registered) if registered.barcode != boleto.barcode => {
                // Our barcode and the bank's must agree to the digit, or the payer would pay an unknown title.
                let reason = format!("bank barcode {} differs from ours", registered.barcode);
                tracing::error!(charge_id = %charge.id, "{reason}");
                self.boleto_result(charge, nosso_numero, Err(reason), now).await
            }
            Ok(registered) => self.boleto_result(charge, nosso_numero, Ok(registered.pix_copy_paste), now).await,
            Err(ProviderError::Rejected { code, message }) => self.boleto_result(charge, nosso_numero, Err(format!("{code}: {message}")), now).await,
            Err(e @ ProviderError::Unavailable(_)) => Err(SetupError::Provider(e)),
        }
    }

    /// Stores the registration result on the charge.
    async fn boleto_result(
        &self,
        charge: Charge,
        nosso_numero: &str,
        result: Result<Option<String>, String>,
        now: DateTime<Utc>,
    ) -> Result<SetupOutcome, SetupError> {
        self.update(charge, now, |charge| {
            let boleto = charge.setup.boleto.as_mut().filter(|b| b.nosso_numero == nosso_numero).ok_or(SetupOutcome::Skipped("boleto superseded"))?;
            Ok(match &result {
                Ok(pix) => {
                    boleto.registration = Registration::Registered { at: now };
                    boleto.pix_copy_paste = pix.clone();
                    SetupOutcome::Registered
                }
                Err(reason) => {
                    boleto.registration = Registration::Failed { at: now, reason: reason.clone() };
                    SetupOutcome::Failed(reason.clone())
                }
            })
        })
        .await
    }

    /// Applies `change` to the charge and stores it, re-reading and re-applying after a concurrent write.
    /// `change` returns Err(outcome) when there is nothing to write.
    async fn update(
        &self,
        mut charge: Charge,
        now: DateTime<Utc>,
        change: impl Fn(&mut Charge) -> Result<SetupOutcome, SetupOutcome>,
    ) -> Result<SetupOutcome, SetupError> {
        for _ in 0..5 {
            let outcome = match change(&mut charge) {
                Ok(o) => o,
                Err(skip) => return Ok(skip),
            };
            let expected = charge.version;
            charge.record_setup_change(now);
            match self.store.update_charge(&charge, expected).await {
                Ok(()) => return Ok(outcome),
                Err(StoreError::Conflict) => match self.store.get_charge(&charge.merchant_id, &charge.id).await? {
                    Some(fresh) => charge = fresh,
                    None => return Ok(SetupOutcome::Skipped("charge not found")),
                },
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    async fn register_cobv(&self, charge: Charge, txid: &str, now: DateTime<Utc>) -> Result<SetupOutcome, SetupError> {
        let Some(pix) = charge.setup.pix.clone() else { return Ok(SetupOutcome::Skipped("no pix")) };
        let Some(cobv) = pix.cobv.clone().filter(|c| c.txid == txid) else { return Ok(SetupOutcome::Skipped("cobv superseded")) };
        if !matches!(cobv.registration, Registration::Registering { .. }) {
            return Ok(SetupOutcome::Skipped("already registered"));
        }
        let Some((wallet, customer, merchant)) = self.context(&charge, &pix.wallet_id).await? else {
            return self.cobv_result(charge, txid, Err("wallet or customer missing".into()), now).await;
        };
        let WalletConfig::Pix(settings) = &wallet.config else {
            return self.cobv_result(charge, txid, Err("wallet is not a Pix wallet".into()), now).await;
        };
        let debtor = Debtor { document: customer.document.clone(), name: customer.name.as_str().to_string() };
        let body = match cobv_body(&charge.terms(), &debtor, &settings.key, settings.days_payable_after_due) {
            Ok(b) => b,
            Err(e) => return self.cobv_result(charge, txid, Err(e.to_string()), now).await,
        };
        let bank = match self.providers.bank(merchant.mode, wallet.provider) {
            Ok(bank) => bank,
            Err(ProviderError::Rejected { code, message }) => return self.cobv_result(charge, txid, Err(format!("{code}: {message}")), now).await,
            Err(e) => return Err(SetupError::Provider(e)),
        };
        match bank.register_cobv(txid, &body).await {
            Ok(r) => self.cobv_result(charge, txid, Ok(r.location), now).await,
            Err(ProviderError::Rejected { code, message }) => self.cobv_result(charge, txid, Err(format!("{code}: {message}")), now).await,
            Err(e @ ProviderError::Unavailable(_)) => Err(SetupError::Provider(e)),
        }
    }

    async fn cobv_result(&self, charge: Charge, txid: &str, result: Result<String, String>, now: DateTime<Utc>) -> Result<SetupOutcome, SetupError> {
        self.update(charge, now, |charge| {
            let cobv =
                charge.setup.pix.as_mut().and_then(|p| p.cobv.as_mut()).filter(|c| c.txid == txid).ok_or(SetupOutcome::Skipped("cobv superseded"))?;
            Ok(match &result {
                Ok(location) => {
                    cobv.location = Some(location.clone());
                    cobv.registration = Registration::Registered { at: now };
                    SetupOutcome::Registered
                }
                Err(reason) => {
                    // The static code keeps working; the merchant sees why the dynamic one is missing.
                    cobv.registration = Registration::Failed { at: now, reason: reason.clone() };
                    SetupOutcome::Failed(reason.clone())
                }
            })
        })
        .await
    }

    async fn write_off(&self, charge: Charge, wallet_id: &WalletId, nosso_numero: &str, now: DateTime<Utc>) -> Result<SetupOutcome, SetupError> {
        if !charge.setup.superseded_boletos.iter().any(|b| b.nosso_numero == nosso_numero && !b.written_off) {
            return Ok(SetupOutcome::Skipped("already written off"));
        }
        let Some(wallet) = self.store.get_wallet(&charge.merchant_id, wallet_id).await? else {
            return Ok(SetupOutcome::Skipped("wallet not found"));
        };
        let WalletConfig::Boleto(settings) = &wallet.config else { return Ok(SetupOutcome::Skipped("not a boleto wallet")) };
        let Some(merchant) = self.store.get_merchant(&charge.merchant_id).await? else { return Ok(SetupOutcome::Skipped("merchant not found")) };
        let written_off = match self.providers.bank(merchant.mode, wallet.provider) {
            Ok(bank) => bank.write_off_boleto(&settings.agreement, nosso_numero).await,
            Err(e) => Err(e),
        };
        match written_off {
            Ok(()) => {}
            // Already paid or already written off at the bank: nothing more to do there.
            Err(ProviderError::Rejected { code, message }) => tracing::warn!(charge_id = %charge.id, %code, %message, "write-off refused"),
            Err(e) => return Err(SetupError::Provider(e)),
        }
        self.update(charge, now, |charge| {
            for b in charge.setup.superseded_boletos.iter_mut().filter(|b| b.nosso_numero == nosso_numero) {
                b.written_off = true;
            }
            Ok(SetupOutcome::WrittenOff)
        })
        .await
    }
}
