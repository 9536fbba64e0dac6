//! What a charge hands the payer, per method and chosen wallet: the boleto it issued (and its registration at
//! the bank), the Pix code (static with today's amount, or dynamic once the PSP holds the cobv), the card
//! installment options. Stored on the charge; everything that depends on the day (amounts, the static code)
//! is computed when shown, from `amount_due`.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{ChargeId, WalletId};
use crate::money::Money;
use crate::pay::boleto::{Barcode, BoletoError, CampoLivre};
use crate::pay::installments::{card_plan, FeeMode, InstallmentError};
use crate::pay::pix::{BrCode, PixError};
use crate::providers::BoletoAgreement;
use crate::wallet::{CardWallet, PixWallet, BOLETO_BANK};

/// An artifact's standing at its institution. A boleto cannot be paid until the bank has registered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Registration {
    Registering { since: DateTime<Utc> },
    Registered { at: DateTime<Utc> },
    /// The institution refused it for good (bad data, agreement not enabled); the merchant must act.
    Failed { at: DateTime<Utc>, reason: String },
}

impl Registration {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Registering { .. } => "registering",
            Self::Registered { .. } => "registered",
            Self::Failed { .. } => "failed",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSetup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pix: Option<PixSetup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boleto: Option<BoletoSetup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardSetup>,
    /// Boletos this charge issued before its current one (value or due date changed, another wallet chosen):
    /// each must be written off at its bank so it cannot be paid too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded_boletos: Vec<SupersededBoleto>,
}

impl PaymentSetup {
    /// The wallet issued for a method: the one a payment by that method goes through.
    pub fn wallet_for(&self, method: crate::charge::PaymentMethod) -> Option<WalletId> {
        use crate::charge::PaymentMethod;
        match method {
            PaymentMethod::Pix => self.pix.as_ref().map(|p| p.wallet_id.clone()),
            PaymentMethod::Boleto => self.boleto.as_ref().map(|b| b.wallet_id.clone()),
            PaymentMethod::CreditCard => self.card.as_ref().map(|c| c.wallet_id.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixSetup {
    pub wallet_id: WalletId,
    /// txid of the static code (≤ 25 characters, BR Code field 62-05).
    pub txid: String,
    /// The PSP-side charge behind a dynamic code, for wallets that issue them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cobv: Option<CobvSetup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CobvSetup {
    /// 26–35 characters, as the Pix API requires; a new revision of the charge gets a new txid.
    pub txid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub registration: Registration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoletoSetup {
    pub wallet_id: WalletId,
    pub bank: String,
    pub nosso_numero: String,
    pub barcode: String,
    pub digitable_line: String,
    /// The value and due date printed in the barcode (what the charge said when the boleto was issued).
    pub amount: Money,
    pub due_date: NaiveDate,
    pub registration: Registration,
    /// The Pix code of a boleto híbrido, when the bank returns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pix_copy_paste: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupersededBoleto {
    pub wallet_id: WalletId,
    pub nosso_numero: String,
    pub written_off: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSetup {
    pub wallet_id: WalletId,
    pub fee_mode: FeeMode,
    pub max_installments: u8,
}

/// The static code's txid: the charge's ULID without its first character (always 0 until the year 10889),
/// upper case. 25 characters, the BR Code's limit, and it maps back to the charge without a lookup.
pub fn static_txid(charge: &ChargeId) -> String {
    charge.as_str()[ChargeId::PREFIX.len() + 2..].to_ascii_uppercase()
}

/// The cobv txid: the full ULID plus the revision (26–35 characters, as the Pix API requires).
pub fn cobv_txid(charge: &ChargeId, revision: u16) -> String {
    let ulid = charge.as_str()[ChargeId::PREFIX.len() + 1..].to_ascii_uppercase();
    if revision == 0 {
        ulid
    } else {
        format!("{ulid}R{revision}")
    }
}

/// The charge a Pix txid points to: a static code's 25 characters or a cobv's 26 (plus its revision).
/// Txids that are not ours (another system's, or "***") match nothing.
pub fn charge_of_txid(txid: &str) -> Option<ChargeId> {
    let ulid = match txid.len() {
        25 => format!("0{txid}"),
        26..=35 => txid.get(..26)?.to_string(),
        _ => return None,
    };
    let id = ChargeId::parse(&format!("{}_{}", ChargeId::PREFIX, ulid.to_ascii_lowercase())).ok()?;
    (static_txid(&id) == txid || txid.starts_with(&cobv_txid(&id, 0))).then_some(id)
}

/// Issues a boleto under a Banco do Brasil agreement: nosso número = convênio + a 10-digit sequence unique
/// within the agreement, laid out in BB's campo livre.
pub fn issue_boleto(
    wallet_id: &WalletId,
    agreement: &BoletoAgreement,
    sequence: u64,
    amount: Money,
    due_date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<BoletoSetup, BoletoError> {
    let campo_livre = CampoLivre::banco_do_brasil(agreement.convenio, sequence, agreement.carteira)?;
    let barcode = Barcode::new(BOLETO_BANK, due_date, amount, &campo_livre)?;
    Ok(BoletoSetup {
        wallet_id: wallet_id.clone(),
        bank: BOLETO_BANK.into(),
        nosso_numero: format!("{:07}{sequence:010}", agreement.convenio),
        digitable_line: barcode.to_linha().as_str().to_string(),
        barcode: barcode.as_str().to_string(),
        amount,
        due_date,
        registration: Registration::Registering { since: now },
        pix_copy_paste: None,
    })
}

/// The BR Code to show today: dynamic when the PSP holds the cobv (its amount follows fines and interest at
/// the PSP), otherwise static with `amount_today`.
pub fn pix_code(setup: &PixSetup, wallet: &PixWallet, merchant_name: &str, amount_today: Money) -> Result<BrCode, PixError> {
    if let Some(CobvSetup { location: Some(location), registration: Registration::Registered { .. }, .. }) = &setup.cobv {
        return BrCode::new_dynamic(location, merchant_name, &wallet.city);
    }
    BrCode::new_static(&wallet.key, merchant_name, &wallet.city)?.with_amount(amount_today)?.with_txid(&setup.txid)
}

/// One line of the installment menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallmentOption {
    pub installments: u8,
    /// The first installment (the others equal it or are a cent less).
    pub installment_amount: Money,
    pub total: Money,
    /// What the payer pays above the amount due (fee pass-through); zero when the merchant absorbs the fee.
    pub added_fee: Decimal,
}

/// The installment choices for paying `amount_due` by card now: 1 up to the charge's maximum, dropping counts
/// that would make an installment below one cent.
pub fn installment_options(amount_due: Money, wallet: &CardWallet, setup: &CardSetup) -> Result<Vec<InstallmentOption>, InstallmentError> {
    let mut out = Vec::new();
    for n in 1..=setup.max_installments.min(wallet.max_installments) {
        match card_plan(amount_due, n, &wallet.fees, setup.fee_mode) {
            Ok(plan) => out.push(InstallmentOption {
                installments: n,
                installment_amount: plan.installments[0],
                total: plan.total_charged,
                added_fee: plan.total_charged.as_decimal() - amount_due.as_decimal(),
            }),
            Err(InstallmentError::TooSmallToSplit(_)) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pay::boleto::parse_boleto;
    use crate::pay::installments::{FeeRate, FeeTable};
    use crate::pay::pix::parse_brcode;
    use rust_decimal_macros::dec;

    fn charge_id() -> ChargeId {
        ChargeId::parse("chg_01jd5x7k2m3n4p5q6r7s8t9v0w").unwrap()
    }

    #[test]
    fn txids_fit_the_br_code_and_the_pix_api() {
        assert_eq!(static_txid(&charge_id()), "1JD5X7K2M3N4P5Q6R7S8T9V0W");
        assert_eq!(static_txid(&charge_id()).len(), 25);
        assert_eq!(cobv_txid(&charge_id(), 0), "01JD5X7K2M3N4P5Q6R7S8T9V0W");
        assert_eq!(cobv_txid(&charge_id(), 3), "01JD5X7K2M3N4P5Q6R7S8T9V0WR3");
        assert!((26..=35).contains(&cobv_txid(&charge_id(), 999).len()));
    }

    #[test]
    fn a_txid_leads_back_to_its_charge() {
        assert_eq!(charge_of_txid(&static_txid(&charge_id())), Some(charge_id()));
        assert_eq!(charge_of_txid(&cobv_txid(&charge_id(), 0)), Some(charge_id()));
        assert_eq!(charge_of_txid(&cobv_txid(&charge_id(), 7)), Some(charge_id()));
        assert_eq!(charge_of_txid("***"), None);
        assert_eq!(charge_of_txid("fc9a4366ff3d4964b5dbc6c91a8722d3"), None);
    }

    #[test]
    fn an_issued_boleto_decodes_to_its_value_due_date_and_agreement() {
        let agreement = BoletoAgreement { convenio: 3128557, carteira: 17, variacao: 35 };
        let due = NaiveDate::from_ymd_opt(2026, 12, 10).unwrap();
        let wallet = WalletId::parse("wal_1").unwrap();
        let b = issue_boleto(&wallet, &agreement, 42, Money::parse("150.00").unwrap(), due, Utc::now()).unwrap();
        assert_eq!(b.nosso_numero, "31285570000000042");
        assert_eq!(b.registration.as_str(), "registering");
        let decoded = parse_boleto(&b.digitable_line, due).unwrap();
        assert_eq!(decoded.bank, "001");
        assert_eq!(decoded.due_date, Some(due));
        assert_eq!(decoded.amount, Some(Money::parse("150.00").unwrap()));
        assert_eq!(decoded.campo_livre.as_str(), "0000003128557000000004217");
        assert_eq!(decoded.barcode.as_str(), b.barcode);
    }

    #[test]
    fn the_static_code_carries_todays_amount_until_the_psp_holds_the_cobv() {
        let wallet = PixWallet { key: "financeiro@example.com".into(), city: "São Paulo".into(), dynamic: true, days_payable_after_due: 30 };
        let mut setup = PixSetup {
            wallet_id: WalletId::parse("wal_1").unwrap(),
            txid: static_txid(&charge_id()),
            cobv: Some(CobvSetup { txid: cobv_txid(&charge_id(), 0), location: None, registration: Registration::Registering { since: Utc::now() } }),
        };
        let code = pix_code(&setup, &wallet, "Loja Exemplo", Money::parse("153.10").unwrap()).unwrap();
        let parsed = parse_brcode(&code.payload()).unwrap();
        assert_eq!(parsed.amount(), Some(Money::parse("153.10").unwrap()));
        assert_eq!(parsed.txid(), Some("1JD5X7K2M3N4P5Q6R7S8T9V0W"));

        setup.cobv = Some(CobvSetup {
            txid: cobv_txid(&charge_id(), 0),
            location: Some("pix.example.com/qr/v2/cobv/abc".into()),
            registration: Registration::Registered { at: Utc::now() },
        });
        let dynamic = parse_brcode(&pix_code(&setup, &wallet, "Loja Exemplo", Money::parse("153.10").unwrap()).unwrap().payload()).unwrap();
        assert_eq!(dynamic.amount(), None);
    }

    #[test]
    fn installment_menu_passes_the_fee_on_or_not() {
        let fees = FeeTable::new(std::array::from_fn(|i| FeeRate { percent: dec!(2.99) + Decimal::from(i as u32), fixed: dec!(0) })).unwrap();
        let wallet = CardWallet { fees, fee_mode: FeeMode::MerchantAbsorbs, max_installments: 12 };
        let absorbs = CardSetup { wallet_id: WalletId::parse("wal_1").unwrap(), fee_mode: FeeMode::MerchantAbsorbs, max_installments: 6 };
        let menu = installment_options(Money::parse("100.00").unwrap(), &wallet, &absorbs).unwrap();
        assert_eq!(menu.len(), 6);
        assert_eq!(menu[2].installment_amount, Money::parse("33.34").unwrap());
        assert!(menu.iter().all(|o| o.total == Money::parse("100.00").unwrap() && o.added_fee.is_zero()));

        let passes = CardSetup { fee_mode: FeeMode::PayerPays, ..absorbs };
        let menu = installment_options(Money::parse("100.00").unwrap(), &wallet, &passes).unwrap();
        // 6x at 7.99 %: 100 / (1 − 0.0799) = 108.683… → 108.69, split 3 × 18.12 + 3 × 18.11.
        assert_eq!(menu[5].total, Money::parse("108.69").unwrap());
        assert_eq!(menu[5].installment_amount, Money::parse("18.12").unwrap());
        assert!(menu.windows(2).all(|w| w[0].total <= w[1].total));
    }

    #[test]
    fn the_menu_stops_where_an_installment_would_be_below_a_cent() {
        let wallet = CardWallet { fees: FeeTable::free(), fee_mode: FeeMode::MerchantAbsorbs, max_installments: 12 };
        let setup = CardSetup { wallet_id: WalletId::parse("wal_1").unwrap(), fee_mode: FeeMode::MerchantAbsorbs, max_installments: 12 };
        assert_eq!(installment_options(Money::parse("0.05").unwrap(), &wallet, &setup).unwrap().len(), 5);
    }
}
