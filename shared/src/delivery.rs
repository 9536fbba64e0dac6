//! The delivery worker: turns one queued reminder into one message on its channel.

use chrono::{DateTime, Datelike, Duration, Utc};

use crate::calendar;
use crate::charge::Charge;
use crate::notification::{self, Channel, ChargeLine, MessageContext, NotificationJob, NotificationSender, OutgoingMessage, SendError};
use crate::ruler::{self, Action, Reminder, ReminderState, Step};
use crate::store::{ContactCounter, Store, StoreError};

/// A send that started this long ago and never finished is assumed to have died with its process; a
/// redelivered queue message may then try again (at-least-once towards providers that offer no idempotency).
pub const SENDING_STALE_AFTER: Duration = Duration::minutes(2);

/// Collection messages per customer, channel and day (courtesy default: one).
pub const MAX_PER_CHANNEL_PER_DAY: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Sent { provider_message_id: String },
    /// Nothing to do: already sent, cancelled, or lost its meaning. The queue message is done.
    NotSent { reason: String },
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
    pub sender: &'a dyn NotificationSender,
    /// `NotificationSent` / `NotificationFailed` go here (merchants subscribe to them as webhooks).
    pub events: &'a dyn crate::events::EventBus,
    pub public_base_url: &'a str,
}

pub fn payment_url(base: &str, token: &str) -> String {
    format!("{}/pay/{}", base.trim_end_matches('/'), token)
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
        let attempt = match reminder.state {
            ReminderState::Queued { attempt, .. } | ReminderState::Sending { attempt, .. } => attempt,
            ref other => return not_sent(&format!("reminder is {}", other.name())),
        };
        let (Some(charge), Some(merchant)) = (
            self.store.get_charge(&job.merchant_id, &job.charge_id).await?,
            self.store.get_merchant(&job.merchant_id).await?,
        ) else {
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

        let mut ctx = MessageContext::new(&merchant, &customer, &charge, &payment_url(self.public_base_url, &charge.payment_token), now);
        if reminder.step == Step::OnPaid {
            if let Some(paid) = self.store.ledger_of(&job.merchant_id, &job.charge_id).await?.last() {
                ctx = ctx.with_amount_paid(paid.amount);
            }
        }
        let (subject, text) = match notification::render(reminder.step, &ctx) {
            Ok(r) => r,
            Err(e) => return self.give_up(&reminder, ReminderState::Failed { reason: e.to_string() }, now).await,
        };

        // Claim the send itself: of two copies of this queue message, only one gets past here.
        let sending = ReminderState::Sending { since: wall_clock, attempt };
        if !self.store.transition_reminder(&reminder, &["queued", "sending_stale"], sending.clone(), wall_clock).await? {
            return not_sent("another worker has it");
        }
        let claimed = Reminder { state: sending, ..reminder };

        // Contact hours are checked again here: a reminder due at 13:15 on a Saturday that a tick finds at
        // 14:00, or a message the queue delayed, waits for the next open window instead of going out late.
        let ruler = crate::schedule::Schedules { store: self.store }.ruler_for(charge.ruler.as_ref(), &job.merchant_id, &customer.id).await?;
        let hours = ruler.hours_for(channel);
        if claimed.step != Step::OnPaid && hours.next_slot(now) != now {
            let later = crate::ruler::Reminder { due_at: hours.next_slot(now), ..claimed.clone() };
            self.store.transition_reminder(&later, &["sending"], ReminderState::Planned, wall_clock).await?;
            return not_sent("outside contact hours; moved to the next open window");
        }

        // Frequency cap: a collection reminder beyond the day's allowance for this customer and channel waits
        // for the next open contact window of the next day.
        if claimed.step.is_reminder() {
            let day = calendar::local_date(now);
            let per_day = ContactCounter::ChannelDay { channel, day };
            if !self.store.reserve_contact(&job.merchant_id, &customer.id, &per_day, MAX_PER_CHANNEL_PER_DAY).await? {
                let tomorrow = calendar::local_instant(day.succ_opt().expect("date in range"), chrono::NaiveTime::MIN);
                let later = crate::ruler::Reminder { due_at: hours.next_slot(tomorrow), ..claimed.clone() };
                self.store.transition_reminder(&later, &["sending"], ReminderState::Planned, wall_clock).await?;
                return not_sent("frequency cap reached today; moved to the next day");
            }
            if let (Step::AfterDue, Some(cap)) = (claimed.step, ruler.max_per_week_after_due) {
                let week_start = day - chrono::Duration::days(day.weekday().num_days_from_monday().into());
                if !self.store.reserve_contact(&job.merchant_id, &customer.id, &ContactCounter::AfterDueWeek { week_start }, cap.into()).await? {
                    let monday = calendar::local_instant(week_start + chrono::Duration::days(7), chrono::NaiveTime::MIN);
                    let later = crate::ruler::Reminder { due_at: hours.next_slot(monday), ..claimed.clone() };
                    self.store.transition_reminder(&later, &["sending"], ReminderState::Planned, wall_clock).await?;
                    return not_sent("weekly cap after the due date reached; moved to next week");
                }
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
            let lines: Vec<ChargeLine> = companions
                .iter()
                .map(|(_, c)| ChargeLine {
                    description: c.description.as_str().to_string(),
                    amount: crate::money::brl(c.balance_due(crate::calendar::local_date(now))),
                    due_date: notification::date_br(c.due_date.date()),
                    payment_url: payment_url(self.public_base_url, &c.payment_token),
                })
                .collect();
            match notification::render_combined(claimed.step, &ctx, &lines) {
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
            postal_address: if channel == Channel::Letter { customer.address.clone() } else { None },
            boleto: charge.setup.boleto.as_ref().map(|b| notification::BoletoSlip {
                digitable_line: b.digitable_line.clone(),
                barcode: b.barcode.clone(),
                bank: b.bank.clone(),
                amount: b.amount,
                due_date: b.due_date,
            }),
        };
        let result = self.sender.send(&message).await;
        let outcome = match &result {
            Ok(receipt) => ReminderState::Sent { at: now, provider_message_id: receipt.provider_message_id.clone() },
            Err(SendError::Permanent(reason)) => ReminderState::Failed { reason: reason.clone() },
            // Hand it back to the queue's retry: queued again, same attempt.
            Err(SendError::Transient(_)) => ReminderState::Queued { lease_until: now + crate::tick::LEASE, attempt },
        };
        self.store.transition_reminder(&claimed, &["sending"], outcome.clone(), wall_clock).await?;
        for (companion, _) in &companions {
            let state = match &outcome {
                // A companion whose message failed goes back to the tick, which finds it again at once.
                ReminderState::Queued { .. } => ReminderState::Planned,
                other => other.clone(),
            };
            self.store.transition_reminder(companion, &["sending"], state, wall_clock).await?;
        }
        let told = match &result {
            Ok(receipt) => Some(("NotificationSent", "sent", serde_json::json!({"provider_message_id": receipt.provider_message_id}))),
            Err(SendError::Permanent(reason)) => Some(("NotificationFailed", "failed", serde_json::json!({"reason": reason}))),
            Err(SendError::Transient(_)) => None,
        };
        if let Some((kind, suffix, mut data)) = told {
            data["reminder_id"] = serde_json::json!(claimed.id());
            data["step"] = serde_json::json!(claimed.step.name());
            data["channel"] = serde_json::json!(channel);
            let event = crate::events::DomainEvent {
                id: format!("{}:{}:{suffix}", job.charge_id, job.reminder_id),
                kind: kind.into(),
                merchant_id: job.merchant_id.clone(),
                charge_id: job.charge_id.clone(),
                occurred_at: now,
                data,
            };
            // The message went (or definitely failed); a lost event must not make the queue send it again.
            if let Err(e) = self.events.publish(&[event]).await {
                tracing::error!(charge_id = %job.charge_id, error = %e, kind, "notification event not published");
            }
        }
        match result {
            Ok(receipt) => Ok(Delivered::Sent { provider_message_id: receipt.provider_message_id }),
            Err(SendError::Permanent(reason)) => Ok(Delivered::NotSent { reason }),
            Err(SendError::Transient(reason)) => Err(DeliveryError::Retry(reason)),
        }
    }

    /// Claims, for one combined message, a pending reminder due today or earlier on `channel` from each of the
    /// customer's other open charges.
    async fn claim_companions(&self, charge: &Charge, channel: Channel, now: DateTime<Utc>, wall_clock: DateTime<Utc>) -> Result<Vec<(Reminder, Charge)>, DeliveryError> {
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

    async fn give_up(&self, reminder: &crate::ruler::Reminder, to: ReminderState, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
        let reason = match &to {
            ReminderState::Skipped { reason } | ReminderState::Failed { reason } => reason.clone(),
            other => other.name().to_string(),
        };
        self.store.transition_reminder(reminder, &["queued", "sending_stale"], to, now).await?;
        Ok(Delivered::NotSent { reason })
    }
}
