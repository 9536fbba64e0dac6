//! The régua de cobrança: which reminders a charge gets, and when.
//!
//! Planning is pure: `plan(charge, customer, ruler, now)` returns the reminders with deterministic ids, so
//! planning twice gives the same items and a conditional write turns every send into a single send.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar;
use crate::charge::Charge;
use crate::customer::Customer;
use crate::ids::{ChargeId, MerchantId};
use crate::notification::Channel;

/// A moment in a charge's life that the régua can react to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Step {
    OnCreated,
    BeforeDue { days: u16 },
    OnDue,
    AfterDue,
    OnPaid,
    /// Not a message: the moment the charge becomes overdue.
    MarkOverdue,
}

impl Step {
    /// The name used in APIs and the outbox ("before_due").
    pub fn name(self) -> &'static str {
        match self {
            Self::OnCreated => "on_created",
            Self::BeforeDue { .. } => "before_due",
            Self::OnDue => "on_due",
            Self::AfterDue => "after_due",
            Self::OnPaid => "on_paid",
            Self::MarkOverdue => "mark_overdue",
        }
    }

    /// A key unique among the steps of one charge ("before_due_5d").
    pub fn key(self) -> String {
        match self {
            Self::BeforeDue { days } => format!("before_due_{days}d"),
            other => other.name().to_string(),
        }
    }

    pub fn parse_key(s: &str) -> Option<Self> {
        if let Some(days) = s.strip_prefix("before_due_").and_then(|r| r.strip_suffix('d')) {
            return days.parse().ok().map(|days| Self::BeforeDue { days });
        }
        [Self::OnCreated, Self::OnDue, Self::AfterDue, Self::OnPaid, Self::MarkOverdue].into_iter().find(|s2| s2.name() == s)
    }
}

/// What happens when a reminder comes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Notify(Channel),
    MarkOverdue,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ReminderState {
    Planned,
    /// Claimed by a tick and handed to the queue; if the queue loses it, it is due again at `lease_until`.
    /// `attempt` counts claims, so a message that keeps failing is given up instead of re-queued forever.
    Queued { lease_until: DateTime<Utc>, attempt: u8 },
    /// A consumer is sending it right now (claimed so that a duplicated queue message cannot send twice).
    Sending { since: DateTime<Utc>, attempt: u8 },
    Sent { at: DateTime<Utc>, provider_message_id: String },
    /// Done without a message (a status change) or not sent because it lost its meaning.
    Done { at: DateTime<Utc> },
    Skipped { reason: String },
    Failed { reason: String },
    Cancelled { reason: String },
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
    pub action: Action,
    pub due_at: DateTime<Utc>,
    pub state: ReminderState,
}

impl Reminder {
    /// Deterministic within the charge: the same plan always yields the same ids.
    pub fn id(&self) -> String {
        reminder_id(self.step, self.occurrence, self.action)
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

pub fn reminder_id(step: Step, occurrence: u16, action: Action) -> String {
    let target = match action {
        Action::Notify(channel) => channel.as_str(),
        Action::MarkOverdue => "status",
    };
    format!("{}.{}.{}", step.key(), occurrence, target)
}

/// A merchant's régua. Today every merchant has the default; issue #3 makes it configurable per merchant,
/// customer and charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ruler {
    pub on_created: bool,
    pub before_due_days: Vec<u16>,
    pub on_due: bool,
    pub after_due: Option<AfterDue>,
    pub on_paid: bool,
    /// Wall-clock time (São Paulo) for day-based steps.
    pub send_time: NaiveTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AfterDue {
    /// Days after the (business-day) due date of the first overdue reminder.
    pub first_after_days: u16,
    pub every_days: u16,
    pub max_times: u16,
}

impl Default for Ruler {
    /// Close to what Brazilian payers are used to: a notice on creation, 5 days before, on the day, then weekly.
    fn default() -> Self {
        Self {
            on_created: true,
            before_due_days: vec![5],
            on_due: true,
            after_due: Some(AfterDue { first_after_days: 1, every_days: 7, max_times: 3 }),
            on_paid: true,
            send_time: NaiveTime::from_hms_opt(9, 0, 0).expect("valid time"),
        }
    }
}

/// Every reminder of a newly created charge, in time order. Messages land in the next open contact window;
/// nothing is planned before `now`.
pub fn plan(charge: &Charge, customer: &Customer, ruler: &Ruler, now: DateTime<Utc>) -> Vec<Reminder> {
    let mut out = Vec::new();
    let due = charge.due_date;
    let at_send_time = |date| calendar::next_send_slot(calendar::local_instant(date, ruler.send_time));
    let reminder = |step, occurrence, action, due_at| Reminder {
        merchant_id: charge.merchant_id.clone(),
        charge_id: charge.id.clone(),
        step,
        occurrence,
        action,
        due_at,
        state: ReminderState::Planned,
    };

    // The status change happens whatever the merchant's régua says.
    let overdue_at = calendar::local_instant(due.first_overdue_day(), NaiveTime::MIN);
    out.push(reminder(Step::MarkOverdue, 0, Action::MarkOverdue, overdue_at));

    if let Some(channel) = customer.preferred_channel() {
        let notify = Action::Notify(channel);
        if ruler.on_created {
            out.push(reminder(Step::OnCreated, 0, notify, calendar::next_send_slot(now)));
        }
        for &days in &ruler.before_due_days {
            let at = at_send_time(due.date() - Duration::days(days.into()));
            // A "5 days before" that would land on or after the due day has lost its meaning.
            if at >= now && calendar::local_date(at) < due.date() {
                out.push(reminder(Step::BeforeDue { days }, 0, notify, at));
            }
        }
        if ruler.on_due {
            let at = at_send_time(due.date());
            if at >= now {
                out.push(reminder(Step::OnDue, 0, notify, at));
            }
        }
        if let Some(after) = ruler.after_due {
            let first = calendar::effective_due_date(due.date()) + Duration::days(after.first_after_days.into());
            for n in 0..after.max_times {
                let date = first + Duration::days(i64::from(n) * i64::from(after.every_days));
                out.push(reminder(Step::AfterDue, n, notify, at_send_time(date)));
            }
        }
    }
    out.sort_by_key(|r| r.due_at);
    out
}

/// The confirmation a payer gets once a payment is in. Sent at once: a receipt is not a collection message,
/// so contact windows do not hold it back.
pub fn payment_receipt(charge: &Charge, customer: &Customer, ruler: &Ruler, now: DateTime<Utc>) -> Option<Reminder> {
    let channel = customer.preferred_channel().filter(|_| ruler.on_paid)?;
    Some(Reminder {
        merchant_id: charge.merchant_id.clone(),
        charge_id: charge.id.clone(),
        step: Step::OnPaid,
        occurrence: 0,
        action: Action::Notify(channel),
        due_at: now,
        state: ReminderState::Planned,
    })
}

/// Whether a reminder found due at `now` should still be sent, or has lost its meaning (e.g. a "before due"
/// found after the due date because ticks were missed). The reason is recorded on the skipped reminder.
pub fn still_meaningful(reminder: &Reminder, charge: &Charge, now: DateTime<Utc>) -> Result<(), String> {
    if reminder.step == Step::OnPaid {
        return Ok(());
    }
    if !charge.status.is_open() {
        return Err(format!("charge is {}", charge.status.as_str()));
    }
    let today = calendar::local_date(now);
    match reminder.step {
        Step::BeforeDue { .. } if today >= charge.due_date.date() => Err("due date already reached".into()),
        Step::OnCreated | Step::OnDue if today > calendar::effective_due_date(charge.due_date.date()) => {
            Err("due date already passed".into())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charge::{ChargeStatus, Description, DueDate, PaymentMethod};
    use crate::contact::Email;
    use crate::customer::PersonName;
    use crate::document::Document;
    use crate::ids::CustomerId;
    use crate::money::Money;
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
            created_at: Utc::now(),
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let charge = Charge {
            id: ChargeId::generate(),
            merchant_id,
            customer_id: customer.id.clone(),
            amount: Money::parse("150.00").unwrap(),
            due_date: DueDate::from_stored(due),
            description: Description::parse("Mensalidade").unwrap(),
            payment_methods: vec![PaymentMethod::Pix],
            max_installments: 1,
            status: ChargeStatus::Pending,
            payment_token: "t".into(),
            external_reference: None,
            created_at: now,
            updated_at: now,
            paid_at: None,
            version: 1,
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
    fn step_keys_round_trip() {
        for step in [Step::OnCreated, Step::BeforeDue { days: 15 }, Step::OnDue, Step::AfterDue, Step::OnPaid, Step::MarkOverdue] {
            assert_eq!(Step::parse_key(&step.key()), Some(step));
        }
    }
}
