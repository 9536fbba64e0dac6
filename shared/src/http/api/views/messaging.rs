//! A merchant's messaging: its notification settings (`MerchantNotificationSettings`), the month's spend
//! (`NotificationSpend`), and its message templates (`MessageTemplate`, `TemplateList`, `RenderedTemplate`).
//! Named apart from the request bodies `NotificationSettings`, `Template` and `TemplatePreview`.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use super::{object_kind, ListObject};
use crate::domain::channel_policy::{self, ChannelPrice, NotificationSettings};
use crate::domain::money::Money;
use crate::domain::notification::Channel;
use crate::domain::sms_text::{Alphabet, Encoding};

object_kind!(NotificationSettingsObject = "notification_settings");
object_kind!(NotificationSpendObject = "notification_spend");
object_kind!(TemplateObject = "template");
object_kind!(TemplatePreviewObject = "template_preview");

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct MerchantNotificationSettings {
    #[schema(inline)]
    pub object: NotificationSettingsObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    pub livemode: bool,
    /// Every channel's price, defaults filled in.
    #[schema(value_type = Object)]
    pub prices: BTreeMap<Channel, ChannelPrice>,
    #[schema(value_type = Option<String>)]
    pub monthly_budget: Option<Money>,
    /// The channels tried, in order, when one cannot send.
    #[schema(value_type = Vec<String>)]
    pub fallback: Vec<Channel>,
    /// The channel still used once the budget is reached.
    #[schema(value_type = String)]
    pub budget_exempt_channel: Channel,
}

impl MerchantNotificationSettings {
    pub(crate) fn of(s: &NotificationSettings, livemode: bool) -> Self {
        Self {
            object: NotificationSettingsObject::Is,
            livemode,
            prices: s.price_table(),
            monthly_budget: s.monthly_budget,
            fallback: s.fallback.clone(),
            budget_exempt_channel: channel_policy::BUDGET_FALLBACK,
        }
    }
}

/// Messages and their cost per channel in a month, against the budget.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct NotificationSpend {
    #[schema(inline)]
    pub object: NotificationSpendObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    pub livemode: bool,
    /// `YYYY-MM`.
    pub month: String,
    pub total: String,
    pub channels: Vec<ChannelSpendLine>,
    /// Null without a monthly budget.
    pub budget: Option<BudgetUse>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ChannelSpendLine {
    #[schema(value_type = String)]
    pub channel: Channel,
    pub messages: u64,
    pub amount: String,
    /// The channel's price now.
    #[schema(value_type = Object)]
    pub price: ChannelPrice,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct BudgetUse {
    #[schema(value_type = String)]
    pub amount: Money,
    pub remaining: String,
    pub reached: bool,
}

impl BudgetUse {
    pub(crate) fn of(budget: Money, spent: Decimal) -> Self {
        Self { amount: budget, remaining: (budget.as_decimal() - spent).max(Decimal::ZERO).to_string(), reached: spent >= budget.as_decimal() }
    }
}

/// A message template: the merchant's where saved, else the default.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct MessageTemplate {
    #[schema(inline)]
    pub object: TemplateObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    pub livemode: bool,
    #[schema(value_type = String)]
    pub channel: Channel,
    pub step: &'static str,
    /// `merchant` or `default`.
    pub source: &'static str,
    pub subject: String,
    pub body: String,
    /// For an SMS, how long the sample message is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsSize>,
}

/// `GET /v1/templates`: every step on every channel, and the variables a template may use.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct TemplateList {
    #[schema(inline)]
    pub object: ListObject,
    pub variables: BTreeSet<String>,
    pub data: Vec<MessageTemplate>,
}

impl TemplateList {
    pub(crate) fn of(variables: BTreeSet<String>, data: Vec<MessageTemplate>) -> Self {
        Self { object: ListObject::Is, variables, data }
    }
}

/// A message as the payer would get it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct RenderedTemplate {
    #[schema(inline)]
    pub object: TemplatePreviewObject,
    /// The merchant's mode: true for a live merchant (real money and messages), false for a test merchant (sandbox and outbox).
    pub livemode: bool,
    #[schema(value_type = String)]
    pub channel: Channel,
    pub step: &'static str,
    pub subject: String,
    pub body: String,
    /// `merchant` or `default`: whose template it was rendered from.
    pub source: &'static str,
    /// For an SMS, how long it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsSize>,
}

/// How long an SMS is and what it costs in parts.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub(crate) struct SmsSize {
    pub characters: u32,
    #[schema(value_type = String)]
    pub encoding: Encoding,
    pub segments: u32,
}

impl SmsSize {
    /// An SMS's size as carriers deliver it (`Alphabet::Portable`, never underestimating the bill).
    pub(crate) fn of(text: &str) -> Self {
        let fit = crate::domain::sms_text::analyze_in(text, Alphabet::Portable);
        Self { characters: fit.characters, encoding: fit.encoding, segments: fit.segments }
    }
}
