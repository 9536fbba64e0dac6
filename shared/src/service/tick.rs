//! The ruler tick: finds the reminders that are due, claims each once, and hands them to the queue.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::domain::charge::Charge;
use crate::domain::events::{DomainEvent, EventBus};
use crate::domain::ids::ChargeId;
use crate::domain::notification::NotificationJob;
use crate::domain::ruler::{self, Action, Reminder, ReminderState};
use crate::ports::queue::JobQueue;
use crate::ports::store::{DueBucket, Store, StoreError, DUE_SHARDS};

/// How long a claimed reminder waits for its queue message before a later tick claims it again. Longer than
/// the queue's whole retry span (visibility timeout × receive count) so a slow message is not doubled.
pub const LEASE: Duration = Duration::minutes(15);
/// Claims after which a reminder that never gets sent is given up (its message is in the dead-letter queue).
pub const MAX_ATTEMPTS: u8 = 3;
/// How far back the very first tick of a deployment looks.
pub const FIRST_TICK_HORIZON: Duration = Duration::days(7);
const PAGE: usize = 100;
/// Reminders one invocation acts on at most; past it the tick stops and asks for a continuation, so a busy
/// moment is spread over several short invocations instead of one that runs into the Lambda timeout.
pub const MAX_ITEMS_PER_RUN: usize = 2_000;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct TickReport {
    pub now: Option<DateTime<Utc>>,
    pub from: Option<DateTime<Utc>>,
    pub queries: u32,
    pub items_read: u32,
    pub reminders_queued: u32,
    pub charges_marked_overdue: u32,
    pub charges_expired: u32,
    pub skipped: u32,
    pub given_up: u32,
    /// Reminders another tick claimed first.
    pub claims_lost: u32,
    /// True when the budget ran out: a continuation runs the same tick again for the rest.
    pub more: bool,
    /// Buckets not read and reminders not acted on because of an error; all are tried again by the next tick.
    pub failures: u32,
}

pub type TickError = crate::ports::port_error::PortError;

pub struct Tick<'a> {
    pub store: &'a dyn Store,
    pub queue: &'a dyn JobQueue,
    pub events: &'a dyn EventBus,
    pub max_items: usize,
}

impl<'a> Tick<'a> {
    pub fn new(store: &'a dyn Store, queue: &'a dyn JobQueue, events: &'a dyn EventBus) -> Self {
        Self { store, queue, events, max_items: MAX_ITEMS_PER_RUN }
    }
}

impl Tick<'_> {
    /// Runs a tick as of `now` (the schedule's event time). `wall_clock` is the real time: the watermark never
    /// passes it, because new reminders are only ever planned from the real present onwards.
    pub async fn run(&self, now: DateTime<Utc>, wall_clock: DateTime<Utc>) -> Result<TickReport, TickError> {
        let watermark = self.store.tick_watermark().await?;
        // The very first tick looks back from the real present, whatever instant it runs as.
        let from = watermark.map_or(now.min(wall_clock) - FIRST_TICK_HORIZON, |w| w.min(now));
        let mut report = TickReport { now: Some(now), from: Some(from), ..Default::default() };
        let mut charges: HashMap<ChargeId, Option<Charge>> = HashMap::new();
        let mut jobs = Vec::new();

        let mut day = from.date_naive();
        let mut acted = 0usize;
        'days: while day <= now.date_naive() {
            // The shards of a day are read concurrently: a tick costs one round trip per page, not eight.
            let reads = (0..DUE_SHARDS).map(|shard| self.read_bucket(DueBucket { day, shard }, now));
            for result in futures::future::join_all(reads).await {
                // One shard failing does not hold the others back; it is read again by the next tick, because
                // the watermark stays where it was.
                let (queries, items) = match result {
                    Ok(read) => read,
                    Err(e) => {
                        tracing::warn!(%day, error = %e, "due bucket not read; the next tick reads it again");
                        report.failures += 1;
                        continue;
                    }
                };
                report.queries += queries;
                report.items_read += items.len() as u32;
                for reminder in items {
                    if acted == self.max_items {
                        report.more = true;
                        break 'days;
                    }
                    acted += 1;
                    match self.act(&reminder, now, &mut charges, &mut report).await {
                        Ok(Some(claim)) => jobs.push(claim),
                        Ok(None) => {}
                        // Left as it was (or claimed, and back when its lease ends): the next tick finds it.
                        Err(e) => {
                            tracing::warn!(charge_id = %reminder.charge_id, reminder = %reminder.id(), error = %e, "reminder not acted on; the next tick tries again");
                            report.failures += 1;
                        }
                    }
                }
            }
            day = day.succ_opt().expect("date in range");
        }

        let (jobs, claimed): (Vec<NotificationJob>, Vec<Reminder>) = jobs.into_iter().unzip();
        if let Err(e) = self.queue.enqueue(&jobs).await {
            self.give_back(&claimed, now).await;
            return Err(e.into());
        }
        report.reminders_queued = jobs.len() as u32;
        if report.more {
            // What is left is still in the index (claimed reminders are not): the continuation reads it.
            self.events.continue_tick(now).await?;
        } else if report.failures > 0 {
            // Something was not read or not acted on: the next tick starts from the same place.
        } else {
            self.store.advance_tick_watermark(now.min(wall_clock)).await?;
        }
        Ok(report)
    }

    /// Claims whose messages the queue did not take (or may not have) are given back at once and do not count as
    /// attempts: an SQS outage must not use up a message's attempts while no consumer ever saw it. Should this
    /// fail too, they come back when their lease ends, as any claim does. (If the queue did take them after
    /// all, the copies are harmless: a send is claimed by one consumer only.)
    async fn give_back(&self, claimed: &[Reminder], now: DateTime<Utc>) {
        for reminder in claimed {
            let ReminderState::Queued { attempt, .. } = reminder.state else { continue };
            let unclaimed = ReminderState::Queued { lease_until: now, attempt: attempt.saturating_sub(1) };
            if let Err(e) = self.store.transition_reminder(reminder, &["queued"], unclaimed, now).await {
                tracing::warn!(charge_id = %reminder.charge_id, reminder = %reminder.id(), error = %e, "claim not given back; it returns when its lease ends");
            }
        }
    }

    /// Every due reminder of one bucket, page by page; returns the number of queries made too.
    async fn read_bucket(&self, bucket: DueBucket, now: DateTime<Utc>) -> Result<(u32, Vec<Reminder>), StoreError> {
        let (mut queries, mut items, mut cursor) = (0, Vec::new(), None);
        loop {
            let page = self.store.due_reminders(&bucket, now, PAGE, cursor).await?;
            queries += 1;
            items.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok((queries, items)),
            }
        }
    }

    async fn act(
        &self,
        reminder: &Reminder,
        now: DateTime<Utc>,
        charges: &mut HashMap<ChargeId, Option<Charge>>,
        report: &mut TickReport,
    ) -> Result<Option<(NotificationJob, Reminder)>, TickError> {
        // A message is only claimed and queued here: the sender reads the charge anyway and checks, with the
        // freshest state, that the message still makes sense (`ruler::still_meaningful`). Reading the charge here
        // too would double the tick's reads; only status changes need it.
        if let Action::Notify(_) = reminder.action {
            return self.claim_message(reminder, now, report).await;
        }
        if !charges.contains_key(&reminder.charge_id) {
            let c = self.store.get_charge(&reminder.merchant_id, &reminder.charge_id).await?;
            charges.insert(reminder.charge_id.clone(), c);
        }
        let Some(charge) = charges.get(&reminder.charge_id).cloned().flatten() else {
            self.finish(reminder, ReminderState::Skipped { reason: "charge not found".into() }, now).await?;
            report.skipped += 1;
            return Ok(None);
        };

        match reminder.action {
            Action::MarkOverdue => {
                if let Some(updated) = self.mark_overdue(charge, now).await? {
                    report.charges_marked_overdue += 1;
                    charges.insert(updated.id.clone(), Some(updated));
                }
                self.finish(reminder, ReminderState::Done { at: now }, now).await?;
                Ok(None)
            }
            Action::Expire => {
                if let Some(updated) = self.expire(charge, now).await? {
                    report.charges_expired += 1;
                    charges.insert(updated.id.clone(), Some(updated));
                }
                self.finish(reminder, ReminderState::Done { at: now }, now).await?;
                Ok(None)
            }
            Action::Notify(_) => self.claim_message(reminder, now, report).await,
        }
    }

    /// Claims a message reminder for the queue (one conditional write), or gives it up after too many attempts.
    /// Returns the job and the reminder as claimed.
    async fn claim_message(
        &self,
        reminder: &Reminder,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<Option<(NotificationJob, Reminder)>, TickError> {
        let attempt = match reminder.state {
            ReminderState::Queued { attempt, .. } => attempt + 1,
            _ => 1,
        };
        if attempt > MAX_ATTEMPTS {
            let reason = format!("not delivered after {MAX_ATTEMPTS} attempts; see the dead-letter queue");
            self.finish(reminder, ReminderState::Failed { reason, redrivable: true }, now).await?;
            report.given_up += 1;
            return Ok(None);
        }
        let claimed = ReminderState::Queued { lease_until: now + LEASE, attempt };
        let job = NotificationJob {
            merchant_id: reminder.merchant_id.clone(),
            charge_id: reminder.charge_id.clone(),
            reminder_id: reminder.id(),
            as_of: now,
        };
        match self.store.transition_reminder(reminder, &["planned", "queued_expired"], claimed.clone(), now).await {
            Ok(true) => Ok(Some((job, Reminder { state: claimed, ..reminder.clone() }))),
            Ok(false) => {
                report.claims_lost += 1;
                Ok(None)
            }
            // Whether the claim took effect is unknown (a timeout): the job goes to the queue anyway, or a claim
            // that did take effect would use up an attempt with no consumer ever seeing it. The consumer acts
            // only on a claimed reminder; for one still planned it does nothing, and the next tick claims it.
            Err(e) => {
                tracing::warn!(charge_id = %reminder.charge_id, reminder = %reminder.id(), error = %e, "claim unconfirmed; queued anyway");
                report.failures += 1;
                Ok(Some((job, Reminder { state: claimed, ..reminder.clone() })))
            }
        }
    }

    async fn finish(&self, reminder: &Reminder, to: ReminderState, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.store.transition_reminder(reminder, &["planned", "queued_expired"], to, now).await
    }

    /// pending → overdue, once, with an event. Returns the updated charge if this call changed it.
    async fn mark_overdue(&self, mut charge: Charge, now: DateTime<Utc>) -> Result<Option<Charge>, TickError> {
        for _ in 0..3 {
            let expected = charge.version;
            let mut updated = charge.clone();
            // Not pending any more (paid, cancelled, already overdue): nothing for the tick to do.
            let Ok(kind) = updated.mark_overdue(now) else { return Ok(None) };
            match self.store.update_charge(&updated, expected).await {
                Ok(()) => {
                    self.events
                        .publish(&[DomainEvent {
                            id: format!("{}:overdue", updated.id),
                            kind,
                            merchant_id: updated.merchant_id.clone(),
                            charge_id: updated.id.clone(),
                            occurred_at: now,
                            data: serde_json::json!({"due_date": updated.due_date, "amount": updated.amount}),
                        }])
                        .await?;
                    return Ok(Some(updated));
                }
                Err(StoreError::Conflict) => match self.store.get_charge(&charge.merchant_id, &charge.id).await? {
                    Some(fresh) => charge = fresh,
                    None => return Ok(None),
                },
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// open → expired, once: the boleto is written off, pending reminders are cancelled and the `on_expired`
    /// notice (if the régua has one) goes out. Returns the updated charge if this call changed it.
    async fn expire(&self, mut charge: Charge, now: DateTime<Utc>) -> Result<Option<Charge>, TickError> {
        for _ in 0..3 {
            let expected = charge.version;
            let mut updated = charge.clone();
            // Closed meanwhile (paid, cancelled): it can no longer expire.
            let Ok(kind) = updated.expire(now) else { return Ok(None) };
            let write_off: Vec<_> = crate::ports::jobs::supersede_boleto(&mut updated).into_iter().collect();
            match self.store.update_charge(&updated, expected).await {
                Ok(()) => {
                    self.queue.enqueue_setup(&write_off).await?;
                    let mut notices = Vec::new();
                    for r in self.store.reminders_of(&updated.merchant_id, &updated.id).await? {
                        if r.state.is_pending() && r.action != Action::Expire {
                            let cancelled = ReminderState::Cancelled { reason: "charge expired".into() };
                            self.store.transition_reminder(&r, &["planned", "queued"], cancelled, now).await?;
                        }
                    }
                    if let Some(customer) = self.store.get_customer(&updated.merchant_id, &updated.customer_id).await? {
                        let ruler = crate::service::schedule::Schedules { store: self.store }
                            .ruler_for(updated.ruler.as_ref(), &updated.merchant_id, &customer.id)
                            .await?;
                        for notice in ruler::event_reminders(ruler::Step::OnExpired, &updated, &customer, &ruler, 0, now) {
                            // Planned, so this or the next tick sends it in the payer's contact hours.
                            self.store.add_reminder(&notice).await?;
                            notices.push(notice);
                        }
                    }
                    self.events
                        .publish(&[DomainEvent {
                            id: format!("{}:expired", updated.id),
                            kind,
                            merchant_id: updated.merchant_id.clone(),
                            charge_id: updated.id.clone(),
                            occurred_at: now,
                            data: serde_json::json!({"expires_at": updated.expires_at, "notices": notices.len()}),
                        }])
                        .await?;
                    return Ok(Some(updated));
                }
                Err(StoreError::Conflict) => match self.store.get_charge(&charge.merchant_id, &charge.id).await? {
                    Some(fresh) => charge = fresh,
                    None => return Ok(None),
                },
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict.into())
    }
}
