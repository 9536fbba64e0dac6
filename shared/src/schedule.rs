//! Managing réguas: which one applies to a charge, re-planning pending reminders when something changes
//! (a new default, a customer's override or opt-out), and showing a charge's whole schedule in advance.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

/// A merchant's open charges to re-plan after its default régua changed. The API call only queues it; the
/// scheduled ruler tick works through it a page at a time (`Schedules::run_replans`), saving where it got to, so a
/// merchant with many charges never makes one request (or one run) unbounded. Re-planning a charge twice changes
/// nothing the second time, so a page redone after a crash is harmless.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplanJob {
    pub merchant_id: MerchantId,
    pub requested_at: DateTime<Utc>,
    /// Where the next page of open charges starts; None: at the beginning.
    pub cursor: Option<String>,
    /// Open charges gone through so far (those with a régua of their own are passed over).
    pub charges_done: u32,
    pub version: u64,
}

/// Open charges read per page of a queued re-plan.
pub const REPLAN_PAGE: usize = 100;
/// Pages one tick run works through, every merchant's job together; the rest waits for the next run.
pub const REPLAN_PAGES_PER_RUN: usize = 5;
/// How far the API counts the charges a new default will re-plan before answering.
pub const REPLAN_COUNT_LIMIT: usize = 1_000;

/// What one run of queued re-plans did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReplanRun {
    pub pages: u32,
    pub report: ReplanReport,
    /// Jobs that reached their last page.
    pub finished: u32,
    /// Charges whose customer is missing: passed over, logged.
    pub skipped: u32,
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

    /// Queues a re-plan of the merchant's open charges that follow its default (after the default changed); a job
    /// already queued starts over, under the new default. Returns the job and how many open charges follow the
    /// default, counted up to `REPLAN_COUNT_LIMIT` (true when all were counted).
    pub async fn request_replan(&self, merchant: &MerchantId, now: DateTime<Utc>) -> StoreResult<(ReplanJob, usize, bool)> {
        let mut job = None;
        for _ in 0..3 {
            let current = self.store.get_replan_job(merchant).await?;
            let next = ReplanJob { merchant_id: merchant.clone(), requested_at: now, cursor: None, charges_done: 0, version: current.as_ref().map_or(1, |j| j.version + 1) };
            match self.store.save_replan_job(&next, current.map(|j| j.version)).await {
                Ok(()) => {
                    job = Some(next);
                    break;
                }
                // The tick moved it on, or another request queued one: read again and restart it.
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        let job = job.ok_or(StoreError::Conflict)?;
        let (mut counted, mut cursor) = (0, None);
        loop {
            let page = self.store.open_charges(merchant, REPLAN_PAGE, cursor).await?;
            counted += page.items.iter().filter(|c| c.ruler.is_none()).count();
            match page.next {
                Some(next) if counted < REPLAN_COUNT_LIMIT => cursor = Some(next),
                Some(_) => return Ok((job, counted, false)),
                None => return Ok((job, counted, true)),
            }
        }
    }

    /// Works through queued re-plans, at most `pages` pages of `REPLAN_PAGE` open charges in all, saving each job's
    /// place after every page (conditionally: a newer request restarts the job and wins). Run by the ruler tick.
    pub async fn run_replans(&self, now: DateTime<Utc>, pages: usize) -> StoreResult<ReplanRun> {
        let mut run = ReplanRun::default();
        for mut job in self.store.replan_jobs(pages).await? {
            loop {
                if run.pages as usize >= pages {
                    return Ok(run);
                }
                run.pages += 1;
                let page = self.store.open_charges(&job.merchant_id, REPLAN_PAGE, job.cursor.clone()).await?;
                for charge in page.items.iter().filter(|c| c.ruler.is_none()) {
                    let Some(customer) = self.store.get_customer(&job.merchant_id, &charge.customer_id).await? else {
                        tracing::error!(charge_id = %charge.id, "re-plan: the charge's customer is missing; passed over");
                        run.skipped += 1;
                        continue;
                    };
                    run.report.absorb(&self.replan_charge(charge, &customer, now).await?);
                }
                let expected = job.version;
                let Some(next) = page.next else {
                    if self.store.finish_replan_job(&job.merchant_id, expected).await? {
                        run.finished += 1;
                        tracing::info!(merchant_id = %job.merchant_id, charges = job.charges_done as usize + page.items.len(), "re-plan finished");
                    }
                    break;
                };
                job = ReplanJob { cursor: Some(next), charges_done: job.charges_done + page.items.len() as u32, version: expected + 1, ..job };
                match self.store.save_replan_job(&job, Some(expected)).await {
                    Ok(()) => {}
                    // Restarted by a newer request: the next run takes it from the beginning.
                    Err(StoreError::Conflict) => break,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(run)
    }
}
