//! Recurring billing and carnês: when each charge of a subscription or an installment plan falls due, and what
//! it costs. The one place for cycle date arithmetic (month ends) and for which occurrences a scheduled run
//! generates. The API and the generating function are still to come (issue #7); this is their domain.

use chrono::{Duration, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::ids::{ChargeId, MerchantId};
use crate::money::Money;

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
    AfterCount { count: u32 },
    /// No charge due after this date.
    OnDate { date: NaiveDate },
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub merchant_id: MerchantId,
    pub cycle: Cycle,
    /// The first charge's due date; every later one is counted from it.
    pub first_due: NaiveDate,
    pub end: End,
    pub status: SubscriptionStatus,
    /// Prices by the cycle they start at, the first at cycle 0.
    pub prices: Vec<PriceFrom>,
    /// Generate each charge this many days before it falls due (so the payer gets it, and its régua, in time).
    pub lead_days: u32,
}

/// One charge a subscription owes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub cycle: u32,
    pub due_date: NaiveDate,
    pub amount: Money,
    /// The same for every run that generates it: a second run (or a retried one) finds it made.
    pub charge_id: ChargeId,
}

impl Subscription {
    pub fn price_at(&self, cycle: u32) -> Money {
        self.prices.iter().filter(|p| p.cycle <= cycle).max_by_key(|p| p.cycle).map(|p| p.amount).expect("a price from cycle 0")
    }

    /// A new price from the first cycle not yet due on `today`.
    pub fn change_price(&mut self, amount: Money, today: NaiveDate) {
        let next = (0..).find(|n| nth_due(self.first_due, self.cycle, *n) > today).expect("a later cycle");
        self.prices.retain(|p| p.cycle < next);
        self.prices.push(PriceFrom { cycle: next, amount });
    }

    /// The charges a run on `today` should have generated: every cycle due from `today` up to `lead_days`
    /// ahead (and any missed one not yet past due), while active and within the end. Idempotent by charge id.
    pub fn due_for_generation(&self, today: NaiveDate) -> Vec<Occurrence> {
        if self.status != SubscriptionStatus::Active {
            return vec![];
        }
        let horizon = today + Duration::days(i64::from(self.lead_days));
        (0..)
            .map(|n| (n, nth_due(self.first_due, self.cycle, n)))
            .take_while(|(n, due)| *due <= horizon && self.end.allows(*n, *due))
            .filter(|(_, due)| *due >= today)
            .map(|(n, due)| Occurrence {
                cycle: n,
                due_date: due,
                amount: self.price_at(n),
                charge_id: ChargeId::derived(&format!("{}/{}/{n}", self.merchant_id, self.id)),
            })
            .collect()
    }
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
pub fn carne(total: Money, count: u16, first_due: NaiveDate) -> Result<Vec<Installment>, crate::pay::installments::InstallmentError> {
    let amounts = crate::pay::installments::split_cents(total, count)?;
    Ok(amounts
        .into_iter()
        .enumerate()
        .map(|(i, amount)| Installment { number: i as u16 + 1, amount, due_date: nth_due(first_due, Cycle::Monthly, i as u32) })
        .collect())
}

/// Most installments a carnê may have (five years monthly).
pub const MAX_CARNE_INSTALLMENTS: u16 = 60;

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
        Subscription {
            id: "sub_1".into(),
            merchant_id: MerchantId::parse("mer_1").unwrap(),
            cycle: Cycle::Monthly,
            first_due: first,
            end: End::Never,
            status: SubscriptionStatus::Active,
            prices: vec![PriceFrom { cycle: 0, amount: money("99.90") }],
            lead_days: 10,
        }
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
    }

    #[test]
    fn twenty_four_months_generated_ahead_one_charge_per_cycle_whatever_the_runs() {
        let sub = monthly(d(2027, 1, 31));
        let mut made: Vec<Occurrence> = Vec::new();
        // A daily run for two years, plus a second run each day (a retried one): each cycle once.
        let mut day = d(2027, 1, 1);
        while day <= d(2028, 12, 31) {
            for _ in 0..2 {
                for o in sub.due_for_generation(day) {
                    if !made.iter().any(|m| m.charge_id == o.charge_id) {
                        made.push(o);
                    }
                }
            }
            day = day.succ_opt().unwrap();
        }
        assert_eq!(made.len(), 24);
        assert!(made.iter().all(|o| o.amount == money("99.90")));
        // Each was generated ten days before it fell due, not earlier.
        assert_eq!(sub.due_for_generation(d(2027, 2, 17)).len(), 0);
        assert_eq!(sub.due_for_generation(d(2027, 2, 18)).iter().map(|o| o.due_date).collect::<Vec<_>>(), [d(2027, 2, 28)]);
    }

    #[test]
    fn a_price_change_applies_from_the_next_cycle_and_the_end_stops_generation() {
        let mut sub = monthly(d(2027, 1, 10));
        sub.change_price(money("120.00"), d(2027, 3, 15));
        assert_eq!(sub.price_at(2), money("99.90"), "March's charge was already due");
        assert_eq!(sub.price_at(3), money("120.00"));
        sub.end = End::AfterCount { count: 4 };
        assert_eq!(sub.due_for_generation(d(2027, 4, 5)).len(), 1);
        assert!(sub.due_for_generation(d(2027, 5, 5)).is_empty(), "four charges only");
        sub.end = End::OnDate { date: d(2027, 4, 9) };
        assert!(sub.due_for_generation(d(2027, 4, 5)).is_empty());
        sub.end = End::Never;
        sub.status = SubscriptionStatus::Paused;
        assert!(sub.due_for_generation(d(2027, 4, 5)).is_empty());
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
