//! The ledger: every money movement on a charge, append-only. Payments bring money in; refunds and chargebacks
//! take it back out. A charge's `received` is derived from its ledger by `net_received`, the one rule.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::charge::PaymentMethod;
use crate::domain::ids::{ChargeId, MerchantId, PaymentId, WalletId};
use crate::domain::money::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    #[default]
    Payment,
    /// Money given back to the payer (a Pix devolução, a card refund or void).
    Refund,
    /// Money taken back by the card scheme on the payer's dispute.
    Chargeback,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Refund => "refund",
            Self::Chargeback => "chargeback",
        }
    }

    pub fn is_reversal(self) -> bool {
        self != Self::Payment
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: PaymentId,
    pub merchant_id: MerchantId,
    pub charge_id: ChargeId,
    pub provider: String,
    pub provider_event_id: String,
    /// The provider's id of this movement (a payment's endToEndId, a refund's id…), unique per provider.
    pub provider_payment_id: String,
    #[serde(default)]
    pub kind: EntryKind,
    /// For a refund or chargeback: the provider id of the payment it reverses.
    #[serde(default)]
    pub reverses: Option<String>,
    /// Always positive; `kind` gives the direction.
    pub amount: Money,
    pub method: PaymentMethod,
    /// When the money moved (for a payment, when the payer paid).
    pub paid_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// For a reversal: the outcome of the payment it reverses (a refund of a payment flagged for refund
    /// resolves the flag and does not touch the charge's balance).
    pub outcome: PaymentOutcome,
    /// The billing wallet the money went through, when known (reports group by it).
    #[serde(default)]
    pub wallet_id: Option<WalletId>,
    /// For a payment: the régua message that last reached the payer before they paid, recorded when the payment
    /// is, so the recovery report never reads reminders. Absent on entries recorded before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preceded_by: Option<PrecedingReminder>,
}

/// Which reminder preceded a payment: the last one sent for the charge before the payer paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrecedingReminder {
    /// No message of the régua had been sent for the charge.
    NoReminder,
    Reminder {
        reminder_id: String,
        step: String,
        channel: crate::domain::notification::Channel,
        sent_at: DateTime<Utc>,
    },
}

impl PrecedingReminder {
    /// The last message sent for a charge at or before `paid_at` among its reminders (receipts excluded: they
    /// follow a payment, they cannot have prompted it).
    pub fn of(reminders: &[crate::domain::ruler::Reminder], paid_at: DateTime<Utc>) -> Self {
        use crate::domain::ruler::{Action, ReminderState, Step};
        reminders
            .iter()
            .filter(|r| r.step != Step::OnPaid)
            .filter_map(|r| match (&r.state, r.action) {
                (ReminderState::Sent { at, .. }, Action::Notify(channel)) if *at <= paid_at => Some((*at, r, channel)),
                _ => None,
            })
            // Ties (two channels of one step sent in the same instant) broken by id, so the choice is stable.
            .max_by(|a, b| (a.0, a.1.id()).cmp(&(b.0, b.1.id())))
            .map_or(Self::NoReminder, |(at, r, channel)| Self::Reminder {
                reminder_id: r.id(),
                step: r.step.name().to_string(),
                channel,
                sent_at: at,
            })
    }
}

impl LedgerEntry {
    /// Whether it counts towards the charge's balance (flagged payments and their refunds do not).
    pub fn counts(&self) -> bool {
        self.outcome != PaymentOutcome::FlaggedForRefund
    }

    /// Signed: positive in, negative out.
    pub fn signed_amount(&self) -> Decimal {
        if self.kind.is_reversal() {
            -self.amount.as_decimal()
        } else {
            self.amount.as_decimal()
        }
    }
}

/// What a charge has received, net of refunds and chargebacks: the sum of its counted ledger entries.
pub fn net_received(entries: &[LedgerEntry]) -> Decimal {
    entries.iter().filter(|e| e.counts()).map(LedgerEntry::signed_amount).sum()
}

/// What has been reversed of one payment so far.
pub fn reversed_of(entries: &[LedgerEntry], provider: &str, payment: &str) -> Decimal {
    entries
        .iter()
        .filter(|e| e.kind.is_reversal() && e.provider == provider && e.reverses.as_deref() == Some(payment))
        .map(|e| e.amount.as_decimal())
        .sum()
}

/// How a payment relates to its charge at the time it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentOutcome {
    /// Settled the charge.
    Settled,
    /// Less than owed: kept, the charge stays open (partial payments arrive with issue #5).
    Partial,
    /// The charge was no longer payable (paid, cancelled, expired): kept and flagged for refund.
    FlaggedForRefund,
}

/// A payment notice that matched no charge: kept for manual reconciliation, never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmatchedPayment {
    /// Known when the notice came through a merchant's own request (a CNAB 240 import).
    #[serde(default)]
    pub merchant_id: Option<MerchantId>,
    #[serde(default)]
    pub kind: EntryKind,
    pub provider: String,
    pub provider_event_id: String,
    pub charge_ref: String,
    pub amount: Money,
    pub provider_payment_id: String,
    pub received_at: DateTime<Utc>,
    pub raw: String,
}
