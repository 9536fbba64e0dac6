//! Installment plans (carnês): a total split into monthly charges, each a charge of its own — its own payment
//! link, its own régua — made through the same path as `POST /v1/charges`. The plan itself is a merchant document
//! (`plan#{id}`) naming its charges; their status is read from the charges, never copied.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::requests::{self, InstallmentPlanInput, RenegotiationInput};
use super::views::{self, PlanInstallmentView};
use super::{Api, ApiError, ApiRequest, ApiResponse};
use crate::domain::calendar;
use crate::domain::charge::payment_url;
use crate::domain::charge::{ChargeOrigin, ChargeStatus, Closing, DueDate};
use crate::domain::idempotency;
use crate::domain::ids::{ChargeId, PlanId};
use crate::domain::installment_plan::{document_key, Plan, PlanInstallment, DOCUMENT_PREFIX};
use crate::domain::merchant::Merchant;
use crate::domain::recurrence::{self, MAX_CARNE_INSTALLMENTS};

/// Where the payer sees the whole plan: the page of any of its installments' links, at `/plan` (the plan needs
/// no token of its own: whoever holds one installment's link is its payer).
pub(crate) fn plan_page_url(installment_payment_url: &str) -> String {
    format!("{installment_payment_url}/plan")
}

/// The key an installment is made under (after its merchant's id), and so its charge's id.
fn installment_key(plan: &PlanId, number: u16) -> String {
    format!("{plan}/{number}")
}

fn installment_charge_id(merchant: &Merchant, plan: &PlanId, number: u16) -> ChargeId {
    ChargeId::derived(&format!("{}/{}", merchant.id, installment_key(plan, number)))
}

fn plan_not_found() -> ApiError {
    ApiError::new(404, "not_found", "carnê não encontrado / installment plan not found")
}

impl Api<'_> {
    /// `POST /v1/installment-plans` {customer_id, amount (the total), installments, first_due_date, description,
    /// payment_methods, …}: the total split to the cent (the first installments carry the leftover cents), due
    /// monthly from `first_due_date` (the 31st falls on the last day of shorter months). Each installment is
    /// created as `POST /v1/charges` would, under a key derived from the plan, so a retried or crashed request
    /// (same Idempotency-Key) finds the charges already made and makes none twice.
    pub(super) async fn create_plan(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body: InstallmentPlanInput = requests::parse(&req.body)?;
        let key = req.header("idempotency-key").filter(|k| idempotency::valid_key(k)).map(|k| format!("{}/plan/{k}", merchant.id));
        let plan = self.make_plan(merchant, &body, key, vec![], now).await?;
        Ok(ApiResponse::json(201, &self.plan_view(merchant, &plan, now).await?))
    }

    /// Makes a plan from a checked body: the plan, or the refusal of its first installment (before any charge
    /// exists), each installment made by the charge service as a charge of the series. `key` seeds the plan's id (None: a new one); `renegotiates` names the charges it replaces.
    async fn make_plan(
        &self,
        merchant: &Merchant,
        body: &InstallmentPlanInput,
        key: Option<String>,
        renegotiates: Vec<ChargeId>,
        now: DateTime<Utc>,
    ) -> Result<Plan, ApiError> {
        let Some(customer_id) = body.customer_id.as_deref() else {
            return Err(ApiError::invalid("customer_id", "obrigatório: o id de um cliente / required: a customer id"));
        };
        let id = match &key {
            Some(k) => PlanId::derived(k),
            None => PlanId::generate(),
        };
        // A retry finds the plan as it was first recorded — its split and prices, even if a renegotiated debt has
        // grown since — and finishes making its installments.
        let stored: Option<Plan> = match &key {
            Some(_) => self
                .store
                .get_merchant_document(&merchant.id, &document_key(&id))
                .await?
                .map(serde_json::from_value)
                .transpose()
                .map_err(ApiError::internal)?,
            None => None,
        };
        let recorded = stored.is_some();
        let plan = match stored {
            Some(plan) => plan,
            None => {
                let total = body.amount.ok_or_else(|| super::missing("amount"))?;
                let count =
                    body.installments.as_ref().and_then(Value::as_u64).filter(|n| (2..=u64::from(MAX_CARNE_INSTALLMENTS)).contains(n)).ok_or_else(
                        || {
                            ApiError::invalid(
                                "installments",
                                format!("de 2 a {MAX_CARNE_INSTALLMENTS} parcelas / 2 to {MAX_CARNE_INSTALLMENTS} installments"),
                            )
                        },
                    )? as u16;
                let first_due = DueDate::parse_new(body.first_due_date.as_deref().ok_or_else(|| super::missing("first_due_date"))?, now)
                    .map_err(|e| ApiError::invalid("first_due_date", e))?;
                let description = body.description.as_deref().ok_or_else(|| super::missing("description"))?.trim().to_string();
                let split = recurrence::carne(total, count, first_due.date()).map_err(|_| {
                    ApiError::invalid("amount", "o total não cobre um centavo por parcela / the total does not cover a cent per installment")
                })?;
                // Every due date must be one a charge may have (boletos reach ten years): refused before anything is made.
                let last = split.last().expect("at least two installments");
                DueDate::parse_new(&last.due_date.to_string(), now)
                    .map_err(|e| ApiError::invalid("installments", format!("a última parcela / the last installment: {e}")))?;
                let installments = split
                    .iter()
                    .map(|part| PlanInstallment {
                        number: part.number,
                        charge_id: installment_charge_id(merchant, &id, part.number),
                        amount: part.amount,
                        due_date: part.due_date,
                    })
                    .collect();
                let customer_id = customer_id.into();
                Plan { id: id.clone(), customer_id, total, description, installments, renegotiates, created_at: now }
            }
        };
        let count = plan.installments.len() as u16;
        let mut recorded = recorded;
        let fields = body.terms();
        for part in &plan.installments {
            let origin = ChargeOrigin::InstallmentPlan { plan_id: plan.id.clone(), number: part.number, of: count };
            let description = format!("{} — parcela {}/{count}", plan.description, part.number);
            let key = format!("{}/{}", merchant.id, installment_key(&plan.id, part.number));
            // The first installment carries every field the others do: its refusal is the plan's, before any
            // charge or record exists (a later one can only fail for reasons of its own; a retry goes on).
            let made =
                self.charges().create_in_series(merchant, customer_id, &fields, part.amount, part.due_date, &description, origin, key, now).await?;
            if made.charge.id != part.charge_id {
                return Err(ApiError::internal(format!("installment {} made as {} instead of {}", part.number, made.charge.id, part.charge_id)));
            }
            // Recorded once its first installment is accepted: from then on a retry follows the record.
            if !recorded {
                self.store
                    .put_merchant_document(&merchant.id, &document_key(&plan.id), &serde_json::to_value(&plan).map_err(ApiError::internal)?)
                    .await?;
                recorded = true;
            }
        }
        Ok(plan)
    }

    async fn plan(&self, merchant: &Merchant, id: &str) -> Result<Plan, ApiError> {
        let id = PlanId::parse(id).map_err(|_| plan_not_found())?;
        let stored = self.store.get_merchant_document(&merchant.id, &document_key(&id)).await?.ok_or_else(plan_not_found)?;
        serde_json::from_value(stored).map_err(ApiError::internal)
    }

    /// The plan with each installment as it stands now (status, balance, link).
    async fn plan_view(&self, merchant: &Merchant, plan: &Plan, now: DateTime<Utc>) -> Result<views::InstallmentPlan, ApiError> {
        let today = calendar::local_date(now);
        let mut rows = Vec::new();
        let mut plan_url = None;
        for part in &plan.installments {
            let charge = self.store.get_charge(&merchant.id, &part.charge_id).await?;
            if let (None, Some(c)) = (&plan_url, &charge) {
                plan_url = Some(plan_page_url(&payment_url(self.public_base_url, &c.payment_token)));
            }
            let (status, url, balance) = match &charge {
                Some(c) => (c.status, Some(payment_url(self.public_base_url, &c.payment_token)), c.balance_due(today)?),
                None => (ChargeStatus::Cancelled, None, rust_decimal::Decimal::ZERO),
            };
            rows.push(PlanInstallmentView {
                number: part.number,
                charge_id: part.charge_id.clone(),
                amount: part.amount,
                due_date: part.due_date,
                status,
                balance_due: format!("{:.2}", balance),
                payment_url: url,
            });
        }
        Ok(views::InstallmentPlan::of(plan, rows, plan_url, merchant.mode.is_live()))
    }

    pub(super) async fn get_plan(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let plan = self.plan(merchant, id).await?;
        Ok(ApiResponse::json(200, &self.plan_view(merchant, &plan, now).await?))
    }

    /// The merchant's plans, newest first, a page at a time (`limit`, `cursor`), without their installments'
    /// current state (GET one for that).
    pub(super) async fn list_plans(&self, merchant: &Merchant, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let limit = super::management::page_limit(req)?;
        let bad_cursor = || ApiError::invalid("cursor", "cursor inválido / invalid cursor");
        // The cursor is the last plan shown: its creation instant and id, the order of the list.
        let after: Option<(DateTime<Utc>, String)> = match req.query("cursor") {
            None => None,
            Some(c) => {
                let raw = engine.decode(c).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(bad_cursor)?;
                let (at, id) = raw.split_once('|').ok_or_else(bad_cursor)?;
                Some((DateTime::parse_from_rfc3339(at).map_err(|_| bad_cursor())?.with_timezone(&Utc), id.to_string()))
            }
        };
        let mut plans: Vec<Plan> = self
            .store
            .merchant_documents(&merchant.id, DOCUMENT_PREFIX)
            .await?
            .into_iter()
            .map(|(_, v)| serde_json::from_value(v).map_err(ApiError::internal))
            .collect::<Result<_, _>>()?;
        plans.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let mut rest: Vec<&Plan> =
            plans.iter().filter(|p| after.as_ref().is_none_or(|(at, id)| (p.created_at, p.id.as_str()) < (*at, id.as_str()))).collect();
        let has_more = rest.len() > limit;
        rest.truncate(limit);
        let next = if has_more { rest.last().map(|p| engine.encode(format!("{}|{}", p.created_at.to_rfc3339(), p.id))) } else { None };
        let data = rest.iter().map(|p| views::InstallmentPlanSummary::of(p, merchant.mode.is_live())).collect();
        Ok(ApiResponse::json(200, &views::ListOf::page(data, next)))
    }

    /// Cancels every installment still open (their régua stops); paid ones stay paid.
    pub(super) async fn cancel_plan(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let plan = self.plan(merchant, id).await?;
        for part in &plan.installments {
            let open = self.store.get_charge(&merchant.id, &part.charge_id).await?.is_some_and(|c| c.status.is_open());
            if open {
                match self.charges().cancel(&merchant.id, part.charge_id.as_str(), now).await {
                    Ok(_) => {}
                    // Paid or cancelled in between: nothing left to cancel.
                    Err(e) if e.closed_meanwhile() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(ApiResponse::json(200, &self.plan_view(merchant, &plan, now).await?))
    }

    /// `POST /v1/renegotiations` {customer_id, charge_ids, installments, first_due_date, waive_late_fees,
    /// payment_methods, description?}: the customer's open charges become one installment plan. The plan's total
    /// is what they owe today — with fines and interest by the one pricing rule, or their face value less what
    /// was paid when `waive_late_fees` — and each original becomes `renegotiated` (neither paid nor open), points
    /// at the plan, and its régua stops. The plan's id follows from the charges renegotiated, so a retry after a
    /// crash finishes the same renegotiation rather than starting another.
    pub(super) async fn renegotiate(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body: RenegotiationInput = requests::parse(&req.body)?;
        let customer_id = body
            .customer_id
            .as_ref()
            .and_then(Value::as_str)
            .and_then(|c| crate::domain::ids::CustomerId::parse(c).ok())
            .ok_or_else(|| ApiError::invalid("customer_id", "obrigatório: o id de um cliente / required: a customer id"))?;
        let ids: Vec<ChargeId> = match &body.charge_ids {
            Some(Value::Array(a)) if !a.is_empty() && a.len() <= 100 => a
                .iter()
                .map(|v| v.as_str().and_then(|s| ChargeId::parse(s).ok()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ApiError::invalid("charge_ids", "ids de cobrança / charge ids"))?,
            _ => return Err(ApiError::invalid("charge_ids", "de 1 a 100 ids de cobrança / 1 to 100 charge ids")),
        };
        let mut ids = ids;
        ids.sort();
        ids.dedup();
        let waive = match &body.waive_late_fees {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ApiError::invalid("waive_late_fees", "true ou false / true or false")),
        };
        let today = calendar::local_date(now);
        let plan_key = format!("{}/renegotiation/{}", merchant.id, ids.iter().map(ChargeId::as_str).collect::<Vec<_>>().join(","));
        let plan_id = PlanId::derived(&plan_key);
        let refused = |why: String| ApiError { status: 422, code: "charge_not_renegotiable", message: why, field: Some("charge_ids".into()) };
        let mut originals = Vec::new();
        let mut total = rust_decimal::Decimal::ZERO;
        for id in &ids {
            let charge = self
                .store
                .get_charge(&merchant.id, id)
                .await?
                .ok_or_else(|| refused(format!("cobrança {id} não encontrada / charge {id} not found")))?;
            if charge.customer_id != customer_id {
                return Err(refused(format!("a cobrança {id} é de outro cliente / charge {id} belongs to another customer")));
            }
            let resumed = charge.status == ChargeStatus::Renegotiated && charge.renegotiated_into.as_ref() == Some(&plan_id);
            if !charge.status.is_open() && !resumed {
                return Err(refused(format!("a cobrança {id} está {} / charge {id} is {}", charge.status.as_str(), charge.status.as_str())));
            }
            // The debt of each charge, priced today (a resumed one as it stood: the plan already holds it).
            let owed = if waive {
                (charge.amount.as_decimal() - charge.received).max(rust_decimal::Decimal::ZERO)
            } else {
                charge.balance_due(today).map_err(|e| refused(format!("{id}: {e}")))?
            };
            total = total.checked_add(owed).ok_or_else(|| refused(format!("{id}: {}", crate::domain::pay::late_fees::Unpriceable)))?;
            originals.push(charge);
        }
        let total = crate::domain::money::Money::parse(&format!("{:.2}", total.round_dp(2))).map_err(|e| match e {
            crate::domain::money::MoneyError::TooLarge => refused(format!("o total renegociado / the renegotiated total: {e}")),
            _ => refused("nada a renegociar: as cobranças já estão pagas / nothing to renegotiate: the charges are paid".into()),
        })?;
        let mut plan_body = InstallmentPlanInput {
            customer_id: Some(customer_id.to_string()),
            amount: Some(total),
            installments: body.installments.clone(),
            first_due_date: body.first_due_date.clone(),
            description: Some(body.description.clone().unwrap_or_else(|| "Renegociação".into())),
            ..Default::default()
        };
        plan_body.set_terms(body.terms());
        // A retry after the plan was recorded finishes that plan, whatever today's prices are.
        let plan = self.make_plan(merchant, &plan_body, Some(plan_key), ids.clone(), now).await?;
        for charge in originals {
            if charge.status.is_open() {
                // Paid or changed in between: an error, and the retry of this request sees it and refuses or resumes.
                self.charges().close(charge, Closing::Renegotiated(plan.id.clone()), now).await?;
            } else {
                // Closed by an earlier try that died before finishing: finish it.
                self.charges().finish_closing(&charge, now).await?;
            }
        }
        Ok(ApiResponse::json(201, &self.plan_view(merchant, &plan, now).await?))
    }
}
