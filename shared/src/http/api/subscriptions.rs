//! Subscriptions (recurring charges): `POST|GET /v1/subscriptions`, `GET|PATCH /v1/subscriptions/{id}`, and its
//! `pause`, `resume` and `cancel`. The schedule is `recurrence::Subscription`; each cycle's charge is made
//! `lead_days` before it falls due by `generate_subscription_charges` (run by ruler-tick on its schedule, and at
//! once when a subscription is made), through the same path as `POST /v1/charges`, so it has its own payment
//! link, its own régua and every rule a single charge has.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::requests;
use super::views::{self, SubscriptionCharge};
use super::{parse_amount, Api, ApiError, ApiRequest, ApiResponse, SubscriptionRun};
use crate::domain::calendar;
use crate::domain::charge::payment_url;
use crate::domain::charge::{Description, DueDate, PaymentMethod};
use crate::domain::idempotency;
use crate::domain::ids::SubscriptionId;
use crate::domain::merchant::Merchant;
use crate::domain::money::Money;
use crate::domain::recurrence::{Cycle, End, PriceFrom, Subscription, SubscriptionStatus, MAX_LEAD_DAYS};
use crate::ports::store::StoreError;
use crate::service::TermFields;

const DEFAULT_LEAD_DAYS: u32 = 10;
/// Most charges a subscription may be limited to (the count end); a longer one has no end or an end date.
const MAX_CHARGES: u64 = 1000;
/// Generated charges a subscription shows (the latest).
const SHOWN_CHARGES: u32 = 12;

fn not_found() -> ApiError {
    ApiError::new(404, "not_found", "assinatura não encontrada / subscription not found")
}

fn cancelled() -> ApiError {
    ApiError::new(409, "subscription_cancelled", "a assinatura foi cancelada / the subscription was cancelled")
}

fn parse_end(end_date: Option<&Value>, max_charges: Option<&Value>, first_due: NaiveDate, current: End) -> Result<End, ApiError> {
    let given = |v: Option<&Value>| v.is_some_and(|v| !v.is_null());
    if given(end_date) && given(max_charges) {
        return Err(ApiError::invalid("end_date", "informe end_date ou max_charges, não ambos / give end_date or max_charges, not both"));
    }
    if let Some(v) = end_date.filter(|v| !v.is_null()) {
        let date = v
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .ok_or_else(|| ApiError::invalid("end_date", "data AAAA-MM-DD / date YYYY-MM-DD"))?;
        if date < first_due {
            return Err(ApiError::invalid(
                "end_date",
                "o fim não pode ser anterior ao primeiro vencimento / end_date cannot be before the first due date",
            ));
        }
        return Ok(End::OnDate { date });
    }
    if let Some(v) = max_charges.filter(|v| !v.is_null()) {
        let count = v
            .as_u64()
            .filter(|n| (1..=MAX_CHARGES).contains(n))
            .ok_or_else(|| ApiError::invalid("max_charges", format!("inteiro de 1 a {MAX_CHARGES} / an integer from 1 to {MAX_CHARGES}")))?;
        return Ok(End::AfterCount { count: count as u32 });
    }
    // Both present and null clears the end; both absent keeps it.
    if end_date.is_some() || max_charges.is_some() {
        return Ok(End::Never);
    }
    Ok(current)
}

fn parse_lead_days(lead_days: Option<&Value>) -> Result<Option<u32>, ApiError> {
    match lead_days {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|d| *d <= u64::from(MAX_LEAD_DAYS))
            .map(|d| Some(d as u32))
            .ok_or_else(|| ApiError::invalid("lead_days", format!("dias de 0 a {MAX_LEAD_DAYS} / days from 0 to {MAX_LEAD_DAYS}"))),
    }
}

impl Api<'_> {
    /// `POST /v1/subscriptions` {customer_id, amount, cycle, first_due_date, description, lead_days?, end_date? |
    /// max_charges?, payment_methods, late_fees?, ruler?, wallet_ids?, fee_mode?, max_installments?,
    /// external_reference?}: checked as its charges will be, stored, and its charges already due for generation
    /// (the first, when it falls due within `lead_days`) made at once.
    pub(super) async fn create_subscription(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body: requests::SubscriptionInput = requests::parse(&req.body)?;
        let customer_id = match &body.customer_id {
            Some(id) => id.clone(),
            None => return Err(ApiError::invalid("customer_id", "obrigatório: o id de um cliente / required: a customer id")),
        };
        let customer = self.charges().billable_customer(merchant, &customer_id).await?;
        let amount = body.amount.ok_or_else(|| super::missing("amount"))?;
        let cycle: Cycle = body.cycle.as_ref().and_then(|v| serde_json::from_value(v.clone()).ok()).ok_or_else(|| {
            ApiError::invalid(
                "cycle",
                "weekly, biweekly, monthly, quarterly, semiannual ou yearly / weekly, biweekly, monthly, quarterly, semiannual or yearly",
            )
        })?;
        let first_due = DueDate::parse_new(body.first_due_date.as_deref().ok_or_else(|| super::missing("first_due_date"))?, now)
            .map_err(|e| ApiError::invalid("first_due_date", e))?;
        let description = Description::parse(body.description.as_deref().ok_or_else(|| super::missing("description"))?)
            .map_err(|e| ApiError::invalid("description", e))?;
        let end = parse_end(body.end_date.as_ref(), body.max_charges.as_ref(), first_due.date(), End::Never)?;
        let lead_days = parse_lead_days(body.lead_days.as_ref())?.unwrap_or(DEFAULT_LEAD_DAYS);
        // The charge fields, read as the charges will read them: a subscription that could not make its charges
        // is refused now, not found paused later.
        let fields = body.terms();
        let terms = self.charges().terms(merchant, &fields, amount, first_due, &customer.document).await?;
        if terms.payment_methods.contains(&PaymentMethod::Boleto) && customer.address.is_none() {
            return Err(crate::service::ChargeError::AddressRequired { field: "customer_id" }.into());
        }
        let charge_fields = fields.to_map();

        let keyed = req.header("idempotency-key").filter(|k| idempotency::valid_key(k)).map(|k| format!("{}/subscription/{k}", merchant.id));
        let mut sub = Subscription {
            id: keyed.as_deref().map(SubscriptionId::derived).unwrap_or_else(SubscriptionId::generate),
            merchant_id: merchant.id.clone(),
            customer_id: customer.id.clone(),
            description: description.as_str().to_string(),
            cycle,
            first_due: first_due.date(),
            end,
            status: SubscriptionStatus::Active,
            prices: vec![PriceFrom { cycle: 0, amount }],
            lead_days,
            charge_fields,
            next_cycle: 0,
            paused_reason: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        match self.store.put_subscription(&sub, None).await {
            Ok(()) => {}
            // A retry of a request that died after storing it (same key, same id): finish that one.
            Err(StoreError::Conflict) if keyed.is_some() => {
                sub = self.store.get_subscription(&merchant.id, &sub.id).await?.ok_or(StoreError::Conflict)?
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(merchant_id = %merchant.id, subscription_id = %sub.id, "subscription created");
        let (sub, _) = self.generate_for(merchant, sub, now).await?;
        Ok(ApiResponse::json(201, &self.subscription_view(merchant, &sub, now).await?))
    }

    async fn subscription(&self, merchant: &Merchant, id: &str) -> Result<Subscription, ApiError> {
        let id = SubscriptionId::parse(id).map_err(|_| not_found())?;
        self.store.get_subscription(&merchant.id, &id).await?.ok_or_else(not_found)
    }

    /// The subscription with its latest generated charges as they stand now.
    async fn subscription_view(&self, merchant: &Merchant, sub: &Subscription, now: DateTime<Utc>) -> Result<views::Subscription, ApiError> {
        let today = calendar::local_date(now);
        let mut charges = Vec::new();
        for cycle in (sub.next_cycle.saturating_sub(SHOWN_CHARGES)..sub.next_cycle).rev() {
            // A skipped cycle has no charge.
            if let Some(c) = self.store.get_charge(&merchant.id, &sub.charge_id(cycle)).await? {
                charges.push(SubscriptionCharge {
                    cycle,
                    charge_id: c.id.clone(),
                    amount: c.amount,
                    due_date: c.due_date,
                    status: c.status,
                    balance_due: format!("{:.2}", c.balance_due(today)?),
                    payment_url: payment_url(self.public_base_url, &c.payment_token),
                });
            }
        }
        Ok(views::Subscription { charges: Some(charges), ..views::Subscription::summary(sub, merchant.mode.is_live()) })
    }

    pub(super) async fn get_subscription(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let sub = self.subscription(merchant, id).await?;
        Ok(ApiResponse::json(200, &self.subscription_view(merchant, &sub, now).await?))
    }

    /// `GET /v1/subscriptions?limit&cursor`: oldest first, without their charges (GET one for those).
    pub(super) async fn list_subscriptions(&self, merchant: &Merchant, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
        let page = self.store.list_subscriptions(&merchant.id, super::management::page_limit(req)?, req.query("cursor")).await?;
        let livemode = merchant.mode.is_live();
        Ok(super::management::list(page, |sub| views::Subscription::summary(sub, livemode)))
    }

    /// Saves a changed subscription over the version it was read at: a change racing the generator (or another
    /// change) gets a 409 and can be retried, rather than undoing the other.
    async fn save_subscription(&self, sub: &mut Subscription) -> Result<(), ApiError> {
        let expected = sub.version;
        sub.version += 1;
        match self.store.put_subscription(sub, Some(expected)).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict) => {
                Err(ApiError::new(409, "conflict", "a assinatura mudou ao mesmo tempo; tente de novo / the subscription changed concurrently; retry"))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `PATCH /v1/subscriptions/{id}` {amount?, description?, end_date?, max_charges?, lead_days?}: a new amount
    /// applies from the next charge not yet generated (one the payer already has keeps its amount); `end_date` or
    /// `max_charges` replace the end (null for none).
    pub(super) async fn update_subscription(
        &self,
        merchant: &Merchant,
        id: &str,
        req: &ApiRequest,
        now: DateTime<Utc>,
    ) -> Result<ApiResponse, ApiError> {
        let mut sub = self.subscription(merchant, id).await?;
        let body: requests::SubscriptionUpdate = requests::parse(&req.body)?;
        if sub.status == SubscriptionStatus::Cancelled {
            return Err(cancelled());
        }
        if let Some(v) = body.amount.as_ref().filter(|v| !v.is_null()) {
            let amount: Money = parse_amount(Some(v))?;
            // The late-fee terms are checked against the new amount as a charge would check them.
            let next_due = DueDate::from_stored(sub.next_occurrence().map(|(_, d)| d).unwrap_or(sub.first_due));
            let payer = self.store.get_customer(&merchant.id, &sub.customer_id).await?.ok_or_else(|| ApiError::internal("customer missing"))?;
            super::parse_late_fees(TermFields::from_map(&sub.charge_fields).late_fees.as_ref(), amount, next_due, &payer.document)?;
            sub.change_price(amount);
        }
        if let Some(v) = body.description.as_ref().filter(|v| !v.is_null()) {
            let d = Description::parse(v.as_str().unwrap_or_default()).map_err(|e| ApiError::invalid("description", e))?;
            sub.description = d.as_str().to_string();
        }
        sub.end = parse_end(body.end_date.as_ref(), body.max_charges.as_ref(), sub.first_due, sub.end)?;
        if let End::AfterCount { count } = sub.end {
            if count < sub.next_cycle {
                return Err(ApiError::invalid(
                    "max_charges",
                    format!("já foram geradas {} cobranças / {} charges were already generated", sub.next_cycle, sub.next_cycle),
                ));
            }
        }
        if let Some(days) = parse_lead_days(body.lead_days.as_ref())? {
            sub.lead_days = days;
        }
        sub.updated_at = now;
        self.save_subscription(&mut sub).await?;
        // A shorter lead time or an earlier cycle may make a charge due for generation now.
        let (sub, _) = self.generate_for(merchant, sub, now).await?;
        Ok(ApiResponse::json(200, &self.subscription_view(merchant, &sub, now).await?))
    }

    /// `POST /v1/subscriptions/{id}/pause`: no charge is generated until resumed; those already made stay.
    pub(super) async fn pause_subscription(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let mut sub = self.subscription(merchant, id).await?;
        match sub.status {
            SubscriptionStatus::Cancelled => return Err(cancelled()),
            SubscriptionStatus::Paused => {}
            SubscriptionStatus::Active => {
                sub.pause(None, now);
                self.save_subscription(&mut sub).await?;
            }
        }
        Ok(ApiResponse::json(200, &self.subscription_view(merchant, &sub, now).await?))
    }

    /// `POST /v1/subscriptions/{id}/resume`: the cycles that fell due while paused are not billed; billing goes
    /// on from the first cycle due from today.
    pub(super) async fn resume_subscription(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let mut sub = self.subscription(merchant, id).await?;
        match sub.status {
            SubscriptionStatus::Cancelled => return Err(cancelled()),
            SubscriptionStatus::Active => {}
            SubscriptionStatus::Paused => {
                sub.resume(calendar::local_date(now), now);
                self.save_subscription(&mut sub).await?;
                sub = self.generate_for(merchant, sub, now).await?.0;
            }
        }
        Ok(ApiResponse::json(200, &self.subscription_view(merchant, &sub, now).await?))
    }

    /// `POST /v1/subscriptions/{id}/cancel {"cancel_open_charges"?: bool}`: no more charges; with
    /// `cancel_open_charges`, the generated ones not yet paid are cancelled too (their régua stops).
    pub(super) async fn cancel_subscription(
        &self,
        merchant: &Merchant,
        id: &str,
        req: &ApiRequest,
        now: DateTime<Utc>,
    ) -> Result<ApiResponse, ApiError> {
        let mut sub = self.subscription(merchant, id).await?;
        let body: requests::CancelSubscription = requests::parse_or_empty(&req.body)?;
        let cancel_open = match &body.cancel_open_charges {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ApiError::invalid("cancel_open_charges", "true ou false / true or false")),
        };
        if sub.status != SubscriptionStatus::Cancelled {
            sub.cancel(now);
            self.save_subscription(&mut sub).await?;
            tracing::info!(merchant_id = %merchant.id, subscription_id = %sub.id, "subscription cancelled");
        }
        if cancel_open {
            for cycle in 0..sub.next_cycle {
                let id = sub.charge_id(cycle);
                let open = self.store.get_charge(&merchant.id, &id).await?.is_some_and(|c| c.status.is_open());
                if open {
                    match self.charges().cancel(&merchant.id, id.as_str(), now).await {
                        // Paid or cancelled in between: nothing left to cancel.
                        Ok(_) => {}
                        Err(e) if e.closed_meanwhile() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(ApiResponse::json(200, &self.subscription_view(merchant, &sub, now).await?))
    }

    /// Makes the charges of `sub` due for generation now (`ChargeService::generate_for`).
    async fn generate_for(&self, merchant: &Merchant, sub: Subscription, now: DateTime<Utc>) -> Result<(Subscription, SubscriptionRun), ApiError> {
        Ok(self.charges().generate_for(merchant, sub, now).await?)
    }

    /// The generator over every merchant (`ChargeService::generate_subscription_charges`), as ruler-tick runs it.
    pub async fn generate_subscription_charges(&self, now: DateTime<Utc>) -> Result<SubscriptionRun, ApiError> {
        Ok(self.charges().generate_subscription_charges(now).await?)
    }
}
