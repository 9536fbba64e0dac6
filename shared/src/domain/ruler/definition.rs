//! What a régua is: the moments it reacts to (`Step`), its steps on their channels, the send time and contact
//! hours, and the limits every régua is held to. Nothing here knows a charge or a customer: `plan` does.

use std::collections::BTreeMap;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use crate::domain::calendar::ContactHours;
use crate::domain::channel::Channel;

/// A moment in a charge's life that the régua can react to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Step {
    OnCreated,
    OnChanged,
    BeforeDue {
        days: u16,
    },
    BeforeDueHours {
        hours: u16,
    },
    OnDue,
    AfterDue,
    OnPaid,
    OnExpired,
    /// Not a message: the moment the charge becomes overdue.
    MarkOverdue,
    /// Not a message: the moment the charge expires (`expires_at`).
    Expire,
}

impl Step {
    /// The name used in APIs and the outbox ("before_due").
    pub fn name(self) -> &'static str {
        match self {
            Self::OnCreated => "on_created",
            Self::OnChanged => "on_changed",
            Self::BeforeDue { .. } | Self::BeforeDueHours { .. } => "before_due",
            Self::OnDue => "on_due",
            Self::AfterDue => "after_due",
            Self::OnPaid => "on_paid",
            Self::OnExpired => "on_expired",
            Self::MarkOverdue => "mark_overdue",
            Self::Expire => "expire",
        }
    }

    /// Collection reminders proper, which the daily frequency cap limits. Notices of a new or changed
    /// charge, receipts and expiry notices tell the payer something new and are not held back.
    pub fn is_reminder(self) -> bool {
        matches!(self, Self::BeforeDue { .. } | Self::BeforeDueHours { .. } | Self::OnDue | Self::AfterDue)
    }

    /// A key unique among the steps of one charge ("before_due_5d").
    pub fn key(self) -> String {
        match self {
            Self::BeforeDue { days } => format!("before_due_{days}d"),
            Self::BeforeDueHours { hours } => format!("before_due_{hours}h"),
            other => other.name().to_string(),
        }
    }

    pub fn parse_key(s: &str) -> Option<Self> {
        if let Some(days) = s.strip_prefix("before_due_").and_then(|r| r.strip_suffix('d')) {
            return days.parse().ok().map(|days| Self::BeforeDue { days });
        }
        if let Some(hours) = s.strip_prefix("before_due_").and_then(|r| r.strip_suffix('h')) {
            return hours.parse().ok().map(|hours| Self::BeforeDueHours { hours });
        }
        [Self::OnCreated, Self::OnChanged, Self::OnDue, Self::AfterDue, Self::OnPaid, Self::OnExpired, Self::MarkOverdue, Self::Expire]
            .into_iter()
            .find(|s2| s2.name() == s)
    }
}

/// A régua: the steps a charge's reminders follow. Merchants set a default; a customer or a single charge may
/// override it (charge > customer > merchant > `Ruler::default()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ruler {
    pub steps: Vec<RulerStep>,
    /// Wall-clock time (São Paulo) of day-based steps, "HH:MM".
    #[serde(with = "hhmm")]
    pub send_time: NaiveTime,
    /// Narrower contact hours per channel: `{"voice": {"weekdays": ["09:00","18:00"], "saturdays": null}}`.
    /// Within the legal hours only; channels not listed use the legal hours.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", with = "hours_map")]
    pub contact_hours: BTreeMap<Channel, ContactHours>,
    /// At most this many reminders after the due date per customer and week (Monday to Sunday), all channels
    /// together; the rest wait for the next week.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_week_after_due: Option<u8>,
    /// One message per customer: a reminder also lists the customer's other open charges with a reminder due
    /// that day on the same channel, and those reminders count as sent by it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub combine_per_customer: bool,
}

impl Ruler {
    pub fn hours_for(&self, channel: Channel) -> ContactHours {
        self.contact_hours.get(&channel).copied().unwrap_or_else(ContactHours::legal)
    }
}

mod hours_map {
    use std::collections::BTreeMap;

    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::domain::calendar::ContactHours;
    use crate::domain::channel::Channel;

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wire {
        weekdays: [String; 2],
        saturdays: Option<[String; 2]>,
    }

    fn hm(t: NaiveTime) -> String {
        t.format("%H:%M").to_string()
    }

    fn parse(s: &str) -> Result<NaiveTime, String> {
        NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("{s}: use HH:MM"))
    }

    pub fn serialize<S: Serializer>(m: &BTreeMap<Channel, ContactHours>, s: S) -> Result<S::Ok, S::Error> {
        let wire: BTreeMap<Channel, Wire> = m
            .iter()
            .map(|(c, h)| (*c, Wire { weekdays: [hm(h.weekdays.0), hm(h.weekdays.1)], saturdays: h.saturdays.map(|(o, c)| [hm(o), hm(c)]) }))
            .collect();
        wire.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<Channel, ContactHours>, D::Error> {
        let wire = BTreeMap::<Channel, Wire>::deserialize(d)?;
        let pair = |p: &[String; 2]| -> Result<(NaiveTime, NaiveTime), String> { Ok((parse(&p[0])?, parse(&p[1])?)) };
        wire.into_iter()
            .map(|(c, w)| {
                let hours = ContactHours { weekdays: pair(&w.weekdays)?, saturdays: w.saturdays.as_ref().map(pair).transpose()? };
                Ok((c, hours))
            })
            .collect::<Result<_, String>>()
            .map_err(serde::de::Error::custom)
    }
}

/// One step of a régua. `channels` empty means the customer's preferred channel (e-mail, else WhatsApp).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum RulerStep {
    OnCreated {
        #[serde(default)]
        channels: Vec<Channel>,
    },
    /// When the value or the due date of a charge changes.
    OnChanged {
        #[serde(default)]
        channels: Vec<Channel>,
    },
    /// `days` before the due date at `send_time`, or `hours` before the due day begins.
    BeforeDue {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        days: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hours: Option<u16>,
        #[serde(default)]
        channels: Vec<Channel>,
    },
    OnDue {
        #[serde(default)]
        channels: Vec<Channel>,
    },
    /// `first_after_days` after the (business-day) due date, then every `every_days`, up to `max_times` sends
    /// or until `until_days_overdue` days late, whichever comes first.
    AfterDue {
        #[serde(default = "one")]
        first_after_days: u16,
        every_days: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_times: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until_days_overdue: Option<u16>,
        #[serde(default)]
        channels: Vec<Channel>,
    },
    OnPaid {
        #[serde(default)]
        channels: Vec<Channel>,
    },
    OnExpired {
        #[serde(default)]
        channels: Vec<Channel>,
    },
}

fn one() -> u16 {
    1
}

/// Repeats after the due date are bounded even when the merchant gives no bound.
pub const MAX_AFTER_DUE_SENDS: u16 = 60;

/// Messages a régua may send about one charge, every step and channel together (`Ruler::message_count`). A
/// charge is stored with all its planned reminders in one all-or-nothing write, and that write is bounded
/// (DynamoDB: 100 actions, 3 of them the charge's own items, 2 its status changes), so a régua that would plan
/// more is refused where it is set.
pub const MAX_MESSAGES_PER_CHARGE: usize = 90;

impl RulerStep {
    pub fn channels(&self) -> &[Channel] {
        match self {
            Self::OnCreated { channels }
            | Self::OnChanged { channels }
            | Self::BeforeDue { channels, .. }
            | Self::OnDue { channels }
            | Self::AfterDue { channels, .. }
            | Self::OnPaid { channels }
            | Self::OnExpired { channels } => channels,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidRuler {
    pub field: String,
    pub message: String,
}

impl Ruler {
    /// Parses and checks a régua as sent to the API; all or nothing.
    pub fn parse(value: &serde_json::Value) -> Result<Ruler, InvalidRuler> {
        let bad = |field: String, message: &str| InvalidRuler { field, message: message.to_string() };
        let ruler: Ruler = serde_json::from_value(value.clone()).map_err(|e| bad("ruler".into(), &format!("régua inválida / invalid ruler: {e}")))?;
        if ruler.steps.len() > 30 {
            return Err(bad("steps".into(), "no máximo 30 passos / at most 30 steps"));
        }
        if ruler.max_per_week_after_due == Some(0) {
            return Err(bad("max_per_week_after_due".into(), "no mínimo 1 / at least 1"));
        }
        for (channel, hours) in &ruler.contact_hours {
            if !hours.within_legal() {
                return Err(bad(
                    format!("contact_hours.{}", channel.as_str()),
                    "horários só podem ser reduzidos: dias úteis dentro de 08:00–20:00, sábados dentro de 08:00–14:00 / hours may only be narrowed: weekdays within 08:00–20:00, Saturdays within 08:00–14:00",
                ));
            }
        }
        let mut keys = std::collections::HashSet::new();
        for (i, step) in ruler.steps.iter().enumerate() {
            let field = |name: &str| format!("steps[{i}].{name}");
            let mut seen = std::collections::HashSet::new();
            if !step.channels().iter().all(|c| seen.insert(*c)) {
                return Err(bad(field("channels"), "canal repetido / repeated channel"));
            }
            match step {
                RulerStep::BeforeDue { days, hours, .. } => match (days, hours) {
                    (Some(d), None) if (1..=365).contains(d) => {}
                    (None, Some(h)) if (1..=720).contains(h) => {}
                    _ => return Err(bad(field("days"), "informe days (1–365) ou hours (1–720) / give days (1–365) or hours (1–720)")),
                },
                RulerStep::AfterDue { every_days, first_after_days, max_times, until_days_overdue, .. } => {
                    if !(1..=365).contains(every_days) {
                        return Err(bad(field("every_days"), "every_days de 1 a 365 / every_days must be 1 to 365"));
                    }
                    if *first_after_days > 365 {
                        return Err(bad(field("first_after_days"), "first_after_days até 365 / first_after_days up to 365"));
                    }
                    if max_times.is_some_and(|m| m == 0 || m > MAX_AFTER_DUE_SENDS) {
                        return Err(bad(field("max_times"), "max_times de 1 a 60 / max_times must be 1 to 60"));
                    }
                    if until_days_overdue.is_some_and(|d| d == 0 || d > 3650) {
                        return Err(bad(field("until_days_overdue"), "until_days_overdue de 1 a 3650 / must be 1 to 3650"));
                    }
                }
                _ => {}
            }
            if !keys.insert(step.key()) {
                return Err(bad(format!("steps[{i}]"), "passo repetido / repeated step"));
            }
        }
        let messages = ruler.message_count();
        if messages > MAX_MESSAGES_PER_CHARGE {
            return Err(InvalidRuler {
                field: "steps".into(),
                message: format!(
                    "a régua enviaria até {messages} mensagens por cobrança; o máximo é {MAX_MESSAGES_PER_CHARGE} (cada passo conta uma por canal, after_due uma por envio) / the régua would send up to {messages} messages per charge; the maximum is {MAX_MESSAGES_PER_CHARGE} (each step counts one per channel, after_due one per send)"
                ),
            });
        }
        Ok(ruler)
    }

    /// The most messages this régua can send about one charge: each step once per channel (the customer's
    /// preferred channel when it lists none), `after_due` once per send it allows (`max_times`, at most
    /// `MAX_AFTER_DUE_SENDS`, fewer when `until_days_overdue` ends it first). Event steps count once each.
    pub fn message_count(&self) -> usize {
        self.steps
            .iter()
            .map(|step| {
                let channels = step.channels().len().max(1);
                let sends = match step {
                    RulerStep::AfterDue { first_after_days, every_days, max_times, until_days_overdue, .. } => {
                        let times = usize::from(max_times.unwrap_or(MAX_AFTER_DUE_SENDS).min(MAX_AFTER_DUE_SENDS));
                        match until_days_overdue {
                            Some(limit) if first_after_days > limit => 0,
                            Some(limit) => times.min(usize::from((limit - first_after_days) / (*every_days).max(1)) + 1),
                            None => times,
                        }
                    }
                    _ => 1,
                };
                channels * sends
            })
            .sum()
    }

    pub(super) fn step_of(&self, wanted: impl Fn(&RulerStep) -> bool) -> Option<&RulerStep> {
        self.steps.iter().find(|s| wanted(s))
    }
}

impl RulerStep {
    fn key(&self) -> String {
        match self {
            Self::BeforeDue { days: Some(d), .. } => format!("before_due_{d}d"),
            Self::BeforeDue { hours, .. } => format!("before_due_{}h", hours.unwrap_or_default()),
            Self::OnCreated { .. } => "on_created".into(),
            Self::OnChanged { .. } => "on_changed".into(),
            Self::OnDue { .. } => "on_due".into(),
            Self::AfterDue { .. } => "after_due".into(),
            Self::OnPaid { .. } => "on_paid".into(),
            Self::OnExpired { .. } => "on_expired".into(),
        }
    }
}

mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let s = String::deserialize(d)?;
        NaiveTime::parse_from_str(&s, "%H:%M").map_err(|_| serde::de::Error::custom("send_time must be HH:MM"))
    }
}

impl Default for Ruler {
    /// Close to what Brazilian payers are used to: a notice on creation, 5 days before, on the day, then weekly.
    fn default() -> Self {
        Self {
            steps: vec![
                RulerStep::OnCreated { channels: vec![] },
                RulerStep::OnChanged { channels: vec![] },
                RulerStep::BeforeDue { days: Some(5), hours: None, channels: vec![] },
                RulerStep::OnDue { channels: vec![] },
                RulerStep::AfterDue { first_after_days: 1, every_days: 7, max_times: Some(3), until_days_overdue: None, channels: vec![] },
                RulerStep::OnPaid { channels: vec![] },
            ],
            send_time: NaiveTime::from_hms_opt(9, 0, 0).expect("valid time"),
            contact_hours: BTreeMap::new(),
            max_per_week_after_due: None,
            combine_per_customer: false,
        }
    }
}

/// Which régua applies: the charge's own, else the customer's, else the merchant's, else the default.
pub fn effective<'a>(charge: Option<&'a Ruler>, customer: Option<&'a Ruler>, merchant: Option<&'a Ruler>, default: &'a Ruler) -> &'a Ruler {
    charge.or(customer).or(merchant).unwrap_or(default)
}
