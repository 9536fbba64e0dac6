//! Reports over a merchant's charges: receivables by due date, the aging of what is overdue, and delinquency
//! per period of due dates. Pure functions over the charges the API reads through indexes (the sparse index of
//! open charges, charges by due date) — never a Scan.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use crate::domain::calendar;
use crate::domain::charge::{Charge, ChargeStatus};
use crate::domain::ids::ChargeId;

/// Amounts go out as "150.00": two places whatever the scale of a sum (an empty sum is "0.00", not "0").
pub fn two_places<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{d:.2}"))
}

/// Overdue as the rest of cobranca judges it (and the tick marks it): from the day after the due date rolled to
/// a business day. So a charge due today — or due on Saturday, on the Monday after — is not overdue yet.
pub fn is_overdue(c: &Charge, day: NaiveDate) -> bool {
    day >= c.due_date.first_overdue_day()
}

/// Days past due on `day`, counted from the due date itself; None while the charge is not overdue.
pub fn days_past_due(c: &Charge, day: NaiveDate) -> Option<i64> {
    is_overdue(c, day).then(|| (day - c.due_date.date()).num_days())
}

/// Open charges and what is left of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OpenBalance {
    pub charges: u32,
    /// Face value of the charges.
    #[serde(serialize_with = "two_places")]
    pub amount: Decimal,
    /// Already received on them (partial payments, net of refunds).
    #[serde(serialize_with = "two_places")]
    pub received: Decimal,
    /// What the payers owe on the reference day, by the one pricing rule (discount, fine, interest) less what
    /// was received.
    #[serde(serialize_with = "two_places")]
    pub balance_due: Decimal,
}

impl OpenBalance {
    /// Adds a charge whose balance on the report's day is `balance_due` (see `priced`).
    fn add(&mut self, c: &Charge, balance_due: Decimal) {
        self.charges += 1;
        self.amount += c.amount.as_decimal();
        self.received += c.received;
        self.balance_due += balance_due;
    }

    /// `label,charges,amount,received,balance_due`.
    fn csv_line(&self, label: &str) -> String {
        format!("{label},{},{:.2},{:.2},{:.2}\n", self.charges, self.amount, self.received, self.balance_due)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceivablesDay {
    pub due_date: NaiveDate,
    #[serde(flatten)]
    pub open: OpenBalance,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceivablesReport {
    pub object: &'static str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The day balances are priced on (São Paulo's today).
    pub as_of: NaiveDate,
    /// Open charges due on each day of the period that has any, by due date.
    pub days: Vec<ReceivablesDay>,
    pub totals: OpenBalance,
    /// Every open charge already overdue on `as_of`, whatever its due date (in the period or before it).
    pub overdue: OpenBalance,
    /// Open charges left out because their stored terms cannot be priced (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpriced_charges: Vec<ChargeId>,
    pub note: &'static str,
}

/// The open charges with their balance on `day`, and apart the ids of those whose stored terms cannot be priced
/// (`Unpriceable`): a report names them instead of failing for the whole merchant.
fn priced(open: &[Charge], day: NaiveDate) -> (Vec<(&Charge, Decimal)>, Vec<ChargeId>) {
    let mut priced = Vec::new();
    let mut unpriced = Vec::new();
    for c in open.iter().filter(|c| c.status.is_open()) {
        match c.balance_due(day) {
            Ok(balance) => priced.push((c, balance)),
            Err(_) => unpriced.push(c.id.clone()),
        }
    }
    (priced, unpriced)
}

/// Open balances by due date over `from..=to`, plus everything overdue on `today`.
pub fn receivables(open: &[Charge], from: NaiveDate, to: NaiveDate, today: NaiveDate) -> ReceivablesReport {
    let mut days: BTreeMap<NaiveDate, OpenBalance> = BTreeMap::new();
    let mut totals = OpenBalance::default();
    let mut overdue = OpenBalance::default();
    let (open, unpriced_charges) = priced(open, today);
    for (c, balance) in open {
        let due = c.due_date.date();
        if (from..=to).contains(&due) {
            days.entry(due).or_default().add(c, balance);
            totals.add(c, balance);
        }
        if is_overdue(c, today) {
            overdue.add(c, balance);
        }
    }
    ReceivablesReport {
        object: "receivables_report",
        from,
        to,
        as_of: today,
        days: days.into_iter().map(|(due_date, open)| ReceivablesDay { due_date, open }).collect(),
        totals,
        overdue,
        unpriced_charges,
        note: "cobranças em aberto (pendentes, vencidas, parcialmente pagas); saldo = valor devido hoje menos o recebido / \
               open charges (pending, overdue, partially paid); balance_due = what is owed today less what was received",
    }
}

impl ReceivablesReport {
    /// One line per due date, then TOTAL and OVERDUE lines; decimals with a dot.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("due_date,charges,amount,received,balance_due\n");
        for d in &self.days {
            out += &d.open.csv_line(&d.due_date.to_string());
        }
        out += &self.totals.csv_line("TOTAL");
        out += &self.overdue.csv_line("OVERDUE");
        out += &unpriced_csv_line(&self.unpriced_charges);
        out
    }
}

/// The aging buckets, by days past due: label, first and last day (None: no end).
pub const AGING_BUCKETS: [(&str, i64, Option<i64>); 4] = [("0-30", 0, Some(30)), ("31-60", 31, Some(60)), ("61-90", 61, Some(90)), ("90+", 91, None)];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgingBucket {
    pub bucket: &'static str,
    pub min_days: i64,
    pub max_days: Option<i64>,
    #[serde(flatten)]
    pub open: OpenBalance,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgingReport {
    pub object: &'static str,
    pub as_of: NaiveDate,
    /// Open charges not overdue on `as_of`.
    pub not_yet_due: OpenBalance,
    pub buckets: Vec<AgingBucket>,
    /// The four buckets together.
    pub overdue: OpenBalance,
    /// Open charges left out because their stored terms cannot be priced (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpriced_charges: Vec<ChargeId>,
    pub note: &'static str,
}

/// Open charges by days past due on `as_of`, balances priced on `as_of`.
pub fn aging(open: &[Charge], as_of: NaiveDate) -> AgingReport {
    let mut not_yet_due = OpenBalance::default();
    let mut overdue = OpenBalance::default();
    let mut buckets: Vec<AgingBucket> =
        AGING_BUCKETS.iter().map(|&(bucket, min_days, max_days)| AgingBucket { bucket, min_days, max_days, open: OpenBalance::default() }).collect();
    let (open, unpriced_charges) = priced(open, as_of);
    for (c, balance) in open {
        let Some(days) = days_past_due(c, as_of) else {
            not_yet_due.add(c, balance);
            continue;
        };
        let bucket = buckets.iter_mut().find(|b| days >= b.min_days && b.max_days.is_none_or(|max| days <= max)).expect("the last bucket has no end");
        bucket.open.add(c, balance);
        overdue.add(c, balance);
    }
    AgingReport {
        object: "aging_report",
        as_of,
        not_yet_due,
        buckets,
        overdue,
        unpriced_charges,
        note: "dias de atraso contados do vencimento; vencida só a partir do dia seguinte ao vencimento (prorrogado ao dia útil) / \
               days past due counted from the due date; overdue only from the day after the due date (rolled to a business day)",
    }
}

impl AgingReport {
    /// `not_yet_due`, the four buckets, then `overdue` (their sum).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("bucket,charges,amount,received,balance_due\n");
        out += &self.not_yet_due.csv_line("not_yet_due");
        for b in &self.buckets {
            out += &b.open.csv_line(b.bucket);
        }
        out += &self.overdue.csv_line("overdue");
        out += &unpriced_csv_line(&self.unpriced_charges);
        out
    }
}

/// `unpriced,<count>,,,` when some charges could not be priced; nothing otherwise.
fn unpriced_csv_line(ids: &[ChargeId]) -> String {
    if ids.is_empty() {
        String::new()
    } else {
        format!("unpriced,{},,,\n", ids.len())
    }
}

/// How delinquency periods of due dates are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// ISO weeks, Monday to Sunday.
    Week,
    Month,
    Quarter,
}

impl Period {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            "quarter" => Some(Self::Quarter),
            _ => None,
        }
    }

    /// The first day of the period holding `day`.
    pub fn start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Self::Week => day - Duration::days(day.weekday().num_days_from_monday().into()),
            Self::Month => day.with_day(1).expect("day 1 exists"),
            Self::Quarter => NaiveDate::from_ymd_opt(day.year(), (day.month0() / 3) * 3 + 1, 1).expect("valid quarter start"),
        }
    }

    /// The first day of the next period.
    fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Self::Week => start + Duration::days(7),
            Self::Month => start.checked_add_months(chrono::Months::new(1)).expect("date in range"),
            Self::Quarter => start.checked_add_months(chrono::Months::new(3)).expect("date in range"),
        }
    }

    /// "2026-W48", "2026-11", "2026-Q4".
    pub fn label(self, start: NaiveDate) -> String {
        match self {
            Self::Week => format!("{}-W{:02}", start.iso_week().year(), start.iso_week().week()),
            Self::Month => start.format("%Y-%m").to_string(),
            Self::Quarter => format!("{}-Q{}", start.year(), start.month0() / 3 + 1),
        }
    }
}

/// A number of charges and their amount.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    pub charges: u32,
    #[serde(serialize_with = "two_places")]
    pub amount: Decimal,
}

impl Tally {
    fn add(&mut self, amount: Decimal) {
        self.charges += 1;
        self.amount += amount;
    }
}

/// Where a charge stands for delinquency on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Cancelled or renegotiated: not a debt the payer failed to pay, left out.
    Excluded,
    /// Paid in full no later than the due date (rolled to a business day).
    PaidOnTime,
    PaidLate,
    /// Past due (or expired) and not paid in full.
    Unpaid,
    /// Not paid yet and not due yet.
    NotYetDue,
}

pub fn standing(c: &Charge, today: NaiveDate) -> Standing {
    match c.status {
        ChargeStatus::Cancelled | ChargeStatus::Renegotiated => Standing::Excluded,
        // Refunded was paid first: money given back later is not the payer's default.
        ChargeStatus::Paid | ChargeStatus::Refunded => {
            let paid_on = calendar::local_date(c.paid_at.unwrap_or(c.updated_at));
            if paid_on < c.due_date.first_overdue_day() {
                Standing::PaidOnTime
            } else {
                Standing::PaidLate
            }
        }
        ChargeStatus::Expired => Standing::Unpaid,
        ChargeStatus::Pending | ChargeStatus::Overdue | ChargeStatus::PartiallyPaid => {
            if is_overdue(c, today) {
                Standing::Unpaid
            } else {
                Standing::NotYetDue
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DelinquencyRow {
    /// "2026-11" (month), "2026-Q4" (quarter), "2026-W48" (week); "TOTAL" for the totals.
    pub period: String,
    /// The due dates this row covers (the period, clipped to the report's range).
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Every charge due in the period (face value), cancelled and renegotiated ones excluded.
    pub due: Tally,
    pub paid_on_time: Tally,
    pub paid_late: Tally,
    /// Past due and not paid in full on the report's day: the amount is what is left of the face value.
    pub unpaid: Tally,
    /// Not paid and not due yet: the amount is what is left of the face value.
    pub not_yet_due: Tally,
    /// unpaid.amount / due.amount, 4 places, half away from zero; null without charges due.
    #[serde(serialize_with = "rate_places")]
    pub delinquency_rate: Option<Decimal>,
}

fn rate_places<S: serde::Serializer>(r: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match r {
        Some(r) => s.collect_str(&format_args!("{r:.4}")),
        None => s.serialize_none(),
    }
}

/// The one rounding rule of the delinquency rate: 4 places, half away from zero.
pub fn delinquency_rate(unpaid: Decimal, due: Decimal) -> Option<Decimal> {
    (!due.is_zero()).then(|| (unpaid / due).round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero))
}

impl DelinquencyRow {
    fn empty(period: String, from: NaiveDate, to: NaiveDate) -> Self {
        Self {
            period,
            from,
            to,
            due: Tally::default(),
            paid_on_time: Tally::default(),
            paid_late: Tally::default(),
            unpaid: Tally::default(),
            not_yet_due: Tally::default(),
            delinquency_rate: None,
        }
    }

    fn add(&mut self, c: &Charge, standing: Standing) {
        let face = c.amount.as_decimal();
        let left = (face - c.received).max(Decimal::ZERO);
        match standing {
            Standing::Excluded => return,
            Standing::PaidOnTime => self.paid_on_time.add(face),
            Standing::PaidLate => self.paid_late.add(face),
            Standing::Unpaid => self.unpaid.add(left),
            Standing::NotYetDue => self.not_yet_due.add(left),
        }
        self.due.add(face);
        self.delinquency_rate = delinquency_rate(self.unpaid.amount, self.due.amount);
    }

    fn csv_line(&self) -> String {
        let t = |t: &Tally| format!("{},{:.2}", t.charges, t.amount);
        format!(
            "{},{},{},{},{},{},{},{},{}\n",
            self.period,
            self.from,
            self.to,
            t(&self.due),
            t(&self.paid_on_time),
            t(&self.paid_late),
            t(&self.unpaid),
            t(&self.not_yet_due),
            self.delinquency_rate.map(|r| format!("{r:.4}")).unwrap_or_default()
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Excluded {
    pub cancelled: u32,
    pub renegotiated: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DelinquencyReport {
    pub object: &'static str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub period: Period,
    /// The day "unpaid" is judged on (São Paulo's today).
    pub as_of: NaiveDate,
    /// Every period of the range, empty ones included, oldest first.
    pub rows: Vec<DelinquencyRow>,
    pub totals: DelinquencyRow,
    /// Charges due in the range left out of every figure above.
    pub excluded: Excluded,
    pub note: &'static str,
}

/// Delinquency per period of due dates over `from..=to`, judged on `today`.
pub fn delinquency(charges: &[Charge], from: NaiveDate, to: NaiveDate, period: Period, today: NaiveDate) -> DelinquencyReport {
    let mut rows = Vec::new();
    let mut start = period.start(from);
    while start <= to {
        let next = period.next(start);
        rows.push(DelinquencyRow::empty(period.label(start), start.max(from), (next - Duration::days(1)).min(to)));
        start = next;
    }
    let mut totals = DelinquencyRow::empty("TOTAL".into(), from, to);
    let mut excluded = Excluded::default();
    for c in charges.iter().filter(|c| (from..=to).contains(&c.due_date.date())) {
        let standing = standing(c, today);
        match c.status {
            ChargeStatus::Cancelled => excluded.cancelled += 1,
            ChargeStatus::Renegotiated => excluded.renegotiated += 1,
            _ => {}
        }
        let due = c.due_date.date();
        if let Some(row) = rows.iter_mut().find(|r| (r.from..=r.to).contains(&due)) {
            row.add(c, standing);
        }
        totals.add(c, standing);
    }
    DelinquencyReport {
        object: "delinquency_report",
        from,
        to,
        period,
        as_of: today,
        rows,
        totals,
        excluded,
        note: "por data de vencimento; canceladas e renegociadas excluídas; taxa = inadimplente / devido, 4 casas, arredondamento meio para longe do zero / \
               by due date; cancelled and renegotiated charges excluded; rate = unpaid / due, 4 places, half away from zero",
    }
}

impl DelinquencyReport {
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "period,from,to,due_charges,due_amount,paid_on_time_charges,paid_on_time_amount,paid_late_charges,paid_late_amount,\
             unpaid_charges,unpaid_amount,not_yet_due_charges,not_yet_due_amount,delinquency_rate\n",
        );
        for r in &self.rows {
            out += &r.csv_line();
        }
        out += &self.totals.csv_line();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::charge::{Description, DueDate, PaymentMethod};
    use crate::domain::ids::{CustomerId, MerchantId};
    use crate::domain::money::Money;
    use chrono::{TimeZone, Utc};

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn charge(amount: &str, due: &str, status: ChargeStatus) -> Charge {
        let created = Utc.with_ymd_and_hms(2026, 1, 2, 12, 0, 0).unwrap();
        Charge {
            status,
            ..Charge::new_pending(
                MerchantId::parse("mer_1").unwrap(),
                CustomerId::parse("cus_1").unwrap(),
                Money::parse(amount).unwrap(),
                DueDate::from_stored(day(due)),
                Description::parse("x").unwrap(),
                vec![PaymentMethod::Pix],
                created,
            )
        }
    }

    #[test]
    fn a_charge_due_today_is_not_overdue_and_the_weekend_rolls_the_due_date() {
        let wed = charge("10.00", "2026-03-04", ChargeStatus::Pending);
        assert_eq!(days_past_due(&wed, day("2026-03-04")), None);
        assert_eq!(days_past_due(&wed, day("2026-03-05")), Some(1));
        let sat = charge("10.00", "2026-03-07", ChargeStatus::Pending);
        assert_eq!(days_past_due(&sat, day("2026-03-09")), None, "payable on Monday without being late");
        assert_eq!(days_past_due(&sat, day("2026-03-10")), Some(3));
    }

    #[test]
    fn aging_buckets_end_at_30_60_and_90_days() {
        let as_of = day("2026-06-30");
        let open: Vec<Charge> =
            [30, 31, 60, 61, 90, 91].iter().map(|d| charge("1.00", &(as_of - Duration::days(*d)).to_string(), ChargeStatus::Overdue)).collect();
        // Some of these due dates fall on a weekend: a month later that no longer matters, days count from the due date.
        let r = aging(&open, as_of);
        let counts: Vec<u32> = r.buckets.iter().map(|b| b.open.charges).collect();
        assert_eq!(counts, vec![1, 2, 2, 1]);
        assert_eq!(r.overdue.charges, 6);
        assert_eq!(r.not_yet_due.charges, 0);
    }

    #[test]
    fn the_rate_rounds_half_away_from_zero_to_four_places() {
        assert_eq!(delinquency_rate(Decimal::new(1, 0), Decimal::new(3, 0)), Some(Decimal::new(3333, 4)));
        assert_eq!(delinquency_rate(Decimal::new(2, 0), Decimal::new(3, 0)), Some(Decimal::new(6667, 4)));
        // 0.00005 exactly: half goes up.
        assert_eq!(delinquency_rate(Decimal::new(1, 0), Decimal::new(20000, 0)), Some(Decimal::new(1, 4)));
        assert_eq!(delinquency_rate(Decimal::ZERO, Decimal::ZERO), None);
    }

    #[test]
    fn periods_cover_the_range_clipped_and_label_themselves() {
        let r = delinquency(&[], day("2026-01-15"), day("2026-03-10"), Period::Month, day("2026-04-01"));
        let rows: Vec<(&str, NaiveDate, NaiveDate)> = r.rows.iter().map(|r| (r.period.as_str(), r.from, r.to)).collect();
        assert_eq!(
            rows,
            vec![
                ("2026-01", day("2026-01-15"), day("2026-01-31")),
                ("2026-02", day("2026-02-01"), day("2026-02-28")),
                ("2026-03", day("2026-03-01"), day("2026-03-10"))
            ]
        );
        assert_eq!(Period::Quarter.label(Period::Quarter.start(day("2026-11-23"))), "2026-Q4");
        assert_eq!(Period::Week.label(Period::Week.start(day("2026-11-23"))), "2026-W48");
    }

    #[test]
    fn cancelled_and_renegotiated_charges_are_left_out_and_counted_apart() {
        let charges = vec![
            charge("100.00", "2026-03-04", ChargeStatus::Overdue),
            charge("50.00", "2026-03-04", ChargeStatus::Cancelled),
            charge("70.00", "2026-03-05", ChargeStatus::Renegotiated),
        ];
        let r = delinquency(&charges, day("2026-03-01"), day("2026-03-31"), Period::Month, day("2026-04-10"));
        assert_eq!((r.totals.due.charges, r.totals.unpaid.amount), (1, Decimal::new(10000, 2)));
        assert_eq!(r.totals.delinquency_rate, Some(Decimal::ONE));
        assert_eq!(r.excluded, Excluded { cancelled: 1, renegotiated: 1 });
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["totals"]["delinquency_rate"], "1.0000");
        assert_eq!(json["totals"]["paid_late"]["amount"], "0.00");
    }
}
