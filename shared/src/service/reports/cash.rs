//! Reports over the ledger's money: what was received by method and wallet, and which régua step preceded each
//! payment. Pure functions over the period's ledger entries (read by São Paulo day through an index); the step
//! comes from the entry itself (`LedgerEntry::preceded_by`, recorded with the payment), so no reminder is read.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::portfolio::two_places;
use crate::domain::charge::PaymentMethod;
use crate::domain::ids::WalletId;
use crate::domain::notification::Channel;
use crate::domain::payment::{EntryKind, LedgerEntry, PrecedingReminder};

/// Money in and out through one method or wallet.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Flow {
    pub payments: u32,
    /// What payments brought in.
    #[serde(serialize_with = "two_places")]
    pub gross: Decimal,
    pub refunds: u32,
    #[serde(serialize_with = "two_places")]
    pub refunded: Decimal,
    pub chargebacks: u32,
    #[serde(serialize_with = "two_places")]
    pub charged_back: Decimal,
    /// gross − refunded − charged_back.
    #[serde(serialize_with = "two_places")]
    pub net: Decimal,
}

impl Flow {
    fn add(&mut self, e: &LedgerEntry) {
        let amount = e.amount.as_decimal();
        match e.kind {
            EntryKind::Payment => {
                self.payments += 1;
                self.gross += amount;
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

    fn csv_fields(&self) -> String {
        format!(
            "{},{:.2},{},{:.2},{},{:.2},{:.2}",
            self.payments, self.gross, self.refunds, self.refunded, self.chargebacks, self.charged_back, self.net
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodFlow {
    pub method: PaymentMethod,
    #[serde(flatten)]
    pub flow: Flow,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WalletFlow {
    /// None for money whose wallet was not known (entries from before wallets).
    pub wallet_id: Option<WalletId>,
    pub method: PaymentMethod,
    #[serde(flatten)]
    pub flow: Flow,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceivedReport {
    pub object: &'static str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Pix, boleto and card, always all three.
    pub by_method: Vec<MethodFlow>,
    /// Each wallet money moved through in the period.
    pub by_wallet: Vec<WalletFlow>,
    pub totals: Flow,
    pub note: &'static str,
}

const METHODS: [PaymentMethod; 3] = [PaymentMethod::Pix, PaymentMethod::Boleto, PaymentMethod::CreditCard];

/// Money received on São Paulo days `from..=to`, each movement on the day it moved (a refund on its own day,
/// not its payment's). Payments flagged for refund never counted towards a charge and are left out.
pub fn received(entries: &[LedgerEntry], from: NaiveDate, to: NaiveDate) -> ReceivedReport {
    let mut by_method: Vec<MethodFlow> = METHODS.iter().map(|&method| MethodFlow { method, flow: Flow::default() }).collect();
    let mut by_wallet: BTreeMap<(String, &'static str), WalletFlow> = BTreeMap::new();
    let mut totals = Flow::default();
    for e in entries.iter().filter(|e| e.counts() && (from..=to).contains(&crate::domain::calendar::local_date(e.paid_at))) {
        if let Some(m) = by_method.iter_mut().find(|m| m.method == e.method) {
            m.flow.add(e);
        }
        let key = (e.wallet_id.as_ref().map(|w| w.to_string()).unwrap_or_default(), e.method.as_str());
        by_wallet.entry(key).or_insert_with(|| WalletFlow { wallet_id: e.wallet_id.clone(), method: e.method, flow: Flow::default() }).flow.add(e);
        totals.add(e);
    }
    ReceivedReport {
        object: "received_report",
        from,
        to,
        by_method,
        by_wallet: by_wallet.into_values().collect(),
        totals,
        note: "por dia do movimento (estornos e chargebacks no seu próprio dia); pagamentos marcados para devolução fora / \
               by the day money moved (refunds and chargebacks on their own day); payments flagged for refund left out",
    }
}

impl ReceivedReport {
    /// `method` lines, then `wallet` lines, then TOTAL.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("group,method,wallet_id,payments,gross,refunds,refunded,chargebacks,charged_back,net\n");
        for m in &self.by_method {
            out += &format!("method,{},,{}\n", m.method.as_str(), m.flow.csv_fields());
        }
        for w in &self.by_wallet {
            out += &format!(
                "wallet,{},{},{}\n",
                w.method.as_str(),
                w.wallet_id.as_ref().map(|w| w.to_string()).unwrap_or_default(),
                w.flow.csv_fields()
            );
        }
        out += &format!("TOTAL,,,{}\n", self.totals.csv_fields());
        out
    }
}

/// The step of a payment's preceding reminder as reports name it: a régua step ("before_due", "after_due"…),
/// "no_reminder" (nothing had been sent), or "unknown" (recorded before cobranca kept it).
pub fn step_of(e: &LedgerEntry) -> (&str, Option<Channel>) {
    match &e.preceded_by {
        Some(PrecedingReminder::Reminder { step, channel, .. }) => (step.as_str(), Some(*channel)),
        Some(PrecedingReminder::NoReminder) => ("no_reminder", None),
        None => ("unknown", None),
    }
}

/// The order steps are listed in: the régua's own, then the payments no message preceded.
const STEP_ORDER: [&str; 8] = ["on_created", "on_changed", "before_due", "on_due", "after_due", "on_expired", "no_reminder", "unknown"];

fn step_rank(step: &str) -> usize {
    STEP_ORDER.iter().position(|s| *s == step).unwrap_or(STEP_ORDER.len())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryRow {
    pub step: String,
    /// The channel of that message; null for "no_reminder" and "unknown".
    pub channel: Option<Channel>,
    pub payments: u32,
    #[serde(serialize_with = "two_places")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RecoveryTotal {
    pub payments: u32,
    #[serde(serialize_with = "two_places")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryReport {
    pub object: &'static str,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Per step and channel of the last message before each payment.
    pub rows: Vec<RecoveryRow>,
    /// The same per step, channels together.
    pub by_step: Vec<RecoveryRow>,
    pub totals: RecoveryTotal,
    pub note: &'static str,
}

/// Payments made on São Paulo days `from..=to`, by the régua step whose message last preceded each.
pub fn recovery(entries: &[LedgerEntry], from: NaiveDate, to: NaiveDate) -> RecoveryReport {
    let mut rows: BTreeMap<(usize, String, Option<Channel>), RecoveryRow> = BTreeMap::new();
    let mut steps: BTreeMap<(usize, String), RecoveryRow> = BTreeMap::new();
    let mut totals = RecoveryTotal::default();
    let payments = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Payment && e.counts() && (from..=to).contains(&crate::domain::calendar::local_date(e.paid_at)));
    for e in payments {
        let (step, channel) = step_of(e);
        let amount = e.amount.as_decimal();
        let row = rows.entry((step_rank(step), step.to_string(), channel)).or_insert_with(|| RecoveryRow {
            step: step.into(),
            channel,
            payments: 0,
            amount: Decimal::ZERO,
        });
        row.payments += 1;
        row.amount += amount;
        let row = steps.entry((step_rank(step), step.to_string())).or_insert_with(|| RecoveryRow {
            step: step.into(),
            channel: None,
            payments: 0,
            amount: Decimal::ZERO,
        });
        row.payments += 1;
        row.amount += amount;
        totals.payments += 1;
        totals.amount += amount;
    }
    RecoveryReport {
        object: "recovery_report",
        from,
        to,
        rows: rows.into_values().collect(),
        by_step: steps.into_values().collect(),
        totals,
        note: "pagamentos pelo dia em que o pagador pagou, valor bruto (estornos não descontados), pela última mensagem da régua enviada antes / \
               payments by the day the payer paid, gross (refunds not taken off), by the last régua message sent before each",
    }
}

impl RecoveryReport {
    /// One line per step and channel, then TOTAL.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("step,channel,payments,amount\n");
        for r in &self.rows {
            out += &format!("{},{},{},{:.2}\n", r.step, r.channel.map(|c| c.as_str()).unwrap_or_default(), r.payments, r.amount);
        }
        out += &format!("TOTAL,,{},{:.2}\n", self.totals.payments, self.totals.amount);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{ChargeId, MerchantId, PaymentId};
    use crate::domain::money::Money;
    use crate::domain::payment::PaymentOutcome;
    use crate::domain::ruler::{Action, Reminder, ReminderState, Step};
    use chrono::{DateTime, TimeZone, Utc};

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    fn entry(kind: EntryKind, amount: &str, method: PaymentMethod, day: u32, preceded_by: Option<PrecedingReminder>) -> LedgerEntry {
        LedgerEntry {
            id: PaymentId::generate(),
            merchant_id: MerchantId::parse("mer_1").unwrap(),
            charge_id: ChargeId::parse("chg_1").unwrap(),
            provider: "pix".into(),
            provider_event_id: PaymentId::generate().to_string(),
            provider_payment_id: PaymentId::generate().to_string(),
            kind,
            reverses: None,
            amount: Money::parse(amount).unwrap(),
            method,
            paid_at: at(day, 15),
            received_at: at(day, 15),
            outcome: PaymentOutcome::Settled,
            wallet_id: None,
            preceded_by,
        }
    }

    fn reminder(step: Step, channel: Channel, state: ReminderState) -> Reminder {
        Reminder {
            merchant_id: MerchantId::parse("mer_1").unwrap(),
            charge_id: ChargeId::parse("chg_1").unwrap(),
            step,
            occurrence: 0,
            generation: 0,
            action: Action::Notify(channel),
            due_at: at(1, 12),
            state,
        }
    }

    fn sent(day: u32) -> ReminderState {
        ReminderState::Sent { at: at(day, 12), provider_message_id: "m".into() }
    }

    #[test]
    fn the_preceding_reminder_is_the_last_message_sent_before_the_payment() {
        let reminders = vec![
            reminder(Step::OnCreated, Channel::Email, sent(1)),
            reminder(Step::BeforeDue { days: 5 }, Channel::Whatsapp, sent(5)),
            reminder(Step::OnDue, Channel::Email, ReminderState::Planned),
            reminder(Step::AfterDue, Channel::Sms, sent(12)),
            reminder(Step::OnPaid, Channel::Email, sent(6)),
        ];
        let p = PrecedingReminder::of(&reminders, at(6, 15));
        assert!(matches!(&p, PrecedingReminder::Reminder { step, channel: Channel::Whatsapp, .. } if step == "before_due"), "{p:?}");
        assert_eq!(PrecedingReminder::of(&reminders[2..3], at(6, 15)), PrecedingReminder::NoReminder);
        assert_eq!(PrecedingReminder::of(&reminders, at(1, 11)), PrecedingReminder::NoReminder, "sent after the payment");
    }

    #[test]
    fn received_nets_refunds_by_method_and_recovery_groups_payments_by_step() {
        let step = |s: &str, c| Some(PrecedingReminder::Reminder { reminder_id: s.into(), step: s.into(), channel: c, sent_at: at(1, 12) });
        let entries = vec![
            entry(EntryKind::Payment, "100.00", PaymentMethod::Pix, 2, step("on_due", Channel::Email)),
            entry(EntryKind::Payment, "40.00", PaymentMethod::CreditCard, 3, Some(PrecedingReminder::NoReminder)),
            entry(EntryKind::Refund, "15.00", PaymentMethod::CreditCard, 4, None),
            entry(EntryKind::Payment, "60.00", PaymentMethod::Pix, 4, step("on_due", Channel::Whatsapp)),
            entry(EntryKind::Payment, "5.00", PaymentMethod::Pix, 30, None),
        ];
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let r = received(&entries, day(1), day(29));
        assert_eq!((r.by_method[0].flow.gross, r.by_method[2].flow.net), (Decimal::new(16000, 2), Decimal::new(2500, 2)));
        assert_eq!(r.totals.net, Decimal::new(18500, 2));
        let csv = r.to_csv();
        assert!(csv.contains("method,boleto,,0,0.00,0,0.00,0,0.00,0.00\n"), "{csv}");
        assert!(csv.ends_with("TOTAL,,,3,200.00,1,15.00,0,0.00,185.00\n"), "{csv}");
        let rec = recovery(&entries, day(1), day(30));
        let steps: Vec<(&str, u32)> = rec.by_step.iter().map(|r| (r.step.as_str(), r.payments)).collect();
        assert_eq!(steps, vec![("on_due", 2), ("no_reminder", 1), ("unknown", 1)]);
        assert_eq!(rec.rows.len(), 4);
        assert_eq!(rec.totals.amount, Decimal::new(20500, 2));
    }
}
