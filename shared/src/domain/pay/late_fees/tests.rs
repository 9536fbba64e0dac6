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
    let t = ChargeTerms { fine: Some(Fine::Percent(dec!(2))), interest: Some(Interest::PercentPerMonth(dec!(1))), ..terms("100.00") };
    let due = amount_due(&t, date("2025-03-10")).unwrap();
    assert_eq!(due.total, dec!(100.00));
    assert_eq!((due.fine, due.interest, due.days_late), (dec!(0), dec!(0), 0));
}

#[test]
fn bcb_cobv_example_adds_a_fixed_fine_and_interest() {
    // 123.45 + 15.00 (fixed fine) + 2 days × 1.00 (fixed interest per day) = 140.45
    let t = ChargeTerms { fine: Some(Fine::Fixed(dec!(15.00))), interest: Some(Interest::FixedPerDay(dec!(1.00))), ..terms("123.45") };
    let due = amount_due(&t, date("2025-03-12")).unwrap();
    assert_eq!((due.fine, due.interest, due.days_late), (dec!(15.00), dec!(2.00), 2));
    assert_eq!(due.total, dec!(140.45));
}

#[test]
fn consumer_cap_turns_a_ten_percent_fine_into_two_percent() {
    let t = ChargeTerms { fine: Some(Fine::Percent(dec!(10))), consumer_cap: true, ..terms("100.00") };
    assert_eq!(amount_due(&t, date("2025-03-11")).unwrap().fine, dec!(2.00));
    let uncapped = ChargeTerms { consumer_cap: false, ..t.clone() };
    assert_eq!(amount_due(&uncapped, date("2025-03-11")).unwrap().fine, dec!(10.00));
}

#[test]
fn consumer_cap_also_limits_a_fixed_fine() {
    let t = ChargeTerms { fine: Some(Fine::Fixed(dec!(15.00))), consumer_cap: true, ..terms("123.45") };
    // 2 % of 123.45 = 2.469 → 2.47
    assert_eq!(amount_due(&t, date("2025-03-11")).unwrap().fine, dec!(2.47));
    assert_eq!(Fine::Fixed(dec!(15.00)).capped(dec!(123.45), true), Fine::Fixed(dec!(2.47)));
    assert_eq!(Fine::Fixed(dec!(1.00)).capped(dec!(123.45), true), Fine::Fixed(dec!(1.00)));
}

#[test]
fn the_fine_is_charged_once_however_late() {
    let t = ChargeTerms { fine: Some(Fine::Percent(dec!(2))), ..terms("250.00") };
    assert_eq!(amount_due(&t, date("2025-03-11")).unwrap().fine, dec!(5.00));
    assert_eq!(amount_due(&t, date("2026-03-11")).unwrap().fine, dec!(5.00));
}

#[test]
fn monthly_interest_is_pro_rata_die_over_calendar_days() {
    // 1 % a.m. on 1000.00 for 15 days = 1000 × 0.01 × 15 / 30 = 5.00
    let t = ChargeTerms { interest: Some(Interest::PercentPerMonth(dec!(1))), ..terms("1000.00") };
    assert_eq!(amount_due(&t, date("2025-03-25")).unwrap().interest, dec!(5.00));
    // 1 day on 123.45: 0.04115 → 0.04
    let t = ChargeTerms { interest: Some(Interest::PercentPerMonth(dec!(1))), ..terms("123.45") };
    assert_eq!(amount_due(&t, date("2025-03-11")).unwrap().interest, dec!(0.04));
}

#[test]
fn daily_interest_in_percent_or_reais() {
    let pct = ChargeTerms { interest: Some(Interest::PercentPerDay(dec!(0.033))), ..terms("1000.00") };
    // 1000 × 0.033 % × 10 = 3.30
    assert_eq!(amount_due(&pct, date("2025-03-20")).unwrap().interest, dec!(3.30));
    let fixed = ChargeTerms { interest: Some(Interest::FixedPerDay(dec!(0.50))), ..terms("1000.00") };
    assert_eq!(amount_due(&fixed, date("2025-03-20")).unwrap().interest, dec!(5.00));
}

#[test]
fn halves_of_a_cent_round_away_from_zero() {
    assert_eq!(round_cents(dec!(0.025)), dec!(0.03));
    assert_eq!(round_cents(dec!(0.015)), dec!(0.02));
    assert_eq!(round_cents(dec!(2.344)), dec!(2.34));
    // 2 % of 100.25 = 2.005 → 2.01 (banker's rounding would give 2.00)
    let t = ChargeTerms { fine: Some(Fine::Percent(dec!(2))), ..terms("100.25") };
    assert_eq!(amount_due(&t, date("2025-03-11")).unwrap().fine, dec!(2.01));
}

#[test]
fn punctuality_discount_applies_until_its_date_only() {
    let t = ChargeTerms {
        discount: Some(Discount { until: date("2025-03-05"), value: DiscountValue::Percent(dec!(5)) }),
        fine: Some(Fine::Percent(dec!(2))),
        ..terms("200.00")
    };
    assert_eq!(amount_due(&t, date("2025-03-01")).unwrap().total, dec!(190.00));
    assert_eq!(amount_due(&t, date("2025-03-05")).unwrap().total, dec!(190.00));
    // After the discount date but still on time: full amount.
    assert_eq!(amount_due(&t, date("2025-03-06")).unwrap().total, dec!(200.00));
    // Late: no discount, fine instead.
    assert_eq!(amount_due(&t, date("2025-03-11")).unwrap().total, dec!(204.00));
}

#[test]
fn fixed_discount_is_subtracted() {
    let t = ChargeTerms { discount: Some(Discount { until: date("2025-03-10"), value: DiscountValue::Fixed(dec!(30.00)) }), ..terms("123.45") };
    let due = amount_due(&t, date("2025-03-10")).unwrap();
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
    let due = amount_due(&t, date("2025-04-09")).unwrap(); // 30 days late
    assert_eq!((due.abatement, due.fine, due.interest), (dec!(100.00), dec!(20.00), dec!(10.00)));
    assert_eq!(due.total, dec!(1030.00));
}

#[test]
fn check_rejects_terms_the_cobv_api_would_refuse() {
    let base = terms("100.00");
    let bad = [
        (ChargeTerms { fine: Some(Fine::Percent(dec!(-1))), ..base.clone() }, TermsError::Negative),
        (ChargeTerms { fine: Some(Fine::Percent(dec!(101))), ..base.clone() }, TermsError::PercentAbove100),
        (ChargeTerms { fine: Some(Fine::Fixed(dec!(1.005))), ..base.clone() }, TermsError::FractionOfCent),
        (ChargeTerms { abatement: Some(dec!(100)), ..base.clone() }, TermsError::ReductionNotBelowAmount),
        (
            ChargeTerms { discount: Some(Discount { until: date("2025-03-11"), value: DiscountValue::Fixed(dec!(1)) }), ..base.clone() },
            TermsError::DiscountAfterDueDate,
        ),
    ];
    for (t, e) in bad {
        assert_eq!(t.check(), Err(e));
    }
    assert_eq!(base.check(), Ok(()));
}

fn cpf() -> Document {
    Document::parse("52998224725").unwrap()
}

fn cnpj() -> Document {
    Document::parse("11222333000181").unwrap()
}

#[test]
fn the_largest_fixed_value_is_the_largest_charge() {
    assert_eq!(MAX_REAIS, dec!(99999999.99));
    assert_eq!(Money::from_decimal(MAX_REAIS).map(|m| m.cents()), Ok(9_999_999_999));
}

#[test]
fn a_cpf_payer_cannot_opt_out_of_the_consumer_ceilings() {
    let opt_out = LateFees { consumer_cap: false, ..LateFees::default() };
    let amount = Money::parse("100.00").unwrap();
    assert_eq!(opt_out.admit(amount, date("2025-03-10"), &cpf()), Err(TermsError::ConsumerCapRequired));
    assert_eq!(opt_out.admit(amount, date("2025-03-10"), &cnpj()), Ok(()));
    assert_eq!(TermsError::ConsumerCapRequired.field(), "late_fees.consumer_cap");
}

#[test]
fn ceilings_are_two_and_one_percent_for_consumers_ten_and_two_for_businesses() {
    let amount = Money::parse("100.00").unwrap();
    let admit = |fine: Option<Fine>, interest: Option<Interest>, consumer_cap: bool, payer: &Document| {
        LateFees { fine, interest, consumer_cap, ..LateFees::default() }.admit(amount, date("2025-03-10"), payer).map_err(|e| e.field())
    };
    for (consumer, payer, fine_cap, month_cap) in
        [(true, cpf(), dec!(2), dec!(1)), (true, cnpj(), dec!(2), dec!(1)), (false, cnpj(), dec!(10), dec!(2))]
    {
        let bump = dec!(0.01);
        assert_eq!(admit(Some(Fine::Percent(fine_cap)), None, consumer, &payer), Ok(()));
        assert_eq!(admit(Some(Fine::Percent(fine_cap + bump)), None, consumer, &payer), Err("late_fees.fine"));
        // A fixed fine is judged as a share of the debt: R$ 100,00 × cap.
        assert_eq!(admit(Some(Fine::Fixed(fine_cap)), None, consumer, &payer), Ok(()));
        assert_eq!(admit(Some(Fine::Fixed(fine_cap + bump)), None, consumer, &payer), Err("late_fees.fine"));
        assert_eq!(admit(None, Some(Interest::PercentPerMonth(month_cap)), consumer, &payer), Ok(()));
        assert_eq!(admit(None, Some(Interest::PercentPerMonth(month_cap + bump)), consumer, &payer), Err("late_fees.interest"));
        // A day is a thirtieth of a month.
        assert_eq!(admit(None, Some(Interest::PercentPerDay(month_cap * dec!(0.0333))), consumer, &payer), Ok(()));
        assert_eq!(admit(None, Some(Interest::PercentPerDay(month_cap * dec!(0.0334))), consumer, &payer), Err("late_fees.interest"));
        // R$ per day on R$ 100,00: cap % a month is cap / 30 reais a day.
        assert_eq!(admit(None, Some(Interest::FixedPerDay(dec!(0.03) * month_cap)), consumer, &payer), Ok(()));
        assert_eq!(admit(None, Some(Interest::FixedPerDay(dec!(0.04) * month_cap)), consumer, &payer), Err("late_fees.interest"));
    }
}

#[test]
fn a_fixed_value_above_the_largest_charge_is_refused_naming_its_field() {
    let t = ChargeTerms { interest: Some(Interest::FixedPerDay(Decimal::MAX)), ..terms("100.00") };
    assert_eq!(t.check().map_err(|e| e.field()), Err("late_fees.interest"));
    let t = ChargeTerms { fine: Some(Fine::Fixed(dec!(100000000.00))), ..terms("100.00") };
    assert_eq!(t.check().map_err(|e| e.field()), Err("late_fees.fine"));
    let t = ChargeTerms { discount: Some(Discount { until: date("1999-12-31"), value: DiscountValue::Fixed(dec!(1)) }), ..terms("100.00") };
    assert_eq!(t.check(), Err(TermsError::DiscountDateTooEarly));
}

#[test]
fn stored_terms_that_overflow_are_unpriceable_not_a_panic() {
    let overflowing = [
        ChargeTerms { interest: Some(Interest::FixedPerDay(Decimal::MAX)), ..terms("100.00") },
        ChargeTerms { interest: Some(Interest::PercentPerDay(Decimal::MAX)), ..terms("99999999.99") },
        ChargeTerms { interest: Some(Interest::PercentPerMonth(Decimal::MAX)), ..terms("99999999.99") },
        ChargeTerms { fine: Some(Fine::Percent(Decimal::MAX)), ..terms("99999999.99") },
        ChargeTerms { fine: Some(Fine::Fixed(Decimal::MAX)), interest: Some(Interest::FixedPerDay(Decimal::MAX)), ..terms("1.00") },
    ];
    for t in overflowing {
        assert_eq!(amount_due(&t, date("2030-03-10")), Err(Unpriceable), "{t:?}");
        // On time nothing late is priced, so the charge still prices.
        assert!(amount_due(&t, date("2025-03-10")).is_ok());
    }
    let huge_discount =
        ChargeTerms { discount: Some(Discount { until: date("2025-03-10"), value: DiscountValue::Percent(Decimal::MAX) }), ..terms("99999999.99") };
    assert_eq!(amount_due(&huge_discount, date("2025-03-10")), Err(Unpriceable));
    // The payer-facing description of such terms does not panic either.
    let fees = LateFees { abatement: Some(Decimal::MIN), fine: Some(Fine::Fixed(Decimal::MAX)), ..LateFees::default() };
    assert_eq!(fees.describe(Money::parse("10.00").unwrap(), date("2025-03-10")).len(), 2);
}

#[test]
fn error_messages_are_portuguese_then_english() {
    assert_eq!(TermsError::Negative.to_string().matches(" / ").count(), 1);
    assert_eq!(TermsError::DiscountAfterDueDate.to_string().matches(" / ").count(), 1);
}

fn any_terms() -> impl Strategy<Value = ChargeTerms> {
    let dec2 = |max: i64| (0..=max).prop_map(|c| Decimal::new(c, 2));
    let fine = prop_oneof![Just(None), dec2(10_000_000).prop_map(|v| Some(Fine::Fixed(v))), dec2(10_000).prop_map(|p| Some(Fine::Percent(p))),];
    let interest = prop_oneof![
        Just(None),
        dec2(10_000).prop_map(|p| Some(Interest::PercentPerMonth(p))),
        (0..=100_000i64).prop_map(|p| Some(Interest::PercentPerDay(Decimal::new(p, 3)))),
        dec2(100_000).prop_map(|v| Some(Interest::FixedPerDay(v))),
    ];
    let discount = prop_oneof![
        Just(None),
        (0..40i64, dec2(1_000_000_000))
            .prop_map(|(d, v)| Some(Discount { until: date("2025-03-10") - chrono::Days::new(d as u64), value: DiscountValue::Fixed(v) })),
        (0..40i64, dec2(10_000))
            .prop_map(|(d, p)| Some(Discount { until: date("2025-03-10") - chrono::Days::new(d as u64), value: DiscountValue::Percent(p) })),
    ];
    let abatement = prop_oneof![Just(None), dec2(1_000_000_000).prop_map(Some)];
    (1i64..=9_999_999_999, fine, interest, discount, abatement, any::<bool>()).prop_map(
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
        let due = amount_due(&t, on).unwrap();
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
        let due = amount_due(&t, date("2025-03-10") + chrono::Duration::days(days)).unwrap();
        let debt = due.original - due.abatement;
        prop_assert!(due.fine <= round_cents(debt * dec!(0.02)), "fine {} on {}", due.fine, debt);
    }

    #[test]
    fn paying_later_never_costs_less(t in any_terms(), a in 0i64..400, b in 0i64..400) {
        let (early, late) = (a.min(b), a.max(b));
        let d = |n| amount_due(&t, date("2025-03-10") + chrono::Duration::days(n)).unwrap().total;
        prop_assert!(d(early) <= d(late));
    }
}
