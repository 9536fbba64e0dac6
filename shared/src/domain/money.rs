//! Money in Brazilian reais (BRL).
//!
//! A `Money` is always a positive amount with exactly two decimal places that fits the
//! boleto's 10-digit value field, so code holding one never has to re-check it. Amounts
//! travel as JSON strings ("150.00"): a JSON number would pass through a binary float somewhere
//! and floats never touch money.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Largest amount in centavos: the boleto's value field has 10 digits (8 + 2 decimals).
const MAX_CENTS: i64 = 9_999_999_999;

/// A positive BRL amount, at most R$ 99.999.999,99, stored with scale 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error(
        "valor inválido: use apenas dígitos e ponto decimal, ex.: \"150.00\" / invalid amount: use only digits and a decimal point, e.g. \"150.00\""
    )]
    NotANumber,
    #[error("valor com mais de 2 casas decimais / amount has more than 2 decimal places")]
    TooManyDecimalPlaces,
    #[error("valor deve ser maior que zero / amount must be greater than zero")]
    NotPositive,
    #[error("valor acima do máximo de R$ 99.999.999,99 / amount exceeds the maximum of 99999999.99")]
    TooLarge,
}

impl Money {
    /// Parses the wire form: digits, optionally a `.` and one or two decimals.
    /// Exponents, signs other than a leading `-`, separators and whitespace are refused
    /// rather than guessed at; "150,00" is refused because "1,500" is ambiguous.
    pub fn parse(s: &str) -> Result<Money, MoneyError> {
        let (negative, unsigned) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int_part, frac_part) = match unsigned.split_once('.') {
            Some((int_part, frac_part)) => (int_part, Some(frac_part)),
            None => (unsigned, None),
        };
        let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int_part) || frac_part.is_some_and(|f| !all_digits(f)) {
            return Err(MoneyError::NotANumber);
        }
        let frac = frac_part.unwrap_or("");
        if frac.len() > 2 {
            return Err(MoneyError::TooManyDecimalPlaces);
        }
        if negative {
            // Checked before the size so "-1e30"-like inputs report the sign, the real problem.
            return Err(MoneyError::NotPositive);
        }
        // Size check on the digit count first, so huge inputs cannot overflow the arithmetic.
        let int_digits = int_part.trim_start_matches('0');
        if int_digits.len() > 8 {
            return Err(MoneyError::TooLarge);
        }
        let to_i64 = |p: &str| p.bytes().fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
        let frac_cents = match frac.len() {
            0 => 0,
            1 => to_i64(frac) * 10,
            _ => to_i64(frac),
        };
        Money::from_cents(to_i64(int_digits) * 100 + frac_cents)
    }

    /// Same rules as `parse`, judged on the value: 3.000 (from Decimal arithmetic) is
    /// fine, 150.005 is refused. Never rounds — rounding money is the caller's decision.
    pub fn from_decimal(d: Decimal) -> Result<Money, MoneyError> {
        let mut value = d.normalize();
        if value.scale() > 2 {
            return Err(MoneyError::TooManyDecimalPlaces);
        }
        if value <= Decimal::ZERO {
            return Err(MoneyError::NotPositive);
        }
        if value > Decimal::new(MAX_CENTS, 2) {
            return Err(MoneyError::TooLarge);
        }
        // Exact: scale is at most 2 here, so this only appends zeros.
        value.rescale(2);
        Ok(Money(value))
    }

    pub fn from_cents(cents: i64) -> Result<Money, MoneyError> {
        if cents <= 0 {
            return Err(MoneyError::NotPositive);
        }
        if cents > MAX_CENTS {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money(Decimal::new(cents, 2)))
    }

    pub fn as_decimal(&self) -> Decimal {
        self.0
    }

    pub fn cents(&self) -> i64 {
        // Scale is always 2 and the mantissa at most MAX_CENTS, so this cannot truncate.
        self.0.mantissa() as i64
    }

    /// "R$ 1.234,56": the Brazilian display form, for payers and merchants.
    pub fn to_brl(&self) -> String {
        brl(self.0)
    }
}

/// Formats any amount (totals, refunds, negatives) as "R$ 1.234,56" / "-R$ 1.234,56",
/// rounded to centavos half away from zero — the rounding people expect, not banker's.
pub fn brl(d: Decimal) -> String {
    let rounded = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    // Decimal's Display never uses exponent notation, so splitting the text is safe and
    // avoids rescaling, which could overflow near Decimal's limits.
    let text = rounded.abs().to_string();
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::with_capacity(int_part.len() + int_part.len() / 3);
    for (i, c) in int_part.chars().enumerate() {
        if i > 0 && (int_part.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    // No "-R$ 0,00" when a tiny negative rounds away.
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() { "-" } else { "" };
    format!("{sign}R$ {grouped},{frac_part:0<2}")
}

impl fmt::Display for Money {
    /// The wire form, "150.00": always two places because the scale is always 2.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MoneyVisitor;

        impl Visitor<'_> for MoneyVisitor {
            type Value = Money;

            // Shown when a JSON number arrives: tells the client exactly what to send.
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "o valor como texto, ex.: \"150.00\" (nunca um número JSON) / \
                     the amount as a string, e.g. \"150.00\" (never a JSON number)",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
                Money::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(MoneyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn money(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn accepts_plain_amounts_and_normalises_to_two_places() {
        assert_eq!(money("150.00").to_string(), "150.00");
        assert_eq!(money("150").to_string(), "150.00");
        assert_eq!(money("150.5").to_string(), "150.50");
        assert_eq!(money("0.01").to_string(), "0.01");
        assert_eq!(money("99999999.99").to_string(), "99999999.99");
    }

    #[test]
    fn equal_amounts_written_differently_are_equal() {
        assert_eq!(money("150"), money("150.00"));
        assert_eq!(money("150.5"), money("150.50"));
        assert_eq!(money("007.10"), money("7.1"));
    }

    #[test]
    fn rejects_amount_with_three_decimal_places() {
        assert_eq!(Money::parse("150.005"), Err(MoneyError::TooManyDecimalPlaces));
        assert_eq!(Money::parse("150.000"), Err(MoneyError::TooManyDecimalPlaces));
    }

    #[test]
    fn rejects_zero_and_negative_amounts() {
        for s in ["0", "0.00", "-1", "-0", "-150.00"] {
            assert_eq!(Money::parse(s), Err(MoneyError::NotPositive), "{s}");
        }
    }

    #[test]
    fn rejects_text_that_is_not_a_plain_decimal() {
        for s in ["", " 150", "150 ", "150,00", "1e3", "+150", "1.500,00", "1,500.00", "150.", ".50", "R$ 150", "NaN", "--1", "1_000", "１５０"] {
            assert_eq!(Money::parse(s), Err(MoneyError::NotANumber), "{s:?}");
        }
    }

    #[test]
    fn rejects_amount_above_the_boleto_limit() {
        assert_eq!(Money::parse("100000000"), Err(MoneyError::TooLarge));
        assert_eq!(Money::parse("100000000.00"), Err(MoneyError::TooLarge));
        assert_eq!(Money::parse("99999999999999999999999999999999999"), Err(MoneyError::TooLarge));
        assert_eq!(Money::from_cents(MAX_CENTS + 1), Err(MoneyError::TooLarge));
    }

    #[test]
    fn from_decimal_follows_the_same_rules_without_rounding() {
        assert_eq!(Money::from_decimal(dec!(150)).unwrap().to_string(), "150.00");
        assert_eq!(Money::from_decimal(dec!(3.000)).unwrap().to_string(), "3.00");
        assert_eq!(Money::from_decimal(dec!(150.005)), Err(MoneyError::TooManyDecimalPlaces));
        assert_eq!(Money::from_decimal(dec!(0)), Err(MoneyError::NotPositive));
        assert_eq!(Money::from_decimal(dec!(-0.01)), Err(MoneyError::NotPositive));
        assert_eq!(Money::from_decimal(dec!(100000000)), Err(MoneyError::TooLarge));
    }

    #[test]
    fn converts_to_and_from_cents() {
        assert_eq!(Money::from_cents(15050).unwrap(), money("150.50"));
        assert_eq!(money("150.50").cents(), 15050);
        assert_eq!(money("0.01").cents(), 1);
        assert_eq!(Money::from_cents(0), Err(MoneyError::NotPositive));
        assert_eq!(money("150.5").as_decimal(), dec!(150.50));
    }

    #[test]
    fn orders_by_value() {
        assert!(money("9.99") < money("10"));
        assert!(money("100") > money("99.99"));
    }

    #[test]
    fn shows_brazilian_form() {
        assert_eq!(money("1234.56").to_brl(), "R$ 1.234,56");
        assert_eq!(money("0.01").to_brl(), "R$ 0,01");
        assert_eq!(money("99999999.99").to_brl(), "R$ 99.999.999,99");
        assert_eq!(money("150").to_brl(), "R$ 150,00");
        assert_eq!(money("123456.7").to_brl(), "R$ 123.456,70");
    }

    #[test]
    fn brl_formats_totals_rounding_half_away_from_zero() {
        assert_eq!(brl(dec!(0)), "R$ 0,00");
        assert_eq!(brl(dec!(5)), "R$ 5,00");
        assert_eq!(brl(dec!(1000)), "R$ 1.000,00");
        assert_eq!(brl(dec!(0.025)), "R$ 0,03"); // banker's would give 0,02
        assert_eq!(brl(dec!(0.015)), "R$ 0,02");
        assert_eq!(brl(dec!(2.344)), "R$ 2,34");
        assert_eq!(brl(dec!(-1234.565)), "-R$ 1.234,57");
        assert_eq!(brl(dec!(-0.001)), "R$ 0,00");
        assert_eq!(brl(dec!(1234567890.1)), "R$ 1.234.567.890,10");
    }

    #[test]
    fn serializes_as_a_json_string() {
        assert_eq!(serde_json::to_string(&money("150")).unwrap(), r#""150.00""#);
    }

    #[test]
    fn deserializes_from_a_json_string() {
        let m: Money = serde_json::from_str(r#""150.5""#).unwrap();
        assert_eq!(m, money("150.50"));
    }

    #[test]
    fn rejects_a_json_number_telling_to_send_a_string() {
        for json in ["150.00", "150", "1e2"] {
            let err = serde_json::from_str::<Money>(json).unwrap_err().to_string();
            assert!(err.contains(r#""150.00""#), "{err}");
            assert!(err.contains("never a JSON number"), "{err}");
        }
    }

    #[test]
    fn rejects_an_invalid_json_string_with_the_parse_message() {
        let err = serde_json::from_str::<Money>(r#""150.005""#).unwrap_err().to_string();
        assert!(err.contains("more than 2 decimal places"), "{err}");
    }

    #[test]
    fn error_messages_are_portuguese_then_english() {
        for e in [MoneyError::NotANumber, MoneyError::TooManyDecimalPlaces, MoneyError::NotPositive, MoneyError::TooLarge] {
            assert_eq!(e.to_string().matches(" / ").count(), 1, "{e}");
        }
    }

    proptest! {
        #[test]
        fn any_valid_amount_is_accepted_and_round_trips(cents in 1i64..=MAX_CENTS) {
            let wire = format!("{}.{:02}", cents / 100, cents % 100);
            let m = Money::parse(&wire).unwrap();
            prop_assert_eq!(m.cents(), cents);
            prop_assert_eq!(m.to_string(), wire.clone());
            prop_assert_eq!(Money::from_cents(cents).unwrap(), m);
            prop_assert_eq!(Money::from_decimal(m.as_decimal()).unwrap(), m);
            let json = serde_json::to_string(&m).unwrap();
            prop_assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
            // The Brazilian form carries the same digits.
            let back = m.to_brl().trim_start_matches("R$ ").replace('.', "").replace(',', ".");
            prop_assert_eq!(back, wire);
        }

        #[test]
        fn short_forms_parse_to_the_same_amount(reais in 1i64..=99_999_999, tenths in 0i64..10) {
            prop_assert_eq!(Money::parse(&reais.to_string()).unwrap().cents(), reais * 100);
            prop_assert_eq!(
                Money::parse(&format!("{reais}.{tenths}")).unwrap().cents(),
                reais * 100 + tenths * 10
            );
        }

        #[test]
        fn a_single_corrupted_character_is_rejected(
            cents in 1i64..=MAX_CENTS,
            pos in any::<prop::sample::Index>(),
            bad in any::<char>().prop_filter("not a digit or dot", |c| !c.is_ascii_digit() && *c != '.'),
        ) {
            let wire = format!("{}.{:02}", cents / 100, cents % 100);
            let i = pos.index(wire.len());
            let corrupted = format!("{}{}{}", &wire[..i], bad, &wire[i + 1..]);
            prop_assert!(Money::parse(&corrupted).is_err(), "{:?} accepted", corrupted);
        }

        #[test]
        fn more_than_two_decimals_is_rejected(reais in 0i64..=99_999_999, frac in "[0-9]{3,6}") {
            prop_assert_eq!(
                Money::parse(&format!("{reais}.{frac}")),
                Err(MoneyError::TooManyDecimalPlaces)
            );
        }
    }
}
