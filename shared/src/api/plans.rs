//! Installment plans (carnês): a total split into monthly charges, each a charge of its own — its own payment
//! link, its own régua — made through the same path as `POST /v1/charges`. The plan itself is a merchant document
//! (`plan#{id}`) naming its charges; their status is read from the charges, never copied.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{json_object, parse_amount, required_str, Api, ApiError, ApiRequest, ApiResponse, Create};
use crate::calendar;
use crate::charge::{ChargeOrigin, ChargeStatus, DueDate};
use crate::delivery::payment_url;
use crate::ids::{ChargeId, PlanId};
use crate::idempotency;
use crate::merchant::Merchant;
use crate::recurrence::{self, MAX_CARNE_INSTALLMENTS};

/// What the store keeps of a plan: the split, fixed at creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Plan {
    id: PlanId,
    customer_id: String,
    total: crate::money::Money,
    description: String,
    installments: Vec<PlanInstallment>,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PlanInstallment {
    number: u16,
    charge_id: ChargeId,
    amount: crate::money::Money,
    due_date: NaiveDate,
}

fn document_key(id: &PlanId) -> String {
    format!("plan#{id}")
}

fn plan_not_found() -> ApiError {
    ApiError::new(404, "not_found", "carnê não encontrado / installment plan not found")
}

/// The fields of a plan's request that pass on, unchanged, to each of its charges.
const CHARGE_FIELDS: &[&str] = &["customer_id", "payment_methods", "late_fees", "ruler", "wallet_ids", "fee_mode", "external_reference"];

impl Api<'_> {
    /// `POST /v1/installment-plans` {customer_id, amount (the total), installments, first_due_date, description,
    /// payment_methods, …}: the total split to the cent (the first installments carry the leftover cents), due
    /// monthly from `first_due_date` (the 31st falls on the last day of shorter months). Each installment is
    /// created as `POST /v1/charges` would, under a key derived from the plan, so a retried or crashed request
    /// (same Idempotency-Key) finds the charges already made and makes none twice.
    pub(super) async fn create_plan(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body = json_object(&req.body)?;
        let mut known: Vec<&str> = CHARGE_FIELDS.to_vec();
        known.extend(["amount", "installments", "first_due_date", "description"]);
        super::reject_unknown(&body, &known, "")?;
        if !matches!(body.get("customer_id"), Some(Value::String(_))) {
            return Err(ApiError::invalid("customer_id", "obrigatório: o id de um cliente / required: a customer id"));
        }
        let total = parse_amount(body.get("amount"))?;
        let count = body
            .get("installments")
            .and_then(Value::as_u64)
            .filter(|n| (2..=u64::from(MAX_CARNE_INSTALLMENTS)).contains(n))
            .ok_or_else(|| ApiError::invalid("installments", format!("de 2 a {MAX_CARNE_INSTALLMENTS} parcelas / 2 to {MAX_CARNE_INSTALLMENTS} installments")))? as u16;
        let first_due = DueDate::parse_new(required_str(&body, "first_due_date")?, now).map_err(|e| ApiError::invalid("first_due_date", e))?;
        let description = required_str(&body, "description")?.trim().to_string();
        let split = recurrence::carne(total, count, first_due.date())
            .map_err(|_| ApiError::invalid("amount", "o total não cobre um centavo por parcela / the total does not cover a cent per installment"))?;
        // Every due date must be one a charge may have (boletos reach ten years): refused before anything is made.
        let last = split.last().expect("at least two installments");
        DueDate::parse_new(&last.due_date.to_string(), now).map_err(|e| ApiError::invalid("installments", format!("a última parcela / the last installment: {e}")))?;

        let key = req.header("idempotency-key").filter(|k| idempotency::valid_key(k));
        let id = match key {
            Some(k) => PlanId::derived(&format!("{}/plan/{k}", merchant.id)),
            None => PlanId::generate(),
        };
        let mut installments = Vec::with_capacity(split.len());
        for part in &split {
            let mut charge = serde_json::Map::new();
            for field in CHARGE_FIELDS {
                if let Some(v) = body.get(*field) {
                    charge.insert((*field).into(), v.clone());
                }
            }
            charge.insert("amount".into(), json!(part.amount));
            charge.insert("due_date".into(), json!(part.due_date.to_string()));
            charge.insert("description".into(), json!(format!("{description} — parcela {}/{count}", part.number)));
            let request = ApiRequest {
                method: "POST".into(),
                path: "/v1/charges".into(),
                headers: HashMap::from([("idempotency-key".to_string(), format!("{id}/{}", part.number))]),
                body: Value::Object(charge).to_string().into_bytes(),
            };
            let origin = ChargeOrigin::InstallmentPlan { plan_id: id.clone(), number: part.number, of: count };
            let made = self.idempotent(merchant, &request, now, Create::PlanCharge(origin)).await?;
            if made.status != 201 {
                // The first installment carries every field the others do: its refusal is the plan's, before any
                // charge exists (a later one can only fail for reasons of its own, e.g. the store).
                return Ok(made);
            }
            let made: Value = serde_json::from_str(&made.body).map_err(ApiError::internal)?;
            let charge_id = made["id"].as_str().and_then(|s| ChargeId::parse(s).ok()).ok_or_else(|| ApiError::internal("charge without id"))?;
            installments.push(PlanInstallment { number: part.number, charge_id, amount: part.amount, due_date: part.due_date });
        }
        let plan = Plan { id: id.clone(), customer_id: body["customer_id"].as_str().unwrap_or_default().into(), total, description, installments, created_at: now };
        if self.store.get_merchant_document(&merchant.id, &document_key(&id)).await?.is_none() {
            self.store.put_merchant_document(&merchant.id, &document_key(&id), &serde_json::to_value(&plan).map_err(ApiError::internal)?).await?;
        }
        Ok(ApiResponse::json(201, &self.plan_view(merchant, &plan, now).await?))
    }

    async fn plan(&self, merchant: &Merchant, id: &str) -> Result<Plan, ApiError> {
        let id = PlanId::parse(id).map_err(|_| plan_not_found())?;
        let stored = self.store.get_merchant_document(&merchant.id, &document_key(&id)).await?.ok_or_else(plan_not_found)?;
        serde_json::from_value(stored).map_err(ApiError::internal)
    }

    /// The plan with each installment as it stands now (status, balance, link).
    async fn plan_view(&self, merchant: &Merchant, plan: &Plan, now: DateTime<Utc>) -> Result<Value, ApiError> {
        let today = calendar::local_date(now);
        let mut rows = Vec::new();
        let mut statuses = Vec::new();
        for part in &plan.installments {
            let charge = self.store.get_charge(&merchant.id, &part.charge_id).await?;
            let (status, url, balance) = match &charge {
                Some(c) => (c.status, Some(payment_url(self.public_base_url, &c.payment_token)), c.balance_due(today)),
                None => (ChargeStatus::Cancelled, None, rust_decimal::Decimal::ZERO),
            };
            statuses.push(status);
            rows.push(json!({"number": part.number, "charge_id": part.charge_id, "amount": part.amount, "due_date": part.due_date,
                "status": status, "balance_due": format!("{:.2}", balance), "payment_url": url}));
        }
        let status = if statuses.iter().all(|s| matches!(s, ChargeStatus::Paid | ChargeStatus::Refunded)) {
            "paid"
        } else if statuses.iter().any(|s| s.is_open()) {
            "active"
        } else {
            "closed"
        };
        Ok(json!({
            "id": plan.id,
            "object": "installment_plan",
            "status": status,
            "customer_id": plan.customer_id,
            "amount": plan.total,
            "description": plan.description,
            "installments": rows,
            "created_at": plan.created_at,
        }))
    }

    pub(super) async fn get_plan(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let plan = self.plan(merchant, id).await?;
        Ok(ApiResponse::json(200, &self.plan_view(merchant, &plan, now).await?))
    }

    /// The merchant's plans, newest first, without their installments' current state (GET one for that).
    pub(super) async fn list_plans(&self, merchant: &Merchant) -> Result<ApiResponse, ApiError> {
        let mut plans: Vec<Plan> = self
            .store
            .merchant_documents(&merchant.id, "plan#")
            .await?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_value(v).ok())
            .collect();
        plans.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let data: Vec<Value> = plans
            .iter()
            .map(|p| json!({"id": p.id, "object": "installment_plan", "customer_id": p.customer_id, "amount": p.total, "description": p.description,
                "installments": p.installments.len(), "created_at": p.created_at}))
            .collect();
        Ok(ApiResponse::json(200, &json!({"object": "list", "data": data, "has_more": false, "next_cursor": null})))
    }

    /// Cancels every installment still open (their régua stops); paid ones stay paid.
    pub(super) async fn cancel_plan(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let plan = self.plan(merchant, id).await?;
        for part in &plan.installments {
            let open = self.store.get_charge(&merchant.id, &part.charge_id).await?.is_some_and(|c| c.status.is_open());
            if open {
                match self.cancel_charge(merchant, part.charge_id.as_str(), now).await {
                    Ok(_) => {}
                    // Paid or cancelled in between: nothing left to cancel.
                    Err(e) if e.status == 409 => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(ApiResponse::json(200, &self.plan_view(merchant, &plan, now).await?))
    }
}
