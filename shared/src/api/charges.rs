//! Charges over HTTP: `POST /v1/charges` (parsed here, made by `service::ChargeService`), `GET`, `PATCH` and
//! `POST …/cancel` of one charge, and the charge's JSON.

use super::customers::{parse_customer, CUSTOMER_FIELDS};
use super::*;

impl Api<'_> {
    /// `POST /v1/charges`: the body read into a `NewCharge` (in the order a refusal names its field: amount, due
    /// date, description, payer, terms, expiry), made by the charge service, shown as the charge.
    pub(super) async fn create_charge(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body = json_object(&req.body)?;
        // Under an Idempotency-Key the new charge's id (and an inline customer's) follow from the key.
        let keyed = req.header("idempotency-key").filter(|k| idempotency::valid_key(k)).map(|k| format!("{}/{k}", merchant.id));
        reject_unknown(&body, &[TermFields::NAMES, &["customer_id", "customer", "amount", "due_date", "description", "expires_at"]].concat(), "")?;
        let amount = parse_amount(body.get("amount"))?;
        let due_date = DueDate::parse_new(required_str(&body, "due_date")?, now).map_err(|e| ApiError::invalid("due_date", e))?;
        let description = Description::parse(required_str(&body, "description")?).map_err(|e| ApiError::invalid("description", e))?;
        let charges = self.charges();
        // The payer first: what late fees the law allows depends on it (CPF or CNPJ).
        let payer = match (body.get("customer_id"), body.get("customer")) {
            (Some(Value::String(id)), None) => Payer::Existing(charges.billable_customer(merchant, id).await?),
            (None, Some(Value::Object(inline))) => {
                reject_unknown(inline, CUSTOMER_FIELDS, "customer.")?;
                let mut c = parse_customer(inline, merchant, now, "customer.")?;
                if let Some(key) = &keyed {
                    c.id = CustomerId::derived(&format!("{key}/customer"));
                }
                Payer::Inline(c)
            }
            (None, None) => return Err(missing("customer_id")),
            _ => return Err(ApiError::invalid("customer", "informe customer_id ou customer, não ambos / give customer_id or customer, not both")),
        };
        let terms = charges.terms(merchant, &TermFields::from_map(&body), amount, due_date, &payer.customer().document).await?;
        let expires_at = match body.get("expires_at") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let at = DateTime::parse_from_rfc3339(s)
                    .map_err(|_| ApiError::invalid("expires_at", "data e hora RFC 3339 / RFC 3339 date-time"))?
                    .with_timezone(&Utc);
                // Expiring before the due date would make the due date meaningless.
                if calendar::local_date(at) < due_date.date() {
                    return Err(ApiError::invalid(
                        "expires_at",
                        "a validade não pode ser anterior ao vencimento / expires_at cannot be before the due date",
                    ));
                }
                Some(at)
            }
            Some(_) => return Err(ApiError::invalid("expires_at", "data e hora RFC 3339 / RFC 3339 date-time")),
        };
        let new = NewCharge { payer, amount, due_date, description, terms, expires_at, origin: crate::charge::ChargeOrigin::Single, key: keyed };
        let Created { charge, reminders } = charges.create(merchant, new, now).await?;
        Ok(ApiResponse::json(201, &self.charge_view(merchant, &charge, &reminders, now).await?))
    }

    /// Reminders already due at creation (the "new charge" notice) go straight to the queue; if that fails
    /// the next tick finds them, so the request still succeeds.
    pub(super) async fn send_now(&self, reminders: &mut [Reminder], now: DateTime<Utc>) {
        self.charges().send_now(reminders, now).await
    }

    pub(super) async fn open_charge(&self, merchant: &Merchant, id: &str) -> Result<Charge, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cobrança não encontrada / charge not found");
        let id = ChargeId::parse(id).map_err(|_| not_found())?;
        let charge = self.store.get_charge(&merchant.id, &id).await?.ok_or_else(not_found)?;
        if !charge.status.is_open() {
            return Err(ApiError::new(
                409,
                "charge_not_open",
                format!("cobrança está {} / charge is {}", charge.status.as_str(), charge.status.as_str()),
            ));
        }
        Ok(charge)
    }

    /// `PATCH /v1/charges/{id}` with `amount` and/or `due_date`: the payer is told (`on_changed`), and the
    /// pending reminders follow the new numbers. Reminders relative to a new due date are new reminders.
    pub(super) async fn update_charge(&self, merchant: &Merchant, id: &str, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body = json_object(&req.body)?;
        reject_unknown(&body, &["amount", "due_date", "description"], "")?;
        let before = self.open_charge(merchant, id).await?;
        let mut charge = before.clone();
        if body.contains_key("amount") {
            charge.amount = parse_amount(body.get("amount"))?;
        }
        if body.contains_key("due_date") {
            let due = DueDate::parse_new(required_str(&body, "due_date")?, now).map_err(|e| ApiError::invalid("due_date", e))?;
            if due != charge.due_date {
                charge.due_date = due;
                charge.due_date_changes += 1;
                // A later due date makes an overdue charge current again.
                if calendar::local_date(now) < due.first_overdue_day() {
                    charge.status = ChargeStatus::Pending;
                }
            }
        }
        if body.contains_key("description") {
            charge.description = Description::parse(required_str(&body, "description")?).map_err(|e| ApiError::invalid("description", e))?;
        }
        if charge == before {
            return Ok(ApiResponse::json(
                200,
                &self.charge_view(merchant, &charge, &self.store.reminders_of(&merchant.id, &charge.id).await?, now).await?,
            ));
        }
        charge.version += 1;
        charge.updated_at = now;
        // A boleto and a cobv carry the value and due date: new numbers need new ones, and the old boleto is
        // written off so that it cannot be paid as well.
        let mut setup_jobs = Vec::new();
        if charge.amount != before.amount || charge.due_date != before.due_date {
            // The terms stay within the law for the new numbers (a fixed fine may exceed 2 % of a lower amount).
            let payer = self.store.get_customer(&merchant.id, &charge.customer_id).await?.ok_or_else(|| ApiError::internal("customer missing"))?;
            charge.late_fees.admit(charge.amount, charge.due_date.date(), &payer.document).map_err(terms_error)?;
            let reissue: Vec<_> = [charge.setup.boleto.as_ref().map(|b| b.wallet_id.clone()), charge.setup.pix.as_ref().map(|p| p.wallet_id.clone())]
                .into_iter()
                .flatten()
                .collect();
            setup_jobs.extend(crate::registration::supersede_boleto(&mut charge));
            for id in reissue {
                if let Some(wallet) = self.store.get_wallet(&merchant.id, &id).await? {
                    setup_jobs.extend(self.checkout().issue(&mut charge, &wallet, now).await?);
                }
            }
        }
        self.store.update_charge(&charge, before.version).await?;
        self.checkout().queue_setup(&setup_jobs).await;
        let customer = self.store.get_customer(&merchant.id, &charge.customer_id).await?.ok_or_else(|| ApiError::internal("customer missing"))?;
        self.schedules().replan_charge(&charge, &customer, now).await?;
        if charge.amount != before.amount || charge.due_date != before.due_date {
            let ruler = self.schedules().ruler_for(charge.ruler.as_ref(), &merchant.id, &customer.id).await?;
            let mut notices = ruler::event_reminders(ruler::Step::OnChanged, &charge, &customer, &ruler, charge.version as u16, now);
            for n in &notices {
                self.store.add_reminder(n).await?;
            }
            self.send_now(&mut notices, now).await;
        }
        self.publish(
            &charge,
            crate::events::EventKind::ChargeUpdated,
            now,
            json!({"amount": charge.amount, "due_date": charge.due_date, "version": charge.version}),
        )
        .await;
        let reminders = self.store.reminders_of(&merchant.id, &charge.id).await?;
        Ok(ApiResponse::json(200, &self.charge_view(merchant, &charge, &reminders, now).await?))
    }

    /// `POST /v1/charges/{id}/cancel`: the charge can no longer be paid and its régua stops.
    /// `POST /v1/charges/{id}/cancel`. Repeating it on a cancelled charge answers the same (and finishes what a
    /// request that died midway left: reminders, the event); any other closed charge is a 409.
    pub(super) async fn cancel_charge(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let charge = match self.open_charge(merchant, id).await {
            Ok(before) => self.close_charge(before, ChargeStatus::Cancelled, None, now).await?,
            Err(e) if e.status == 409 => {
                let charge = self
                    .store
                    .get_charge(&merchant.id, &ChargeId::parse(id).map_err(ApiError::internal)?)
                    .await?
                    .ok_or_else(|| ApiError::internal("charge vanished"))?;
                if charge.status != ChargeStatus::Cancelled {
                    return Err(e);
                }
                self.finish_closing(&charge, now).await?;
                charge
            }
            Err(e) => return Err(e),
        };
        let reminders = self.store.reminders_of(&merchant.id, &charge.id).await?;
        Ok(ApiResponse::json(200, &self.charge_view(merchant, &charge, &reminders, now).await?))
    }

    /// Ends an open charge (cancelled, or renegotiated into a plan): its boleto is written off, its pending
    /// reminders are cancelled and the change is published. Tick and delivery also check the status before
    /// sending, so a crash between these steps sends nothing for it.
    pub(super) async fn close_charge(
        &self,
        before: Charge,
        status: ChargeStatus,
        into: Option<crate::ids::PlanId>,
        now: DateTime<Utc>,
    ) -> Result<Charge, ApiError> {
        let mut charge = Charge { status, renegotiated_into: into, version: before.version + 1, updated_at: now, ..before.clone() };
        let write_off: Vec<_> = crate::registration::supersede_boleto(&mut charge).into_iter().collect();
        self.store.update_charge(&charge, before.version).await?;
        self.checkout().queue_setup(&write_off).await;
        self.finish_closing(&charge, now).await?;
        Ok(charge)
    }

    /// What follows a charge's closing, once stored: its pending reminders cancelled and the event published
    /// (its id is the charge's version, so publishing it again is the same event). Also run by a retry that finds
    /// the charge already closed, for a request that died in between.
    pub(super) async fn finish_closing(&self, charge: &Charge, now: DateTime<Utc>) -> Result<(), ApiError> {
        for r in self.store.reminders_of(&charge.merchant_id, &charge.id).await? {
            if r.state.is_pending() {
                let cancelled = ReminderState::Cancelled { reason: format!("charge {}", charge.status.as_str()) };
                // False when claimed by a tick meanwhile: the delivery worker finds the charge closed and skips it.
                self.store.transition_reminder(&r, &["planned", "queued"], cancelled, now).await?;
            }
        }
        let kind = if charge.status == ChargeStatus::Renegotiated {
            crate::events::EventKind::ChargeRenegotiated
        } else {
            crate::events::EventKind::ChargeCancelled
        };
        self.publish(charge, kind, now, json!({"version": charge.version, "renegotiated_into": charge.renegotiated_into})).await;
        Ok(())
    }

    /// Publishes after the change is stored; a failure is logged, not returned, since the change stands.
    pub(super) async fn publish(&self, charge: &Charge, kind: crate::events::EventKind, now: DateTime<Utc>, data: Value) {
        let event = DomainEvent {
            id: format!("{}:{}:{}", charge.id, kind, charge.version),
            kind,
            merchant_id: charge.merchant_id.clone(),
            charge_id: charge.id.clone(),
            occurred_at: now,
            data,
        };
        if let Err(e) = self.events.publish(&[event]).await {
            tracing::error!(charge_id = %charge.id, error = %e, kind = kind.as_str(), "event not published");
        }
    }

    pub(super) async fn get_charge(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cobrança não encontrada / charge not found");
        let id = ChargeId::parse(id).map_err(|_| not_found())?;
        let charge = self.store.get_charge(&merchant.id, &id).await?.ok_or_else(not_found)?;
        let reminders = self.store.reminders_of(&merchant.id, &id).await?;
        Ok(ApiResponse::json(200, &self.charge_view(merchant, &charge, &reminders, now).await?))
    }
}
