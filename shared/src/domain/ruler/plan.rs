//! Planning: which reminders a charge gets under a régua, and when.
//!
//! Planning is pure: `plan(charge, customer, ruler, now)` returns the reminders with deterministic ids, so
//! planning twice gives the same items and a conditional write turns every send into a single send.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use super::definition::{Ruler, RulerStep, Step, MAX_AFTER_DUE_SENDS};
use crate::domain::calendar;
use crate::domain::channel::Channel;
use crate::domain::charge::{Charge, ChargeStatus};
use crate::domain::customer::Customer;
use crate::domain::ids::{ChargeId, MerchantId};

/// What happens when a reminder comes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Notify(Channel),
    MarkOverdue,
    Expire,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ReminderState {
    Planned,
    /// Claimed by a tick and handed to the queue; if the queue loses it, it is due again at `lease_until`.
    /// `attempt` counts claims, so a message that keeps failing is given up instead of re-queued forever.
    Queued {
        lease_until: DateTime<Utc>,
        attempt: u8,
    },
    /// A consumer is sending it right now (claimed so that a duplicated queue message cannot send twice).
    Sending {
        since: DateTime<Utc>,
        attempt: u8,
    },
    Sent {
        at: DateTime<Utc>,
        provider_message_id: String,
    },
    /// Done without a message (a status change) or not sent because it lost its meaning.
    Done {
        at: DateTime<Utc>,
    },
    Skipped {
        reason: String,
    },
    Failed {
        reason: String,
        /// Given up by the tick after `tick::MAX_ATTEMPTS` claims while its queue message may still be retrying
        /// or waiting in the dead-letter queue: a redrive of that message still sends it. Not so for a
        /// provider's permanent refusal.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        redrivable: bool,
    },
    Cancelled {
        reason: String,
    },
}

impl ReminderState {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Queued { .. } => "queued",
            Self::Sending { .. } => "sending",
            Self::Sent { .. } => "sent",
            Self::Done { .. } => "done",
            Self::Skipped { .. } => "skipped",
            Self::Failed { .. } => "failed",
            Self::Cancelled { .. } => "cancelled",
        }
    }

    /// Still waiting to be acted on (and so present in the due-work index).
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::Planned | Self::Queued { .. })
    }
}

/// One planned action of a charge's régua.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    pub merchant_id: MerchantId,
    pub charge_id: ChargeId,
    pub step: Step,
    /// 0 for single steps; 0, 1, 2… for the repeats of `after_due`.
    pub occurrence: u16,
    /// How many times the charge's due date had changed when this was planned: reminders relative to a new
    /// due date are new reminders, so a postponed charge gets its "5 days before" again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: u16,
    pub action: Action,
    pub due_at: DateTime<Utc>,
    pub state: ReminderState,
}

impl Reminder {
    /// Deterministic within the charge: the same plan always yields the same ids.
    pub fn id(&self) -> String {
        match self.generation {
            0 => reminder_id(self.step, self.occurrence, self.action),
            g => format!("{}.g{g}", reminder_id(self.step, self.occurrence, self.action)),
        }
    }

    /// The instant the due-work index files it under: its due time, or its lease expiry once queued.
    pub fn index_time(&self) -> Option<DateTime<Utc>> {
        match &self.state {
            ReminderState::Planned => Some(self.due_at),
            ReminderState::Queued { lease_until, .. } => Some(*lease_until),
            _ => None,
        }
    }
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}

pub fn reminder_id(step: Step, occurrence: u16, action: Action) -> String {
    let target = match action {
        Action::Notify(channel) => channel.as_str(),
        Action::MarkOverdue | Action::Expire => "status",
    };
    format!("{}.{}.{}", step.key(), occurrence, target)
}

/// The reminders of one step on each of its channels, each at `at` moved into that channel's contact hours
/// (unless `in_window` is false: receipts) and kept only if `keep` still holds for the moved instant: planned
/// where the customer can be reached and has not opted out, skipped (with the reason, so previews show it)
/// where not.
#[allow(clippy::too_many_arguments)]
fn for_channels(
    step_def: &RulerStep,
    ruler: &Ruler,
    customer: &Customer,
    at: DateTime<Utc>,
    in_window: bool,
    keep: impl Fn(DateTime<Utc>) -> bool,
    mut make: impl FnMut(Action, DateTime<Utc>, ReminderState) -> Reminder,
) -> Vec<Reminder> {
    let channels: Vec<Channel> =
        if step_def.channels().is_empty() { customer.preferred_channel().into_iter().collect() } else { step_def.channels().to_vec() };
    channels
        .into_iter()
        .filter_map(|channel| {
            let at = if in_window { ruler.hours_for(channel).next_slot(at) } else { at };
            if !keep(at) {
                return None;
            }
            let state = match customer.can_receive(channel) {
                Ok(()) => ReminderState::Planned,
                Err(reason) => ReminderState::Skipped { reason },
            };
            Some(make(Action::Notify(channel), at, state))
        })
        .collect()
}

/// Every reminder of a charge under a régua, in time order: messages land in the next open contact window and
/// nothing is planned before `now`. Pure and deterministic: the same inputs give the same reminder ids, so
/// re-planning is idempotent.
pub fn plan(charge: &Charge, customer: &Customer, ruler: &Ruler, now: DateTime<Utc>) -> Vec<Reminder> {
    let mut out = Vec::new();
    let due = charge.due_date;
    let reminder = |step, occurrence, action, due_at, state| Reminder {
        merchant_id: charge.merchant_id.clone(),
        charge_id: charge.id.clone(),
        step,
        occurrence,
        generation: if step == Step::OnCreated { 0 } else { charge.due_date_changes },
        action,
        due_at,
        state,
    };

    // The status change happens whatever the régua says.
    let overdue_at = calendar::local_instant(due.first_overdue_day(), NaiveTime::MIN);
    out.push(reminder(Step::MarkOverdue, 0, Action::MarkOverdue, overdue_at, ReminderState::Planned));
    if let Some(at) = charge.expires_at {
        out.push(reminder(Step::Expire, 0, Action::Expire, at, ReminderState::Planned));
    }

    let always = |_: DateTime<Utc>| true;
    for step_def in &ruler.steps {
        match step_def {
            RulerStep::OnCreated { .. } => {
                // Pinned to the creation instant, so re-planning later finds the same reminder.
                out.extend(for_channels(step_def, ruler, customer, charge.created_at, true, always, |a, at, s| {
                    reminder(Step::OnCreated, 0, a, at, s)
                }));
            }
            RulerStep::BeforeDue { days, hours, .. } => {
                let (step, at) = match (days, hours) {
                    (Some(d), _) => {
                        (Step::BeforeDue { days: *d }, calendar::local_instant(due.date() - Duration::days((*d).into()), ruler.send_time))
                    }
                    (None, Some(h)) => {
                        let start_of_due_day = calendar::local_instant(due.date(), NaiveTime::MIN);
                        (Step::BeforeDueHours { hours: *h }, start_of_due_day - Duration::hours((*h).into()))
                    }
                    (None, None) => continue,
                };
                // A "5 days before" that would land on or after the due day has lost its meaning.
                let keep = |at: DateTime<Utc>| at >= now && calendar::local_date(at) < due.date();
                out.extend(for_channels(step_def, ruler, customer, at, true, keep, |a, at, s| reminder(step, 0, a, at, s)));
            }
            RulerStep::OnDue { .. } => {
                let at = calendar::local_instant(due.date(), ruler.send_time);
                out.extend(for_channels(step_def, ruler, customer, at, true, |at| at >= now, |a, at, s| reminder(Step::OnDue, 0, a, at, s)));
            }
            RulerStep::AfterDue { first_after_days, every_days, max_times, until_days_overdue, .. } => {
                let effective_due = calendar::effective_due_date(due.date());
                let first = effective_due + Duration::days((*first_after_days).into());
                let times = max_times.unwrap_or(MAX_AFTER_DUE_SENDS).min(MAX_AFTER_DUE_SENDS);
                for n in 0..times {
                    let date = first + Duration::days(i64::from(n) * i64::from(*every_days));
                    if until_days_overdue.is_some_and(|limit| (date - effective_due).num_days() > i64::from(limit)) {
                        break;
                    }
                    let at = calendar::local_instant(date, ruler.send_time);
                    out.extend(for_channels(step_def, ruler, customer, at, true, |at| at >= now, |a, at, s| reminder(Step::AfterDue, n, a, at, s)));
                }
            }
            // Event-driven steps are planned when their event happens.
            RulerStep::OnChanged { .. } | RulerStep::OnPaid { .. } | RulerStep::OnExpired { .. } => {}
        }
    }
    out.sort_by_cached_key(|r| (r.due_at, r.id()));
    spread_over_days(&mut out, ruler, due.date());
    for r in out.iter_mut().filter(|r| r.action == Action::Notify(Channel::Letter) && r.state.is_pending()) {
        if let Err(reason) = letter_allowed(charge, r.due_at) {
            r.state = ReminderState::Skipped { reason };
        }
    }
    out.sort_by_cached_key(|r| (r.due_at, r.id()));
    out
}

/// A letter takes days to arrive and carries the printed boleto: it is posted only for charges payable by boleto
/// that fall due more than this many days after posting.
pub const LETTER_MIN_DAYS_BEFORE_DUE: i64 = 15;

/// Whether a letter posted at `at` may go for this charge (checked when planning and again when sending).
pub fn letter_allowed(charge: &Charge, at: DateTime<Utc>) -> Result<(), String> {
    if !charge.payment_methods.contains(&crate::domain::charge::PaymentMethod::Boleto) {
        return Err("a letter carries a boleto, and this charge is not payable by boleto".into());
    }
    let days = (charge.due_date.date() - calendar::local_date(at)).num_days();
    if days <= LETTER_MIN_DAYS_BEFORE_DUE {
        return Err(format!("a letter needs more than {LETTER_MIN_DAYS_BEFORE_DUE} days before the due date ({days} left)"));
    }
    Ok(())
}

/// One collection reminder per channel and day, already in the plan: when holidays or a weekend push two of a
/// charge's reminders onto the same day, the later one moves to the next open day (the same rule the send-time
/// cap applies across charges, applied here so the preview shows what will really happen). A "before due" that
/// would move onto the due date is skipped instead.
fn spread_over_days(plan: &mut [Reminder], ruler: &Ruler, due: chrono::NaiveDate) {
    let mut taken = std::collections::HashSet::new();
    for r in plan.iter_mut() {
        let (Action::Notify(channel), true, ReminderState::Planned) = (r.action, r.step.is_reminder(), &r.state) else { continue };
        let mut at = r.due_at;
        while taken.contains(&(channel, calendar::local_date(at))) {
            let next_day = calendar::local_date(at).succ_opt().expect("date in range");
            at = ruler.hours_for(channel).next_slot(calendar::local_instant(next_day, ruler.send_time));
        }
        if matches!(r.step, Step::BeforeDue { .. } | Step::BeforeDueHours { .. }) && calendar::local_date(at) >= due {
            r.state = ReminderState::Skipped { reason: "no free day left before the due date".into() };
            continue;
        }
        taken.insert((channel, calendar::local_date(at)));
        r.due_at = at;
    }
}

/// The message(s) of an event-driven step (payment, change, expiry), due at once. A receipt is not a
/// collection message, so contact windows do not hold it back; change notices wait for the window.
pub fn event_reminders(step: Step, charge: &Charge, customer: &Customer, ruler: &Ruler, occurrence: u16, now: DateTime<Utc>) -> Vec<Reminder> {
    let wanted = |s: &RulerStep| match step {
        Step::OnPaid => matches!(s, RulerStep::OnPaid { .. }),
        Step::OnChanged => matches!(s, RulerStep::OnChanged { .. }),
        Step::OnExpired => matches!(s, RulerStep::OnExpired { .. }),
        _ => false,
    };
    let Some(step_def) = ruler.step_of(wanted) else { return vec![] };
    // A receipt is not a collection message: contact hours do not hold it back.
    let in_window = step != Step::OnPaid;
    for_channels(
        step_def,
        ruler,
        customer,
        now,
        in_window,
        |_| true,
        |action, at, state| Reminder {
            merchant_id: charge.merchant_id.clone(),
            charge_id: charge.id.clone(),
            step,
            occurrence,
            generation: 0,
            action,
            due_at: at,
            state,
        },
    )
}

/// The receipts a payer gets once a payment is in.
pub fn payment_receipt(charge: &Charge, customer: &Customer, ruler: &Ruler, now: DateTime<Utc>) -> Vec<Reminder> {
    event_reminders(Step::OnPaid, charge, customer, ruler, 0, now)
}

/// How pending reminders must change when a charge's plan changes (new régua, due date, value, opt-out):
/// pending reminders the new plan no longer has are cancelled, new ones are added, moved ones are replaced.
/// Sent, skipped and failed reminders are history and stay.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Replan {
    pub cancel: Vec<Reminder>,
    pub add: Vec<Reminder>,
    pub reschedule: Vec<Reminder>,
}

pub fn replan(existing: &[Reminder], new_plan: &[Reminder]) -> Replan {
    let mut out = Replan::default();
    for old in existing.iter().filter(|r| r.state.is_pending()) {
        match new_plan.iter().find(|n| n.id() == old.id()) {
            None => out.cancel.push(old.clone()),
            Some(n) if !n.state.is_pending() => out.cancel.push(old.clone()),
            Some(n) if n.due_at != old.due_at => out.reschedule.push(n.clone()),
            Some(_) => {}
        }
    }
    for n in new_plan {
        if !existing.iter().any(|e| e.id() == n.id()) {
            out.add.push(n.clone());
        }
    }
    out
}

/// Whether a reminder found due at `now` should still be sent, or has lost its meaning (e.g. a "before due"
/// found after the due date because ticks were missed). The reason is recorded on the skipped reminder.
pub fn still_meaningful(reminder: &Reminder, charge: &Charge, now: DateTime<Utc>) -> Result<(), String> {
    match reminder.step {
        Step::OnPaid => return Ok(()),
        Step::OnExpired if charge.status == ChargeStatus::Expired => return Ok(()),
        _ => {}
    }
    if !charge.status.is_open() {
        return Err(format!("charge is {}", charge.status.as_str()));
    }
    if reminder.action == Action::Notify(Channel::Letter) {
        letter_allowed(charge, now)?;
    }
    let today = calendar::local_date(now);
    match reminder.step {
        Step::BeforeDue { .. } | Step::BeforeDueHours { .. } if today >= charge.due_date.date() => Err("due date already reached".into()),
        Step::OnCreated | Step::OnChanged | Step::OnDue if today > calendar::effective_due_date(charge.due_date.date()) => {
            Err("due date already passed".into())
        }
        // After missed ticks, an old repeat is superseded by the next one: no pile of late reminders.
        Step::AfterDue if reminder.due_at + Duration::hours(24) < now => Err("more than a day late; superseded by the next reminder".into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::charge::{Description, DueDate, PaymentMethod};
    use crate::domain::contact::Email;
    use crate::domain::customer::PersonName;
    use crate::domain::document::Document;
    use crate::domain::ids::CustomerId;
    use crate::domain::money::Money;
    use crate::domain::ruler::definition::*;
    use chrono::{NaiveDate, TimeZone};

    pub(crate) fn sample(due: NaiveDate) -> (Charge, Customer) {
        let merchant_id = MerchantId::generate();
        let customer = Customer {
            id: CustomerId::generate(),
            merchant_id: merchant_id.clone(),
            name: PersonName::parse("Maria Silva").unwrap(),
            document: Document::parse("529.982.247-25").unwrap(),
            email: Some(Email::parse("maria@example.com").unwrap()),
            phone: None,
            opt_out: Default::default(),
            erased_at: None,
            address: None,
            created_at: Utc::now(),
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let charge = Charge {
            payment_token: "t".into(),
            ..Charge::new_pending(
                merchant_id,
                customer.id.clone(),
                Money::parse("150.00").unwrap(),
                DueDate::from_stored(due),
                Description::parse("Mensalidade").unwrap(),
                vec![PaymentMethod::Pix],
                now,
            )
        };
        (charge, customer)
    }

    fn sp(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        calendar::local_instant(NaiveDate::from_ymd_opt(y, m, d).unwrap(), NaiveTime::from_hms_opt(h, 0, 0).unwrap())
    }

    #[test]
    fn default_ruler_plans_creation_before_due_on_due_and_weekly_after() {
        let (charge, customer) = sample(NaiveDate::from_ymd_opt(2026, 12, 10).unwrap());
        let now = sp(2026, 11, 22, 10); // a Sunday: the creation notice waits for Monday 08:00
        let plan = plan(&charge, &customer, &Ruler::default(), now);
        let got: Vec<(String, DateTime<Utc>)> = plan.iter().map(|r| (r.id(), r.due_at)).collect();
        assert_eq!(
            got,
            vec![
                ("on_created.0.email".to_string(), sp(2026, 11, 23, 8)),
                ("before_due_5d.0.email".to_string(), sp(2026, 12, 5, 9)),
                ("on_due.0.email".to_string(), sp(2026, 12, 10, 9)),
                ("mark_overdue.0.status".to_string(), sp(2026, 12, 11, 0)),
                ("after_due.0.email".to_string(), sp(2026, 12, 11, 9)),
                ("after_due.1.email".to_string(), sp(2026, 12, 18, 9)),
                // Christmas Day, a Friday: moved to Saturday morning.
                ("after_due.2.email".to_string(), sp(2026, 12, 26, 8)),
            ]
        );
    }

    #[test]
    fn planning_twice_gives_the_same_ids() {
        let (charge, customer) = sample(NaiveDate::from_ymd_opt(2026, 12, 10).unwrap());
        let now = sp(2026, 11, 23, 10);
        let ids = |p: Vec<Reminder>| p.into_iter().map(|r| r.id()).collect::<Vec<_>>();
        assert_eq!(ids(plan(&charge, &customer, &Ruler::default(), now)), ids(plan(&charge, &customer, &Ruler::default(), now)));
    }

    #[test]
    fn before_due_reminders_already_past_are_not_planned() {
        let (charge, customer) = sample(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        let plan = plan(&charge, &customer, &Ruler::default(), sp(2026, 11, 23, 10));
        assert!(plan.iter().all(|r| !matches!(r.step, Step::BeforeDue { .. })));
    }

    #[test]
    fn a_regua_sending_more_than_the_maximum_per_charge_is_refused_naming_its_steps() {
        // The régua: after_due 60 times on four channels, 240 messages.
        let heavy = serde_json::json!({"send_time": "09:00", "steps": [
            {"step": "after_due", "every_days": 1, "max_times": 60, "channels": ["email", "whatsapp", "sms", "voice"]}]});
        let err = Ruler::parse(&heavy).unwrap_err();
        assert_eq!(err.field, "steps");
        assert!(err.message.contains("240") && err.message.contains(&MAX_MESSAGES_PER_CHARGE.to_string()), "{}", err.message);
        // Without max_times a repeat still counts 60 sends; until_days_overdue can end it sooner.
        let unbounded = serde_json::json!({"send_time": "09:00", "steps": [{"step": "after_due", "every_days": 1, "channels": ["email", "sms"]}]});
        assert_eq!(Ruler::parse(&unbounded).unwrap_err().field, "steps");
        let ended = serde_json::json!({"send_time": "09:00", "steps": [
            {"step": "after_due", "first_after_days": 2, "every_days": 3, "until_days_overdue": 20, "channels": ["email", "sms"]}]});
        assert_eq!(Ruler::parse(&ended).unwrap().message_count(), 2 * 7);
    }

    #[test]
    fn a_plan_never_holds_more_messages_than_its_regua_counts() {
        let (charge, mut customer) = sample(NaiveDate::from_ymd_opt(2026, 12, 10).unwrap());
        customer.phone = Some(crate::domain::contact::Phone::parse("+5511987654321").unwrap());
        let now = sp(2026, 11, 22, 10);
        for steps in [
            serde_json::json!([{"step": "after_due", "every_days": 1, "max_times": 22, "channels": ["email", "whatsapp", "sms", "voice"]}, {"step": "on_due", "channels": ["email", "sms"]}]),
            serde_json::json!([{"step": "on_created"}, {"step": "before_due", "days": 3}, {"step": "after_due", "first_after_days": 2, "every_days": 3, "until_days_overdue": 20}]),
            serde_json::json!([{"step": "after_due", "every_days": 2, "channels": ["email"]}]),
        ] {
            let ruler = Ruler::parse(&serde_json::json!({"send_time": "09:00", "steps": steps})).unwrap();
            let messages = plan(&charge, &customer, &ruler, now).iter().filter(|r| matches!(r.action, Action::Notify(_))).count();
            assert!(messages <= ruler.message_count() && ruler.message_count() <= MAX_MESSAGES_PER_CHARGE, "{messages} > {}", ruler.message_count());
        }
    }

    #[test]
    fn step_keys_round_trip() {
        for step in [Step::OnCreated, Step::BeforeDue { days: 15 }, Step::OnDue, Step::AfterDue, Step::OnPaid, Step::MarkOverdue] {
            assert_eq!(Step::parse_key(&step.key()), Some(step));
        }
    }
}
