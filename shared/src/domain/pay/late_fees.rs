//! What a charge costs on the day it is paid: original amount, minus a punctuality
//! discount and any abatement, plus a late fine (once) and late interest (per calendar day).
//!
//! `amount_due` is the only place that prices a day. Terms are checked once where they enter the
//! system (`LateFees::admit`: bounds and the legal ceilings); `amount_due` still clamps anything odd
//! (negative values, a discount larger than the debt) so the total never goes below zero, and its
//! arithmetic is checked, so a value stored before the bounds existed is an error for that one charge
//! (`Unpriceable`), never a panic.

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::domain::document::Document;
use crate::domain::money::Money;

/// CDC art. 52 §1 (Lei 8.078/1990, as amended by Lei 9.298/1996): in consumer relations the late fine is at
/// most 2 % of the debt.
const CONSUMER_FINE_CAP_PERCENT: Decimal = Decimal::from_parts(2, 0, 0, false, 0);
/// Juros de mora for consumers: 1 % a month pro rata die (CC art. 406 with CTN art. 161 §1; the ceiling
/// courts uphold for moratory interest between private parties).
const CONSUMER_INTEREST_CAP_PERCENT_PER_MONTH: Decimal = Decimal::ONE;
/// Businesses (CNPJ, no consumer relation): our ceilings, not a statute's. 10 % is the penalty-clause limit of
/// the Lei de Usura (Decreto 22.626/1933 art. 9), which Lei 14.905/2024 art. 3 no longer imposes between
/// companies; 2 % a month is twice the consumer rate. Higher terms are refused, so nothing absurd is stored.
const BUSINESS_FINE_CAP_PERCENT: Decimal = Decimal::TEN;
const BUSINESS_INTEREST_CAP_PERCENT_PER_MONTH: Decimal = Decimal::TWO;
/// A fixed fine, abatement or discount can never be more than the largest charge (`Money`'s maximum).
const MAX_REAIS: Decimal = Decimal::from_parts(1_410_065_407, 2, 0, false, 2); // 99_999_999.99
/// Discount dates before this are refused: no real term needs one, and it keeps date arithmetic in range.
const EARLIEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => panic!("valid date"),
};
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
        let brl = |d: Decimal| crate::domain::money::brl(d);
        let terms = self.terms(amount, due_date);
        let debt = debt_after_abatement(amount.as_decimal(), self.abatement);
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

    /// Admits the terms a merchant asks for a charge of `amount` due on `due_date` to `payer`, or says which
    /// field breaks which limit. A CPF payer is always a consumer (CDC art. 52 §1: fine ≤ 2 %; juros de mora
    /// ≤ 1 % a month pro rata die); a CNPJ payer is one too unless `consumer_cap` is false, and then the business
    /// ceilings apply (fine ≤ 10 %, interest ≤ 2 % a month). Terms above a ceiling are refused, never capped.
    pub fn admit(&self, amount: Money, due_date: NaiveDate, payer: &Document) -> Result<(), TermsError> {
        if !self.consumer_cap && !payer.is_company() {
            return Err(TermsError::ConsumerCapRequired);
        }
        let terms = self.terms(amount, due_date);
        terms.check()?;
        terms.check_ceilings()
    }

    /// The terms of a charge of `amount` due on `due_date` (rolled here to a business day).
    pub fn terms(&self, amount: Money, due_date: NaiveDate) -> ChargeTerms {
        ChargeTerms {
            amount,
            effective_due_date: crate::domain::calendar::effective_due_date(due_date),
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
    #[error("a data do desconto não pode ser anterior a 2000-01-01 / the discount date cannot be before 2000-01-01")]
    DiscountDateTooEarly,
    #[error("valor acima do máximo de R$ 99.999.999,99 / amount exceeds the maximum of 99999999.99")]
    AboveMaximum { field: &'static str },
    #[error("pagador com CPF é consumidor: consumer_cap não pode ser false (CDC art. 52 §1) / a CPF payer is a consumer: consumer_cap cannot be false (CDC art. 52 §1)")]
    ConsumerCapRequired,
    #[error("multa acima do limite de {limit}% da dívida {who} / fine above the limit of {limit}% of the debt {who_en}")]
    FineAboveCeiling { limit: Decimal, who: &'static str, who_en: &'static str },
    #[error("juros acima do limite de {limit}% ao mês, pro rata die {who} / interest above the limit of {limit}% a month, pro rata die {who_en}")]
    InterestAboveCeiling { limit: Decimal, who: &'static str, who_en: &'static str },
}

impl TermsError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            TermsError::ConsumerCapRequired => "late_fees.consumer_cap",
            TermsError::FineAboveCeiling { .. } => "late_fees.fine",
            TermsError::InterestAboveCeiling { .. } => "late_fees.interest",
            TermsError::DiscountDateTooEarly => "late_fees.discount.until",
            TermsError::AboveMaximum { field } => field,
            _ => "late_fees",
        }
    }
}

/// A stored charge whose terms overflow the arithmetic (only possible for values accepted before the bounds
/// of `LateFees::admit`): that charge cannot be priced, and says so instead of panicking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("o valor devido desta cobrança não pode ser calculado: multa, juros ou desconto fora dos limites / this charge's amount due cannot be computed: fine, interest or discount out of bounds")]
pub struct Unpriceable;

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
            // Saturating: a cap that would overflow is larger than any fine, so `min` keeps the fine.
            Fine::Fixed(v) => Fine::Fixed(v.min(round_cents(debt.saturating_mul(CONSUMER_FINE_CAP_PERCENT) / HUNDRED))),
        }
    }

    fn amount(self, debt: Decimal) -> Result<Decimal, Unpriceable> {
        match self {
            Fine::Fixed(v) => Ok(round_cents(v.max(Decimal::ZERO))),
            Fine::Percent(p) => percent_of(debt, p.max(Decimal::ZERO)),
        }
    }
}

impl Interest {
    fn amount(self, debt: Decimal, days_late: u32) -> Result<Decimal, Unpriceable> {
        let days = Decimal::from(days_late);
        let raw = match self {
            Interest::PercentPerMonth(r) => debt
                .checked_mul(r.max(Decimal::ZERO))
                .and_then(|x| x.checked_mul(days))
                .and_then(|x| x.checked_div(HUNDRED))
                .and_then(|x| x.checked_div(DAYS_PER_MONTH)),
            Interest::PercentPerDay(r) => {
                debt.checked_mul(r.max(Decimal::ZERO)).and_then(|x| x.checked_mul(days)).and_then(|x| x.checked_div(HUNDRED))
            }
            Interest::FixedPerDay(v) => v.max(Decimal::ZERO).checked_mul(days),
        };
        raw.map(round_cents).ok_or(Unpriceable)
    }

    /// The rate as percent a month (pro rata die: a day is a thirtieth of a month) on `debt`; None when a
    /// fixed daily amount has no debt to relate to.
    fn percent_per_month(self, debt: Decimal) -> Option<Decimal> {
        match self {
            Interest::PercentPerMonth(r) => Some(r),
            Interest::PercentPerDay(r) => r.checked_mul(DAYS_PER_MONTH),
            Interest::FixedPerDay(v) => v.checked_mul(DAYS_PER_MONTH)?.checked_mul(HUNDRED)?.checked_div(debt),
        }
    }
}

impl DiscountValue {
    fn amount(self, original: Decimal) -> Result<Decimal, Unpriceable> {
        match self {
            DiscountValue::Fixed(v) => Ok(round_cents(v.max(Decimal::ZERO))),
            DiscountValue::Percent(p) => percent_of(original, p.max(Decimal::ZERO)),
        }
    }
}

fn percent_of(base: Decimal, percent: Decimal) -> Result<Decimal, Unpriceable> {
    base.checked_mul(percent).and_then(|x| x.checked_div(HUNDRED)).map(round_cents).ok_or(Unpriceable)
}

/// What is still owed once the abatement (clamped to 0..=original) is taken off.
fn debt_after_abatement(original: Decimal, abatement: Option<Decimal>) -> Decimal {
    original - round_cents(abatement.unwrap_or_default().max(Decimal::ZERO)).min(original)
}

impl ChargeTerms {
    /// Validates terms where they enter the system, with the same limits the BCB cobv API
    /// enforces (discount and abatement below the amount, discount date not after the due date).
    pub fn check(&self) -> Result<(), TermsError> {
        let amount = self.amount.as_decimal();
        let reais = |v: Decimal, field: &'static str| -> Result<(), TermsError> {
            if v.normalize().scale() > 2 {
                return Err(TermsError::FractionOfCent);
            }
            if v > MAX_REAIS {
                return Err(TermsError::AboveMaximum { field });
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
                Interest::PercentPerMonth(v) | Interest::PercentPerDay(v) | Interest::FixedPerDay(v) => v,
            }),
            self.discount.map(|d| match d.value {
                DiscountValue::Fixed(v) | DiscountValue::Percent(v) => v,
            }),
            self.abatement,
        ];
        if values.iter().flatten().any(|v| v.is_sign_negative() && !v.is_zero()) {
            return Err(TermsError::Negative);
        }
        match self.fine {
            Some(Fine::Fixed(v)) => reais(v, "late_fees.fine")?,
            Some(Fine::Percent(p)) => percent(p)?,
            None => {}
        }
        match self.interest {
            Some(Interest::FixedPerDay(v)) => reais(v, "late_fees.interest")?,
            Some(Interest::PercentPerMonth(p) | Interest::PercentPerDay(p)) => percent(p)?,
            None => {}
        }
        if let Some(d) = self.discount {
            if d.until > self.effective_due_date {
                return Err(TermsError::DiscountAfterDueDate);
            }
            if d.until < EARLIEST_DATE {
                return Err(TermsError::DiscountDateTooEarly);
            }
            match d.value {
                DiscountValue::Fixed(v) => {
                    reais(v, "late_fees.discount")?;
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
            reais(a, "late_fees.abatement")?;
            if a >= amount {
                return Err(TermsError::ReductionNotBelowAmount);
            }
        }
        Ok(())
    }

    /// The legal ceilings (see `LateFees::admit`), for terms that already passed `check`: consumer ones when
    /// `consumer_cap`, business ones otherwise. Fixed amounts are judged against the debt after abatement.
    pub fn check_ceilings(&self) -> Result<(), TermsError> {
        let (fine_cap, interest_cap, who, who_en) = if self.consumer_cap {
            (
                CONSUMER_FINE_CAP_PERCENT,
                CONSUMER_INTEREST_CAP_PERCENT_PER_MONTH,
                "para consumidor (CDC art. 52 §1; CC art. 406)",
                "for a consumer (CDC art. 52 §1; CC art. 406)",
            )
        } else {
            (BUSINESS_FINE_CAP_PERCENT, BUSINESS_INTEREST_CAP_PERCENT_PER_MONTH, "para empresa", "for a business")
        };
        let debt = debt_after_abatement(self.amount.as_decimal(), self.abatement);
        let fine_ok = match self.fine {
            None => true,
            Some(Fine::Percent(p)) => p <= fine_cap,
            // Judged like the cap applied at pricing: the limit to the cent.
            Some(Fine::Fixed(v)) => percent_of(debt, fine_cap).is_ok_and(|cap| v <= cap),
        };
        if !fine_ok {
            return Err(TermsError::FineAboveCeiling { limit: fine_cap, who, who_en });
        }
        let interest_ok = match self.interest {
            None => true,
            Some(i) => i.percent_per_month(debt).is_some_and(|monthly| monthly <= interest_cap),
        };
        if !interest_ok {
            return Err(TermsError::InterestAboveCeiling { limit: interest_cap, who, who_en });
        }
        Ok(())
    }
}

/// What the payer owes when paying on `on`: exact to the cent, or `Unpriceable` when stored terms overflow.
pub fn amount_due(terms: &ChargeTerms, on: NaiveDate) -> Result<AmountDue, Unpriceable> {
    let original = terms.amount.as_decimal();
    // What is still owed: fine and interest are computed on it, discounts cannot exceed it.
    let debt = debt_after_abatement(original, terms.abatement);
    let abatement = original - debt;
    let days_late = u32::try_from((on - terms.effective_due_date).num_days().max(0)).unwrap_or(u32::MAX);
    let late = days_late > 0;

    let discount = match terms.discount {
        Some(d) if !late && on <= d.until => d.value.amount(original)?.min(debt),
        _ => Decimal::ZERO,
    };
    let fine = match terms.fine {
        Some(f) if late => f.capped(debt, terms.consumer_cap).amount(debt)?,
        _ => Decimal::ZERO,
    };
    let interest = match terms.interest {
        Some(i) if late => i.amount(debt, days_late)?,
        _ => Decimal::ZERO,
    };
    let total = (debt - discount).checked_add(fine).and_then(|x| x.checked_add(interest)).ok_or(Unpriceable)?.max(Decimal::ZERO);
    Ok(AmountDue { original, discount, abatement, fine, interest, total, days_late })
}

#[cfg(test)]
mod tests;
