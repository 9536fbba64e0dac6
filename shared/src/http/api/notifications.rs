//! Notifications in the merchant API: what became of each message of a charge, the merchant's prices, budget
//! and fallback chain, the month's spend, and the merchant's own message templates with a preview.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::requests::{self, NotificationSettingsInput, Template, TemplatePreview};
use super::views;
use super::{Api, ApiError, ApiRequest, ApiResponse};
use crate::domain::calendar;
use crate::domain::channel_policy::{self, NotificationSettings};
use crate::domain::charge::payment_url;
use crate::domain::merchant::Merchant;
use crate::domain::notification::{Channel, MessageContext};
use crate::domain::ruler::Step;
use crate::domain::templates::{self, MessageTemplate};

impl Api<'_> {
    /// `GET /v1/charges/{id}/notifications`: every message of the charge, oldest first.
    pub(super) async fn charge_notifications(&self, merchant: &Merchant, id: &str) -> Result<ApiResponse, ApiError> {
        let charge = self.merchant_charge(merchant, id).await?;
        let mut records = self.store.notifications_of(&merchant.id, &charge.id).await?;
        records.sort_by(|a, b| (a.created_at, &a.reminder_id).cmp(&(b.created_at, &b.reminder_id)));
        let data = records.iter().map(|r| views::Notification::of(r, merchant.mode.is_live())).collect();
        Ok(ApiResponse::json(200, &views::ChargeNotifications::of(charge.id, data)))
    }

    /// `GET /v1/notification-settings`: prices (defaults filled in), budget and fallback.
    pub(super) async fn get_notification_settings(&self, merchant: &Merchant) -> Result<ApiResponse, ApiError> {
        let settings = channel_policy::settings_of(self.store, &merchant.id).await?;
        Ok(ApiResponse::json(200, &views::MerchantNotificationSettings::of(&settings, merchant.mode.is_live())))
    }

    /// `PUT /v1/notification-settings`: replaces the merchant's settings.
    pub(super) async fn put_notification_settings(&self, merchant: &Merchant, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
        let body: NotificationSettingsInput = requests::parse(&req.body)?;
        let settings = NotificationSettings::parse(&body.to_value(), &merchant.id).map_err(|e| ApiError::invalid(&e.field, e.message))?;
        let stored = serde_json::to_value(&settings).map_err(ApiError::internal)?;
        self.store.put_merchant_document(&merchant.id, channel_policy::SETTINGS_DOCUMENT, &stored).await?;
        Ok(ApiResponse::json(200, &views::MerchantNotificationSettings::of(&settings, merchant.mode.is_live())))
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
        let channels = spend
            .iter()
            .map(|(channel, line)| views::ChannelSpendLine {
                channel: *channel,
                messages: line.messages,
                amount: line.amount.to_string(),
                price: settings.price(*channel),
            })
            .collect();
        let budget = settings.monthly_budget.map(|b| views::BudgetUse::of(b, total));
        let live = merchant.mode.is_live();
        let object = views::NotificationSpendObject::Is;
        Ok(ApiResponse::json(200, &views::NotificationSpend { object, livemode: live, month, total: total.to_string(), channels, budget }))
    }

    /// `GET /v1/templates`: every step on every channel, the merchant's template where saved, else the default.
    pub(super) async fn list_templates(&self, merchant: &Merchant) -> Result<ApiResponse, ApiError> {
        let mut data = Vec::new();
        for channel in Channel::ALL {
            for step in templates::STEPS {
                data.push(self.template_json(merchant, channel, step).await?);
            }
        }
        Ok(ApiResponse::json(200, &views::TemplateList::of(templates::variables(), data)))
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
        let sms = (channel == Channel::Sms).then(|| views::SmsSize::of(&rendered));
        let source = if custom.is_some() { "merchant" } else { "default" };
        let object = views::TemplatePreviewObject::Is;
        let livemode = merchant.mode.is_live();
        Ok(ApiResponse::json(200, &views::RenderedTemplate { object, livemode, channel, step, subject, body: rendered, source, sms }))
    }

    async fn template_json(&self, merchant: &Merchant, channel: Channel, step: &'static str) -> Result<views::MessageTemplate, ApiError> {
        let step_value = Step::parse_key(step).unwrap_or(Step::BeforeDue { days: 3 });
        let saved = templates::merchant_template(self.store, &merchant.id, channel, step_value).await?;
        let source = if saved.is_some() { "merchant" } else { "default" };
        let template = saved
            .or_else(|| templates::default_template(channel, step))
            .ok_or_else(|| ApiError::new(404, "not_found", "modelo não encontrado / template not found"))?;
        // An SMS template's size is its sample message's; none when the sample does not render.
        let sms = (channel == Channel::Sms)
            .then(|| templates::render(channel, step_value, &MessageContext::sample(), Some(&template)).ok())
            .flatten()
            .map(|(_, rendered)| views::SmsSize::of(&rendered));
        Ok(views::MessageTemplate {
            object: views::TemplateObject::Is,
            livemode: merchant.mode.is_live(),
            channel,
            step,
            source,
            subject: template.subject,
            body: template.body,
            sms,
        })
    }

    async fn merchant_charge(&self, merchant: &Merchant, id: &str) -> Result<crate::domain::charge::Charge, ApiError> {
        let not_found = || ApiError::new(404, "not_found", "cobrança não encontrada / charge not found");
        let id = crate::domain::ids::ChargeId::parse(id).map_err(|_| not_found())?;
        self.store.get_charge(&merchant.id, &id).await?.ok_or_else(not_found)
    }
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
