//! Portfolio and cash reports: receivables, aging, delinquency, received, recovery by régua step. Each handler
//! reads through an index (open charges, charges by due date, the ledger by day) — never a Scan — and hands
//! the domain values to the pure functions of `reports::{portfolio, cash}`; then JSON or CSV.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::{Api, ApiError, ApiRequest, ApiResponse};
use crate::domain::calendar;
use crate::domain::charge::Charge;
use crate::domain::merchant::Merchant;
use crate::ports::store::ChargeQuery;
use crate::service::reports::{cash, portfolio};

/// The longest period a report covers, as the reconciliation report.
const MAX_DAYS: i64 = 366;
/// Charges are read from the indexes this many at a time.
const PAGE: usize = 500;

fn date_param(req: &ApiRequest, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    req.query(name)
        .map(|v| NaiveDate::parse_from_str(&v, "%Y-%m-%d").map_err(|_| ApiError::invalid(name, "data AAAA-MM-DD / date YYYY-MM-DD")))
        .transpose()
}

fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), ApiError> {
    if from > to || (to - from).num_days() > MAX_DAYS {
        return Err(ApiError::invalid("from", "período de 1 a 366 dias / a period of 1 to 366 days"));
    }
    Ok(())
}

/// `from`/`to` of the reports over past money (received, recovery): by default the last 30 days, as reconciliation.
fn past_period(req: &ApiRequest, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let to = date_param(req, "to")?.unwrap_or(today);
    let from = date_param(req, "from")?.unwrap_or(to - Duration::days(29));
    check_range(from, to)?;
    Ok((from, to))
}

/// JSON unless `?format=csv` or, without `format`, an `Accept: text/csv`.
fn respond<T: Serialize>(req: &ApiRequest, report: &T, csv: impl FnOnce(&T) -> String) -> Result<ApiResponse, ApiError> {
    let wants_csv = match req.query("format").as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(_) => return Err(ApiError::invalid("format", "json ou csv / json or csv")),
        None => req.header("accept").is_some_and(|a| a.contains("text/csv")),
    };
    Ok(if wants_csv { ApiResponse::csv(csv(report)) } else { ApiResponse::json(200, report) })
}

impl Api<'_> {
    /// A merchant's open charges due on or before `until` (all of them with None), from the sparse index of
    /// open charges, oldest due first: the index is ordered by due date, so reading stops past `until`.
    async fn open_charges_until(&self, merchant: &Merchant, until: Option<NaiveDate>) -> Result<Vec<Charge>, ApiError> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.store.open_charges(&merchant.id, PAGE, cursor).await?;
            let past = until.is_some_and(|u| page.items.last().is_some_and(|c| c.due_date.date() > u));
            out.extend(page.items.into_iter().filter(|c| until.is_none_or(|u| c.due_date.date() <= u)));
            match page.next {
                Some(next) if !past => cursor = Some(next),
                _ => return Ok(out),
            }
        }
    }

    /// A merchant's charges due on `from..=to`, every status, through the index of charges by due date.
    async fn charges_due(&self, merchant: &Merchant, from: NaiveDate, to: NaiveDate) -> Result<Vec<Charge>, ApiError> {
        let query = ChargeQuery { due_from: Some(from), due_to: Some(to), ..Default::default() };
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.store.list_charges(&merchant.id, &query, PAGE, cursor).await?;
            out.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// `GET /v1/reports/receivables?from=&to=&format=`: open balances by due date (default: the next 30 days from
    /// today), with totals, and everything overdue today.
    pub(super) async fn receivables_report(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let today = calendar::local_date(now);
        let from = date_param(req, "from")?.unwrap_or(today);
        let to = date_param(req, "to")?.unwrap_or(from + Duration::days(29));
        check_range(from, to)?;
        // Overdue charges are due before today; the period's up to `to`.
        let open = self.open_charges_until(merchant, Some(to.max(today))).await?;
        let report = portfolio::receivables(&open, from, to, today);
        respond(req, &report, portfolio::ReceivablesReport::to_csv)
    }

    /// `GET /v1/reports/aging?as_of=&format=`: open charges by days past due on `as_of` (default today).
    pub(super) async fn aging_report(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let today = calendar::local_date(now);
        let as_of = date_param(req, "as_of")?.unwrap_or(today);
        // The report ages the charges open now: on a past day, charges paid since would be missing.
        if as_of < today {
            return Err(ApiError::invalid(
                "as_of",
                "hoje ou depois: o relatório envelhece as cobranças em aberto agora / today or later: the report ages the charges open now",
            ));
        }
        if (as_of - today).num_days() > 3650 {
            return Err(ApiError::invalid("as_of", "no máximo 10 anos à frente / at most 10 years ahead"));
        }
        let open = self.open_charges_until(merchant, None).await?;
        respond(req, &portfolio::aging(&open, as_of), portfolio::AgingReport::to_csv)
    }

    /// `GET /v1/reports/delinquency?from=&to=&period=month|quarter|week&format=`: per period of due dates (default:
    /// this month and the 11 before it), what was due, paid on time, paid late, and is still unpaid today.
    pub(super) async fn delinquency_report(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let today = calendar::local_date(now);
        let period = match req.query("period") {
            None => portfolio::Period::Month,
            Some(p) => portfolio::Period::parse(&p).ok_or_else(|| ApiError::invalid("period", "month, quarter ou week / month, quarter or week"))?,
        };
        let to = date_param(req, "to")?.unwrap_or(today);
        let default_from = || {
            let first = to.with_day(1).expect("day 1 exists");
            first.checked_sub_months(chrono::Months::new(11)).unwrap_or(first)
        };
        let from = date_param(req, "from")?.unwrap_or_else(default_from);
        check_range(from, to)?;
        let charges = self.charges_due(merchant, from, to).await?;
        respond(req, &portfolio::delinquency(&charges, from, to, period, today), portfolio::DelinquencyReport::to_csv)
    }

    /// `GET /v1/reports/received?from=&to=&format=`: money received by method and wallet, gross and net of
    /// refunds and chargebacks (default: the last 30 days).
    pub(super) async fn received_report(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let (from, to) = past_period(req, calendar::local_date(now))?;
        let entries = self.store.ledger_between(&merchant.id, from, to).await?;
        respond(req, &cash::received(&entries, from, to), cash::ReceivedReport::to_csv)
    }

    /// `GET /v1/reports/recovery?from=&to=&format=`: payments by the régua step whose message preceded each.
    pub(super) async fn recovery_report(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let (from, to) = past_period(req, calendar::local_date(now))?;
        let entries = self.store.ledger_between(&merchant.id, from, to).await?;
        respond(req, &cash::recovery(&entries, from, to), cash::RecoveryReport::to_csv)
    }
}
