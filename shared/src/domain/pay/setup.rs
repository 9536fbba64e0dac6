//! What a charge hands the payer, per method and chosen wallet: the boleto it issued (and its registration at
//! the bank), the Pix code (static with today's amount, or dynamic once the PSP holds the cobv), the card
//! installment options. Stored on the charge; everything that depends on the day (amounts, the static code)
//! is computed when shown, from `amount_due`.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::ids::{ChargeId, WalletId};
use crate::domain::money::Money;
use crate::domain::pay::boleto::{Barcode, BoletoError, CampoLivre};
use crate::domain::pay::installments::{card_plan, FeeMode, InstallmentError};
use crate::domain::pay::pix::{BrCode, PixError};
use crate::domain::wallet::{CardWallet, PixWallet, BOLETO_BANK};
use crate::ports::providers::BoletoAgreement;

/// An artifact's standing at its institution. A boleto cannot be paid until the bank has registered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Registration {
    Registering {
        since: DateTime<Utc>,
    },
    Registered {
        at: DateTime<Utc>,
    },
    /// The institution refused it for good (bad data, agreement not enabled); the merchant must act.
    Failed {
        at: DateTime<Utc>,
        reason: String,
    },
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
    pub fn wallet_for(&self, method: crate::domain::pay::method::PaymentMethod) -> Option<WalletId> {
        use crate::domain::pay::method::PaymentMethod;
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

/// A charge id no Pix txid can name (not one this system makes): its Pix cannot be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a cobrança {0} não cabe num txid Pix / charge {0} does not fit a Pix txid")]
pub struct NoTxidFor(pub ChargeId);

/// The two shapes of charge id the system makes: a ULID (`ChargeId::generate`) or `k` + 26 hex digits
/// (`ChargeId::derived`, a charge made under an Idempotency-Key: every keyed charge, installment and
/// subscription charge).
enum ChargeIdBody {
    Ulid(ulid::Ulid),
    /// The 104 bits of the derived id's 26 hex digits.
    Derived(u128),
}

const DERIVED_HEX: usize = 26;
/// Derived ids carry 104 bits: in Crockford base 32 (the ULID alphabet) the first 5 of a ULID's 26 characters
/// are then always 0, and 21 are left.
const DERIVED_B32_SKIP: usize = 5;

fn body_of(charge: &ChargeId) -> Option<ChargeIdBody> {
    let body = &charge.as_str()[ChargeId::PREFIX.len() + 1..];
    if let Some(hex) = body.strip_prefix('k') {
        if hex.len() != DERIVED_HEX || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        return u128::from_str_radix(hex, 16).ok().map(ChargeIdBody::Derived);
    }
    // Canonical ULIDs only: decoding must give back the same text, so one charge has one txid.
    let ulid = ulid::Ulid::from_string(body).ok()?;
    (ulid.to_string().to_ascii_lowercase() == body).then_some(ChargeIdBody::Ulid(ulid))
}

/// The static code's txid, at most 25 characters `[0-9A-Z]` (BR Code field 62-05), reversible without a lookup:
/// - a ULID id: the ULID without its first character (always 0 until the year 10889), 25 characters;
/// - a derived id: `K` + its 104 bits in Crockford base 32, 22 characters (26 hex digits would not fit).
///
/// The lengths tell the two apart.
pub fn static_txid(charge: &ChargeId) -> Result<String, NoTxidFor> {
    match body_of(charge) {
        Some(ChargeIdBody::Ulid(u)) => {
            let text = u.to_string();
            text.strip_prefix('0').map(str::to_string).ok_or_else(|| NoTxidFor(charge.clone()))
        }
        Some(ChargeIdBody::Derived(bits)) => Ok(format!("K{}", &ulid::Ulid(bits).to_string()[DERIVED_B32_SKIP..])),
        None => Err(NoTxidFor(charge.clone())),
    }
}

/// The cobv txid, 26–35 characters `[a-zA-Z0-9]` (Pix API): the full ULID (26), or `K` + the derived id's 26 hex
/// digits upper case (27), plus `R{revision}` after the first revision (at most 33). A ULID never starts with K.
pub fn cobv_txid(charge: &ChargeId, revision: u16) -> Result<String, NoTxidFor> {
    let base = match body_of(charge) {
        Some(ChargeIdBody::Ulid(u)) => u.to_string(),
        Some(ChargeIdBody::Derived(bits)) => format!("K{bits:026X}"),
        None => return Err(NoTxidFor(charge.clone())),
    };
    Ok(if revision == 0 { base } else { format!("{base}R{revision}") })
}

/// The charge a Pix txid points to: a static code's (22 or 25 characters) or a cobv's (any revision).
/// Each candidate is re-derived and compared, so exactly one charge id matches a txid, and txids that are not
/// ours (another system's, or "***") match nothing.
pub fn charge_of_txid(txid: &str) -> Option<ChargeId> {
    let candidate = |body: String| ChargeId::parse(&format!("{}_{body}", ChargeId::PREFIX)).ok();
    let upper = txid.to_ascii_uppercase();
    let id = if let Some(rest) = upper.strip_prefix('K') {
        match txid.len() {
            // K + 21 base-32 characters: a derived id's static txid.
            22 => {
                let bits = ulid::Ulid::from_string(&format!("{}{rest}", "0".repeat(DERIVED_B32_SKIP))).ok()?.0;
                candidate(format!("k{bits:026x}"))?
            }
            _ => candidate(format!("k{}", rest.get(..DERIVED_HEX)?.to_ascii_lowercase()))?,
        }
    } else {
        match txid.len() {
            25 => candidate(format!("0{txid}").to_ascii_lowercase())?,
            _ => candidate(txid.get(..26)?.to_ascii_lowercase())?,
        }
    };
    let is_static = static_txid(&id).is_ok_and(|t| t == txid);
    let is_cobv = || {
        let base = cobv_txid(&id, 0).ok();
        base.is_some_and(|base| {
            txid.strip_prefix(base.as_str()).is_some_and(|rev| {
                rev.is_empty() || rev.strip_prefix('R').and_then(|n| n.parse::<u16>().ok()).is_some_and(|n| n > 0 && format!("R{n}") == rev)
            })
        })
    };
    (is_static || is_cobv()).then_some(id)
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
    use crate::domain::pay::boleto::parse_boleto;
    use crate::domain::pay::installments::{FeeRate, FeeTable};
    use crate::domain::pay::pix::parse_brcode;
    use rust_decimal_macros::dec;

    fn charge_id() -> ChargeId {
        ChargeId::parse("chg_01jd5x7k2m3n4p5q6r7s8t9v0w").unwrap()
    }

    fn derived_charge_id() -> ChargeId {
        ChargeId::derived("mer_1/some-idempotency-key")
    }

    fn valid_static_txid(t: &str) -> bool {
        (1..=25).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric())
    }

    fn valid_cobv_txid(t: &str) -> bool {
        (26..=35).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric())
    }

    #[test]
    fn txids_fit_the_br_code_and_the_pix_api() {
        assert_eq!(static_txid(&charge_id()).unwrap(), "1JD5X7K2M3N4P5Q6R7S8T9V0W");
        assert_eq!(cobv_txid(&charge_id(), 0).unwrap(), "01JD5X7K2M3N4P5Q6R7S8T9V0W");
        assert_eq!(cobv_txid(&charge_id(), 3).unwrap(), "01JD5X7K2M3N4P5Q6R7S8T9V0WR3");
        for id in [charge_id(), derived_charge_id(), ChargeId::generate()] {
            assert!(valid_static_txid(&static_txid(&id).unwrap()), "{id}");
            for revision in [0, 1, 999, u16::MAX] {
                assert!(valid_cobv_txid(&cobv_txid(&id, revision).unwrap()), "{id} r{revision}");
            }
        }
    }

    #[test]
    fn a_keyed_charge_gets_txids_too() {
        // `chg_k` + 26 hex digits: the id of every charge made under an Idempotency-Key.
        let id = derived_charge_id();
        assert_eq!(id.as_str().len(), 4 + 27);
        let t = static_txid(&id).unwrap();
        assert_eq!(t.len(), 22);
        assert!(t.starts_with('K'));
        assert_eq!(cobv_txid(&id, 0).unwrap(), format!("K{}", id.as_str()[5..].to_ascii_uppercase()));
    }

    #[test]
    fn a_txid_leads_back_to_its_charge() {
        for id in [charge_id(), derived_charge_id(), ChargeId::generate(), ChargeId::derived("x")] {
            assert_eq!(charge_of_txid(&static_txid(&id).unwrap()), Some(id.clone()));
            for revision in [0, 1, 7, u16::MAX] {
                assert_eq!(charge_of_txid(&cobv_txid(&id, revision).unwrap()), Some(id.clone()));
            }
        }
        assert_eq!(charge_of_txid("***"), None);
        assert_eq!(charge_of_txid("fc9a4366ff3d4964b5dbc6c91a8722d3"), None);
        assert_eq!(charge_of_txid(""), None);
        let cobv = cobv_txid(&derived_charge_id(), 0).unwrap();
        assert_eq!(charge_of_txid(&cobv.to_ascii_lowercase()), None, "one txid per charge: not a case variant");
        assert_eq!(charge_of_txid(&format!("{cobv}R0")), None);
        assert_eq!(charge_of_txid(&format!("{cobv}R01")), None);
        assert_eq!(charge_of_txid(&format!("{cobv}X")), None);
    }

    #[test]
    fn no_two_charges_share_a_txid() {
        let ids: Vec<ChargeId> = (0..500).map(|i| if i % 2 == 0 { ChargeId::generate() } else { ChargeId::derived(&i.to_string()) }).collect();
        let mut txids = std::collections::HashSet::new();
        for id in &ids {
            assert!(txids.insert(static_txid(id).unwrap()));
            assert!(txids.insert(cobv_txid(id, 0).unwrap()));
            assert!(txids.insert(cobv_txid(id, 1).unwrap()));
        }
    }

    #[test]
    fn an_id_the_system_does_not_make_has_no_txid() {
        let odd = ChargeId::parse("chg_preview").unwrap();
        assert_eq!(static_txid(&odd), Err(NoTxidFor(odd.clone())));
        assert!(cobv_txid(&odd, 0).is_err());
        assert!(static_txid(&ChargeId::parse("chg_kabc").unwrap()).is_err());
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
            txid: static_txid(&charge_id()).unwrap(),
            cobv: Some(CobvSetup {
                txid: cobv_txid(&charge_id(), 0).unwrap(),
                location: None,
                registration: Registration::Registering { since: Utc::now() },
            }),
        };
        let code = pix_code(&setup, &wallet, "Loja Exemplo", Money::parse("153.10").unwrap()).unwrap();
        let parsed = parse_brcode(&code.payload()).unwrap();
        assert_eq!(parsed.amount(), Some(Money::parse("153.10").unwrap()));
        assert_eq!(parsed.txid(), Some("1JD5X7K2M3N4P5Q6R7S8T9V0W"));

        setup.cobv = Some(CobvSetup {
            txid: cobv_txid(&charge_id(), 0).unwrap(),
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
