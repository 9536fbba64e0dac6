//! The delivery worker: turns one queued reminder into one message on its channel.

use chrono::{DateTime, Datelike, Duration, Utc};

use crate::domain::calendar;
use crate::domain::channel_policy::{self, NotificationSettings};
use crate::domain::charge::{payment_url, Charge};
use crate::domain::customer::Customer;
use crate::domain::ids::MerchantId;
use crate::domain::merchant::Mode;
use crate::domain::notification::{self, Channel, ChargeLine, MessageContext, NotificationJob, NotificationSender, OutgoingMessage, SendError};
use crate::domain::ruler::{self, Action, Reminder, ReminderState, Step};
use crate::domain::tracking::{self, MessageStatus, NotificationRecord, StatusUpdate};
use crate::ports::store::{ContactCounter, NotificationStore, Store, StoreError};

/// A send that started this long ago and never finished is assumed to have died with its process; a
/// redelivered queue message may then try again (at-least-once towards providers that offer no idempotency).
pub const SENDING_STALE_AFTER: Duration = Duration::minutes(2);

/// Collection messages per customer, channel and day (courtesy default: one).
pub const MAX_PER_CHANNEL_PER_DAY: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Sent {
        provider_message_id: String,
    },
    /// Nothing to do: already sent, cancelled, or lost its meaning. The queue message is done.
    NotSent {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Leave the message on the queue: it comes back after the visibility timeout.
    #[error("retry later: {0}")]
    Retry(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Delivery<'a> {
    pub store: &'a dyn Store,
    /// The deployment's channel providers, for live merchants; a channel it does not `serve` has none.
    pub sender: &'a dyn NotificationSender,
    /// Where every message of a test-mode merchant goes, and only theirs (the development outbox).
    pub outbox: &'a dyn NotificationSender,
    /// `NotificationSent` / `NotificationFailed` go here (merchants subscribe to them as webhooks).
    pub events: &'a dyn crate::domain::events::EventBus,
    pub public_base_url: &'a str,
    /// Merchants' own provider accounts (`NotificationSettings::providers`), for live merchants.
    pub merchant_providers: Option<&'a dyn channel_policy::ProviderDirectory>,
}

/// How long a send that failed for a passing reason waits before its next try: 30 s doubled on each receive,
/// at most 4 min, ±`jitter_permille`/1000 so a provider's outage does not bring every retry back at once. The
/// four waits of a five-receive queue add up to about 7.5 min, well inside the tick's lease.
pub fn retry_delay(receive_count: u32, jitter_permille: i64) -> std::time::Duration {
    let base_ms: i64 = 30_000 << receive_count.saturating_sub(1).min(3);
    let jittered = base_ms + base_ms * jitter_permille.clamp(-500, 500) / 1000;
    std::time::Duration::from_millis(jittered.max(1_000) as u64)
}

/// Why a live merchant's message on a channel with no provider (neither theirs nor the deployment's) was not sent.
pub const CHANNEL_NOT_CONFIGURED: &str = "channel_not_configured";

/// Which sender a message goes through, by the merchant's mode.
enum Route {
    /// A test merchant's: the outbox, whatever is configured.
    Outbox,
    /// A live merchant's own provider account.
    Merchant(channel_policy::ProviderReference),
    /// The deployment's provider for the channel.
    Deployment,
}

impl Delivery<'_> {
    pub async fn deliver(&self, job: &NotificationJob, wall_clock: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
        let now = job.as_of.max(wall_clock);
        let not_sent = |reason: &str| Ok(Delivered::NotSent { reason: reason.to_string() });
        let Some(reminder) = self.store.get_reminder(&job.merchant_id, &job.charge_id, &job.reminder_id).await? else {
            return not_sent("unknown reminder");
        };
        let Action::Notify(channel) = reminder.action else {
            return not_sent("not a message");
        };
        // Where the send is claimed from: the queue, or a worker that died mid-send.
        let mut claimable_from: &[&str] = &["queued", "sending_stale"];
        let attempt = match reminder.state {
            ReminderState::Queued { attempt, .. } | ReminderState::Sending { attempt, .. } => attempt,
            // The tick gave up on it while this message was still retrying or in the dead-letter queue: the
            // redrive the tick's reason points to still sends it (if it still means something, checked below).
            ReminderState::Failed { redrivable: true, .. } => {
                claimable_from = &["failed_redrivable"];
                crate::service::tick::MAX_ATTEMPTS + 1
            }
            // Sent before: the first delivery may have died before telling the merchant. Telling again is safe
            // (same event id); the message is not sent again.
            ReminderState::Sent { at, ref provider_message_id } => {
                let settings = channel_policy::settings_of(self.store, &job.merchant_id).await?;
                self.book_sent(job, &reminder, channel, &settings, provider_message_id, None, at).await?;
                let data = serde_json::json!({"provider_message_id": provider_message_id});
                self.tell(job, &reminder, channel, crate::domain::events::EventKind::NotificationSent, "sent", data, at).await?;
                return not_sent("already sent");
            }
            ref other => return not_sent(&format!("reminder is {}", other.name())),
        };
        let (Some(charge), Some(merchant)) =
            (self.store.get_charge(&job.merchant_id, &job.charge_id).await?, self.store.get_merchant(&job.merchant_id).await?)
        else {
            return self.give_up(&reminder, ReminderState::Skipped { reason: "charge or merchant gone".into() }, now).await;
        };
        if let Err(reason) = ruler::still_meaningful(&reminder, &charge, now) {
            return self.give_up(&reminder, ReminderState::Skipped { reason }, now).await;
        }
        let Some(customer) = self.store.get_customer(&job.merchant_id, &charge.customer_id).await? else {
            return self.give_up(&reminder, ReminderState::Skipped { reason: "customer gone".into() }, now).await;
        };
        // Opt-outs and contact details may have changed since planning.
        if let Err(reason) = customer.can_receive(channel) {
            if reminder.step != Step::OnPaid || customer.opt_out.all {
                return self.give_up(&reminder, ReminderState::Skipped { reason }, now).await;
            }
        }
        let Some(recipient) = customer.address_on(channel) else {
            return self.give_up(&reminder, ReminderState::Skipped { reason: format!("no {} address", channel.as_str()) }, now).await;
        };
        let settings = channel_policy::settings_of(self.store, &job.merchant_id).await?;
        // A live message goes through a real provider or not at all: no outbox, no cost, no NotificationSent.
        let route = match (merchant.mode, settings.providers.get(&channel)) {
            (Mode::Test, _) => Route::Outbox,
            (Mode::Live, Some(reference)) => Route::Merchant(reference.clone()),
            (Mode::Live, None) if self.sender.serves(channel) => Route::Deployment,
            (Mode::Live, None) => {
                let given_up = self.give_up(&reminder, ReminderState::Skipped { reason: CHANNEL_NOT_CONFIGURED.into() }, now).await?;
                fall_back(self.store, &settings, &reminder, &customer, channel, now).await?;
                return Ok(given_up);
            }
        };
        // An address that bounced or complained is not used again; the merchant's fallback channel takes over.
        if let Some(why) = self.store.recipient_suppressed(&job.merchant_id, &tracking::recipient_key(channel, &recipient)).await? {
            let reason = format!("{} address suppressed after {why}", channel.as_str());
            let given_up = self.give_up(&reminder, ReminderState::Skipped { reason: reason.clone() }, now).await?;
            record_outcome(self.store, &reminder, channel, now, |r| {
                r.advance(MessageStatus::Failed, now, Some(reason.clone()));
            })
            .await?;
            fall_back(self.store, &settings, &reminder, &customer, channel, now).await?;
            return Ok(given_up);
        }

        let mut ctx = match MessageContext::new(&merchant, &customer, &charge, &payment_url(self.public_base_url, &charge.payment_token), now) {
            Ok(ctx) => ctx,
            Err(e) => return self.give_up(&reminder, ReminderState::Failed { reason: e.to_string(), redrivable: false }, now).await,
        };
        if reminder.step == Step::OnPaid {
            if let Some(paid) = self.store.ledger_of(&job.merchant_id, &job.charge_id).await?.last() {
                ctx = ctx.with_amount_paid(paid.amount);
            }
        }
        let custom = crate::domain::templates::merchant_template(self.store, &job.merchant_id, channel, reminder.step).await?;
        let (subject, text) = match crate::domain::templates::render(channel, reminder.step, &ctx, custom.as_ref()) {
            Ok(r) => r,
            Err(e) => return self.give_up(&reminder, ReminderState::Failed { reason: e.to_string(), redrivable: false }, now).await,
        };

        // Claim the send itself: of two copies of this queue message, only one gets past here.
        let sending = ReminderState::Sending { since: wall_clock, attempt };
        if !self.store.transition_reminder(&reminder, claimable_from, sending.clone(), wall_clock).await? {
            // A send under way — or one whose worker died: come back once it is either done or stale.
            return match self.store.get_reminder(&job.merchant_id, &job.charge_id, &job.reminder_id).await? {
                Some(Reminder { state: ReminderState::Sending { .. }, .. }) => Err(DeliveryError::Retry("another worker is sending it".into())),
                _ => not_sent("another worker has it"),
            };
        }
        let claimed = Reminder { state: sending, ..reminder };

        // Contact hours are checked again here: a reminder due at 13:15 on a Saturday that a tick finds at
        // 14:00, or a message the queue delayed, waits for the next open window instead of going out late.
        let ruler =
            crate::service::schedule::Schedules { store: self.store }.ruler_for(charge.ruler.as_ref(), &job.merchant_id, &customer.id).await?;
        let hours = ruler.hours_for(channel);
        if claimed.step != Step::OnPaid && hours.next_slot(now) != now {
            let later = crate::domain::ruler::Reminder { due_at: hours.next_slot(now), ..claimed.clone() };
            self.store.transition_reminder(&later, &["sending"], ReminderState::Planned, wall_clock).await?;
            return not_sent("outside contact hours; moved to the next open window");
        }

        // Frequency cap: a collection reminder beyond the day's allowance for this customer and channel waits
        // for the next open contact window of the next day.
        if claimed.step.is_reminder() {
            let day = calendar::local_date(now);
            let per_day = ContactCounter::ChannelDay { channel, day };
            let contact_key = format!("{}/{}", claimed.charge_id, claimed.id());
            if !self.store.reserve_contact(&job.merchant_id, &customer.id, &per_day, MAX_PER_CHANNEL_PER_DAY, &contact_key).await? {
                let tomorrow = calendar::local_instant(day.succ_opt().expect("date in range"), chrono::NaiveTime::MIN);
                let later = crate::domain::ruler::Reminder { due_at: hours.next_slot(tomorrow), ..claimed.clone() };
                self.store.transition_reminder(&later, &["sending"], ReminderState::Planned, wall_clock).await?;
                return not_sent("frequency cap reached today; moved to the next day");
            }
            if let (Step::AfterDue, Some(cap)) = (claimed.step, ruler.max_per_week_after_due) {
                let week_start = day - chrono::Duration::days(day.weekday().num_days_from_monday().into());
                if !self
                    .store
                    .reserve_contact(&job.merchant_id, &customer.id, &ContactCounter::AfterDueWeek { week_start }, cap.into(), &contact_key)
                    .await?
                {
                    let monday = calendar::local_instant(week_start + chrono::Duration::days(7), chrono::NaiveTime::MIN);
                    let later = crate::domain::ruler::Reminder { due_at: hours.next_slot(monday), ..claimed.clone() };
                    self.store.transition_reminder(&later, &["sending"], ReminderState::Planned, wall_clock).await?;
                    return not_sent("weekly cap after the due date reached; moved to next week");
                }
            }
        }
        // The month's budget stops paid channels; the message goes by e-mail instead, and the record says so.
        let month = channel_policy::spend_month(calendar::local_date(now));
        let price = settings.price(channel);
        if settings.monthly_budget.is_some() {
            let spent: rust_decimal::Decimal = self.store.spend_of(&job.merchant_id, &month).await?.values().map(|l| l.amount).sum();
            if !settings.within_budget(channel, spent, price.amount) {
                let reason = format!("monthly notification budget reached ({} spent); sent by e-mail instead", crate::domain::money::brl(spent));
                self.store.transition_reminder(&claimed, &["sending"], ReminderState::Skipped { reason: reason.clone() }, wall_clock).await?;
                record_outcome(self.store, &claimed, channel, now, |r| {
                    r.advance(MessageStatus::Failed, now, Some(reason.clone()));
                })
                .await?;
                let budget_only = NotificationSettings { fallback: vec![channel, channel_policy::BUDGET_FALLBACK], ..settings.clone() };
                fall_back(self.store, &budget_only, &claimed, &customer, channel, now).await?;
                return not_sent(&reason);
            }
        }
        // One message per customer: take along the customer's other reminders due today on this channel.
        let companions = if ruler.combine_per_customer && claimed.step.is_reminder() {
            self.claim_companions(&charge, channel, now, wall_clock).await?
        } else {
            vec![]
        };
        let (subject, text) = if companions.is_empty() {
            (subject, text)
        } else {
            // A companion that cannot be priced is left out of the combined message, not the whole message.
            let lines: Vec<ChargeLine> = companions
                .iter()
                .filter_map(|(_, c)| {
                    Some(ChargeLine {
                        description: c.description.as_str().to_string(),
                        amount: crate::domain::money::brl(c.balance_due(crate::domain::calendar::local_date(now)).ok()?),
                        due_date: notification::date_br(c.due_date.date()),
                        payment_url: payment_url(self.public_base_url, &c.payment_token),
                    })
                })
                .collect();
            match notification::render_combined((subject.clone(), text.clone()), &ctx, &lines) {
                Ok(r) => r,
                // The main text rendered; the list did not: send the main text alone, release the others.
                Err(e) => {
                    tracing::error!(error = %e, "combined list not rendered");
                    for (companion, _) in &companions {
                        self.store.transition_reminder(companion, &["sending"], ReminderState::Planned, wall_clock).await?;
                    }
                    return Err(DeliveryError::Retry(e.to_string()));
                }
            }
        };
        let message = OutgoingMessage {
            merchant_id: job.merchant_id.clone(),
            charge_id: job.charge_id.clone(),
            reminder_id: job.reminder_id.clone(),
            step: claimed.step.name().to_string(),
            channel,
            recipient,
            subject,
            text,
            template_params: ctx.template_params(claimed.step),
            payer_name: customer.name.as_str().to_string(),
            postal_address: if channel.profile().reaches == crate::domain::channel::Reach::Postal { customer.address.clone() } else { None },
            boleto: charge.setup.boleto.as_ref().map(|b| notification::BoletoSlip {
                digitable_line: b.digitable_line.clone(),
                barcode: b.barcode.clone(),
                bank: b.bank.clone(),
                amount: b.amount,
                due_date: b.due_date,
            }),
        };
        record_outcome(self.store, &claimed, channel, now, |r| r.attempts += 1).await?;
        let result = match (&route, self.merchant_providers) {
            (Route::Outbox, _) => self.outbox.send(&message).await,
            (Route::Deployment, _) => self.sender.send(&message).await,
            (Route::Merchant(reference), Some(directory)) => match directory.sender(&job.merchant_id, channel, reference).await {
                Ok(own) => own.send(&message).await,
                Err(e) => Err(e),
            },
            (Route::Merchant(reference), None) => {
                Err(SendError::Transient(format!("merchant provider {} cannot be reached from here", reference.as_str())))
            }
        };
        let outcome = match &result {
            Ok(receipt) => ReminderState::Sent { at: now, provider_message_id: receipt.provider_message_id.clone() },
            Err(SendError::Permanent(reason)) => ReminderState::Failed { reason: reason.clone(), redrivable: false },
            // Hand it back to the queue's retry: queued again, same attempt.
            Err(SendError::Transient(_)) => ReminderState::Queued { lease_until: now + crate::service::tick::LEASE, attempt },
        };
        // First what keeps the message from going twice; the bookkeeping after it can be redone.
        self.store.transition_reminder(&claimed, &["sending"], outcome.clone(), wall_clock).await?;
        match &result {
            Ok(receipt) => self.book_sent(job, &claimed, channel, &settings, &receipt.provider_message_id, receipt.segments, now).await?,
            Err(SendError::Permanent(reason)) => {
                record_outcome(self.store, &claimed, channel, now, |r| {
                    r.advance(MessageStatus::Failed, now, Some(reason.clone()));
                })
                .await?;
            }
            Err(SendError::Transient(reason)) => {
                record_outcome(self.store, &claimed, channel, now, |r| r.last_error = Some(reason.clone())).await?;
            }
        }
        for (companion, _) in &companions {
            let state = match &outcome {
                // A companion whose message failed goes back to the tick, which finds it again at once.
                ReminderState::Queued { .. } => ReminderState::Planned,
                other => other.clone(),
            };
            self.store.transition_reminder(companion, &["sending"], state, wall_clock).await?;
        }
        if let Err(SendError::Permanent(_)) = &result {
            fall_back(self.store, &settings, &claimed, &customer, channel, now).await?;
        }
        match &result {
            Ok(receipt) => {
                self.tell(
                    job,
                    &claimed,
                    channel,
                    crate::domain::events::EventKind::NotificationSent,
                    "sent",
                    serde_json::json!({"provider_message_id": receipt.provider_message_id}),
                    now,
                )
                .await?
            }
            Err(SendError::Permanent(reason)) => {
                self.tell(
                    job,
                    &claimed,
                    channel,
                    crate::domain::events::EventKind::NotificationFailed,
                    "failed",
                    serde_json::json!({"reason": reason}),
                    now,
                )
                .await?
            }
            Err(SendError::Transient(_)) => {}
        }
        match result {
            Ok(receipt) => Ok(Delivered::Sent { provider_message_id: receipt.provider_message_id }),
            Err(SendError::Permanent(reason)) => Ok(Delivered::NotSent { reason }),
            Err(SendError::Transient(reason)) => Err(DeliveryError::Retry(reason)),
        }
    }

    /// Claims, for one combined message, a pending reminder due today or earlier on `channel` from each of the
    /// customer's other open charges.
    async fn claim_companions(
        &self,
        charge: &Charge,
        channel: Channel,
        now: DateTime<Utc>,
        wall_clock: DateTime<Utc>,
    ) -> Result<Vec<(Reminder, Charge)>, DeliveryError> {
        let today = calendar::local_date(now);
        let mut out = Vec::new();
        for other in self.store.charges_of_customer(&charge.merchant_id, &charge.customer_id).await? {
            if other.id == charge.id || !other.status.is_open() {
                continue;
            }
            for r in self.store.reminders_of(&other.merchant_id, &other.id).await? {
                let due_today = calendar::local_date(r.due_at) <= today && r.due_at <= now + Duration::hours(12);
                if r.action != Action::Notify(channel) || !r.step.is_reminder() || !r.state.is_pending() || !due_today {
                    continue;
                }
                if ruler::still_meaningful(&r, &other, now).is_err() {
                    continue;
                }
                let sending = ReminderState::Sending { since: wall_clock, attempt: 1 };
                if self.store.transition_reminder(&r, &["planned", "queued"], sending.clone(), wall_clock).await? {
                    out.push((Reminder { state: sending, ..r }, other.clone()));
                    break;
                }
            }
        }
        Ok(out)
    }

    /// What a sent message leaves behind: its cost (once per message, the unit's price once per unit), the
    /// link from the provider's id back to it (for status callbacks) and its record. Safe to redo.
    #[allow(clippy::too_many_arguments)]
    async fn book_sent(
        &self,
        job: &NotificationJob,
        reminder: &Reminder,
        channel: Channel,
        settings: &NotificationSettings,
        provider_message_id: &str,
        segments: Option<u32>,
        at: DateTime<Utc>,
    ) -> Result<(), DeliveryError> {
        let day = calendar::local_date(at);
        let price = settings.price(channel);
        let message = format!("{}/{}", job.charge_id, reminder.id());
        let cost = self
            .store
            .add_spend(
                &job.merchant_id,
                &channel_policy::spend_month(day),
                channel,
                price.amount,
                &message,
                price.unit_key(channel, &job.charge_id, day).as_deref(),
            )
            .await?;
        self.store.link_provider_reference(&tracking::callback_reference(channel), provider_message_id, &job.merchant_id, &job.charge_id).await?;
        record_outcome(self.store, reminder, channel, at, |r| {
            r.advance(MessageStatus::Sent, at, None);
            r.provider_message_id = Some(provider_message_id.to_string());
            if segments.is_some() {
                r.segments = segments;
            }
            r.cost += cost;
        })
        .await?;
        Ok(())
    }

    /// Tells the merchant what became of a message (`NotificationSent` / `NotificationFailed`). If the event
    /// cannot be published the queue message is retried: the reminder is already sent or failed, so the retry
    /// only tells again.
    #[allow(clippy::too_many_arguments)]
    async fn tell(
        &self,
        job: &NotificationJob,
        reminder: &Reminder,
        channel: Channel,
        kind: crate::domain::events::EventKind,
        suffix: &str,
        mut data: serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<(), DeliveryError> {
        data["reminder_id"] = serde_json::json!(reminder.id());
        data["step"] = serde_json::json!(reminder.step.name());
        data["channel"] = serde_json::json!(channel);
        let event = crate::domain::events::DomainEvent {
            id: format!("{}:{}:{suffix}", job.charge_id, job.reminder_id),
            kind,
            merchant_id: job.merchant_id.clone(),
            charge_id: job.charge_id.clone(),
            occurred_at: at,
            data,
        };
        self.events.publish(&[event]).await.map_err(|e| DeliveryError::Retry(format!("{kind} not published: {e}")))
    }

    async fn give_up(&self, reminder: &crate::domain::ruler::Reminder, to: ReminderState, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
        let reason = match &to {
            ReminderState::Skipped { reason } | ReminderState::Failed { reason, .. } => reason.clone(),
            other => other.name().to_string(),
        };
        self.store.transition_reminder(reminder, &["queued", "sending_stale", "failed_redrivable"], to, now).await?;
        Ok(Delivered::NotSent { reason })
    }
}

/// Loads (or starts) a reminder's notification record, changes it and saves it, retrying when a status callback
/// saved it in between. Saves nothing when the change changed nothing.
pub async fn record_outcome(
    store: &dyn NotificationStore,
    reminder: &Reminder,
    channel: Channel,
    now: DateTime<Utc>,
    mut change: impl FnMut(&mut NotificationRecord),
) -> Result<NotificationRecord, StoreError> {
    let id = reminder.id();
    for _ in 0..5 {
        let stored = store.get_notification(&reminder.merchant_id, &reminder.charge_id, &id).await?;
        let mut record = stored.clone().unwrap_or_else(|| NotificationRecord::new(reminder, channel, now));
        change(&mut record);
        if stored.as_ref() == Some(&record) {
            return Ok(record);
        }
        record.updated_at = record.updated_at.max(now);
        record.version += 1;
        match store.save_notification(&record).await {
            Err(StoreError::Conflict) => continue,
            other => return other.map(|_| record),
        }
    }
    Err(StoreError::Conflict)
}

/// When a message failed for good on `failed`, plans the same step on the merchant's next fallback channel
/// that the payer can receive (due at once: the next tick sends it). Nothing when no fallback is set, every
/// channel was tried, or the step already has a reminder on that channel.
pub async fn fall_back(
    store: &dyn Store,
    settings: &NotificationSettings,
    reminder: &Reminder,
    customer: &Customer,
    failed: Channel,
    now: DateTime<Utc>,
) -> Result<Option<Channel>, StoreError> {
    if matches!(reminder.step, Step::MarkOverdue | Step::Expire) {
        return Ok(None);
    }
    let siblings = store.reminders_of(&reminder.merchant_id, &reminder.charge_id).await?;
    let mut tried: Vec<Channel> = siblings
        .iter()
        .filter(|r| r.step == reminder.step && r.occurrence == reminder.occurrence && r.generation == reminder.generation)
        .filter_map(|r| match r.action {
            Action::Notify(c) => Some(c),
            _ => None,
        })
        .collect();
    tried.push(failed);
    while let Some(next) = settings.next_channel(failed, &tried) {
        tried.push(next);
        let reachable = customer.can_receive(next).is_ok()
            && match customer.address_on(next) {
                Some(address) => store.recipient_suppressed(&reminder.merchant_id, &tracking::recipient_key(next, &address)).await?.is_none(),
                None => false,
            };
        if !reachable {
            continue;
        }
        let replacement = Reminder { action: Action::Notify(next), due_at: now, state: ReminderState::Planned, ..reminder.clone() };
        if !store.add_reminder(&replacement).await? {
            return Ok(None);
        }
        record_outcome(store, &replacement, next, now, |r| r.fallback_from = Some(failed)).await?;
        tracing::info!(charge_id = %reminder.charge_id, from = failed.as_str(), to = next.as_str(), "message falls back to the next channel");
        return Ok(Some(next));
    }
    Ok(None)
}

/// What a provider's status callback changes: the message's record moves forward; a bounce or complaint
/// suppresses the address; a failure after sending hands the step to the fallback channel. Unknown message ids
/// (messages this deployment did not send) are ignored. Returns whether the record changed.
pub async fn apply_status(
    store: &dyn Store,
    channel: Channel,
    from_merchant: Option<&MerchantId>,
    update: &StatusUpdate,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some((merchant, charge_id)) = store.charge_of_provider_reference(&tracking::callback_reference(channel), &update.provider_message_id).await?
    else {
        return Ok(false);
    };
    // A merchant's own provider account reports only on that merchant's messages.
    if from_merchant.is_some_and(|m| *m != merchant) {
        return Ok(false);
    }
    let Some(record) = store
        .notifications_of(&merchant, &charge_id)
        .await?
        .into_iter()
        .find(|r| r.provider_message_id.as_deref() == Some(update.provider_message_id.as_str()))
    else {
        return Ok(false);
    };
    let Some(reminder) = store.get_reminder(&merchant, &charge_id, &record.reminder_id).await? else { return Ok(false) };
    let updated = record_outcome(store, &reminder, channel, now, |r| {
        r.apply(update);
    })
    .await?;
    let changed = updated.history.len() > record.history.len();
    let Some(charge) = store.get_charge(&merchant, &charge_id).await? else { return Ok(changed) };
    let Some(customer) = store.get_customer(&merchant, &charge.customer_id).await? else { return Ok(changed) };
    if update.suppress_recipient {
        if let Some(address) = customer.address_on(channel) {
            store.suppress_recipient(&merchant, &tracking::recipient_key(channel, &address), update.status.as_str()).await?;
        }
    }
    if changed && update.status.is_final_failure() {
        let settings = channel_policy::settings_of(store, &merchant).await?;
        fall_back(store, &settings, &reminder, &customer, channel, now).await?;
    }
    // An unanswered call is placed again later the same day, within the contact hours and the day's limit.
    if changed && update.status == MessageStatus::NoAnswer {
        let ruler = crate::service::schedule::Schedules { store }.ruler_for(charge.ruler.as_ref(), &merchant, &customer.id).await?;
        if let Some(at) = channel_policy::next_voice_attempt(updated.attempts, MessageStatus::NoAnswer, now, &ruler.hours_for(channel)) {
            let again = Reminder { due_at: at, ..reminder.clone() };
            store.transition_reminder(&again, &["sent"], ReminderState::Planned, now).await?;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests;
