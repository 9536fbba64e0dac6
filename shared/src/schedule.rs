//! Managing réguas: which one applies to a charge, re-planning pending reminders when something changes
//! (a new default, a customer's override or opt-out), and showing a charge's whole schedule in advance.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::charge::Charge;
use crate::customer::Customer;
use crate::ids::{CustomerId, MerchantId};
use crate::ruler::{self, Action, Reminder, ReminderState, Replan, Ruler};
use crate::store::{RulerScope, Store, StoreError, StoreResult};

pub struct Schedules<'a> {
    pub store: &'a dyn Store,
}

/// What a re-planning did, for API responses and logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReplanReport {
    pub charges: u32,
    pub cancelled: u32,
    pub added: u32,
    pub rescheduled: u32,
}

impl ReplanReport {
    fn absorb(&mut self, r: &Replan) {
        self.charges += 1;
        self.cancelled += r.cancel.len() as u32;
        self.added += r.add.len() as u32;
        self.rescheduled += r.reschedule.len() as u32;
    }
}

/// One line of a schedule: every message a charge gets, in time order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    pub step: &'static str,
    pub channel: Option<crate::notification::Channel>,
    /// planned, sent or skipped (cancelled, failed and the like count as skipped, with the reason).
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

pub fn schedule_of(reminders: &[Reminder]) -> Vec<ScheduleEntry> {
    let mut out: Vec<ScheduleEntry> = reminders
        .iter()
        .filter_map(|r| {
            let Action::Notify(channel) = r.action else { return None };
            let (state, reason, at) = match &r.state {
                ReminderState::Planned | ReminderState::Queued { .. } | ReminderState::Sending { .. } => ("planned", None, r.due_at),
                ReminderState::Sent { at, .. } => ("sent", None, *at),
                ReminderState::Done { at } => ("sent", None, *at),
                ReminderState::Skipped { reason } | ReminderState::Failed { reason, .. } | ReminderState::Cancelled { reason } => {
                    ("skipped", Some(reason.clone()), r.due_at)
                }
            };
            Some(ScheduleEntry { id: r.id(), at, step: r.step.name(), channel: Some(channel), state, reason })
        })
        .collect();
    out.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    out
}

impl Schedules<'_> {
    /// The régua that applies to a charge: its own, else the customer's, else the merchant's, else the default.
    pub async fn ruler_for(&self, charge_ruler: Option<&Ruler>, merchant: &MerchantId, customer: &CustomerId) -> StoreResult<Ruler> {
        if let Some(r) = charge_ruler {
            return Ok(r.clone());
        }
        let customer_ruler = self.store.get_ruler(&RulerScope::Customer(merchant.clone(), customer.clone())).await?;
        let merchant_ruler = match customer_ruler {
            Some(_) => None,
            None => self.store.get_ruler(&RulerScope::Merchant(merchant.clone())).await?,
        };
        Ok(ruler::effective(None, customer_ruler.as_ref(), merchant_ruler.as_ref(), &Ruler::default()).clone())
    }

    /// Brings a charge's pending reminders in line with its current régua, customer and dates.
    pub async fn replan_charge(&self, charge: &Charge, customer: &Customer, now: DateTime<Utc>) -> StoreResult<Replan> {
        let ruler = self.ruler_for(charge.ruler.as_ref(), &charge.merchant_id, &customer.id).await?;
        let existing = self.store.reminders_of(&charge.merchant_id, &charge.id).await?;
        let plan = ruler::plan(charge, customer, &ruler, now);
        let changes = ruler::replan(&existing, &plan);
        for r in &changes.cancel {
            // The new plan's own reason (an opt-out, a missing address) says more than "changed".
            let reason = match plan.iter().find(|p| p.id() == r.id()).map(|p| &p.state) {
                Some(ReminderState::Skipped { reason }) => reason.clone(),
                _ => "régua changed".into(),
            };
            let cancelled = ReminderState::Cancelled { reason };
            self.store.transition_reminder(r, &["planned", "queued"], cancelled, now).await?;
        }
        for r in &changes.add {
            self.store.add_reminder(r).await?;
        }
        for r in &changes.reschedule {
            self.store.transition_reminder(r, &["planned"], ReminderState::Planned, now).await?;
        }
        Ok(changes)
    }

    /// Re-plans every open charge of one customer (after an override or an opt-out).
    pub async fn replan_customer(&self, customer: &Customer, now: DateTime<Utc>) -> StoreResult<ReplanReport> {
        let mut report = ReplanReport::default();
        for charge in self.store.charges_of_customer(&customer.merchant_id, &customer.id).await? {
            if charge.status.is_open() {
                report.absorb(&self.replan_charge(&charge, customer, now).await?);
            }
        }
        Ok(report)
    }

    /// Re-plans the open charges of a merchant that follow its default (after the default changed).
    pub async fn replan_merchant(&self, merchant: &MerchantId, now: DateTime<Utc>) -> StoreResult<ReplanReport> {
        let mut report = ReplanReport::default();
        let mut cursor = None;
        loop {
            let page = self.store.open_charges(merchant, 100, cursor).await?;
            for charge in page.items.iter().filter(|c| c.ruler.is_none()) {
                let Some(customer) = self.store.get_customer(merchant, &charge.customer_id).await? else {
                    return Err(StoreError::Corrupt { key: charge.id.to_string(), message: "customer missing".into() });
                };
                report.absorb(&self.replan_charge(charge, &customer, now).await?);
            }
            match page.next {
                Some(n) => cursor = Some(n),
                None => return Ok(report),
            }
        }
    }
}
