//! Applying a provider's payment notice to a charge: exactly once, whatever the provider redelivers.

use chrono::{DateTime, Utc};

use crate::charge::{Charge, ChargeStatus, PaymentMethod};
use crate::registration;
use crate::events::{DomainEvent, EventBus, PublishError};
use crate::ids::PaymentId;
use crate::notification::NotificationJob;
use crate::payment::{Payment, PaymentOutcome, UnmatchedPayment};
use crate::queue::{EnqueueError, JobQueue};
use crate::ruler::{self, ReminderState};
use crate::store::{PaymentRecorded, Store, StoreError};
use crate::webhook::PaymentNotice;

#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// The charge is now paid.
    Paid { charge: Charge },
    /// This notice was processed before; its effects were re-checked, nothing was added.
    Duplicate { charge: Charge },
    /// Kept, but the charge did not change (partial payment, or a charge no longer payable).
    Recorded { charge: Charge, outcome: PaymentOutcome },
    /// No charge matched: kept for manual reconciliation.
    Unmatched,
}

#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] EnqueueError),
    #[error(transparent)]
    Events(#[from] PublishError),
}

pub struct Settlement<'a> {
    pub store: &'a dyn Store,
    pub queue: &'a dyn JobQueue,
    pub events: &'a dyn EventBus,
}

impl Settlement<'_> {
    pub async fn apply(&self, notice: &PaymentNotice, raw_body: &str, now: DateTime<Utc>) -> Result<Settled, SettleError> {
        let owner = match &notice.charge_id {
            Some(id) => self.store.charge_owner(id).await?,
            None => None,
        };
        let (Some(merchant_id), Some(charge_id)) = (owner, notice.charge_id.clone()) else {
            self.store
                .put_unmatched(&UnmatchedPayment {
                    provider: notice.provider.clone(),
                    provider_event_id: notice.event_id.clone(),
                    charge_ref: notice.raw_charge_ref.clone(),
                    amount: notice.amount,
                    provider_payment_id: notice.provider_payment_id.clone(),
                    received_at: now,
                    raw: raw_body.chars().take(10_000).collect(),
                })
                .await?;
            return Ok(Settled::Unmatched);
        };

        // Optimistic concurrency: a tick may be marking the charge overdue at the same moment.
        for _ in 0..5 {
            let Some(charge) = self.store.get_charge(&merchant_id, &charge_id).await? else {
                return Err(StoreError::Corrupt { key: charge_id.to_string(), message: "reference without charge".into() }.into());
            };
            // What was left to pay on the day the payer paid (discounts, fines, interest and earlier partial
            // payments included), by the one rule.
            let owed = charge.balance_due(crate::calendar::local_date(notice.paid_at));
            let outcome = if !charge.payable_at(notice.paid_at) {
                PaymentOutcome::FlaggedForRefund
            } else if notice.amount.as_decimal() >= owed {
                PaymentOutcome::Settled
            } else {
                PaymentOutcome::Partial
            };
            let payment = Payment {
                id: PaymentId::generate(),
                merchant_id: merchant_id.clone(),
                charge_id: charge_id.clone(),
                provider: notice.provider.clone(),
                provider_event_id: notice.event_id.clone(),
                provider_payment_id: notice.provider_payment_id.clone(),
                amount: notice.amount,
                method: notice.method,
                paid_at: notice.paid_at,
                received_at: now,
                outcome,
            };
            let received = charge.received + notice.amount.as_decimal();
            let updated = match outcome {
                PaymentOutcome::Settled => {
                    let credit = charge.credit + (notice.amount.as_decimal() - owed).max(rust_decimal::Decimal::ZERO);
                    let mut paid = Charge { status: ChargeStatus::Paid, paid_at: Some(notice.paid_at), received, credit, updated_at: now, version: charge.version + 1, ..charge.clone() };
                    // Paid some other way: the boleto must not be payable too. (Paid by boleto: the bank settled it.)
                    if notice.method != PaymentMethod::Boleto {
                        registration::supersede_boleto(&mut paid);
                    }
                    Some(paid)
                }
                // Part of it: the balance stays open and the régua goes on for it.
                PaymentOutcome::Partial => Some(Charge { status: ChargeStatus::PartiallyPaid, received, updated_at: now, version: charge.version + 1, ..charge.clone() }),
                PaymentOutcome::FlaggedForRefund => None,
            };
            let paid = updated.as_ref().filter(|c| c.status == ChargeStatus::Paid).cloned();
            let recorded = match self.store.record_payment(&payment, updated.as_ref().map(|c| (c, charge.version))).await {
                Ok(r) => r,
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            };
            return match (recorded, paid) {
                (PaymentRecorded::Recorded, Some(paid)) => {
                    self.after_paid(&paid, notice, now).await?;
                    Ok(Settled::Paid { charge: paid })
                }
                (PaymentRecorded::Recorded, None) => Ok(Settled::Recorded { charge: updated.unwrap_or(charge), outcome }),
                (PaymentRecorded::Duplicate, _) => {
                    // The first delivery may have died before its follow-ups: redo them, they are idempotent.
                    if charge.status == ChargeStatus::Paid {
                        self.after_paid(&charge, notice, now).await?;
                    }
                    Ok(Settled::Duplicate { charge })
                }
            };
        }
        Err(StoreError::Conflict.into())
    }

    /// Stops the régua, sends the receipt, tells the world. Safe to run more than once.
    async fn after_paid(&self, charge: &Charge, notice: &PaymentNotice, now: DateTime<Utc>) -> Result<(), SettleError> {
        self.queue.enqueue_setup(&registration::pending_write_offs(charge)).await?;
        for r in self.store.reminders_of(&charge.merchant_id, &charge.id).await? {
            if r.state.is_pending() {
                let cancelled = ReminderState::Cancelled { reason: "charge paid".into() };
                self.store.transition_reminder(&r, &["planned", "queued"], cancelled, now).await?;
            }
        }
        if let Some(customer) = self.store.get_customer(&charge.merchant_id, &charge.customer_id).await? {
            let mut jobs = Vec::new();
            let ruler = crate::schedule::Schedules { store: self.store }.ruler_for(charge.ruler.as_ref(), &charge.merchant_id, &customer.id).await?;
            for receipt in ruler::payment_receipt(charge, &customer, &ruler, now) {
                self.store.add_reminder(&receipt).await?;
                let queued = ReminderState::Queued { lease_until: now + crate::tick::LEASE, attempt: 1 };
                if self.store.transition_reminder(&receipt, &["planned", "queued_expired"], queued, now).await? {
                    jobs.push(NotificationJob {
                        merchant_id: charge.merchant_id.clone(),
                        charge_id: charge.id.clone(),
                        reminder_id: receipt.id(),
                        as_of: now,
                    });
                }
            }
            self.queue.enqueue(&jobs).await?;
        }
        self.events
            .publish(&[DomainEvent {
                id: format!("{}:{}:paid", notice.provider, notice.provider_payment_id),
                kind: "PaymentConfirmed".into(),
                merchant_id: charge.merchant_id.clone(),
                charge_id: charge.id.clone(),
                occurred_at: notice.paid_at,
                data: serde_json::json!({
                    "amount": notice.amount,
                    "method": notice.method,
                    "provider": notice.provider,
                    "provider_payment_id": notice.provider_payment_id,
                }),
            }])
            .await?;
        Ok(())
    }
}
