//! What a charge costs on the day it is paid: original amount, minus a punctuality
//! discount and any abatement, plus a late fine (once) and late interest (per calendar day).
//!
//! `amount_due` is the only place that prices a day. It never fails: terms are checked once
//! where they enter the system (`ChargeTerms::check`), and it clamps anything odd (negative
//! values, a discount larger than the debt) so the total can never go below zero.

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::money::Money;

/// CDC art. 52 §1: in consumer relations the late fine is at most 2 % of the debt.
const CONSUMER_FINE_CAP_PERCENT: Decimal = Decimal::from_parts(2, 0, 0, false, 0);
const HUNDRED: Decimal = Decimal::ONE_HUNDRED;
/// Pro rata die: a monthly rate is charged as rate / 30 per calendar day late (the
/// banks' and BCB's "percentual ao mês, dias corridos").
const DAYS_PER_MONTH: Decimal = Decimal::from_parts(30, 0, 0, false, 0);

/// The one rounding rule for money components: to the cent, half away from zero, applied
/// once at the end of each component so components add up exactly to the total.
pub fn round_cents(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Late fine (multa), charged once when paid after the due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Fine {
    /// A fixed amount in reais.
    Fixed(Decimal),
    /// Percent of the debt, e.g. 2 means 2 %.
    Percent(Decimal),
}

/// Late interest (juros de mora), per calendar day after the due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Interest {
    /// Percent per month, charged pro rata die (rate / 30 per day), e.g. 1 = 1 % a.m.
    PercentPerMonth(Decimal),
    /// Percent per day, e.g. 0.033.
    PercentPerDay(Decimal),
    /// Reais per day.
    FixedPerDay(Decimal),
}

/// Desconto pontualidade: granted when paid on or before `until` (and never when late).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discount {
    pub until: NaiveDate,
    pub value: DiscountValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum DiscountValue {
    /// A fixed amount in reais.
    Fixed(Decimal),
    /// Percent of the original amount.
    Percent(Decimal),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeTerms {
    pub amount: Money,
    /// The due date already rolled to a business day by the caller
    /// (`calendar::effective_due_date`): paying on it is on time.
    pub effective_due_date: NaiveDate,
    pub fine: Option<Fine>,
    pub interest: Option<Interest>,
    pub discount: Option<Discount>,
    /// Abatimento: a reduction of the debt itself, so fine and interest apply to what is left.
    pub abatement: Option<Decimal>,
    /// Consumer relation (CDC): caps the fine at 2 %.
    pub consumer_cap: bool,
}

/// A charge's late-payment and discount terms as the merchant set them. With the charge's amount and due date
/// they make the `ChargeTerms` that `amount_due` prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LateFees {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine: Option<Fine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interest: Option<Interest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Discount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abatement: Option<Decimal>,
    /// A consumer relation (CDC): the fine is capped at 2 %. On unless the merchant says the payer is a business.
    #[serde(default = "consumer_by_default")]
    pub consumer_cap: bool,
}

fn consumer_by_default() -> bool {
    true
}

impl Default for LateFees {
    fn default() -> Self {
        Self { fine: None, interest: None, discount: None, abatement: None, consumer_cap: true }
    }
}

impl LateFees {
    /// The terms in words, for boleto instructions and the payer's page ("Após o vencimento, multa de 2,00%.").
    pub fn describe(&self, amount: Money, due_date: NaiveDate) -> Vec<String> {
        let pct = |d: Decimal| format!("{:.2}%", d).replace('.', ",");
        let brl = |d: Decimal| crate::money::brl(d);
        let terms = self.terms(amount, due_date);
        let debt = amount.as_decimal() - self.abatement.unwrap_or_default();
        let mut out = Vec::new();
        if let Some(d) = self.discount {
            let value = match d.value {
                DiscountValue::Fixed(v) => brl(v),
                DiscountValue::Percent(p) => pct(p),
            };
            out.push(format!("Desconto de {value} para pagamento até {}.", d.until.format("%d/%m/%Y")));
        }
        if let Some(a) = self.abatement.filter(|a| !a.is_zero()) {
            out.push(format!("Abatimento de {}.", brl(a)));
        }
        match self.fine.map(|f| f.capped(debt, terms.consumer_cap)) {
            Some(Fine::Percent(p)) => out.push(format!("Após o vencimento, multa de {}.", pct(p))),
            Some(Fine::Fixed(v)) => out.push(format!("Após o vencimento, multa de {}.", brl(v))),
            None => {}
        }
        match self.interest {
            Some(Interest::PercentPerMonth(p)) => out.push(format!("Juros de mora de {} ao mês, pro rata die.", pct(p))),
            Some(Interest::PercentPerDay(p)) => out.push(format!("Juros de mora de {} ao dia.", pct(p))),
            Some(Interest::FixedPerDay(v)) => out.push(format!("Juros de mora de {} por dia de atraso.", brl(v))),
            None => {}
        }
        out
    }

    /// The terms of a charge of `amount` due on `due_date` (rolled here to a business day).
    pub fn terms(&self, amount: Money, due_date: NaiveDate) -> ChargeTerms {
        ChargeTerms {
            amount,
            effective_due_date: crate::calendar::effective_due_date(due_date),
            fine: self.fine,
            interest: self.interest,
            discount: self.discount,
            abatement: self.abatement,
            consumer_cap: self.consumer_cap,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TermsError {
    #[error("valores de multa, juros, desconto e abatimento não podem ser negativos / fine, interest, discount and abatement cannot be negative")]
    Negative,
    #[error("percentual acima de 100% / percentage above 100%")]
    PercentAbove100,
    #[error("valor em reais com mais de 2 casas decimais / amount in reais with more than 2 decimal places")]
    FractionOfCent,
    #[error("desconto ou abatimento deve ser menor que o valor da cobrança / discount or abatement must be less than the charge amount")]
    ReductionNotBelowAmount,
    #[error("a data do desconto não pode ser posterior ao vencimento / the discount date cannot be after the due date")]
    DiscountAfterDueDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountDue {
    pub original: Decimal,
    pub discount: Decimal,
    pub abatement: Decimal,
    pub fine: Decimal,
    pub interest: Decimal,
    /// original − discount − abatement + fine + interest, never below zero.
    pub total: Decimal,
    /// Calendar days after the effective due date (0 when on time).
    pub days_late: u32,
}

impl Fine {
    /// The fine as it may legally be charged. The consumer cap (CDC art. 52 §1) lives here
    /// and only here; the cobv builder sends this capped form so the PSP charges the same.
    /// The cap is 2 % to the cent (rounded like every component), which is what a PSP
    /// computes from "multa percentual 2.00".
    pub fn capped(self, debt: Decimal, consumer_cap: bool) -> Fine {
        if !consumer_cap {
            return self;
        }
        match self {
            Fine::Percent(p) => Fine::Percent(p.min(CONSUMER_FINE_CAP_PERCENT)),
            Fine::Fixed(v) => Fine::Fixed(v.min(percent_of(debt, CONSUMER_FINE_CAP_PERCENT))),
        }
    }

    fn amount(self, debt: Decimal) -> Decimal {
        match self {
            Fine::Fixed(v) => round_cents(v.max(Decimal::ZERO)),
            Fine::Percent(p) => percent_of(debt, p.max(Decimal::ZERO)),
        }
    }
}

impl Interest {
    fn amount(self, debt: Decimal, days_late: u32) -> Decimal {
        let days = Decimal::from(days_late);
        let raw = match self {
            Interest::PercentPerMonth(r) => {
                debt * r.max(Decimal::ZERO) * days / HUNDRED / DAYS_PER_MONTH
            }
            Interest::PercentPerDay(r) => debt * r.max(Decimal::ZERO) * days / HUNDRED,
            Interest::FixedPerDay(v) => v.max(Decimal::ZERO) * days,
        };
        round_cents(raw)
    }
}

impl DiscountValue {
    fn amount(self, original: Decimal) -> Decimal {
        match self {
            DiscountValue::Fixed(v) => round_cents(v.max(Decimal::ZERO)),
            DiscountValue::Percent(p) => percent_of(original, p.max(Decimal::ZERO)),
        }
    }
}

fn percent_of(base: Decimal, percent: Decimal) -> Decimal {
    round_cents(base * percent / HUNDRED)
}

impl ChargeTerms {
    /// Validates terms where they enter the system, with the same limits the BCB cobv API
    /// enforces (discount and abatement below the amount, discount date not after the due date).
    pub fn check(&self) -> Result<(), TermsError> {
        let amount = self.amount.as_decimal();
        let reais = |v: Decimal| -> Result<(), TermsError> {
            if v.normalize().scale() > 2 {
                return Err(TermsError::FractionOfCent);
            }
            Ok(())
        };
        let percent = |p: Decimal| -> Result<(), TermsError> {
            if p > HUNDRED {
                return Err(TermsError::PercentAbove100);
            }
            Ok(())
        };
        let values = [
            self.fine.map(|f| match f {
                Fine::Fixed(v) | Fine::Percent(v) => v,
            }),
            self.interest.map(|i| match i {
                Interest::PercentPerMonth(v)
                | Interest::PercentPerDay(v)
                | Interest::FixedPerDay(v) => v,
            }),
            self.discount.map(|d| match d.value {
                DiscountValue::Fixed(v) | DiscountValue::Percent(v) => v,
            }),
            self.abatement,
        ];
        if values
            .iter()
            .flatten()
            .any(|v| v.is_sign_negative() && !v.is_zero())
        {
            return Err(TermsError::Negative);
        }
        match self.fine {
            Some(Fine::Fixed(v)) => reais(v)?,
            Some(Fine::Percent(p)) => percent(p)?,
            None => {}
        }
        match self.interest {
            Some(Interest::FixedPerDay(v)) => reais(v)?,
            Some(Interest::PercentPerMonth(p) | Interest::PercentPerDay(p)) => percent(p)?,
            None => {}
        }
        if let Some(d) = self.discount {
            if d.until > self.effective_due_date {
                return Err(TermsError::DiscountAfterDueDate);
            }
            match d.value {
                DiscountValue::Fixed(v) => {
                    reais(v)?;
                    if v >= amount {
                        return Err(TermsError::ReductionNotBelowAmount);
                    }
                }
                DiscountValue::Percent(p) => {
                    if p >= HUNDRED {
                        return Err(TermsError::ReductionNotBelowAmount);
                    }
                }
            }
        }
        if let Some(a) = self.abatement {
            reais(a)?;
            if a >= amount {
                return Err(TermsError::ReductionNotBelowAmount);
            }
        }
        Ok(())
    }
}

/// What the payer owes when paying on `on`.
pub fn amount_due(terms: &ChargeTerms, on: NaiveDate) -> AmountDue {
    let original = terms.amount.as_decimal();
    let abatement =
        round_cents(terms.abatement.unwrap_or_default().max(Decimal::ZERO)).min(original);
    // What is still owed: fine and interest are computed on it, discounts cannot exceed it.
    let debt = original - abatement;
    let days_late =
        u32::try_from((on - terms.effective_due_date).num_days().max(0)).unwrap_or(u32::MAX);
    let late = days_late > 0;

    let discount = match terms.discount {
        Some(d) if !late && on <= d.until => d.value.amount(original).min(debt),
        _ => Decimal::ZERO,
    };
    let fine = match terms.fine {
        Some(f) if late => f.capped(debt, terms.consumer_cap).amount(debt),
        _ => Decimal::ZERO,
    };
    let interest = match terms.interest {
        Some(i) if late => i.amount(debt, days_late),
        _ => Decimal::ZERO,
    };
    let total = (debt - discount + fine + interest).max(Decimal::ZERO);
    AmountDue {
        original,
        discount,
        abatement,
        fine,
        interest,
        total,
        days_late,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn terms(amount: &str) -> ChargeTerms {
        ChargeTerms {
            amount: Money::parse(amount).unwrap(),
            effective_due_date: date("2025-03-10"),
            fine: None,
            interest: None,
            discount: None,
            abatement: None,
            consumer_cap: false,
        }
    }

    #[test]
    fn paying_on_the_due_date_costs_the_original_amount() {
        let t = ChargeTerms {
            fine: Some(Fine::Percent(dec!(2))),
            interest: Some(Interest::PercentPerMonth(dec!(1))),
            ..terms("100.00")
        };
        let due = amount_due(&t, date("2025-03-10"));
        assert_eq!(due.total, dec!(100.00));
        assert_eq!(
            (due.fine, due.interest, due.days_late),
            (dec!(0), dec!(0), 0)
        );
    }

    #[test]
    fn bcb_cobv_example_adds_a_fixed_fine_and_interest() {
        // 123.45 + 15.00 (fixed fine) + 2 days × 1.00 (fixed interest per day) = 140.45
        let t = ChargeTerms {
            fine: Some(Fine::Fixed(dec!(15.00))),
            interest: Some(Interest::FixedPerDay(dec!(1.00))),
            ..terms("123.45")
        };
        let due = amount_due(&t, date("2025-03-12"));
        assert_eq!(
            (due.fine, due.interest, due.days_late),
            (dec!(15.00), dec!(2.00), 2)
        );
        assert_eq!(due.total, dec!(140.45));
    }

    #[test]
    fn consumer_cap_turns_a_ten_percent_fine_into_two_percent() {
        let t = ChargeTerms {
            fine: Some(Fine::Percent(dec!(10))),
            consumer_cap: true,
            ..terms("100.00")
        };
        assert_eq!(amount_due(&t, date("2025-03-11")).fine, dec!(2.00));
        let uncapped = ChargeTerms {
            consumer_cap: false,
            ..t.clone()
        };
        assert_eq!(amount_due(&uncapped, date("2025-03-11")).fine, dec!(10.00));
    }

    #[test]
    fn consumer_cap_also_limits_a_fixed_fine() {
        let t = ChargeTerms {
            fine: Some(Fine::Fixed(dec!(15.00))),
            consumer_cap: true,
            ..terms("123.45")
        };
        // 2 % of 123.45 = 2.469 → 2.47
        assert_eq!(amount_due(&t, date("2025-03-11")).fine, dec!(2.47));
        assert_eq!(
            Fine::Fixed(dec!(15.00)).capped(dec!(123.45), true),
            Fine::Fixed(dec!(2.47))
        );
        assert_eq!(
            Fine::Fixed(dec!(1.00)).capped(dec!(123.45), true),
            Fine::Fixed(dec!(1.00))
        );
    }

    #[test]
    fn the_fine_is_charged_once_however_late() {
        let t = ChargeTerms {
            fine: Some(Fine::Percent(dec!(2))),
            ..terms("250.00")
        };
        assert_eq!(amount_due(&t, date("2025-03-11")).fine, dec!(5.00));
        assert_eq!(amount_due(&t, date("2026-03-11")).fine, dec!(5.00));
    }

    #[test]
    fn monthly_interest_is_pro_rata_die_over_calendar_days() {
        // 1 % a.m. on 1000.00 for 15 days = 1000 × 0.01 × 15 / 30 = 5.00
        let t = ChargeTerms {
            interest: Some(Interest::PercentPerMonth(dec!(1))),
            ..terms("1000.00")
        };
        assert_eq!(amount_due(&t, date("2025-03-25")).interest, dec!(5.00));
        // 1 day on 123.45: 0.04115 → 0.04
        let t = ChargeTerms {
            interest: Some(Interest::PercentPerMonth(dec!(1))),
            ..terms("123.45")
        };
        assert_eq!(amount_due(&t, date("2025-03-11")).interest, dec!(0.04));
    }

    #[test]
    fn daily_interest_in_percent_or_reais() {
        let pct = ChargeTerms {
            interest: Some(Interest::PercentPerDay(dec!(0.033))),
            ..terms("1000.00")
        };
        // 1000 × 0.033 % × 10 = 3.30
        assert_eq!(amount_due(&pct, date("2025-03-20")).interest, dec!(3.30));
        let fixed = ChargeTerms {
            interest: Some(Interest::FixedPerDay(dec!(0.50))),
            ..terms("1000.00")
        };
        assert_eq!(amount_due(&fixed, date("2025-03-20")).interest, dec!(5.00));
    }

    #[test]
    fn halves_of_a_cent_round_away_from_zero() {
        assert_eq!(round_cents(dec!(0.025)), dec!(0.03));
        assert_eq!(round_cents(dec!(0.015)), dec!(0.02));
        assert_eq!(round_cents(dec!(2.344)), dec!(2.34));
        // 2 % of 100.25 = 2.005 → 2.01 (banker's rounding would give 2.00)
        let t = ChargeTerms {
            fine: Some(Fine::Percent(dec!(2))),
            ..terms("100.25")
        };
        assert_eq!(amount_due(&t, date("2025-03-11")).fine, dec!(2.01));
    }

    #[test]
    fn punctuality_discount_applies_until_its_date_only() {
        let t = ChargeTerms {
            discount: Some(Discount {
                until: date("2025-03-05"),
                value: DiscountValue::Percent(dec!(5)),
            }),
            fine: Some(Fine::Percent(dec!(2))),
            ..terms("200.00")
        };
        assert_eq!(amount_due(&t, date("2025-03-01")).total, dec!(190.00));
        assert_eq!(amount_due(&t, date("2025-03-05")).total, dec!(190.00));
        // After the discount date but still on time: full amount.
        assert_eq!(amount_due(&t, date("2025-03-06")).total, dec!(200.00));
        // Late: no discount, fine instead.
        assert_eq!(amount_due(&t, date("2025-03-11")).total, dec!(204.00));
    }

    #[test]
    fn fixed_discount_is_subtracted() {
        let t = ChargeTerms {
            discount: Some(Discount {
                until: date("2025-03-10"),
                value: DiscountValue::Fixed(dec!(30.00)),
            }),
            ..terms("123.45")
        };
        let due = amount_due(&t, date("2025-03-10"));
        assert_eq!((due.discount, due.total), (dec!(30.00), dec!(93.45)));
    }

    #[test]
    fn fine_and_interest_apply_to_the_debt_after_abatement() {
        let t = ChargeTerms {
            abatement: Some(dec!(100.00)),
            fine: Some(Fine::Percent(dec!(2))),
            interest: Some(Interest::PercentPerMonth(dec!(1))),
            ..terms("1100.00")
        };
        let due = amount_due(&t, date("2025-04-09")); // 30 days late
        assert_eq!(
            (due.abatement, due.fine, due.interest),
            (dec!(100.00), dec!(20.00), dec!(10.00))
        );
        assert_eq!(due.total, dec!(1030.00));
    }

    #[test]
    fn check_rejects_terms_the_cobv_api_would_refuse() {
        let base = terms("100.00");
        let bad = [
            (
                ChargeTerms {
                    fine: Some(Fine::Percent(dec!(-1))),
                    ..base.clone()
                },
                TermsError::Negative,
            ),
            (
                ChargeTerms {
                    fine: Some(Fine::Percent(dec!(101))),
                    ..base.clone()
                },
                TermsError::PercentAbove100,
            ),
            (
                ChargeTerms {
                    fine: Some(Fine::Fixed(dec!(1.005))),
                    ..base.clone()
                },
                TermsError::FractionOfCent,
            ),
            (
                ChargeTerms {
                    abatement: Some(dec!(100)),
                    ..base.clone()
                },
                TermsError::ReductionNotBelowAmount,
            ),
            (
                ChargeTerms {
                    discount: Some(Discount {
                        until: date("2025-03-11"),
                        value: DiscountValue::Fixed(dec!(1)),
                    }),
                    ..base.clone()
                },
                TermsError::DiscountAfterDueDate,
            ),
        ];
        for (t, e) in bad {
            assert_eq!(t.check(), Err(e));
        }
        assert_eq!(base.check(), Ok(()));
    }

    #[test]
    fn error_messages_are_portuguese_then_english() {
        assert_eq!(TermsError::Negative.to_string().matches(" / ").count(), 1);
        assert_eq!(
            TermsError::DiscountAfterDueDate
                .to_string()
                .matches(" / ")
                .count(),
            1
        );
    }

    fn any_terms() -> impl Strategy<Value = ChargeTerms> {
        let dec2 = |max: i64| (0..=max).prop_map(|c| Decimal::new(c, 2));
        let fine = prop_oneof![
            Just(None),
            dec2(10_000_000).prop_map(|v| Some(Fine::Fixed(v))),
            dec2(10_000).prop_map(|p| Some(Fine::Percent(p))),
        ];
        let interest = prop_oneof![
            Just(None),
            dec2(10_000).prop_map(|p| Some(Interest::PercentPerMonth(p))),
            (0..=100_000i64).prop_map(|p| Some(Interest::PercentPerDay(Decimal::new(p, 3)))),
            dec2(100_000).prop_map(|v| Some(Interest::FixedPerDay(v))),
        ];
        let discount = prop_oneof![
            Just(None),
            (0..40i64, dec2(1_000_000_000)).prop_map(|(d, v)| Some(Discount {
                until: date("2025-03-10") - chrono::Days::new(d as u64),
                value: DiscountValue::Fixed(v)
            })),
            (0..40i64, dec2(10_000)).prop_map(|(d, p)| Some(Discount {
                until: date("2025-03-10") - chrono::Days::new(d as u64),
                value: DiscountValue::Percent(p)
            })),
        ];
        let abatement = prop_oneof![Just(None), dec2(1_000_000_000).prop_map(Some)];
        (
            1i64..=9_999_999_999,
            fine,
            interest,
            discount,
            abatement,
            any::<bool>(),
        )
            .prop_map(
                |(cents, fine, interest, discount, abatement, consumer_cap)| ChargeTerms {
                    amount: Money::from_cents(cents).unwrap(),
                    effective_due_date: date("2025-03-10"),
                    fine,
                    interest,
                    discount,
                    abatement,
                    consumer_cap,
                },
            )
    }

    proptest! {
        #[test]
        fn total_is_never_negative_and_adds_up(t in any_terms(), offset in -60i64..3650) {
            let on = date("2025-03-10") + chrono::Duration::days(offset);
            let due = amount_due(&t, on);
            prop_assert!(due.total >= Decimal::ZERO);
            prop_assert_eq!(
                due.total,
                (due.original - due.discount - due.abatement + due.fine + due.interest).max(Decimal::ZERO)
            );
            for part in [due.discount, due.abatement, due.fine, due.interest, due.total] {
                prop_assert!(part.scale() <= 2, "{} has fractions of a cent", part);
            }
        }

        #[test]
        fn with_the_consumer_cap_the_fine_never_exceeds_two_percent(t in any_terms(), days in 1i64..3650) {
            let t = ChargeTerms { consumer_cap: true, ..t };
            let due = amount_due(&t, date("2025-03-10") + chrono::Duration::days(days));
            let debt = due.original - due.abatement;
            prop_assert!(due.fine <= round_cents(debt * dec!(0.02)), "fine {} on {}", due.fine, debt);
        }

        #[test]
        fn paying_later_never_costs_less(t in any_terms(), a in 0i64..400, b in 0i64..400) {
            let (early, late) = (a.min(b), a.max(b));
            let d = |n| amount_due(&t, date("2025-03-10") + chrono::Duration::days(n)).total;
            prop_assert!(d(early) <= d(late));
        }
    }
}
