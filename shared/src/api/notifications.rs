//! Notifications in the merchant API: what became of each message of a charge, the merchant's prices, budget
//! and fallback chain, the month's spend, and the merchant's own message templates with a preview.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use super::requests::{self, NotificationSettingsInput, Template, TemplatePreview};
use super::{Api, ApiError, ApiRequest, ApiResponse};
use crate::calendar;
use crate::channel_policy::{self, NotificationSettings};
use crate::delivery::payment_url;
use crate::merchant::Merchant;
use crate::notification::{Channel, MessageContext};
use crate::ruler::Step;
use crate::templates::{self, MessageTemplate};

impl Api<'_> {
    /// `GET /v1/charges/{id}/notifications`: every message of the charge, oldest first.
    pub(super) async fn charge_notifications(&self, merchant: &Merchant, id: &str) -> Result<ApiResponse, ApiError> {
        let charge = self.merchant_charge(merchant, id).await?;
        let mut records = self.store.notifications_of(&merchant.id, &charge.id).await?;
        records.sort_by(|a, b| (a.created_at, &a.reminder_id).cmp(&(b.created_at, &b.reminder_id)));
        let data: Vec<Value> = records
            .iter()
            .map(|r| {
                json!({
                    "object": "notification",
                    "id": r.reminder_id,
                    "step": r.step,
                    "channel": r.channel,
                    "status": r.status,
                    "provider_message_id": r.provider_message_id,
                    "attempts": r.attempts,
                    "last_error": r.last_error,
                    "cost": r.cost.to_string(),
                    "segments": r.segments,
                    "fallback_from": r.fallback_from,
                    "history": r.history,
                    "created_at": r.created_at,
                    "updated_at": r.updated_at,
                })
            })
            .collect();
        Ok(ApiResponse::json(200, &json!({"object": "list", "charge_id": charge.id, "data": data})))
    }

    /// `GET /v1/notification-settings`: prices (defaults filled in), budget and fallback.
    pub(super) async fn get_notification_settings(&self, merchant: &Merchant) -> Result<ApiResponse, ApiError> {
        let settings = channel_policy::settings_of(self.store, &merchant.id).await?;
        Ok(ApiResponse::json(200, &settings_json(&settings)))
    }

    /// `PUT /v1/notification-settings`: replaces the merchant's settings.
    pub(super) async fn put_notification_settings(&self, merchant: &Merchant, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
        let body: NotificationSettingsInput = requests::parse(&req.body)?;
        let settings = NotificationSettings::parse(&body.to_value(), &merchant.id).map_err(|e| ApiError::invalid(&e.field, e.message))?;
        let stored = serde_json::to_value(&settings).map_err(ApiError::internal)?;
        self.store.put_merchant_document(&merchant.id, channel_policy::SETTINGS_DOCUMENT, &stored).await?;
        Ok(ApiResponse::json(200, &settings_json(&settings)))
    }

    /// `GET /v1/reports/notification-spend?month=YYYY-MM&format=json|csv`: messages and cost per channel,
    /// against the budget.
    pub(super) async fn notification_spend(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let month = match req.query("month") {
            None => channel_policy::spend_month(calendar::local_date(now)),
            Some(m) => {
                NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").map_err(|_| ApiError::invalid("month", "mês AAAA-MM / month YYYY-MM"))?;
                m
            }
        };
        let settings = channel_policy::settings_of(self.store, &merchant.id).await?;
        let spend = self.store.spend_of(&merchant.id, &month).await?;
        let total: rust_decimal::Decimal = spend.values().map(|l| l.amount).sum();
        if req.query("format").as_deref() == Some("csv") {
            let mut csv = String::from("month,channel,messages,amount\n");
            for (channel, line) in &spend {
                csv.push_str(&format!("{month},{},{},{}\n", channel.as_str(), line.messages, line.amount));
            }
            csv.push_str(&format!("{month},total,{},{total}\n", spend.values().map(|l| l.messages).sum::<u64>()));
            return Ok(ApiResponse::csv(csv));
        }
        let channels: Vec<Value> = spend
            .iter()
            .map(|(channel, line)| json!({"channel": channel, "messages": line.messages, "amount": line.amount.to_string(), "price": settings.price(*channel)}))
            .collect();
        let budget = settings.monthly_budget.map(|b| {
            json!({"amount": b, "remaining": (b.as_decimal() - total).max(rust_decimal::Decimal::ZERO).to_string(), "reached": total >= b.as_decimal()})
        });
        Ok(ApiResponse::json(
            200,
            &json!({"object": "notification_spend", "month": month, "total": total.to_string(), "channels": channels, "budget": budget}),
        ))
    }

    /// `GET /v1/templates`: every step on every channel, the merchant's template where saved, else the default.
    pub(super) async fn list_templates(&self, merchant: &Merchant) -> Result<ApiResponse, ApiError> {
        let mut data = Vec::new();
        for channel in Channel::ALL {
            for step in templates::STEPS {
                data.push(self.template_json(merchant, channel, step).await?);
            }
        }
        Ok(ApiResponse::json(200, &json!({"object": "list", "variables": templates::variables(), "data": data})))
    }

    /// `GET /v1/templates/{channel}/{step}`.
    pub(super) async fn get_template(&self, merchant: &Merchant, channel: &str, step: &str) -> Result<ApiResponse, ApiError> {
        let (channel, step) = template_path(channel, step)?;
        Ok(ApiResponse::json(200, &self.template_json(merchant, channel, step).await?))
    }

    /// `PUT /v1/templates/{channel}/{step}` with `{"subject", "body"}`: validated, then saved.
    pub(super) async fn put_template(&self, merchant: &Merchant, channel: &str, step: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
        let (channel, step) = template_path(channel, step)?;
        let template = parse_template(&req.body)?;
        templates::validate(channel, step, &template).map_err(|e| ApiError::invalid(e.field, e.message))?;
        let stored = serde_json::to_value(&template).map_err(ApiError::internal)?;
        self.store.put_merchant_document(&merchant.id, &templates::document_key(channel, step), &stored).await?;
        Ok(ApiResponse::json(200, &self.template_json(merchant, channel, step).await?))
    }

    /// `DELETE /v1/templates/{channel}/{step}`: back to the default.
    pub(super) async fn delete_template(&self, merchant: &Merchant, channel: &str, step: &str) -> Result<ApiResponse, ApiError> {
        let (channel, step) = template_path(channel, step)?;
        self.store.delete_merchant_document(&merchant.id, &templates::document_key(channel, step)).await?;
        Ok(ApiResponse::json(200, &self.template_json(merchant, channel, step).await?))
    }

    /// `POST /v1/templates/preview` with `{"channel", "step", "charge_id"?, "template"?: {"subject", "body"}}`:
    /// the message as the payer would get it — for the given charge (else a sample), with the given template
    /// (else the saved one, else the default).
    pub(super) async fn preview_template(&self, merchant: &Merchant, req: &ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let body: TemplatePreview = requests::parse(&req.body)?;
        let (channel, step) = template_path(required_text(body.channel.as_ref(), "channel")?, required_text(body.step.as_ref(), "step")?)?;
        let given = match &body.template {
            None | Some(Value::Null) => None,
            Some(t) => {
                let t = parse_template(t.to_string().as_bytes()).map_err(|e| ApiError { field: e.field.map(|f| format!("template.{f}")), ..e })?;
                templates::validate(channel, step, &t).map_err(|e| ApiError::invalid(&format!("template.{}", e.field), e.message))?;
                Some(t)
            }
        };
        let step_value = Step::parse_key(step).unwrap_or(Step::BeforeDue { days: 3 });
        let ctx = match body.charge_id.as_ref().and_then(Value::as_str) {
            None => MessageContext::sample(),
            Some(id) => {
                let charge = self.merchant_charge(merchant, id).await?;
                let customer = self
                    .store
                    .get_customer(&merchant.id, &charge.customer_id)
                    .await?
                    .ok_or_else(|| ApiError::new(404, "not_found", "cliente não encontrado / customer not found"))?;
                MessageContext::new(merchant, &customer, &charge, &payment_url(self.public_base_url, &charge.payment_token), now)?
            }
        };
        let custom = match given {
            Some(t) => Some(t),
            None => templates::merchant_template(self.store, &merchant.id, channel, step_value).await?,
        };
        let (subject, rendered) =
            templates::render(channel, step_value, &ctx, custom.as_ref()).map_err(|e| ApiError::new(422, "template_error", e.to_string()))?;
        let mut out = json!({"object": "template_preview", "channel": channel, "step": step, "subject": subject, "body": rendered, "source": if custom.is_some() { "merchant" } else { "default" }});
        if channel == Channel::Sms {
            out["sms"] = sms_json(&rendered);
        }
        Ok(ApiResponse::json(200, &out))
    }

    async fn template_json(&self, merchant: &Merchant, channel: Channel, step: &str) -> Result<Value, ApiError> {
        let step_value = Step::parse_key(step).unwrap_or(Step::BeforeDue { days: 3 });
        let saved = templates::merchant_template(self.store, &merchant.id, channel, step_value).await?;
        let source = if saved.is_some() { "merchant" } else { "default" };
        let template = saved
            .or_else(|| templates::default_template(channel, step))
            .ok_or_else(|| ApiError::new(404, "not_found", "modelo não encontrado / template not found"))?;
        let mut out =
            json!({"object": "template", "channel": channel, "step": step, "source": source, "subject": template.subject, "body": template.body});
        if channel == Channel::Sms {
            if let Ok((_, rendered)) = templates::render(channel, step_value, &MessageContext::sample(), Some(&template)) {
                out["sms"] = sms_json(&rendered);
            }
        }
        Ok(out)
    }

    async fn merchant_charge(&self, merchant: &Merchant, id: &str) -> Result<crate::charge::Charge, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cobrança não encontrada / charge not found");
        let id = crate::ids::ChargeId::parse(id).map_err(|_| not_found())?;
        self.store.get_charge(&merchant.id, &id).await?.ok_or_else(not_found)
    }
}

/// How long an SMS is and what it costs in parts.
fn sms_json(text: &str) -> Value {
    let fit = crate::sms_text::analyze_in(text, crate::sms_text::Alphabet::Portable);
    json!({"characters": fit.characters, "encoding": fit.encoding, "segments": fit.segments})
}

fn settings_json(s: &NotificationSettings) -> Value {
    json!({
        "object": "notification_settings",
        "prices": s.price_table(),
        "monthly_budget": s.monthly_budget,
        "fallback": s.fallback,
        "budget_exempt_channel": channel_policy::BUDGET_FALLBACK,
    })
}

fn template_path(channel: &str, step: &str) -> Result<(Channel, &'static str), ApiError> {
    let not_found = || ApiError::new(404, "not_found", "canal ou etapa desconhecidos / unknown channel or step");
    let channel = Channel::parse(channel).ok_or_else(not_found)?;
    let step = templates::STEPS.into_iter().find(|s| *s == step).ok_or_else(not_found)?;
    Ok((channel, step))
}

/// A text the preview needs: anything else, absent included, is invalid (as it has always been).
fn required_text<'b>(v: Option<&'b Value>, name: &str) -> Result<&'b str, ApiError> {
    v.and_then(Value::as_str).ok_or_else(|| ApiError::invalid(name, "obrigatório / required"))
}

fn parse_template(body: &[u8]) -> Result<MessageTemplate, ApiError> {
    let template: Template = requests::parse(body)?;
    let field = |name: &str, v: Option<Value>| match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::invalid(name, "texto / string")),
    };
    Ok(MessageTemplate { subject: field("subject", template.subject)?, body: field("body", template.body)? })
}
