//! Installments (parcelas): splitting a total into 1–12 exact parts, and card plans where
//! the acquirer's fee is either absorbed by the merchant or passed through to the payer.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::domain::money::{Money, MoneyError};
use crate::domain::pay::late_fees::round_cents;

pub const MAX_INSTALLMENTS: u8 = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstallmentError {
    #[error("número de parcelas deve ser de 1 a 12 / the number of installments must be 1 to 12")]
    InvalidCount,
    #[error("valor pequeno demais para {0} parcelas de pelo menos R$ 0,01 / amount too small for {0} installments of at least R$ 0.01")]
    TooSmallToSplit(u8),
    #[error("taxa inválida: percentual de 0 a 100 (exclusive) e valor fixo não negativo com até 2 casas / invalid fee: percent from 0 up to 100 (exclusive) and a non-negative fixed amount with up to 2 places")]
    InvalidFee,
    #[error("a taxa consome todo o valor / the fee takes the whole amount")]
    FeeExceedsAmount,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Splits `total` into `n` installments that add up to it exactly; the first ones carry
/// the leftover cents (R$ 100,00 / 3 = 33,34 + 33,33 + 33,33), as Brazilian carnês do.
pub fn split(total: Money, n: u8) -> Result<Vec<Money>, InstallmentError> {
    if !(1..=MAX_INSTALLMENTS).contains(&n) {
        return Err(InstallmentError::InvalidCount);
    }
    split_cents(total, n.into())
}

/// Most installments a carnê may have (five years monthly), and so the most parts money is ever split into.
pub const MAX_CARNE_INSTALLMENTS: u16 = 60;

/// The one rule for dividing money into parts (card installments, carnês): exact to the cent, leftover cents on
/// the first parts. Up to `MAX_CARNE_INSTALLMENTS` parts.
pub fn split_cents(total: Money, n: u16) -> Result<Vec<Money>, InstallmentError> {
    if !(1..=MAX_CARNE_INSTALLMENTS).contains(&n) {
        return Err(InstallmentError::InvalidCount);
    }
    let cents = total.cents();
    let count = i64::from(n);
    if cents < count {
        return Err(InstallmentError::TooSmallToSplit(n.min(u16::from(u8::MAX)) as u8));
    }
    let (each, extra) = (cents / count, cents % count);
    (0..count).map(|i| Money::from_cents(each + i64::from(i < extra)).map_err(InstallmentError::from)).collect()
}

/// The acquirer's price for one installment count: `percent` of the charged total plus `fixed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeRate {
    /// e.g. 4.99 means 4.99 %.
    pub percent: Decimal,
    pub fixed: Decimal,
}

/// Fees for 1..=12 installments; as JSON, a list of twelve `{"percent","fixed"}` in installment order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<FeeRate>", into = "Vec<FeeRate>")]
pub struct FeeTable {
    rates: [FeeRate; MAX_INSTALLMENTS as usize],
}

impl FeeTable {
    /// `rates[0]` is for 1 installment (à vista), `rates[11]` for 12.
    pub fn new(rates: [FeeRate; MAX_INSTALLMENTS as usize]) -> Result<FeeTable, InstallmentError> {
        let valid = |r: &FeeRate| {
            r.percent >= Decimal::ZERO && r.percent < Decimal::ONE_HUNDRED && r.fixed >= Decimal::ZERO && r.fixed.normalize().scale() <= 2
        };
        if !rates.iter().all(valid) {
            return Err(InstallmentError::InvalidFee);
        }
        Ok(FeeTable { rates })
    }

    /// No fee at all: what a sandbox wallet charges.
    pub fn free() -> FeeTable {
        FeeTable { rates: [FeeRate { percent: Decimal::ZERO, fixed: Decimal::ZERO }; MAX_INSTALLMENTS as usize] }
    }

    pub fn rate(&self, n: u8) -> Result<FeeRate, InstallmentError> {
        if !(1..=MAX_INSTALLMENTS).contains(&n) {
            return Err(InstallmentError::InvalidCount);
        }
        Ok(self.rates[usize::from(n - 1)])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeMode {
    #[default]
    /// The payer pays `amount`; the fee comes out of the merchant's side.
    MerchantAbsorbs,
    /// The payer pays more so that, after the fee, the merchant receives `amount`.
    PayerPays,
}

impl TryFrom<Vec<FeeRate>> for FeeTable {
    type Error = InstallmentError;
    fn try_from(rates: Vec<FeeRate>) -> Result<FeeTable, InstallmentError> {
        let rates: [FeeRate; MAX_INSTALLMENTS as usize] = rates.try_into().map_err(|_| InstallmentError::InvalidFee)?;
        FeeTable::new(rates)
    }
}

impl From<FeeTable> for Vec<FeeRate> {
    fn from(t: FeeTable) -> Vec<FeeRate> {
        t.rates.to_vec()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPlan {
    pub installments: Vec<Money>,
    pub total_charged: Money,
    pub merchant_receives: Decimal,
    pub fee: Decimal,
}

/// The fee the acquirer takes from a charged total: percent part rounded to the cent, plus fixed.
fn fee_on(total: Decimal, rate: FeeRate) -> Decimal {
    round_cents(total * rate.percent / Decimal::ONE_HUNDRED) + rate.fixed
}

pub fn card_plan(amount: Money, n: u8, table: &FeeTable, mode: FeeMode) -> Result<CardPlan, InstallmentError> {
    let rate = table.rate(n)?;
    let total_charged = match mode {
        FeeMode::MerchantAbsorbs => amount,
        FeeMode::PayerPays => {
            // total × (1 − pct) − fixed ≥ amount, smallest such cent: round up, never down,
            // or the merchant would be short by a cent.
            let gross = (amount.as_decimal() + rate.fixed) / (Decimal::ONE - rate.percent / Decimal::ONE_HUNDRED);
            Money::from_decimal(gross.round_dp_with_strategy(2, RoundingStrategy::AwayFromZero))?
        }
    };
    let fee = fee_on(total_charged.as_decimal(), rate);
    let merchant_receives = total_charged.as_decimal() - fee;
    if merchant_receives <= Decimal::ZERO {
        return Err(InstallmentError::FeeExceedsAmount);
    }
    Ok(CardPlan { installments: split(total_charged, n)?, total_charged, merchant_receives, fee })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn money(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn table(percent: Decimal, fixed: Decimal) -> FeeTable {
        FeeTable::new([FeeRate { percent, fixed }; 12]).unwrap()
    }

    #[test]
    fn first_installments_carry_the_extra_cents() {
        assert_eq!(split(money("100.00"), 3).unwrap(), vec![money("33.34"), money("33.33"), money("33.33")]);
        assert_eq!(split(money("0.05"), 3).unwrap(), vec![money("0.02"), money("0.02"), money("0.01")]);
        assert_eq!(split(money("150.00"), 1).unwrap(), vec![money("150.00")]);
    }

    #[test]
    fn split_refuses_bad_counts_and_amounts_below_a_cent_each() {
        assert_eq!(split(money("100"), 0), Err(InstallmentError::InvalidCount));
        assert_eq!(split(money("100"), 13), Err(InstallmentError::InvalidCount));
        assert_eq!(split(money("0.11"), 12), Err(InstallmentError::TooSmallToSplit(12)));
    }

    #[test]
    fn merchant_absorbs_the_fee() {
        let plan = card_plan(money("100.00"), 3, &table(dec!(4.99), dec!(0.50)), FeeMode::MerchantAbsorbs).unwrap();
        assert_eq!(plan.total_charged, money("100.00"));
        assert_eq!(plan.fee, dec!(5.49));
        assert_eq!(plan.merchant_receives, dec!(94.51));
    }

    #[test]
    fn payer_pays_the_fee_grossed_up_to_the_cent() {
        // (100 + 0.50) / (1 − 0.0499) = 105.7783… → 105.78; fee 5.28 + 0.50 = 5.78
        let plan = card_plan(money("100.00"), 3, &table(dec!(4.99), dec!(0.50)), FeeMode::PayerPays).unwrap();
        assert_eq!(plan.total_charged, money("105.78"));
        assert_eq!(plan.fee, dec!(5.78));
        assert_eq!(plan.merchant_receives, dec!(100.00));
        assert_eq!(plan.installments, vec![money("35.26"), money("35.26"), money("35.26")]);
    }

    #[test]
    fn fee_table_refuses_impossible_rates() {
        let bad = |percent, fixed| FeeTable::new([FeeRate { percent, fixed }; 12]);
        assert_eq!(bad(dec!(100), dec!(0)), Err(InstallmentError::InvalidFee));
        assert_eq!(bad(dec!(-1), dec!(0)), Err(InstallmentError::InvalidFee));
        assert_eq!(bad(dec!(1), dec!(0.001)), Err(InstallmentError::InvalidFee));
    }

    #[test]
    fn a_fee_larger_than_the_amount_is_refused() {
        let t = table(dec!(0), dec!(2.00));
        assert_eq!(card_plan(money("1.00"), 1, &t, FeeMode::MerchantAbsorbs), Err(InstallmentError::FeeExceedsAmount));
        assert!(card_plan(money("1.00"), 1, &t, FeeMode::PayerPays).is_ok());
    }

    proptest! {
        #[test]
        fn installments_always_add_up_to_the_total(cents in 1i64..=9_999_999_999, n in 1u8..=12) {
            let total = Money::from_cents(cents).unwrap();
            match split(total, n) {
                Ok(parts) => {
                    prop_assert_eq!(parts.len(), usize::from(n));
                    prop_assert_eq!(parts.iter().map(|m| m.cents()).sum::<i64>(), cents);
                    let (max, min) = (parts.iter().max().unwrap().cents(), parts.iter().min().unwrap().cents());
                    prop_assert!(max - min <= 1);
                    prop_assert!(parts.windows(2).all(|w| w[0] >= w[1]));
                }
                Err(e) => prop_assert!(cents < i64::from(n) && e == InstallmentError::TooSmallToSplit(n)),
            }
        }

        #[test]
        fn payer_pays_leaves_the_merchant_exactly_whole(
            cents in 100i64..=100_000_000,
            n in 1u8..=12,
            pct in 0i64..=2000,
            fixed in 0i64..=500,
        ) {
            let t = table(Decimal::new(pct, 2), Decimal::new(fixed, 2));
            let amount = Money::from_cents(cents).unwrap();
            let plan = card_plan(amount, n, &t, FeeMode::PayerPays).unwrap();
            prop_assert!(plan.merchant_receives >= amount.as_decimal());
            // The smallest such total: one cent less would leave the merchant short.
            let less = plan.total_charged.as_decimal() - dec!(0.01);
            let rate = t.rate(n).unwrap();
            prop_assert!(less - fee_on(less, rate) < amount.as_decimal() + dec!(0.01));
            prop_assert_eq!(plan.total_charged.as_decimal(), plan.merchant_receives + plan.fee);
            prop_assert_eq!(plan.installments.iter().map(|m| m.cents()).sum::<i64>(), plan.total_charged.cents());
        }
    }
}
