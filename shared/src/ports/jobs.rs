//! The messages the work queues carry (`queue::JobQueue`): registrations, write-offs and a payment's follow-ups
//! for the payment-setup queue, deliveries for the webhook queue. Just enough to find the work; the consumer
//! reloads the rest. Apart from the modules that make and run them, so a queue, its producers and its consumers
//! all stand on these types without importing each other.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::charge::Charge;
use crate::domain::ids::{ChargeId, MerchantId, WalletId, WebhookMessageId};
use crate::domain::money::Money;
use crate::domain::pay::method::PaymentMethod;
use crate::domain::pay::setup::{Registration, SupersededBoleto};
use crate::domain::payment_notice::PaymentNotice;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSetupJob {
    pub merchant_id: MerchantId,
    pub charge_id: ChargeId,
    #[serde(flatten)]
    pub task: SetupTask,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum SetupTask {
    RegisterBoleto {
        nosso_numero: String,
    },
    RegisterCobv {
        txid: String,
    },
    WriteOffBoleto {
        wallet_id: WalletId,
        nosso_numero: String,
    },
    /// What follows a payment once it is on the ledger (régua stopped, receipt, write-offs, event): handed off
    /// by the webhook so the provider is answered after the fewest calls.
    AfterPayment(PaymentFollowUp),
}

/// The current boleto goes to the superseded list, with the write-off it now needs.
pub fn supersede_boleto(charge: &mut Charge) -> Option<PaymentSetupJob> {
    let old = charge.setup.boleto.take()?;
    charge.setup.superseded_boletos.push(SupersededBoleto {
        wallet_id: old.wallet_id.clone(),
        nosso_numero: old.nosso_numero.clone(),
        written_off: false,
    });
    Some(PaymentSetupJob {
        merchant_id: charge.merchant_id.clone(),
        charge_id: charge.id.clone(),
        task: SetupTask::WriteOffBoleto { wallet_id: old.wallet_id, nosso_numero: old.nosso_numero },
    })
}

/// Everything of a charge still to register or write off, to (re)queue after a run died before queueing it:
/// the registrar skips what is already done.
pub fn pending_setup(charge: &Charge) -> Vec<PaymentSetupJob> {
    let job = |task| PaymentSetupJob { merchant_id: charge.merchant_id.clone(), charge_id: charge.id.clone(), task };
    let mut jobs = Vec::new();
    if let Some(b) = charge.setup.boleto.as_ref().filter(|b| matches!(b.registration, Registration::Registering { .. })) {
        jobs.push(job(SetupTask::RegisterBoleto { nosso_numero: b.nosso_numero.clone() }));
    }
    if let Some(c) = charge.setup.pix.as_ref().and_then(|p| p.cobv.as_ref()).filter(|c| matches!(c.registration, Registration::Registering { .. })) {
        jobs.push(job(SetupTask::RegisterCobv { txid: c.txid.clone() }));
    }
    jobs.extend(pending_write_offs(charge));
    jobs
}

/// Write-offs not yet confirmed, to (re)queue: the registrar skips those already done.
pub fn pending_write_offs(charge: &Charge) -> Vec<PaymentSetupJob> {
    charge
        .setup
        .superseded_boletos
        .iter()
        .filter(|b| !b.written_off)
        .map(|b| PaymentSetupJob {
            merchant_id: charge.merchant_id.clone(),
            charge_id: charge.id.clone(),
            task: SetupTask::WriteOffBoleto { wallet_id: b.wallet_id.clone(), nosso_numero: b.nosso_numero.clone() },
        })
        .collect()
}

/// The payment a follow-up is for: what the receipt and the `PaymentConfirmed` event tell.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaymentFollowUp {
    pub provider: String,
    pub provider_payment_id: String,
    pub amount: Money,
    pub method: PaymentMethod,
    pub paid_at: DateTime<Utc>,
}

impl PaymentFollowUp {
    pub fn of(notice: &PaymentNotice) -> Self {
        Self {
            provider: notice.provider.clone(),
            provider_payment_id: notice.provider_payment_id.clone(),
            amount: notice.amount,
            method: notice.method,
            paid_at: notice.paid_at,
        }
    }
}

/// The work item on the webhook queue: attempt this delivery (now, or when it is due).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookJob {
    pub merchant_id: MerchantId,
    pub delivery_id: WebhookMessageId,
}
