//! The régua over HTTP: the merchant's and a customer's réguas, opt-out, a charge's schedule and previews.

use super::*;

impl Api<'_> {
    pub(super) async fn get_ruler(&self, scope: &RulerScope) -> Result<ApiResponse, ApiError> {
        let (ruler, source) = match self.store.get_ruler(scope).await? {
            Some(r) => (
                r,
                match scope {
                    RulerScope::Merchant(_) => "merchant",
                    RulerScope::Customer(..) => "customer",
                },
            ),
            None => match scope {
                RulerScope::Merchant(_) => (Ruler::default(), "default"),
                RulerScope::Customer(m, _) => match self.store.get_ruler(&RulerScope::Merchant(m.clone())).await? {
                    Some(r) => (r, "merchant"),
                    None => (Ruler::default(), "default"),
                },
            },
        };
        Ok(ApiResponse::json(200, &views::RulerAnswer { ruler, source, replan: None }))
    }

    pub(super) async fn put_merchant_ruler(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let ruler = parse_ruler_body(&req.body)?;
        self.store.put_ruler(&RulerScope::Merchant(merchant.id.clone()), &ruler).await?;
        let replan = self.queue_replan(ReplanScope::Merchant(merchant.id.clone()), now).await?;
        Ok(ApiResponse::json(200, &views::RulerAnswer { ruler, source: "merchant", replan: Some(replan) }))
    }

    pub(super) async fn put_customer_ruler(
        &self,
        merchant: &Merchant,
        id: &str,
        req: &ApiRequest,
        now: DateTime<Utc>,
    ) -> Result<ApiResponse, ApiError> {
        let customer = self.customer(merchant, id).await?;
        let ruler = parse_ruler_body(&req.body)?;
        self.store.put_ruler(&RulerScope::Customer(merchant.id.clone(), customer.id.clone()), &ruler).await?;
        let replan = self.queue_replan(ReplanScope::Customer(merchant.id.clone(), customer.id), now).await?;
        Ok(ApiResponse::json(200, &views::RulerAnswer { ruler, source: "customer", replan: Some(replan) }))
    }

    /// `{"all": true}` or `{"channels": ["whatsapp", "sms"]}`: replaces the customer's opt-out. It holds from the
    /// answer on, because delivery checks it again before every send; the planned sends it rules out are
    /// cancelled by the queued re-plan.
    pub(super) async fn put_opt_out(&self, merchant: &Merchant, id: &str, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let mut customer = self.customer(merchant, id).await?;
        let body: super::requests::OptOut = super::requests::parse(&req.body)?;
        let all = match &body.all {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ApiError::invalid("all", "deve ser booleano / must be a boolean")),
        };
        let channels = match &body.channels {
            None | Some(Value::Null) => vec![],
            Some(v) => serde_json::from_value::<Vec<Channel>>(v.clone())
                .map_err(|_| ApiError::invalid("channels", "canais: email, whatsapp, sms, voice / channels: email, whatsapp, sms, voice"))?,
        };
        customer.opt_out = OptOut { all, channels };
        self.store.put_customer(&customer).await?;
        let replan = self.queue_replan(ReplanScope::Customer(merchant.id.clone(), customer.id.clone()), now).await?;
        Ok(ApiResponse::json(200, &views::OptedOut { customer: views::Customer::of(&customer, merchant.mode.is_live()), replan }))
    }

    /// After a change to a régua or an opt-out (already stored): re-planning the open charges it touches is queued
    /// work for the ruler tick, page by page, so the answer says what will be done, at once, however many charges
    /// there are. The change is stored first, so whichever run of the job comes later plans from it.
    pub(super) async fn queue_replan(&self, scope: ReplanScope, now: DateTime<Utc>) -> Result<views::Replan, ApiError> {
        let (job, charges, counted_all) = self.schedules().request_replan(&scope, now).await?;
        Ok(views::Replan::queued(&scope, job.requested_at, charges, counted_all))
    }

    pub(super) async fn get_schedule(&self, merchant: &Merchant, id: &str) -> Result<ApiResponse, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cobrança não encontrada / charge not found");
        let id = ChargeId::parse(id).map_err(|_| not_found())?;
        self.store.get_charge(&merchant.id, &id).await?.ok_or_else(not_found)?;
        let reminders = self.store.reminders_of(&merchant.id, &id).await?;
        Ok(ApiResponse::json(200, &views::ChargeSchedule { charge_id: id, schedule: schedule_of(&reminders) }))
    }

    /// The schedule a hypothetical charge would get: `{"amount","due_date","customer_id" | "customer", "ruler"?}`.
    pub(super) async fn preview(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body: super::requests::RulerPreview = super::requests::parse(&req.body)?;
        let amount = body.amount;
        let due_date = DueDate::parse_new(&body.due_date, now).map_err(|e| ApiError::invalid("due_date", e))?;
        let customer = match (&body.customer_id, &body.customer) {
            (Some(id), None) => self.customer(merchant, id).await?,
            (None, Some(inline)) => Customer {
                id: CustomerId::generate(),
                merchant_id: merchant.id.clone(),
                name: inline.name.clone(),
                document: inline.document.clone(),
                email: inline.email.clone(),
                phone: inline.phone.clone(),
                address: inline.address.as_ref().map(|a| super::customers::address(a, "customer.")).transpose()?,
                opt_out: Default::default(),
                erased_at: None,
                created_at: now,
            },
            _ => return Err(missing("customer_id")),
        };
        let ruler = match body.ruler.as_ref() {
            None | Some(Value::Null) => self.schedules().ruler_for(None, &merchant.id, &customer.id).await?,
            Some(v) => Ruler::parse(v).map_err(|e| ApiError::invalid(&format!("ruler.{}", e.field), e.message))?,
        };
        let charge = Charge {
            id: ChargeId::parse("chg_preview").expect("valid id"),
            payment_token: String::new(),
            ..Charge::new_pending(
                merchant.id.clone(),
                customer.id.clone(),
                amount,
                due_date,
                Description::parse("preview").expect("valid"),
                vec![PaymentMethod::Pix],
                now,
            )
        };
        let plan = ruler::plan(&charge, &customer, &ruler, now);
        Ok(ApiResponse::json(200, &views::SchedulePreview { ruler, schedule: schedule_of(&plan) }))
    }
}

pub(super) fn parse_ruler_body(body: &[u8]) -> Result<Ruler, ApiError> {
    let body: super::requests::RulerInput = super::requests::parse(body)?;
    Ruler::parse(&body.to_value()).map_err(|e| ApiError::invalid(&e.field, e.message))
}
