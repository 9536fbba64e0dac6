//! Bank return files: `POST /v1/reconciliation/cnab240` imports a CNAB 240 return file (the body, as the bank
//! delivered it) and applies every settled title to its charge, once — importing the same file again changes
//! nothing. Titles that match no charge of this merchant are kept as unmatched, never dropped.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::{json, Value};

use super::{Api, ApiError, ApiRequest, ApiResponse};
use crate::domain::calendar;
use crate::domain::charge::PaymentMethod;
use crate::domain::merchant::Merchant;
use crate::domain::pay::cnab240::{parse_return, TitleMovement};
use crate::domain::payment_notice::PaymentNotice;
use crate::service::settlement::Settled;

/// A return file of a busy day: 240-byte records, two per title; 5 MB is about 10 000 titles.
pub const MAX_CNAB_BYTES: usize = 5 * 1024 * 1024;

impl Api<'_> {
    pub(super) async fn import_cnab240(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let text =
            std::str::from_utf8(&req.body).map_err(|_| ApiError::new(400, "malformed_file", "arquivo não é texto ASCII / file is not ASCII text"))?;
        let titles = parse_return(text).map_err(|e| ApiError::new(422, "invalid_cnab240", e.to_string()))?;
        let mut results = Vec::new();
        let mut settled = 0;
        for title in titles.iter().filter(|t| t.is_settlement()) {
            settled += 1;
            results.push(self.apply_title(merchant, title, text, now).await?);
        }
        Ok(ApiResponse::json(200, &json!({"object": "cnab240_import", "titles": titles.len(), "settlements": settled, "results": results})))
    }

    async fn apply_title(&self, merchant: &Merchant, title: &TitleMovement, file: &str, now: DateTime<Utc>) -> Result<Value, ApiError> {
        let reject = |why: &str| json!({"nosso_numero": title.nosso_numero, "line": title.line, "result": "rejected", "reason": why});
        let (Some(amount), Some(paid_on)) = (title.paid(), title.paid_on) else {
            return Ok(reject("liquidação sem valor pago ou data / settlement without amount paid or date"));
        };
        // Only this merchant's charges: another merchant's nosso número in this file is theirs to import.
        let charge_id = match self.store.charge_of_provider_reference(&title.bank, &title.nosso_numero).await? {
            Some((owner, charge)) if owner == merchant.id => Some(charge),
            _ => None,
        };
        let notice = PaymentNotice {
            event_id: format!("cnab240:{}:{}:{}:{}", title.bank, title.nosso_numero, title.movement, paid_on),
            provider: "cnab240".into(),
            charge_id,
            raw_charge_ref: title.nosso_numero.clone(),
            amount,
            // The file gives the day only; noon in São Paulo keeps it on that day in every time zone we show.
            paid_at: calendar::local_instant(paid_on, NaiveTime::from_hms_opt(12, 0, 0).expect("valid time")),
            method: PaymentMethod::Boleto,
            provider_payment_id: format!("{}:{}", title.bank, title.nosso_numero),
            kind: crate::domain::payment::EntryKind::Payment,
            reverses: None,
            merchant_id: Some(merchant.id.clone()),
        };
        let record: String = file.lines().skip(title.line - 1).take(2).collect::<Vec<_>>().join("\n");
        let outcome = self.checkout().settlement().apply(&notice, &record, now).await.map_err(ApiError::internal)?;
        let mut result = outcome.to_json();
        result["nosso_numero"] = json!(title.nosso_numero);
        if matches!(outcome, Settled::Paid { .. } | Settled::Recorded { .. } | Settled::Unmatched) {
            result["amount_paid"] = json!(amount);
        }
        Ok(result)
    }
}

impl Api<'_> {
    /// `GET /v1/reports/reconciliation?from=YYYY-MM-DD&to=YYYY-MM-DD&format=json|csv`: payments, refunds and
    /// chargebacks per São Paulo day, method and wallet; payments flagged for refund; unmatched notices from the
    /// merchant's own imports. At most 366 days.
    pub(super) async fn reconciliation_report(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let today = calendar::local_date(now);
        let day = |name: &str, default: NaiveDate| match req.query(name) {
            None => Ok(default),
            Some(v) => NaiveDate::parse_from_str(&v, "%Y-%m-%d").map_err(|_| ApiError::invalid(name, "data AAAA-MM-DD / date YYYY-MM-DD")),
        };
        let to = day("to", today)?;
        let from = day("from", to - chrono::Duration::days(29))?;
        if from > to || (to - from).num_days() > 366 {
            return Err(ApiError::invalid("from", "período de 1 a 366 dias / a period of 1 to 366 days"));
        }
        let entries = self.store.ledger_between(&merchant.id, from, to).await?;
        let unmatched = self.store.unmatched_of(&merchant.id, from, to).await?;
        let report = crate::service::reports::reconciliation(&entries, unmatched, from, to);
        match req.query("format").as_deref() {
            None | Some("json") => Ok(ApiResponse::json(200, &report)),
            Some("csv") => Ok(ApiResponse::csv(report.to_csv())),
            Some(_) => Err(ApiError::invalid("format", "json ou csv / json or csv")),
        }
    }

    /// `GET /v1/charges/{id}/ledger`: every money movement of the charge, oldest first.
    pub(super) async fn charge_ledger(&self, merchant: &Merchant, id: &str) -> Result<ApiResponse, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cobrança não encontrada / charge not found");
        let id = crate::domain::ids::ChargeId::parse(id).map_err(|_| not_found())?;
        let charge = self.store.get_charge(&merchant.id, &id).await?.ok_or_else(not_found)?;
        let mut entries = self.store.ledger_of(&merchant.id, &charge.id).await?;
        entries.sort_by_key(|e| e.received_at);
        Ok(ApiResponse::json(200, &super::views::ChargeLedger::of(charge.id, entries)))
    }
}
