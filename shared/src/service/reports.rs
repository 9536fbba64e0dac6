//! Reports over the ledger. Each reads only what its period holds, through targeted index queries (the ledger
//! by São Paulo day), never a table Scan.

pub mod cash;
pub mod portfolio;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::calendar;
use crate::domain::charge::PaymentMethod;
use crate::domain::ids::{ChargeId, WalletId};
use crate::domain::payment::{EntryKind, LedgerEntry, UnmatchedPayment};

/// Money that moved on one São Paulo day through one method and wallet.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReconciliationRow {
    pub day: Option<NaiveDate>,
    pub method: Option<PaymentMethod>,
    pub wallet_id: Option<WalletId>,
    pub payments: u32,
    pub received: Decimal,
    pub refunds: u32,
    pub refunded: Decimal,
    pub chargebacks: u32,
    pub charged_back: Decimal,
    /// received − refunded − charged_back.
    pub net: Decimal,
}

impl ReconciliationRow {
    fn add(&mut self, e: &LedgerEntry) {
        let amount = e.amount.as_decimal();
        match e.kind {
            EntryKind::Payment => {
                self.payments += 1;
                self.received += amount;
            }
            EntryKind::Refund => {
                self.refunds += 1;
                self.refunded += amount;
            }
            EntryKind::Chargeback => {
                self.chargebacks += 1;
                self.charged_back += amount;
            }
        }
        self.net += e.signed_amount();
    }
}

/// A payment for a charge that could no longer take it: owed back to the payer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlaggedPayment {
    pub charge_id: ChargeId,
    pub provider: String,
    pub provider_payment_id: String,
    pub amount: Decimal,
    pub refunded: Decimal,
    pub day: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconciliationReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// By day, method and wallet: the money that counts towards charges.
    pub rows: Vec<ReconciliationRow>,
    pub totals: ReconciliationRow,
    pub flagged_for_refund: Vec<FlaggedPayment>,
    pub flagged_total: Decimal,
    pub unmatched: Vec<UnmatchedPayment>,
    pub unmatched_total: Decimal,
}

/// Builds the report from the period's ledger entries and unmatched notices.
pub fn reconciliation(entries: &[LedgerEntry], unmatched: Vec<UnmatchedPayment>, from: NaiveDate, to: NaiveDate) -> ReconciliationReport {
    let mut rows: BTreeMap<(NaiveDate, &'static str, String), ReconciliationRow> = BTreeMap::new();
    let mut totals = ReconciliationRow::default();
    let mut flagged: Vec<FlaggedPayment> = Vec::new();
    for e in entries {
        let day = calendar::local_date(e.paid_at);
        if !e.counts() {
            match e.kind {
                EntryKind::Payment => flagged.push(FlaggedPayment {
                    charge_id: e.charge_id.clone(),
                    provider: e.provider.clone(),
                    provider_payment_id: e.provider_payment_id.clone(),
                    amount: e.amount.as_decimal(),
                    refunded: Decimal::ZERO,
                    day,
                }),
                _ => {
                    if let Some(f) = flagged.iter_mut().find(|f| f.provider == e.provider && Some(&f.provider_payment_id) == e.reverses.as_ref()) {
                        f.refunded += e.amount.as_decimal();
                    }
                }
            }
            continue;
        }
        let key = (day, e.method.as_str(), e.wallet_id.as_ref().map(|w| w.to_string()).unwrap_or_default());
        let row = rows.entry(key).or_insert_with(|| ReconciliationRow {
            day: Some(day),
            method: Some(e.method),
            wallet_id: e.wallet_id.clone(),
            ..Default::default()
        });
        row.add(e);
        totals.add(e);
    }
    let flagged_total = flagged.iter().map(|f| f.amount - f.refunded).sum();
    let unmatched_total = unmatched.iter().map(|u| u.amount.as_decimal()).sum();
    ReconciliationReport {
        from,
        to,
        rows: rows.into_values().collect(),
        totals,
        flagged_for_refund: flagged,
        flagged_total,
        unmatched,
        unmatched_total,
    }
}

impl ReconciliationReport {
    /// One line per row, then a TOTAL line; decimals with a dot (machine-readable, for spreadsheets set to it).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("day,method,wallet_id,payments,received,refunds,refunded,chargebacks,charged_back,net\n");
        let line = |r: &ReconciliationRow, day: &str, method: &str| {
            format!(
                "{day},{method},{},{},{:.2},{},{:.2},{},{:.2},{:.2}\n",
                r.wallet_id.as_ref().map(|w| w.to_string()).unwrap_or_default(),
                r.payments,
                r.received,
                r.refunds,
                r.refunded,
                r.chargebacks,
                r.charged_back,
                r.net
            )
        };
        for r in &self.rows {
            out += &line(r, &r.day.map(|d| d.to_string()).unwrap_or_default(), r.method.map(|m| m.as_str()).unwrap_or_default());
        }
        out += &line(&self.totals, "TOTAL", "");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{MerchantId, PaymentId};
    use crate::domain::money::Money;
    use crate::domain::payment::PaymentOutcome;
    use chrono::TimeZone;

    fn entry(kind: EntryKind, id: &str, reverses: Option<&str>, amount: &str, day: u32, outcome: PaymentOutcome) -> LedgerEntry {
        LedgerEntry {
            id: PaymentId::generate(),
            merchant_id: MerchantId::parse("mer_1").unwrap(),
            charge_id: ChargeId::parse("chg_1").unwrap(),
            provider: "pix".into(),
            provider_event_id: id.into(),
            provider_payment_id: id.into(),
            kind,
            reverses: reverses.map(str::to_string),
            amount: Money::parse(amount).unwrap(),
            method: PaymentMethod::Pix,
            paid_at: chrono::Utc.with_ymd_and_hms(2026, 11, day, 15, 0, 0).unwrap(),
            received_at: chrono::Utc.with_ymd_and_hms(2026, 11, day, 15, 0, 0).unwrap(),
            outcome,
            wallet_id: None,
            preceded_by: None,
        }
    }

    #[test]
    fn rows_and_totals_add_up_and_flagged_money_stays_apart() {
        let entries = vec![
            entry(EntryKind::Payment, "E1", None, "100.00", 2, PaymentOutcome::Settled),
            entry(EntryKind::Payment, "E2", None, "40.00", 2, PaymentOutcome::Partial),
            entry(EntryKind::Refund, "D1", Some("E1"), "30.00", 3, PaymentOutcome::Settled),
            entry(EntryKind::Payment, "E3", None, "50.00", 3, PaymentOutcome::FlaggedForRefund),
            entry(EntryKind::Refund, "D3", Some("E3"), "50.00", 4, PaymentOutcome::FlaggedForRefund),
        ];
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let r = reconciliation(&entries, vec![], day(1), day(30));
        assert_eq!(r.rows.len(), 2);
        assert_eq!((r.rows[0].payments, r.rows[0].received), (2, Decimal::new(14000, 2)));
        assert_eq!((r.rows[1].refunds, r.rows[1].net), (1, Decimal::new(-3000, 2)));
        assert_eq!(r.totals.net, crate::domain::payment::net_received(&entries));
        assert_eq!(r.flagged_for_refund.len(), 1);
        assert_eq!(r.flagged_total, Decimal::ZERO, "the flagged payment was refunded");
        let csv = r.to_csv();
        assert!(csv.starts_with("day,method,wallet_id,payments,received"));
        assert!(csv.contains("2026-11-02,pix,,2,140.00,0,0.00,0,0.00,140.00\n"), "{csv}");
        assert!(csv.ends_with("TOTAL,,,2,140.00,1,30.00,0,0.00,110.00\n"), "{csv}");
    }
}
