//! Applying a provider's payment notice to a charge: exactly once, whatever the provider redelivers.

use chrono::{DateTime, Utc};

use crate::domain::charge::{Charge, ChargeStatus, IllegalTransition, PaymentMethod, Reversal};
use crate::domain::events::{DomainEvent, EventBus};
use crate::domain::ids::{ChargeId, MerchantId, PaymentId};
use crate::domain::money::Money;
use crate::domain::notification::NotificationJob;
use crate::domain::payment::{net_received, reversed_of, EntryKind, LedgerEntry, PaymentOutcome, UnmatchedPayment};
use crate::domain::payment_notice::PaymentNotice;
use crate::domain::ruler::{self, ReminderState};
pub use crate::ports::jobs::PaymentFollowUp;
use crate::ports::jobs::{self, PaymentSetupJob, SetupTask};
use crate::ports::queue::JobQueue;
use crate::ports::store::{PaymentRecorded, Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// The charge is now paid.
    Paid { charge: Charge },
    /// This notice was processed before; its effects were re-checked, nothing was added.
    Duplicate { charge: Charge },
    /// Kept, but the charge is not settled (partial payment, or a charge no longer payable).
    Recorded { charge: Charge, outcome: PaymentOutcome },
    /// A refund or chargeback taken off the charge's ledger.
    Reversed { charge: Charge, kind: EntryKind },
    /// A refund or chargeback whose payment has not arrived yet: kept, applied when the payment is.
    AwaitingPayment { charge: Charge },
    /// No charge matched: kept for manual reconciliation.
    Unmatched,
}

impl Settled {
    /// How the webhook and import endpoints report each notice.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let of = |result: serde_json::Value, c: &Charge| json!({"result": result, "charge_id": c.id, "charge_status": c.status});
        match self {
            Self::Paid { charge } => of(json!("applied"), charge),
            Self::Duplicate { charge } => of(json!("duplicate"), charge),
            Self::Recorded { charge, outcome } => of(json!(outcome), charge),
            Self::Reversed { charge, kind } => of(json!(format!("{}_applied", kind.as_str())), charge),
            Self::AwaitingPayment { charge } => of(json!("awaiting_payment"), charge),
            Self::Unmatched => json!({"result": "unmatched"}),
        }
    }
}

pub type SettleError = crate::ports::port_error::PortError;

pub struct Settlement<'a> {
    pub store: &'a dyn Store,
    pub queue: &'a dyn JobQueue,
    pub events: &'a dyn EventBus,
}

impl Settlement<'_> {
    /// Applies a payment, refund or chargeback notice, once, in any order relative to its siblings.
    pub async fn apply(&self, notice: &PaymentNotice, raw_body: &str, now: DateTime<Utc>) -> Result<Settled, SettleError> {
        let owner = match &notice.charge_id {
            Some(id) => self.store.charge_owner(id).await?,
            None => None,
        };
        let owner = owner.filter(|o| notice.merchant_id.as_ref().is_none_or(|m| m == o));
        let (Some(merchant_id), Some(charge_id)) = (owner, notice.charge_id.clone()) else {
            self.store
                .put_unmatched(&UnmatchedPayment {
                    merchant_id: notice.merchant_id.clone(),
                    kind: notice.kind,
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
        if notice.kind.is_reversal() {
            // Kept first, so a payment that arrives concurrently finds it (and applies it) if this one can't.
            self.store.add_pending_reversal(notice).await?;
            return self.apply_reversal(&merchant_id, &charge_id, notice, now).await;
        }
        let settled = self.apply_payment(&merchant_id, &charge_id, notice, now).await?;
        // Refunds that came before this payment. A paid charge's follow-up applies them, after telling that it
        // was paid, so merchants hear of the payment before its refund.
        let followed_up = match &settled {
            Settled::Paid { .. } => true,
            Settled::Duplicate { charge } => charge.status == ChargeStatus::Paid,
            _ => false,
        };
        if !followed_up {
            self.apply_pending_reversals(&merchant_id, &charge_id, &notice.provider, &notice.provider_payment_id, now).await?;
        }
        Ok(settled)
    }

    async fn apply_pending_reversals(
        &self,
        merchant_id: &MerchantId,
        charge_id: &ChargeId,
        provider: &str,
        payment_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), SettleError> {
        for pending in self.store.pending_reversals(provider, payment_id).await? {
            self.apply_reversal(merchant_id, charge_id, &pending, now).await?;
        }
        Ok(())
    }

    async fn apply_payment(
        &self,
        merchant_id: &MerchantId,
        charge_id: &ChargeId,
        notice: &PaymentNotice,
        now: DateTime<Utc>,
    ) -> Result<Settled, SettleError> {
        // Which régua message preceded this payment, for the recovery report: one query of this charge's
        // reminders now, so the report never reads reminders.
        let preceded_by = crate::domain::payment::PrecedingReminder::of(&self.store.reminders_of(merchant_id, charge_id).await?, notice.paid_at);
        // Optimistic concurrency: a tick may be marking the charge overdue at the same moment.
        for _ in 0..5 {
            let Some(charge) = self.store.get_charge(merchant_id, charge_id).await? else {
                return Err(StoreError::Corrupt { key: charge_id.to_string(), message: "reference without charge".into() }.into());
            };
            // What was left to pay on the day the payer paid (discounts, fines, interest and earlier partial
            // payments included), by the one rule.
            let owed = charge.balance_due(crate::domain::calendar::local_date(notice.paid_at));
            let outcome = match owed {
                _ if !charge.payable_at(notice.paid_at) => PaymentOutcome::FlaggedForRefund,
                Ok(owed) if notice.amount.as_decimal() >= owed => PaymentOutcome::Settled,
                Ok(_) => PaymentOutcome::Partial,
                // Terms stored before the bounds that cannot be priced: the money is kept and the charge stays
                // open for the merchant to settle by hand, rather than guessing whether it was paid in full.
                Err(e) => {
                    tracing::error!(charge_id = %charge_id, error = %e, "payment on an unpriceable charge recorded as partial");
                    PaymentOutcome::Partial
                }
            };
            let entry = LedgerEntry {
                id: PaymentId::generate(),
                merchant_id: merchant_id.clone(),
                charge_id: charge_id.clone(),
                provider: notice.provider.clone(),
                provider_event_id: notice.event_id.clone(),
                provider_payment_id: notice.provider_payment_id.clone(),
                kind: EntryKind::Payment,
                reverses: None,
                amount: notice.amount,
                method: notice.method,
                paid_at: notice.paid_at,
                received_at: now,
                outcome,
                wallet_id: charge.setup.wallet_for(notice.method),
                preceded_by: Some(preceded_by.clone()),
            };
            let mut ledger = self.store.ledger_of(merchant_id, charge_id).await?;
            ledger.push(entry.clone());
            let received = net_received(&ledger);
            // `payable_at` above found the charge open, so neither transition is refused. Paid, its event
            // (`PaymentConfirmed`) is published by `follow_up`, off the webhook's path.
            let (updated, implied) = match outcome {
                PaymentOutcome::Settled => {
                    let credit = charge.credit + (notice.amount.as_decimal() - owed.unwrap_or_default()).max(rust_decimal::Decimal::ZERO);
                    let mut paid = charge.clone();
                    let kind = paid.settle(notice.paid_at, received, credit, now).map_err(illegal)?;
                    // Paid some other way: the boleto must not be payable too. (Paid by boleto: the bank settled it.)
                    if notice.method != PaymentMethod::Boleto {
                        jobs::supersede_boleto(&mut paid);
                    }
                    (Some(paid), Some(kind))
                }
                // Part of it: the balance stays open and the régua goes on for it.
                PaymentOutcome::Partial => {
                    let mut partly = charge.clone();
                    let kind = partly.pay_in_part(received, now).map_err(illegal)?;
                    (Some(partly), Some(kind))
                }
                // Not taken: the charge stays as it is, and the payment is announced as one to give back.
                PaymentOutcome::FlaggedForRefund => (None, None),
            };
            let paid = updated.as_ref().filter(|c| c.status == ChargeStatus::Paid).cloned();
            let recorded = match self.store.append_to_ledger(&entry, updated.as_ref().map(|c| (c, charge.version))).await {
                Ok(r) => r,
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            };
            return match (recorded, paid) {
                (PaymentRecorded::Recorded, Some(paid)) => {
                    self.hand_off_follow_up(&paid, notice).await?;
                    Ok(Settled::Paid { charge: paid })
                }
                (PaymentRecorded::Recorded, None) => {
                    let charge = updated.unwrap_or(charge);
                    let kind = implied.unwrap_or(crate::domain::events::EventKind::PaymentFlaggedForRefund);
                    self.publish(
                        &charge,
                        kind,
                        &format!("{}:{}:{}", notice.provider, notice.provider_payment_id, outcome_name(outcome)),
                        notice.paid_at,
                        notice,
                        None,
                    )
                    .await?;
                    Ok(Settled::Recorded { charge, outcome })
                }
                (PaymentRecorded::Duplicate, _) => {
                    // The first delivery may have died before handing off its follow-ups: hand them off again
                    // (the follow-up is idempotent, so a second one changes nothing).
                    if charge.status == ChargeStatus::Paid {
                        self.hand_off_follow_up(&charge, notice).await?;
                    }
                    Ok(Settled::Duplicate { charge })
                }
            };
        }
        Err(StoreError::Conflict.into())
    }

    /// Takes a refund or chargeback off the ledger of the payment it reverses, once; never more than that
    /// payment brought in. Without the payment on the ledger yet, it waits (see `apply`).
    async fn apply_reversal(
        &self,
        merchant_id: &MerchantId,
        charge_id: &ChargeId,
        notice: &PaymentNotice,
        now: DateTime<Utc>,
    ) -> Result<Settled, SettleError> {
        for _ in 0..5 {
            let Some(charge) = self.store.get_charge(merchant_id, charge_id).await? else {
                return Err(StoreError::Corrupt { key: charge_id.to_string(), message: "reference without charge".into() }.into());
            };
            let ledger = self.store.ledger_of(merchant_id, charge_id).await?;
            if ledger.iter().any(|e| e.provider == notice.provider && e.provider_payment_id == notice.provider_payment_id) {
                return Ok(Settled::Duplicate { charge });
            }
            let reverses = notice.reverses.clone().unwrap_or_default();
            let Some(payment) =
                ledger.iter().find(|e| e.kind == EntryKind::Payment && e.provider == notice.provider && e.provider_payment_id == reverses)
            else {
                return Ok(Settled::AwaitingPayment { charge });
            };
            let left = payment.amount.as_decimal() - reversed_of(&ledger, &notice.provider, &reverses);
            let amount = notice.amount.as_decimal().min(left);
            if amount <= rust_decimal::Decimal::ZERO {
                tracing::warn!(charge_id = %charge_id, reversal = %notice.provider_payment_id, "reversal beyond what the payment brought in; ignored");
                return Ok(Settled::Duplicate { charge });
            }
            let entry = LedgerEntry {
                id: PaymentId::generate(),
                merchant_id: merchant_id.clone(),
                charge_id: charge_id.clone(),
                provider: notice.provider.clone(),
                provider_event_id: notice.event_id.clone(),
                provider_payment_id: notice.provider_payment_id.clone(),
                kind: notice.kind,
                reverses: Some(reverses.clone()),
                amount: Money::from_decimal(amount).unwrap_or(notice.amount),
                method: payment.method,
                paid_at: notice.paid_at,
                received_at: now,
                outcome: payment.outcome,
                wallet_id: payment.wallet_id.clone(),
                preceded_by: None,
            };
            let reversal = if notice.kind == EntryKind::Chargeback { Reversal::Chargeback } else { Reversal::Refund };
            let updated = entry.counts().then(|| {
                let mut all = ledger.clone();
                all.push(entry.clone());
                let mut reversed = charge.clone();
                let kind = reversed.take_back(amount, net_received(&all), reversal, crate::domain::calendar::local_date(now), now);
                (reversed, kind)
            });
            match self.store.append_to_ledger(&entry, updated.as_ref().map(|(c, _)| (c, charge.version))).await {
                Ok(PaymentRecorded::Recorded) => {}
                Ok(PaymentRecorded::Duplicate) => return Ok(Settled::Duplicate { charge }),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
            // An entry that does not count leaves the charge as it was; the reversal is announced all the same.
            let (charge, kind) = updated.unwrap_or_else(|| (charge, reversal.event()));
            self.publish(
                &charge,
                kind,
                &format!("{}:{}:{}", notice.provider, notice.provider_payment_id, notice.kind.as_str()),
                notice.paid_at,
                notice,
                Some(amount),
            )
            .await?;
            return Ok(Settled::Reversed { charge, kind: notice.kind });
        }
        Err(StoreError::Conflict.into())
    }

    async fn publish(
        &self,
        charge: &Charge,
        kind: crate::domain::events::EventKind,
        id: &str,
        at: DateTime<Utc>,
        notice: &PaymentNotice,
        applied: Option<rust_decimal::Decimal>,
    ) -> Result<(), SettleError> {
        self.events
            .publish(&[DomainEvent {
                id: id.to_string(),
                kind,
                merchant_id: charge.merchant_id.clone(),
                charge_id: charge.id.clone(),
                occurred_at: at,
                data: serde_json::json!({
                    "amount": applied.map(|a| a.to_string()).unwrap_or_else(|| notice.amount.to_string()),
                    "method": notice.method,
                    "provider": notice.provider,
                    "provider_payment_id": notice.provider_payment_id,
                    "reverses": notice.reverses,
                    "status": charge.status,
                    "received": charge.received,
                    "refunded": charge.refunded,
                }),
            }])
            .await?;
        Ok(())
    }

    /// Queues what follows a payment (see `PaymentFollowUp`) in one call, so the provider's webhook is answered
    /// after the fewest calls: the money is on the ledger, everything else can follow asynchronously.
    async fn hand_off_follow_up(&self, charge: &Charge, notice: &PaymentNotice) -> Result<(), SettleError> {
        let job = PaymentSetupJob {
            merchant_id: charge.merchant_id.clone(),
            charge_id: charge.id.clone(),
            task: SetupTask::AfterPayment(PaymentFollowUp::of(notice)),
        };
        self.queue.enqueue_setup(&[job]).await?;
        Ok(())
    }

    /// Stops the régua, sends the receipt, writes off superseded boletos and tells the world that `charge` was
    /// paid. Runs off the webhook's path (the payment-setup queue); safe to run more than once.
    pub async fn follow_up(&self, charge: &Charge, payment: &PaymentFollowUp, now: DateTime<Utc>) -> Result<(), SettleError> {
        self.queue.enqueue_setup(&jobs::pending_write_offs(charge)).await?;
        for r in self.store.reminders_of(&charge.merchant_id, &charge.id).await? {
            // The receipt itself is the one message still to go (a redelivered notice redoes this after it was planned).
            if r.state.is_pending() && r.step != ruler::Step::OnPaid {
                let cancelled = ReminderState::Cancelled { reason: "charge paid".into() };
                self.store.transition_reminder(&r, &["planned", "queued"], cancelled, now).await?;
            }
        }
        if let Some(customer) = self.store.get_customer(&charge.merchant_id, &charge.customer_id).await? {
            let mut jobs = Vec::new();
            let ruler =
                crate::service::schedule::Schedules { store: self.store }.ruler_for(charge.ruler.as_ref(), &charge.merchant_id, &customer.id).await?;
            for receipt in ruler::payment_receipt(charge, &customer, &ruler, now) {
                self.store.add_reminder(&receipt).await?;
                let queued = ReminderState::Queued { lease_until: now + crate::service::tick::LEASE, attempt: 1 };
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
                id: format!("{}:{}:paid", payment.provider, payment.provider_payment_id),
                kind: crate::domain::events::EventKind::PaymentConfirmed,
                merchant_id: charge.merchant_id.clone(),
                charge_id: charge.id.clone(),
                occurred_at: payment.paid_at,
                data: serde_json::json!({
                    "amount": payment.amount,
                    "method": payment.method,
                    "provider": payment.provider,
                    "provider_payment_id": payment.provider_payment_id,
                }),
            }])
            .await?;
        self.apply_pending_reversals(&charge.merchant_id, &charge.id, &payment.provider, &payment.provider_payment_id, now).await
    }
}

fn outcome_name(o: PaymentOutcome) -> &'static str {
    match o {
        PaymentOutcome::Settled => "settled",
        PaymentOutcome::Partial => "partial",
        PaymentOutcome::FlaggedForRefund => "flagged",
    }
}

/// A transition refused on a charge `payable_at` found open: the stored charge contradicts itself.
fn illegal(e: IllegalTransition) -> SettleError {
    StoreError::Corrupt { key: "charge".into(), message: e.to_string() }.into()
}
