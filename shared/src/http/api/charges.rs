//! Charges over HTTP: `POST /v1/charges` (parsed here, made by `service::ChargeService`), `GET`, `PATCH` and
//! `POST …/cancel` of one charge (changed and cancelled by the same service), and the charge's JSON.

use super::customers::new_customer;
use super::requests;
use super::*;

impl Api<'_> {
    /// `POST /v1/charges`: the body read into a `NewCharge` (in the order a refusal names its field: amount, due
    /// date, description, payer, terms, expiry), made by the charge service, shown as the charge.
    pub(super) async fn create_charge(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body: requests::ChargeInput = requests::parse(&req.body)?;
        // Under an Idempotency-Key the new charge's id (and an inline customer's) follow from the key.
        let keyed = req.header("idempotency-key").filter(|k| idempotency::valid_key(k)).map(|k| format!("{}/{k}", merchant.id));
        let amount = body.amount;
        let due_date = DueDate::parse_new(&body.due_date, now).map_err(|e| ApiError::invalid("due_date", e))?;
        let description = body.description.clone();
        let charges = self.charges();
        // The payer first: what late fees the law allows depends on it (CPF or CNPJ).
        let payer = match (&body.customer_id, &body.customer) {
            (Some(id), None) => Payer::Existing(charges.billable_customer(merchant, id).await?),
            (None, Some(inline)) => {
                let mut c = new_customer(inline, merchant, now, "customer.")?;
                if let Some(key) = &keyed {
                    c.id = CustomerId::derived(&format!("{key}/customer"));
                }
                Payer::Inline(c)
            }
            (None, None) => return Err(missing("customer_id")),
            _ => return Err(ApiError::invalid("customer", "informe customer_id ou customer, não ambos / give customer_id or customer, not both")),
        };
        let terms = charges.terms(merchant, &body.terms(), amount, due_date, &payer.customer().document).await?;
        let expires_at = match &body.expires_at {
            None => None,
            Some(s) => {
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
        };
        let new =
            NewCharge { payer, amount, due_date, description, terms, expires_at, origin: crate::domain::charge::ChargeOrigin::Single, key: keyed };
        let Created { charge, reminders } = charges.create(merchant, new, now).await?;
        Ok(ApiResponse::json(201, &self.charge_view(merchant, &charge, &reminders, now).await?))
    }

    /// One of the merchant's charges, still open: else 404 `not_found`, or 409 `charge_not_open`.
    pub(super) async fn open_charge(&self, merchant: &Merchant, id: &str) -> Result<Charge, ApiError> {
        Ok(self.charges().open_charge(&merchant.id, id).await?)
    }

    /// `PATCH /v1/charges/{id}` with `amount`, `due_date` and/or `description`, made by `ChargeService::change`
    /// (the payer told, the reminders following the new numbers). The charge is found open before its body is
    /// read, so a closed charge is a 409 whatever the body.
    pub(super) async fn update_charge(&self, merchant: &Merchant, id: &str, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body: requests::ChargeUpdate = requests::parse(&req.body)?;
        let before = self.open_charge(merchant, id).await?;
        let changes = ChargeChanges {
            amount: body.amount,
            due_date: body.due_date.as_deref().map(|due| DueDate::parse_new(due, now).map_err(|e| ApiError::invalid("due_date", e))).transpose()?,
            description: body.description,
        };
        let charge = self.charges().change(before, changes, now).await?;
        let reminders = self.store.reminders_of(&merchant.id, &charge.id).await?;
        Ok(ApiResponse::json(200, &self.charge_view(merchant, &charge, &reminders, now).await?))
    }

    /// `POST /v1/charges/{id}/cancel` (`ChargeService::cancel`): the charge can no longer be paid and its régua
    /// stops. Repeating it on a cancelled charge answers the same; any other closed charge is a 409.
    pub(super) async fn cancel_charge(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let charge = self.charges().cancel(&merchant.id, id, now).await?;
        let reminders = self.store.reminders_of(&merchant.id, &charge.id).await?;
        Ok(ApiResponse::json(200, &self.charge_view(merchant, &charge, &reminders, now).await?))
    }

    pub(super) async fn get_charge(&self, merchant: &Merchant, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cobrança não encontrada / charge not found");
        let id = ChargeId::parse(id).map_err(|_| not_found())?;
        let charge = self.store.get_charge(&merchant.id, &id).await?.ok_or_else(not_found)?;
        let reminders = self.store.reminders_of(&merchant.id, &id).await?;
        Ok(ApiResponse::json(200, &self.charge_view(merchant, &charge, &reminders, now).await?))
    }
}
