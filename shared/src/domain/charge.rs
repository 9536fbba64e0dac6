//! Charges: what a payer owes a merchant, by when, and how they may pay.

pub use crate::domain::pay::method::PaymentMethod;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::calendar;
use crate::domain::ids::{ChargeId, CustomerId, MerchantId, WalletId};
use crate::domain::money::Money;
use crate::domain::pay::late_fees::{amount_due, AmountDue, ChargeTerms, LateFees, Unpriceable};
use crate::domain::pay::setup::PaymentSetup;

mod state;
pub use state::{ChargeChanges, Closing, IllegalTransition, Reversal};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Charge {
    pub id: ChargeId,
    pub merchant_id: MerchantId,
    pub customer_id: CustomerId,
    pub amount: Money,
    pub due_date: DueDate,
    pub description: Description,
    pub payment_methods: Vec<PaymentMethod>,
    pub max_installments: u8,
    pub status: ChargeStatus,
    /// The unguessable token of the payment link; not the charge id, so ids can be shared without exposing
    /// the payment page.
    pub payment_token: String,
    pub external_reference: Option<String>,
    /// This charge's own régua, overriding the customer's and the merchant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ruler: Option<crate::domain::ruler::definition::Ruler>,
    /// Counts due-date changes; reminders planned against a new due date get new ids.
    #[serde(default)]
    pub due_date_changes: u16,
    /// Fine, interest, discount and abatement: with amount and due date, what `amount_due` prices.
    #[serde(default)]
    pub late_fees: LateFees,
    /// After this instant the charge can no longer be paid: it becomes `expired` and its reminders stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The wallets the payer may pay through (at least one per allowed method).
    #[serde(default)]
    pub wallet_ids: Vec<WalletId>,
    /// The boleto, Pix and card arrangements issued for the payer.
    #[serde(default)]
    pub setup: PaymentSetup,
    /// Received so far, net of refunds and chargebacks: `payment::net_received` of the charge's ledger, kept
    /// here in the same transaction as each ledger entry. The balance is what `amount_due` prices minus this.
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    pub received: Decimal,
    /// Given back in refunds and chargebacks (already taken out of `received`).
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    pub refunded: Decimal,
    /// Paid beyond what was owed (an overpayment): the payer's credit with the merchant.
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    pub credit: Decimal,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    /// The installment plan that took this charge's debt over (status `renegotiated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renegotiated_into: Option<crate::domain::ids::PlanId>,
    /// Why the charge exists: on its own, a subscription's cycle or an installment of a plan.
    #[serde(default, skip_serializing_if = "ChargeOrigin::is_single")]
    pub origin: ChargeOrigin,
    /// Bumped on every change; writes are conditional on it (optimistic concurrency).
    pub version: u64,
}

/// What created a charge. Subscriptions and installment plans keep their charges' ids derived from their own,
/// so this is a back-reference for reports, pages and the API, not the only link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChargeOrigin {
    #[default]
    Single,
    Subscription {
        subscription_id: crate::domain::ids::SubscriptionId,
        cycle: u32,
    },
    InstallmentPlan {
        plan_id: crate::domain::ids::PlanId,
        number: u16,
        of: u16,
    },
}

impl ChargeOrigin {
    pub fn is_single(&self) -> bool {
        matches!(self, Self::Single)
    }
}

impl Charge {
    /// A new pending charge with nothing paid, no wallets or setup yet, one installment and a fresh payment
    /// token; callers set what else they know with struct update syntax.
    pub fn new_pending(
        merchant_id: MerchantId,
        customer_id: CustomerId,
        amount: Money,
        due_date: DueDate,
        description: Description,
        payment_methods: Vec<PaymentMethod>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: ChargeId::generate(),
            merchant_id,
            customer_id,
            amount,
            due_date,
            description,
            payment_methods,
            max_installments: 1,
            status: ChargeStatus::Pending,
            payment_token: new_payment_token(),
            external_reference: None,
            ruler: None,
            due_date_changes: 0,
            late_fees: LateFees::default(),
            expires_at: None,
            wallet_ids: vec![],
            setup: PaymentSetup::default(),
            received: Decimal::ZERO,
            credit: Decimal::ZERO,
            refunded: Decimal::ZERO,
            created_at: now,
            updated_at: now,
            paid_at: None,
            renegotiated_into: None,
            origin: ChargeOrigin::Single,
            version: 1,
        }
    }

    pub fn terms(&self) -> ChargeTerms {
        self.late_fees.terms(self.amount, self.due_date.date())
    }

    /// What the payer owes if paying on `day` (São Paulo date): the one pricing rule, `late_fees::amount_due`.
    pub fn amount_due(&self, day: NaiveDate) -> Result<AmountDue, Unpriceable> {
        amount_due(&self.terms(), day)
    }

    /// What is left to pay on `day`: the amount due that day less what partial payments already brought in.
    pub fn balance_due(&self, day: NaiveDate) -> Result<Decimal, Unpriceable> {
        Ok(self.amount_due(day)?.total.checked_sub(self.received).ok_or(Unpriceable)?.max(Decimal::ZERO))
    }

    /// Whether a payment at `at` is still accepted: the charge is open and not past `expires_at`.
    pub fn payable_at(&self, at: DateTime<Utc>) -> bool {
        self.status.is_open() && self.expires_at.is_none_or(|e| at < e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    Pending,
    Overdue,
    /// Part of it was paid; the balance is still owed and the régua goes on for it.
    PartiallyPaid,
    Paid,
    Cancelled,
    Expired,
    /// Was paid, and everything received was given back (refunds, chargebacks).
    Refunded,
    /// Replaced by an installment plan the payer agreed to (renegotiation): neither paid nor open; its régua stops
    /// and the plan's installments carry the debt.
    Renegotiated,
}

impl ChargeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Overdue => "overdue",
            Self::PartiallyPaid => "partially_paid",
            Self::Paid => "paid",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::Refunded => "refunded",
            Self::Renegotiated => "renegotiated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Overdue, Self::PartiallyPaid, Self::Paid, Self::Cancelled, Self::Expired, Self::Refunded, Self::Renegotiated]
            .into_iter()
            .find(|c| c.as_str() == s)
    }

    /// Whether a payer can still pay, and so whether reminders still make sense.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Overdue | Self::PartiallyPaid)
    }
}

/// A charge's due date. New charges cannot be due in the past (São Paulo's today) nor beyond ten years, which is
/// as far as a boleto's fator de vencimento reaches before it wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DueDate(NaiveDate);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DueDateError {
    #[error("data inválida, use AAAA-MM-DD / invalid date, use YYYY-MM-DD")]
    Malformed,
    #[error("vencimento no passado / due date is in the past")]
    InThePast,
    #[error("vencimento a mais de 10 anos / due date more than 10 years ahead")]
    TooFar,
}

impl DueDate {
    pub fn parse_new(s: &str, now: DateTime<Utc>) -> Result<Self, DueDateError> {
        let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| DueDateError::Malformed)?;
        let today = calendar::local_date(now);
        if date < today {
            return Err(DueDateError::InThePast);
        }
        if date > today + Duration::days(3650) {
            return Err(DueDateError::TooFar);
        }
        Ok(Self(date))
    }

    /// A date read back from storage, already validated when it was first accepted.
    pub fn from_stored(date: NaiveDate) -> Self {
        Self(date)
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// The first day the charge counts as late: the day after the due date rolled to a business day.
    pub fn first_overdue_day(self) -> NaiveDate {
        calendar::effective_due_date(self.0).succ_opt().expect("date in range")
    }
}

/// What the charge is for, shown to the payer: 1..=500 characters, no control characters except line breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("descrição deve ter de 1 a 500 caracteres / description must have 1 to 500 characters")]
pub struct InvalidDescription;

impl Description {
    pub fn parse(s: &str) -> Result<Self, InvalidDescription> {
        let t = s.trim();
        let n = t.chars().count();
        if (1..=500).contains(&n) && !t.chars().any(|c| c.is_control() && c != '\n') {
            Ok(Self(t.to_string()))
        } else {
            Err(InvalidDescription)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Description {
    type Error = InvalidDescription;
    fn try_from(s: String) -> Result<Self, InvalidDescription> {
        Self::parse(&s)
    }
}

impl From<Description> for String {
    fn from(d: Description) -> String {
        d.0
    }
}

/// The payer's page for a charge (its payment link), under the deployment's public address.
pub fn payment_url(base: &str, token: &str) -> String {
    format!("{}/pay/{}", base.trim_end_matches('/'), token)
}

/// A fresh payment-link token: 160 random bits, URL-safe.
pub fn new_payment_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    #[test]
    fn accepts_a_due_date_today_or_later() {
        assert!(DueDate::parse_new("2026-11-22", now()).is_ok());
        assert!(DueDate::parse_new("2026-12-10", now()).is_ok());
    }

    #[test]
    fn rejects_a_due_date_in_the_past_or_malformed() {
        assert_eq!(DueDate::parse_new("2026-11-21", now()), Err(DueDateError::InThePast));
        assert_eq!(DueDate::parse_new("2026-02-30", now()), Err(DueDateError::Malformed));
        assert_eq!(DueDate::parse_new("10/12/2026", now()), Err(DueDateError::Malformed));
        assert_eq!(DueDate::parse_new("2040-01-01", now()), Err(DueDateError::TooFar));
    }

    #[test]
    fn today_is_judged_in_sao_paulo() {
        // 01:00 UTC on the 23rd is still the 22nd in São Paulo.
        let late_evening = Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap();
        assert!(DueDate::parse_new("2026-11-22", late_evening).is_ok());
    }

    #[test]
    fn a_charge_due_on_saturday_is_late_only_from_tuesday() {
        let due = DueDate::from_stored(NaiveDate::from_ymd_opt(2026, 12, 5).unwrap());
        assert_eq!(due.first_overdue_day(), NaiveDate::from_ymd_opt(2026, 12, 8).unwrap());
    }

    #[test]
    fn payment_tokens_are_long_and_distinct() {
        let a = new_payment_token();
        assert!(a.len() >= 26);
        assert_ne!(a, new_payment_token());
    }
}
