//! A charge's state machine: every change to a stored charge goes through one of these methods, which checks the
//! change is allowed from the charge's status, moves `version` (in `next_version`, the one place) and
//! `updated_at`, and names the event it implies. Storing the charge and publishing the event are the services'
//! business.
//!
//! ```text
//!   pending ──tick──▶ overdue
//!   pending | overdue | partially_paid ──a due date still ahead──▶ pending
//!   pending | overdue | partially_paid ──payment──▶ partially_paid | paid
//!   pending | overdue | partially_paid ──▶ cancelled | renegotiated | expired
//!   paid | refunded ──everything given back──▶ refunded
//!   partially_paid ──everything given back──▶ pending | overdue
//! ```

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::{Charge, ChargeStatus, Description, DueDate};
use crate::domain::calendar;
use crate::domain::events::EventKind;
use crate::domain::ids::PlanId;
use crate::domain::money::Money;

/// A status change the charge's status does not allow (paying a cancelled charge, cancelling a paid one…). `to` is
/// the status asked for; for a refused edit (`change`), the one it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cobrança está {} / charge is {}", .from.as_str(), .from.as_str())]
pub struct IllegalTransition {
    pub from: ChargeStatus,
    pub to: ChargeStatus,
}

/// What a merchant may change on an open charge (`PATCH /v1/charges/{id}`); None leaves it as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChargeChanges {
    pub amount: Option<Money>,
    pub due_date: Option<DueDate>,
    pub description: Option<Description>,
}

/// How an open charge ends by the merchant's hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closing {
    Cancelled,
    /// Its debt was taken over by this installment plan.
    Renegotiated(PlanId),
}

/// Money going back to the payer: the event says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reversal {
    Refund,
    Chargeback,
}

impl Reversal {
    pub fn event(self) -> EventKind {
        match self {
            Reversal::Refund => EventKind::ChargeRefunded,
            Reversal::Chargeback => EventKind::ChargeChargeback,
        }
    }
}

impl Charge {
    /// The one place a charge's version moves (writes are conditional on it); every transition and edit calls
    /// it once, through `advance` unless it is not the charge's own business (`record_redaction`).
    fn next_version(&mut self) {
        self.version += 1;
    }

    /// A change of the charge: a new version, at `now`.
    fn advance(&mut self, now: DateTime<Utc>) {
        self.next_version();
        self.updated_at = now;
    }

    fn require_open(&self, to: ChargeStatus) -> Result<(), IllegalTransition> {
        if self.status.is_open() {
            Ok(())
        } else {
            Err(IllegalTransition { from: self.status, to })
        }
    }

    /// pending → overdue, at the tick once the due date (rolled to a business day) has passed.
    pub fn mark_overdue(&mut self, now: DateTime<Utc>) -> Result<EventKind, IllegalTransition> {
        if self.status != ChargeStatus::Pending {
            return Err(IllegalTransition { from: self.status, to: ChargeStatus::Overdue });
        }
        self.status = ChargeStatus::Overdue;
        self.advance(now);
        Ok(EventKind::ChargeOverdue)
    }

    /// open → expired, past `expires_at`: it can no longer be paid.
    pub fn expire(&mut self, now: DateTime<Utc>) -> Result<EventKind, IllegalTransition> {
        self.require_open(ChargeStatus::Expired)?;
        self.status = ChargeStatus::Expired;
        self.advance(now);
        Ok(EventKind::ChargeExpired)
    }

    /// open → paid: a payment covered the balance. `received` is the ledger's net total with it, `credit` what
    /// the payer holds after it (an overpayment adds to it).
    pub fn settle(&mut self, paid_at: DateTime<Utc>, received: Decimal, credit: Decimal, now: DateTime<Utc>) -> Result<EventKind, IllegalTransition> {
        self.require_open(ChargeStatus::Paid)?;
        self.status = ChargeStatus::Paid;
        self.paid_at = Some(paid_at);
        self.received = received;
        self.credit = credit;
        self.advance(now);
        Ok(EventKind::PaymentConfirmed)
    }

    /// open → partially paid: a payment covered part of the balance; the rest is still owed and the régua goes on.
    pub fn pay_in_part(&mut self, received: Decimal, now: DateTime<Utc>) -> Result<EventKind, IllegalTransition> {
        self.require_open(ChargeStatus::PartiallyPaid)?;
        self.status = ChargeStatus::PartiallyPaid;
        self.received = received;
        self.advance(now);
        Ok(EventKind::ChargePartiallyPaid)
    }

    /// A refund or chargeback of `amount` taken off what was received (`received` is the ledger's net total after
    /// it). Never refused: money can go back whatever the charge's status. Everything given back turns a paid
    /// charge refunded, and a partially paid one owed in full again (overdue if `today` is past its due date).
    pub fn take_back(&mut self, amount: Decimal, received: Decimal, reversal: Reversal, today: NaiveDate, now: DateTime<Utc>) -> EventKind {
        self.status = match self.status {
            ChargeStatus::Paid | ChargeStatus::Refunded if received <= Decimal::ZERO => ChargeStatus::Refunded,
            ChargeStatus::PartiallyPaid if received <= Decimal::ZERO => {
                if today > self.due_date.date() {
                    ChargeStatus::Overdue
                } else {
                    ChargeStatus::Pending
                }
            }
            other => other,
        };
        self.received = received;
        self.refunded += amount;
        self.advance(now);
        reversal.event()
    }

    /// open → cancelled or renegotiated: the merchant ended it.
    pub fn close(&mut self, closing: Closing, now: DateTime<Utc>) -> Result<EventKind, IllegalTransition> {
        let (status, into, event) = match closing {
            Closing::Cancelled => (ChargeStatus::Cancelled, None, EventKind::ChargeCancelled),
            Closing::Renegotiated(plan) => (ChargeStatus::Renegotiated, Some(plan), EventKind::ChargeRenegotiated),
        };
        self.require_open(status)?;
        self.status = status;
        self.renegotiated_into = into;
        self.advance(now);
        Ok(event)
    }

    /// The merchant's changes to an open charge. A new due date counts as a due-date change (reminders planned
    /// against it get new ids) and, when it is still ahead, makes the charge pending again. None when nothing
    /// differs from what the charge already has: the charge is left untouched, its version too.
    pub fn change(&mut self, changes: ChargeChanges, now: DateTime<Utc>) -> Result<Option<EventKind>, IllegalTransition> {
        self.require_open(self.status)?;
        let before = self.clone();
        if let Some(amount) = changes.amount {
            self.amount = amount;
        }
        if let Some(due) = changes.due_date.filter(|d| *d != self.due_date) {
            self.due_date = due;
            self.due_date_changes += 1;
            // A later due date makes an overdue charge current again.
            if calendar::local_date(now) < due.first_overdue_day() {
                self.status = ChargeStatus::Pending;
            }
        }
        if let Some(description) = changes.description {
            self.description = description;
        }
        if *self == before {
            return Ok(None);
        }
        self.advance(now);
        Ok(Some(EventKind::ChargeUpdated))
    }

    /// A change to what the payer pays with (a boleto or cobv issued, registered or written off, a wallet chosen),
    /// which leaves the status as it is and is allowed in any, since a closed charge's boleto is still written
    /// off.
    pub fn record_setup_change(&mut self, now: DateTime<Utc>) {
        self.advance(now);
    }

    /// The payer's personal data taken out of the charge (LGPD erasure, done by the caller): a new version, so
    /// the write is conditional like any other, but `updated_at` stays, since the charge itself did not change.
    pub fn record_redaction(&mut self) {
        self.next_version();
    }
}
