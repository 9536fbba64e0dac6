//! The body of the BCB Pix API v2 "cobrança com vencimento" (cobv), built from the same charge terms as the
//! BR Code and the boleto.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::{check_key, PixError};
use crate::domain::document::Document;
use crate::domain::pay::late_fees::{ChargeTerms, DiscountValue, Fine, Interest};

/// Who owes: the API takes either `cpf` or `cnpj`, plus `nome`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debtor {
    pub document: Document,
    pub name: String,
}

/// The body of `PUT /cobv/{txid}` (bacen/pix-api openapi 2.9.0, schema CobVValor et al.).
/// Modalities are integers, as the schema types them (its own example quotes them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CobvBody {
    pub calendario: CobvCalendario,
    pub devedor: CobvDevedor,
    pub valor: CobvValor,
    pub chave: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CobvCalendario {
    pub data_de_vencimento: NaiveDate,
    pub validade_apos_vencimento: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CobvDevedor {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpf: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnpj: Option<String>,
    pub nome: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CobvValor {
    pub original: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multa: Option<Modalidade>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub juros: Option<Modalidade>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abatimento: Option<Modalidade>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desconto: Option<CobvDesconto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Modalidade {
    pub modalidade: u8,
    pub valor_perc: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CobvDesconto {
    pub modalidade: u8,
    pub desconto_data_fixa: Vec<DescontoDataFixa>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescontoDataFixa {
    pub data: NaiveDate,
    pub valor_perc: String,
}

// BCB domain codes (openapi 2.9.0).
const MULTA_FIXED: u8 = 1;
const MULTA_PERCENT: u8 = 2;
const JUROS_VALUE_PER_CALENDAR_DAY: u8 = 1;
const JUROS_PERCENT_PER_CALENDAR_DAY: u8 = 2;
const JUROS_PERCENT_PER_MONTH_CALENDAR_DAYS: u8 = 3;
const ABATIMENTO_FIXED: u8 = 1;
const DESCONTO_FIXED_UNTIL_DATE: u8 = 1;
const DESCONTO_PERCENT_UNTIL_DATE: u8 = 2;

/// `\d{1,10}\.\d{2}`: refuses rather than rounds a rate like 0.033 % a day, because the
/// PSP would then charge something other than `amount_due` computes.
fn api_decimal(d: Decimal) -> Result<String, PixError> {
    let n = d.normalize();
    if n.scale() > 2 || n.is_sign_negative() || n >= Decimal::from(10_000_000_000i64) {
        return Err(PixError::NotRepresentable(d));
    }
    Ok(format!("{n:.2}"))
}

/// The cobv body for `terms`, with the same fine (consumer cap applied), interest and
/// discount that `late_fees::amount_due` uses, so the PSP and we agree on every day's total.
pub fn cobv_body(terms: &ChargeTerms, debtor: &Debtor, key: &str, days_valid_after_due: u32) -> Result<CobvBody, PixError> {
    terms.check()?;
    check_key(key)?;
    let name = debtor.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(PixError::InvalidDebtorName);
    }
    let original = terms.amount.as_decimal();
    let debt = original - terms.abatement.unwrap_or_default();
    let multa = match terms.fine.map(|f| f.capped(debt, terms.consumer_cap)) {
        None => None,
        Some(Fine::Fixed(v)) => Some(Modalidade { modalidade: MULTA_FIXED, valor_perc: api_decimal(v)? }),
        Some(Fine::Percent(p)) => Some(Modalidade { modalidade: MULTA_PERCENT, valor_perc: api_decimal(p)? }),
    };
    let juros = match terms.interest {
        None => None,
        Some(Interest::FixedPerDay(v)) => Some(Modalidade { modalidade: JUROS_VALUE_PER_CALENDAR_DAY, valor_perc: api_decimal(v)? }),
        Some(Interest::PercentPerDay(p)) => Some(Modalidade { modalidade: JUROS_PERCENT_PER_CALENDAR_DAY, valor_perc: api_decimal(p)? }),
        Some(Interest::PercentPerMonth(p)) => Some(Modalidade { modalidade: JUROS_PERCENT_PER_MONTH_CALENDAR_DAYS, valor_perc: api_decimal(p)? }),
    };
    let abatimento = match terms.abatement {
        Some(a) if !a.is_zero() => Some(Modalidade { modalidade: ABATIMENTO_FIXED, valor_perc: api_decimal(a)? }),
        _ => None,
    };
    let desconto = match terms.discount {
        None => None,
        Some(d) => {
            let (modalidade, value) = match d.value {
                DiscountValue::Fixed(v) => (DESCONTO_FIXED_UNTIL_DATE, v),
                DiscountValue::Percent(p) => (DESCONTO_PERCENT_UNTIL_DATE, p),
            };
            Some(CobvDesconto { modalidade, desconto_data_fixa: vec![DescontoDataFixa { data: d.until, valor_perc: api_decimal(value)? }] })
        }
    };
    let (cpf, cnpj) = match &debtor.document {
        Document::Cpf(c) => (Some(c.as_str().to_owned()), None),
        Document::Cnpj(c) => (None, Some(c.as_str().to_owned())),
        Document::Erased(_) => (None, None),
    };
    Ok(CobvBody {
        calendario: CobvCalendario { data_de_vencimento: terms.effective_due_date, validade_apos_vencimento: days_valid_after_due },
        devedor: CobvDevedor { cpf, cnpj, nome: name.to_owned() },
        valor: CobvValor { original: terms.amount.to_string(), multa, juros, abatimento, desconto },
        chave: key.to_owned(),
    })
}
