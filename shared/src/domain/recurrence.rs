//! Recurring billing and carnês: when each charge of a subscription or an installment plan falls due, and what
//! it costs. The one place for cycle date arithmetic (month ends) and for which occurrences a scheduled run
//! generates. `api::subscriptions` makes the charges, through the same path as `POST /v1/charges`.

use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{ChargeId, CustomerId, MerchantId, SubscriptionId};
use crate::domain::money::Money;
pub use crate::domain::pay::installments::MAX_CARNE_INSTALLMENTS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cycle {
    Weekly,
    Biweekly,
    Monthly,
    Quarterly,
    Semiannual,
    Yearly,
}

impl Cycle {
    fn step(self) -> Step {
        match self {
            Self::Weekly => Step::Days(7),
            Self::Biweekly => Step::Days(14),
            Self::Monthly => Step::Months(1),
            Self::Quarterly => Step::Months(3),
            Self::Semiannual => Step::Months(6),
            Self::Yearly => Step::Months(12),
        }
    }
}

enum Step {
    Days(i64),
    Months(u32),
}

/// The `n`-th due date (0 is `first`) of a schedule. Months are counted from the anchor, not from the previous
/// date, and a day the month lacks becomes its last day: 31 Jan → 28 (29) Feb → 31 Mar → 30 Apr, never drifting
/// to the 28th for good.
pub fn nth_due(first: NaiveDate, cycle: Cycle, n: u32) -> NaiveDate {
    match cycle.step() {
        Step::Days(d) => first + Duration::days(d * i64::from(n)),
        // chrono clamps to the month's last day when the day does not exist.
        Step::Months(m) => first.checked_add_months(Months::new(m * n)).expect("date in range"),
    }
}

/// When a schedule stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum End {
    Never,
    /// After this many charges.
    AfterCount {
        count: u32,
    },
    /// No charge due after this date.
    OnDate {
        date: NaiveDate,
    },
}

impl End {
    fn allows(self, n: u32, due: NaiveDate) -> bool {
        match self {
            Self::Never => true,
            Self::AfterCount { count } => n < count,
            Self::OnDate { date } => due <= date,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    /// No charges are generated while paused; resuming continues with the next cycle due after the resume.
    Paused,
    Cancelled,
}

/// A price that applies from one cycle on (a change made mid-cycle applies from the next one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceFrom {
    pub cycle: u32,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub merchant_id: MerchantId,
    pub customer_id: CustomerId,
    pub description: String,
    pub cycle: Cycle,
    /// The first charge's due date; every later one is counted from it.
    pub first_due: NaiveDate,
    pub end: End,
    pub status: SubscriptionStatus,
    /// Prices by the cycle they start at, the first at cycle 0.
    pub prices: Vec<PriceFrom>,
    /// Generate each charge this many days before it falls due (so the payer gets it, and its régua, in time).
    pub lead_days: u32,
    /// What every generated charge carries besides amount, due date and description, as `POST /v1/charges` takes
    /// it (payment methods, late fees, régua, wallets…): checked when the subscription is made, and checked
    /// again by the charge path each time one is generated.
    pub charge_fields: serde_json::Map<String, serde_json::Value>,
    /// The first cycle not yet generated (nor skipped).
    pub next_cycle: u32,
    /// Why generation stopped, when it paused the subscription itself (e.g. the customer's data was erased).
    #[serde(default)]
    pub paused_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic concurrency: the generator and a merchant's change cannot undo each other.
    pub version: u64,
}

/// One charge a subscription owes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub cycle: u32,
    pub due_date: NaiveDate,
    pub amount: Money,
}

/// Most days ahead of its due date a charge may be generated.
pub const MAX_LEAD_DAYS: u32 = 60;

impl Subscription {
    pub fn due_date_of(&self, cycle: u32) -> NaiveDate {
        nth_due(self.first_due, self.cycle, cycle)
    }

    pub fn price_at(&self, cycle: u32) -> Money {
        self.prices.iter().filter(|p| p.cycle <= cycle).max_by_key(|p| p.cycle).map(|p| p.amount).expect("a price from cycle 0")
    }

    /// The price now asked: the one of the next charge to be generated.
    pub fn current_price(&self) -> Money {
        self.price_at(self.next_cycle)
    }

    /// A new price from the next charge not yet generated: a charge the payer already has keeps its amount.
    pub fn change_price(&mut self, amount: Money) {
        let from = self.next_cycle;
        self.prices.retain(|p| p.cycle < from);
        self.prices.push(PriceFrom { cycle: from, amount });
    }

    /// The next cycle the end allows, generated or not yet: None once the subscription has run its course.
    pub fn next_occurrence(&self) -> Option<(u32, NaiveDate)> {
        let due = self.due_date_of(self.next_cycle);
        self.end.allows(self.next_cycle, due).then_some((self.next_cycle, due))
    }

    /// Active with nothing left to generate (its count or end date reached).
    pub fn completed(&self) -> bool {
        self.status == SubscriptionStatus::Active && self.next_occurrence().is_none()
    }

    /// The day the generator should next look at this subscription: None when it never needs to (paused,
    /// cancelled, completed). The store indexes subscriptions by it, so a run reads only the ones due.
    pub fn generate_on(&self) -> Option<NaiveDate> {
        if self.status != SubscriptionStatus::Active {
            return None;
        }
        self.next_occurrence().map(|(_, due)| due - Duration::days(i64::from(self.lead_days)))
    }

    /// The charges a run on `today` should generate: every cycle not yet generated that falls due from `today` up
    /// to `lead_days` ahead, while active and within the end. A cycle already past due (the generator was down
    /// longer than the lead time) is not billed late: it is skipped, and said so.
    pub fn due_for_generation(&self, today: NaiveDate) -> Generation {
        let mut out = Generation::default();
        if self.status != SubscriptionStatus::Active {
            return out;
        }
        let horizon = today + Duration::days(i64::from(self.lead_days));
        for n in self.next_cycle.. {
            let due = self.due_date_of(n);
            if due > horizon || !self.end.allows(n, due) {
                break;
            }
            if due < today {
                out.skipped.push(n);
            } else {
                out.charges.push(Occurrence { cycle: n, due_date: due, amount: self.price_at(n) });
            }
        }
        out
    }

    /// Records that `cycle` was generated (or skipped): the next run starts after it.
    pub fn generated(&mut self, cycle: u32) {
        self.next_cycle = self.next_cycle.max(cycle + 1);
    }

    pub fn pause(&mut self, reason: Option<String>, now: DateTime<Utc>) {
        self.status = SubscriptionStatus::Paused;
        self.paused_reason = reason;
        self.updated_at = now;
    }

    /// Back to active: the cycles that fell due while paused are not billed; the next is the first due from
    /// `today` on.
    pub fn resume(&mut self, today: NaiveDate, now: DateTime<Utc>) {
        let next = (self.next_cycle..).find(|n| self.due_date_of(*n) >= today).expect("a later cycle");
        self.next_cycle = next;
        self.status = SubscriptionStatus::Active;
        self.paused_reason = None;
        self.updated_at = now;
    }

    pub fn cancel(&mut self, now: DateTime<Utc>) {
        self.status = SubscriptionStatus::Cancelled;
        self.updated_at = now;
    }

    /// The id of the charge generated for `cycle`: the charge path derives it from the subscription and the
    /// cycle (the idempotency key it is made under), so every run, and a retried one, names the same charge.
    pub fn charge_key(&self, cycle: u32) -> String {
        format!("{}/{cycle}", self.id)
    }

    pub fn charge_id(&self, cycle: u32) -> ChargeId {
        ChargeId::derived(&format!("{}/{}", self.merchant_id, self.charge_key(cycle)))
    }
}

/// What a run finds to do for one subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generation {
    pub charges: Vec<Occurrence>,
    /// Cycles already past due when first looked at.
    pub skipped: Vec<u32>,
}

/// One installment of a carnê.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installment {
    pub number: u16,
    pub amount: Money,
    pub due_date: NaiveDate,
}

/// A carnê: `total` in `count` monthly installments from `first_due`, the cents exact (the first ones carry the
/// leftover, by the same rule as card installments).
pub fn carne(total: Money, count: u16, first_due: NaiveDate) -> Result<Vec<Installment>, crate::domain::pay::installments::InstallmentError> {
    let amounts = crate::domain::pay::installments::split_cents(total, count)?;
    Ok(amounts
        .into_iter()
        .enumerate()
        .map(|(i, amount)| Installment { number: i as u16 + 1, amount, due_date: nth_due(first_due, Cycle::Monthly, i as u32) })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn money(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn monthly(first: NaiveDate) -> Subscription {
        let at = Utc::now();
        Subscription {
            id: SubscriptionId::parse("sub_1").unwrap(),
            merchant_id: MerchantId::parse("mer_1").unwrap(),
            customer_id: CustomerId::parse("cus_1").unwrap(),
            description: "Plano mensal".into(),
            cycle: Cycle::Monthly,
            first_due: first,
            end: End::Never,
            status: SubscriptionStatus::Active,
            prices: vec![PriceFrom { cycle: 0, amount: money("99.90") }],
            lead_days: 10,
            charge_fields: Default::default(),
            next_cycle: 0,
            paused_reason: None,
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    /// Runs the generator daily from `from` to `to` (twice a day, as a retried run would), as the store would:
    /// only on days the subscription's `generate_on` has come.
    fn run_daily(sub: &mut Subscription, from: NaiveDate, to: NaiveDate) -> Vec<Occurrence> {
        let mut made: Vec<Occurrence> = Vec::new();
        let mut day = from;
        while day <= to {
            for _ in 0..2 {
                if sub.generate_on().is_some_and(|on| on <= day) {
                    let run = sub.due_for_generation(day);
                    for o in run.charges {
                        sub.generated(o.cycle);
                        made.push(o);
                    }
                    for n in run.skipped {
                        sub.generated(n);
                    }
                }
            }
            day = day.succ_opt().unwrap();
        }
        made
    }

    #[test]
    fn the_31st_becomes_each_shorter_months_last_day_and_comes_back() {
        let dates: Vec<NaiveDate> = (0..24).map(|n| nth_due(d(2027, 1, 31), Cycle::Monthly, n)).collect();
        assert_eq!(&dates[..5], &[d(2027, 1, 31), d(2027, 2, 28), d(2027, 3, 31), d(2027, 4, 30), d(2027, 5, 31)]);
        assert_eq!(dates[13], d(2028, 2, 29), "leap year");
        assert_eq!(dates[23], d(2028, 12, 31));
        // Every one is the anchor's day or its month's last day.
        for date in dates {
            let last = date.checked_add_months(Months::new(1)).unwrap().with_day(1).unwrap().pred_opt().unwrap().day();
            assert!(date.day() == 31 || date.day() == last, "{date}");
        }
        assert_eq!(nth_due(d(2026, 11, 30), Cycle::Quarterly, 1), d(2027, 2, 28));
        assert_eq!(nth_due(d(2026, 11, 30), Cycle::Quarterly, 2), d(2027, 5, 30));
        assert_eq!(nth_due(d(2028, 2, 29), Cycle::Yearly, 1), d(2029, 2, 28));
        assert_eq!(nth_due(d(2026, 12, 1), Cycle::Biweekly, 2), d(2026, 12, 29));
        assert_eq!(nth_due(d(2026, 12, 1), Cycle::Semiannual, 1), d(2027, 6, 1));
        assert_eq!(nth_due(d(2026, 12, 1), Cycle::Weekly, 5), d(2027, 1, 5));
    }

    #[test]
    fn twenty_four_months_generated_ahead_one_charge_per_cycle_whatever_the_runs() {
        let mut sub = monthly(d(2027, 1, 31));
        let made = run_daily(&mut sub, d(2027, 1, 1), d(2028, 12, 31));
        assert_eq!(made.len(), 24);
        assert!(made.iter().all(|o| o.amount == money("99.90")));
        assert_eq!(made[1].due_date, d(2027, 2, 28));
        assert_eq!(made[13].due_date, d(2028, 2, 29));
        // Each is generated ten days before it falls due, not earlier.
        let fresh = monthly(d(2027, 1, 31));
        let mut at_feb = fresh.clone();
        at_feb.generated(0);
        assert_eq!(at_feb.generate_on(), Some(d(2027, 2, 18)));
        assert!(at_feb.due_for_generation(d(2027, 2, 17)).charges.is_empty());
        assert_eq!(at_feb.due_for_generation(d(2027, 2, 18)).charges.iter().map(|o| o.due_date).collect::<Vec<_>>(), [d(2027, 2, 28)]);
    }

    #[test]
    fn a_price_change_applies_from_the_next_charge_not_yet_generated() {
        let mut sub = monthly(d(2027, 1, 10));
        run_daily(&mut sub, d(2027, 1, 1), d(2027, 3, 15));
        assert_eq!(sub.next_cycle, 3, "January to March generated");
        sub.change_price(money("120.00"));
        assert_eq!(sub.price_at(2), money("99.90"), "March's charge was already made");
        assert_eq!(sub.price_at(3), money("120.00"));
        assert_eq!(sub.current_price(), money("120.00"));
    }

    #[test]
    fn the_end_stops_generation_by_count_or_date() {
        let mut sub = monthly(d(2027, 1, 10));
        sub.end = End::AfterCount { count: 4 };
        assert_eq!(run_daily(&mut sub, d(2027, 1, 1), d(2028, 1, 1)).len(), 4);
        assert!(sub.completed() && sub.generate_on().is_none());
        let mut sub = monthly(d(2027, 1, 10));
        sub.end = End::OnDate { date: d(2027, 4, 9) };
        assert_eq!(run_daily(&mut sub, d(2027, 1, 1), d(2028, 1, 1)).len(), 3);
    }

    #[test]
    fn paused_cycles_are_not_billed_and_resuming_picks_up_the_next_due() {
        let mut sub = monthly(d(2027, 1, 10));
        run_daily(&mut sub, d(2027, 1, 1), d(2027, 2, 5));
        assert_eq!(sub.next_cycle, 2);
        sub.pause(None, Utc::now());
        assert!(sub.generate_on().is_none());
        assert!(run_daily(&mut sub, d(2027, 2, 6), d(2027, 5, 1)).is_empty());
        sub.resume(d(2027, 5, 2), Utc::now());
        let made = run_daily(&mut sub, d(2027, 5, 2), d(2027, 6, 5));
        assert_eq!(made.iter().map(|o| o.due_date).collect::<Vec<_>>(), [d(2027, 5, 10), d(2027, 6, 10)]);
    }

    #[test]
    fn a_cycle_already_past_due_when_first_looked_at_is_skipped_not_billed_late() {
        let mut sub = monthly(d(2027, 1, 10));
        let run = sub.due_for_generation(d(2027, 3, 1));
        assert_eq!(run.skipped, [0, 1]);
        assert_eq!(run.charges.iter().map(|o| o.cycle).collect::<Vec<_>>(), [2]);
        sub.generated(2);
        assert_eq!(sub.next_cycle, 3);
        assert_eq!(sub.charge_id(2), sub.charge_id(2));
        assert_ne!(sub.charge_id(2), sub.charge_id(3));
    }

    #[test]
    fn a_carne_adds_up_to_the_cent_with_monthly_dates() {
        let plan = carne(money("1000.00"), 3, d(2027, 1, 31)).unwrap();
        assert_eq!(plan.iter().map(|i| i.amount.to_brl()).collect::<Vec<_>>(), ["R$ 333,34", "R$ 333,33", "R$ 333,33"]);
        assert_eq!(plan.iter().map(|i| i.due_date).collect::<Vec<_>>(), [d(2027, 1, 31), d(2027, 2, 28), d(2027, 3, 31)]);
        assert!(carne(money("0.05"), 6, d(2027, 1, 1)).is_err());
        assert!(carne(money("100.00"), MAX_CARNE_INSTALLMENTS + 1, d(2027, 1, 1)).is_err());
    }

    proptest! {
        #[test]
        fn carne_installments_always_sum_to_the_total(cents in 100i64..100_000_000, count in 1u16..=MAX_CARNE_INSTALLMENTS) {
            let total = Money::from_cents(cents).unwrap();
            let plan = carne(total, count, d(2027, 1, 31)).unwrap();
            let sum: i64 = plan.iter().map(|i| i.amount.cents()).sum();
            prop_assert_eq!(sum, cents);
            prop_assert_eq!(plan.len(), usize::from(count));
            let max = plan.iter().map(|i| i.amount.cents()).max().unwrap();
            let min = plan.iter().map(|i| i.amount.cents()).min().unwrap();
            prop_assert!(max - min <= 1, "differ by at most a cent");
        }
    }
}
