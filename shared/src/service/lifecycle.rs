//! A charge's life after it is made, as the merchant drives it: changed (amount, due date, description),
//! cancelled, or closed into a renegotiation. The status change itself is the charge's own (`charge::state`);
//! this stores it and does what follows: boletos and cobvs re-issued or written off, the régua re-planned or
//! stopped, the payer told, the event published. Each step keeps the order a crash-safe retry relies on.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::charges::{ChargeError, ChargeService};
use crate::domain::charge::{Charge, ChargeChanges, ChargeStatus, Closing};
use crate::domain::events::{DomainEvent, EventKind};
use crate::domain::ids::{ChargeId, MerchantId};
use crate::domain::ruler::{self, ReminderState};
use crate::service::schedule::Schedules;

impl ChargeService<'_> {
    /// One of the merchant's charges, still open: else `ChargeNotFound`, or `NotOpen` with its status.
    pub async fn open_charge(&self, merchant: &MerchantId, id: &str) -> Result<Charge, ChargeError> {
        let id = ChargeId::parse(id).map_err(|_| ChargeError::ChargeNotFound)?;
        let charge = self.store.get_charge(merchant, &id).await?.ok_or(ChargeError::ChargeNotFound)?;
        if !charge.status.is_open() {
            return Err(ChargeError::NotOpen(charge.status));
        }
        Ok(charge)
    }

    /// The merchant's changes to an open charge (`before`, as `open_charge` found it). New numbers keep the late
    /// fees within the law, replace the boleto and cobv (they carry value and due date; the old boleto is
    /// written off so it cannot be paid as well) and send the `on_changed` notices; any change re-plans the
    /// régua and publishes `ChargeUpdated`. Changes that alter nothing store nothing.
    pub async fn change(&self, before: Charge, changes: ChargeChanges, now: DateTime<Utc>) -> Result<Charge, ChargeError> {
        let mut charge = before.clone();
        let Some(kind) = charge.change(changes, now)? else { return Ok(charge) };
        let new_numbers = charge.amount != before.amount || charge.due_date != before.due_date;
        let merchant = &charge.merchant_id.clone();
        let mut setup_jobs = Vec::new();
        if new_numbers {
            // The terms stay within the law for the new numbers (a fixed fine may exceed 2 % of a lower amount).
            let payer = self.store.get_customer(merchant, &charge.customer_id).await?.ok_or(ChargeError::Internal("customer missing"))?;
            charge.late_fees.admit(charge.amount, charge.due_date.date(), &payer.document)?;
            let reissue: Vec<_> = [charge.setup.boleto.as_ref().map(|b| b.wallet_id.clone()), charge.setup.pix.as_ref().map(|p| p.wallet_id.clone())]
                .into_iter()
                .flatten()
                .collect();
            setup_jobs.extend(crate::service::registration::supersede_boleto(&mut charge));
            for id in reissue {
                if let Some(wallet) = self.store.get_wallet(merchant, &id).await? {
                    setup_jobs.extend(self.checkout().issue(&mut charge, &wallet, now).await?);
                }
            }
        }
        self.store.update_charge(&charge, before.version).await?;
        self.checkout().queue_setup(&setup_jobs).await;
        let customer = self.store.get_customer(merchant, &charge.customer_id).await?.ok_or(ChargeError::Internal("customer missing"))?;
        let schedules = Schedules { store: self.store };
        schedules.replan_charge(&charge, &customer, now).await?;
        if new_numbers {
            let ruler = schedules.ruler_for(charge.ruler.as_ref(), merchant, &customer.id).await?;
            let mut notices = ruler::event_reminders(ruler::Step::OnChanged, &charge, &customer, &ruler, charge.version as u16, now);
            for n in &notices {
                self.store.add_reminder(n).await?;
            }
            self.send_now(&mut notices, now).await;
        }
        self.publish(&charge, kind, now, json!({"amount": charge.amount, "due_date": charge.due_date, "version": charge.version})).await;
        Ok(charge)
    }

    /// Cancels one of the merchant's charges: it can no longer be paid and its régua stops. Repeating it on a
    /// cancelled charge answers the same (and finishes what a call that died midway left: reminders, the event);
    /// any other closed charge is `NotOpen`.
    pub async fn cancel(&self, merchant: &MerchantId, id: &str, now: DateTime<Utc>) -> Result<Charge, ChargeError> {
        match self.open_charge(merchant, id).await {
            Ok(before) => self.close(before, Closing::Cancelled, now).await,
            Err(e @ ChargeError::NotOpen(_)) => {
                let id = ChargeId::parse(id).map_err(|_| ChargeError::Internal("charge id"))?;
                let charge = self.store.get_charge(merchant, &id).await?.ok_or(ChargeError::Internal("charge vanished"))?;
                if charge.status != ChargeStatus::Cancelled {
                    return Err(e);
                }
                self.finish_closing(&charge, now).await?;
                Ok(charge)
            }
            Err(e) => Err(e),
        }
    }

    /// Ends an open charge (cancelled, or renegotiated into a plan): its boleto is written off, its pending
    /// reminders are cancelled and the change is published. Tick and delivery also check the status before
    /// sending, so a crash between these steps sends nothing for it.
    pub async fn close(&self, before: Charge, closing: Closing, now: DateTime<Utc>) -> Result<Charge, ChargeError> {
        let mut charge = before.clone();
        charge.close(closing, now)?;
        let write_off: Vec<_> = crate::service::registration::supersede_boleto(&mut charge).into_iter().collect();
        self.store.update_charge(&charge, before.version).await?;
        self.checkout().queue_setup(&write_off).await;
        self.finish_closing(&charge, now).await?;
        Ok(charge)
    }

    /// What follows a charge's closing, once stored: its pending reminders cancelled and the event published
    /// (its id is the charge's version, so publishing it again is the same event). Also run by a retry that finds
    /// the charge already closed, for a call that died in between.
    pub async fn finish_closing(&self, charge: &Charge, now: DateTime<Utc>) -> Result<(), ChargeError> {
        for r in self.store.reminders_of(&charge.merchant_id, &charge.id).await? {
            if r.state.is_pending() {
                let cancelled = ReminderState::Cancelled { reason: format!("charge {}", charge.status.as_str()) };
                // False when claimed by a tick meanwhile: the delivery worker finds the charge closed and skips it.
                self.store.transition_reminder(&r, &["planned", "queued"], cancelled, now).await?;
            }
        }
        // From the status, not the transition: a retry finishing an earlier call's closing has only the charge.
        let kind = if charge.status == ChargeStatus::Renegotiated { EventKind::ChargeRenegotiated } else { EventKind::ChargeCancelled };
        self.publish(charge, kind, now, json!({"version": charge.version, "renegotiated_into": charge.renegotiated_into})).await;
        Ok(())
    }

    /// Publishes after the change is stored; a failure is logged, not returned, since the change stands.
    async fn publish(&self, charge: &Charge, kind: EventKind, now: DateTime<Utc>, data: Value) {
        let event = DomainEvent {
            id: format!("{}:{}:{}", charge.id, kind, charge.version),
            kind,
            merchant_id: charge.merchant_id.clone(),
            charge_id: charge.id.clone(),
            occurred_at: now,
            data,
        };
        if let Err(e) = self.events.publish(&[event]).await {
            tracing::error!(charge_id = %charge.id, error = %e, kind = kind.as_str(), "event not published");
        }
    }
}

impl ChargeError {
    /// The charge was closed, or written, by someone else between reading and cancelling it: for a caller
    /// closing many charges (a carnê's, a subscription's), nothing left to do for this one.
    pub fn closed_meanwhile(&self) -> bool {
        matches!(self, ChargeError::NotOpen(_) | ChargeError::Store(crate::ports::store::StoreError::Conflict))
    }
}
