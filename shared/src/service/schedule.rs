//! Managing réguas: which one applies to a charge, re-planning pending reminders when something changes
//! (a new default, a customer's override or opt-out), and showing a charge's whole schedule in advance.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::charge::Charge;
use crate::domain::customer::Customer;
use crate::domain::ids::{CustomerId, MerchantId};
use crate::domain::ruler::{self, Action, Reminder, ReminderState, Replan, Ruler};
use crate::ports::store::{ChargeQuery, Page, RulerScope, Store, StoreError, StoreResult};

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

/// Whose open charges a queued re-plan goes through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReplanScope {
    /// After the merchant's default régua changed: its open charges that follow the default (one with a régua of
    /// its own cannot change).
    Merchant(MerchantId),
    /// After a customer's régua override or opt-out changed: every open charge of theirs (an opt-out touches a
    /// charge whatever régua it follows).
    Customer(MerchantId, CustomerId),
}

impl ReplanScope {
    pub fn merchant(&self) -> &MerchantId {
        match self {
            Self::Merchant(m) | Self::Customer(m, _) => m,
        }
    }

    /// The word the API answers with.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Merchant(_) => "merchant",
            Self::Customer(..) => "customer",
        }
    }
}

/// Open charges to re-plan after a régua or an opt-out changed (`ReplanScope`). The API call only queues it; the
/// scheduled ruler tick works through it a page at a time (`Schedules::run_replans`), saving where it got to, so
/// a merchant or a customer with many charges never makes one request (or one run) unbounded. Re-planning a
/// charge twice changes nothing the second time, so a page redone after a crash is harmless; and each charge is
/// planned from the régua and customer as stored when the page runs, never from a copy taken at request time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplanJob {
    pub merchant_id: MerchantId,
    /// Set for a customer's job (`ReplanScope::Customer`); absent for the merchant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    pub requested_at: DateTime<Utc>,
    /// Where the next page of charges starts; None: at the beginning.
    pub cursor: Option<String>,
    /// Open charges of the scope re-planned so far.
    pub charges_done: u32,
    pub version: u64,
}

impl ReplanJob {
    fn new(scope: &ReplanScope, requested_at: DateTime<Utc>, version: u64) -> Self {
        let (merchant_id, customer_id) = match scope {
            ReplanScope::Merchant(m) => (m.clone(), None),
            ReplanScope::Customer(m, c) => (m.clone(), Some(c.clone())),
        };
        Self { merchant_id, customer_id, requested_at, cursor: None, charges_done: 0, version }
    }

    pub fn scope(&self) -> ReplanScope {
        match &self.customer_id {
            None => ReplanScope::Merchant(self.merchant_id.clone()),
            Some(c) => ReplanScope::Customer(self.merchant_id.clone(), c.clone()),
        }
    }
}

/// Open charges read per page of a queued re-plan.
pub const REPLAN_PAGE: usize = 100;
/// Pages one tick run works through, every job together; the rest waits for the next run.
pub const REPLAN_PAGES_PER_RUN: usize = 5;
/// How many charges the API reads, at most, to count those a re-plan will go through before answering.
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
    pub channel: Option<crate::domain::notification::Channel>,
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

    /// One page of the charges a re-plan of `scope` goes through, from `cursor`: the one rule for which charges
    /// those are, the same for the request that counts them and the tick that re-plans them. Also how many
    /// charges were read for it (a customer's page reads their closed charges too).
    async fn replan_page(&self, scope: &ReplanScope, cursor: Option<String>) -> StoreResult<(Page<Charge>, usize)> {
        let page = match scope {
            ReplanScope::Merchant(m) => self.store.open_charges(m, REPLAN_PAGE, cursor).await?,
            // Through the customer's index of charges, by due date; the closed ones are passed over here.
            ReplanScope::Customer(m, c) => {
                let query = ChargeQuery { customer: Some(c.clone()), ..ChargeQuery::default() };
                self.store.list_charges(m, &query, REPLAN_PAGE, cursor).await?
            }
        };
        let read = page.items.len();
        let follows = |c: &Charge| {
            c.status.is_open()
                && match scope {
                    ReplanScope::Merchant(_) => c.ruler.is_none(),
                    ReplanScope::Customer(..) => true,
                }
        };
        Ok((Page { items: page.items.into_iter().filter(follows).collect(), next: page.next }, read))
    }

    /// Queues a re-plan of `scope` (after its régua or opt-out changed, the change already stored); a job already
    /// queued for it starts over, so the tick ends on the newest change. Returns the job and how many open charges
    /// it will go through, counted over at most `REPLAN_COUNT_LIMIT` charges read (true when all were counted).
    pub async fn request_replan(&self, scope: &ReplanScope, now: DateTime<Utc>) -> StoreResult<(ReplanJob, usize, bool)> {
        let mut job = None;
        for _ in 0..3 {
            let current = self.store.get_replan_job(scope).await?;
            let version = current.as_ref().map_or_else(|| first_version(now), |j| j.version + 1);
            let next = ReplanJob::new(scope, now, version);
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
        let (mut counted, mut read, mut cursor) = (0, 0, None);
        loop {
            let (page, n) = self.replan_page(scope, cursor).await?;
            counted += page.items.len();
            read += n;
            match page.next {
                Some(next) if read < REPLAN_COUNT_LIMIT => cursor = Some(next),
                Some(_) => return Ok((job, counted, false)),
                None => return Ok((job, counted, true)),
            }
        }
    }

    /// Works through queued re-plans, merchants' and customers' alike, at most `pages` pages of `REPLAN_PAGE`
    /// charges in all, saving each job's place after every page (conditionally: a newer request restarts the job
    /// and wins; of two runs on one job, one moves it on and the other lets go). Run by the ruler tick.
    pub async fn run_replans(&self, now: DateTime<Utc>, pages: usize) -> StoreResult<ReplanRun> {
        let mut run = ReplanRun::default();
        for mut job in self.store.replan_jobs(pages).await? {
            let scope = job.scope();
            loop {
                if run.pages as usize >= pages {
                    return Ok(run);
                }
                run.pages += 1;
                let (page, _) = self.replan_page(&scope, job.cursor.clone()).await?;
                for charge in &page.items {
                    let Some(customer) = self.store.get_customer(scope.merchant(), &charge.customer_id).await? else {
                        tracing::error!(charge_id = %charge.id, "re-plan: the charge's customer is missing; passed over");
                        run.skipped += 1;
                        continue;
                    };
                    run.report.absorb(&self.replan_charge(charge, &customer, now).await?);
                }
                let expected = job.version;
                let done = job.charges_done.saturating_add(u32::try_from(page.items.len()).unwrap_or(u32::MAX));
                let Some(next) = page.next else {
                    if self.store.finish_replan_job(&scope, expected).await? {
                        run.finished += 1;
                        tracing::info!(merchant_id = %job.merchant_id, customer_id = ?job.customer_id, charges = done, "re-plan finished");
                    }
                    break;
                };
                job = ReplanJob { cursor: Some(next), charges_done: done, version: expected + 1, ..job };
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

/// The version a scope's new job starts at: the request's instant in microseconds rather than 1, so that a run
/// still holding a finished (deleted) job of the same scope cannot move on or finish the new one with its stale
/// version. A job's version grows by one a page, and a page takes far longer than a microsecond.
fn first_version(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp_micros()).unwrap_or(1).max(1)
}
