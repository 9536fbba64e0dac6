//! A merchant's rules for its paid channels: what each costs, the monthly budget, and which channel takes over
//! when one fails. The one place for notification cost and budget arithmetic.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::ids::{ChargeId, MerchantId};
use crate::domain::money::Money;
use crate::domain::notification::Channel;

// Declared with the channels, whose entries name it; kept at this path for the price table's users.
pub use crate::domain::channel::BillingUnit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPrice {
    /// BRL, two decimals, zero or more.
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub per: BillingUnit,
}

impl ChannelPrice {
    /// The channel's default (its profile, in the list of channels): what a merchant without a contract of its own pays.
    pub fn default_for(channel: Channel) -> Self {
        let profile = channel.profile();
        Self { amount: Decimal::new(profile.price_cents, 2), per: profile.billing }
    }

    /// The key under which a message's price is paid once, or None when every message pays.
    pub fn unit_key(&self, channel: Channel, charge: &ChargeId, day: NaiveDate) -> Option<String> {
        match self.per {
            BillingUnit::Send => None,
            BillingUnit::Charge => Some(format!("{}#{charge}", package(channel))),
            BillingUnit::Day => Some(format!("{}#{charge}#{day}", channel.as_str())),
        }
    }
}

/// Channels sold together share one per-charge price.
fn package(channel: Channel) -> &'static str {
    channel.profile().package
}

/// The channel a merchant's budget never stops: the one the others fall back to when it is spent.
pub const BUDGET_FALLBACK: Channel = Channel::Email;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSettings {
    /// Prices that differ from the defaults (a merchant's own contract with its providers).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<Channel, ChannelPrice>,
    /// Spending on paid channels in a calendar month (São Paulo) stops at this; messages then go by e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_budget: Option<Money>,
    /// When a message fails for good on a channel, the next of these channels (after the failed one) that the
    /// payer can receive takes over, e.g. whatsapp → sms → email.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback: Vec<Channel>,
    /// The merchant's own provider accounts: channel → where its credentials are kept (a Secrets Manager
    /// secret under `cobranca/{merchant_id}/`, or `env:COBRANCA_MERCHANT_{MERCHANT_ID}__…` locally), used in live
    /// mode. Channels not listed use the deployment's providers, else are not sent (`channel_not_configured`); a
    /// test merchant's go to the outbox.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<Channel, ProviderReference>,
}

/// Where a merchant's provider credentials are kept; never the credentials themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProviderReference(String);

/// The environment variables of a merchant's local provider accounts start with this, then the merchant id in
/// capitals, then `__` and a name of its own (`env:COBRANCA_MERCHANT_MER_01ABC__SMS`).
const ENV_PREFIX: &str = "COBRANCA_MERCHANT_";

impl ProviderReference {
    /// The shape of a reference: `env:COBRANCA_MERCHANT_…` (local development), a Secrets Manager ARN whose name
    /// starts with `cobranca/`, or such a name. The prefixes keep a merchant from pointing at the deployment's own
    /// secrets; whose secret it is, is [`ProviderReference::belongs_to`]'s question.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        let ok = if let Some(var) = s.strip_prefix("env:") {
            var.starts_with(ENV_PREFIX)
                && var.len() > ENV_PREFIX.len()
                && var.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        } else {
            let name = secret_name(s);
            name.starts_with("cobranca/")
                && name.len() > 9
                && name.len() <= 512
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
        };
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err("referência a um segredo \"cobranca/{merchant_id}/…\" do Secrets Manager ou \"env:COBRANCA_MERCHANT_{MERCHANT_ID}__…\" / a reference to a \"cobranca/{merchant_id}/…\" Secrets Manager secret or \"env:COBRANCA_MERCHANT_{MERCHANT_ID}__…\"")
        }
    }

    /// A reference a merchant may name: well formed and [its own](ProviderReference::belongs_to).
    pub fn parse_for(s: &str, merchant: &MerchantId) -> Result<Self, &'static str> {
        let reference = Self::parse(s)?;
        if reference.belongs_to(merchant) {
            Ok(reference)
        } else {
            Err("o segredo deve ser do próprio lojista: \"cobranca/{merchant_id}/…\" ou \"env:COBRANCA_MERCHANT_{MERCHANT_ID}__…\" / the secret must be the merchant's own: \"cobranca/{merchant_id}/…\" or \"env:COBRANCA_MERCHANT_{MERCHANT_ID}__…\"")
        }
    }

    /// Whether this is one of `merchant`'s own secrets: `cobranca/{merchant_id}/…` (by name or ARN), or
    /// `env:COBRANCA_MERCHANT_{MERCHANT_ID}__{NAME}`. NAME is capitals and digits in words joined by single
    /// underscores, so no merchant's variables are another's (`MER_A` + `__B__SMS` would read as `MER_A__B`'s).
    pub fn belongs_to(&self, merchant: &MerchantId) -> bool {
        match self.0.strip_prefix("env:") {
            Some(var) => {
                let own = format!("{ENV_PREFIX}{}__", merchant.as_str().to_ascii_uppercase());
                var.strip_prefix(own.as_str()).is_some_and(|name| {
                    !name.is_empty()
                        && name.split('_').all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
                })
            }
            None => secret_name(&self.0)
                .strip_prefix("cobranca/")
                .and_then(|rest| rest.strip_prefix(merchant.as_str()))
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|name| !name.is_empty()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The secret's name in a Secrets Manager reference: the reference itself, or the name inside its ARN.
fn secret_name(reference: &str) -> &str {
    match reference.strip_prefix("arn:aws:secretsmanager:") {
        Some(rest) => rest.splitn(3, ':').nth(2).and_then(|r| r.strip_prefix("secret:")).unwrap_or(""),
        None => reference,
    }
}

impl TryFrom<String> for ProviderReference {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ProviderReference> for String {
    fn from(r: ProviderReference) -> String {
        r.0
    }
}

/// Resolves a merchant's provider reference into a working channel adapter and its credentials (for verifying
/// the provider's callbacks). Implemented over Secrets Manager and the environment, with a short cache.
#[async_trait::async_trait]
pub trait ProviderDirectory: Send + Sync {
    /// Implementations read only a reference that [belongs to](ProviderReference::belongs_to) `merchant`.
    async fn sender(
        &self,
        merchant: &MerchantId,
        channel: Channel,
        reference: &ProviderReference,
    ) -> Result<std::sync::Arc<dyn crate::domain::notification::NotificationSender>, crate::domain::notification::SendError>;
    async fn credentials(&self, merchant: &MerchantId, reference: &ProviderReference) -> Result<Value, String>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub field: String,
    pub message: &'static str,
}

impl NotificationSettings {
    pub fn price(&self, channel: Channel) -> ChannelPrice {
        self.prices.get(&channel).copied().unwrap_or_else(|| ChannelPrice::default_for(channel))
    }

    /// The whole price table, defaults filled in (what the API shows).
    pub fn price_table(&self) -> BTreeMap<Channel, ChannelPrice> {
        Channel::ALL.into_iter().map(|c| (c, self.price(c))).collect()
    }

    /// Whether the budget lets a message costing `cost` go, with `spent` already spent this month.
    pub fn within_budget(&self, channel: Channel, spent: Decimal, cost: Decimal) -> bool {
        match self.monthly_budget {
            _ if channel == BUDGET_FALLBACK || cost.is_zero() => true,
            None => true,
            Some(budget) => spent + cost <= budget.as_decimal(),
        }
    }

    /// The channel to try after `failed`, skipping those already tried for this message.
    pub fn next_channel(&self, failed: Channel, tried: &[Channel]) -> Option<Channel> {
        let start = self.fallback.iter().position(|c| *c == failed).map_or(0, |i| i + 1);
        self.fallback[start..].iter().copied().find(|c| *c != failed && !tried.contains(c))
    }

    /// Parses `{"prices": {"whatsapp": {"amount": "0.45", "per": "send"}}, "monthly_budget": "500.00",
    /// "fallback": ["whatsapp", "sms", "email"], "providers": {"sms": "cobranca/{merchant_id}/sms"}}` for
    /// `merchant`; errors name the field.
    pub fn parse(body: &Value, merchant: &MerchantId) -> Result<Self, SettingsError> {
        let err = |field: &str, message| SettingsError { field: field.to_string(), message };
        let obj = body.as_object().ok_or_else(|| err("body", "objeto JSON esperado / JSON object expected"))?;
        for key in obj.keys() {
            if !["prices", "monthly_budget", "fallback", "providers"].contains(&key.as_str()) {
                return Err(err(key, "campo desconhecido / unknown field"));
            }
        }
        let mut prices = BTreeMap::new();
        if let Some(p) = obj.get("prices").filter(|v| !v.is_null()) {
            let p = p.as_object().ok_or_else(|| err("prices", "objeto por canal / object keyed by channel"))?;
            for (name, price) in p {
                let field = format!("prices.{name}");
                let channel = Channel::parse(name).ok_or_else(|| err(&field, "canal desconhecido / unknown channel"))?;
                let amount = match price.get("amount").and_then(Value::as_str) {
                    Some("0") | Some("0.0") | Some("0.00") => Decimal::ZERO,
                    Some(s) => Money::parse(s)
                        .map_err(|_| err(&format!("{field}.amount"), "valor em reais, ex.: \"0.55\" / amount in BRL, e.g. \"0.55\""))?
                        .as_decimal(),
                    None => return Err(err(&format!("{field}.amount"), "obrigatório, texto decimal / required, decimal string")),
                };
                let per = match price.get("per") {
                    None | Some(Value::Null) => ChannelPrice::default_for(channel).per,
                    Some(v) => {
                        serde_json::from_value(v.clone()).map_err(|_| err(&format!("{field}.per"), "send, charge ou day / send, charge or day"))?
                    }
                };
                prices.insert(channel, ChannelPrice { amount, per });
            }
        }
        let monthly_budget = match obj.get("monthly_budget") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                Some(Money::parse(s).map_err(|_| err("monthly_budget", "valor em reais, ex.: \"500.00\" / amount in BRL, e.g. \"500.00\""))?)
            }
            Some(_) => return Err(err("monthly_budget", "texto decimal, ex.: \"500.00\" / decimal string, e.g. \"500.00\"")),
        };
        let fallback: Vec<Channel> = match obj.get("fallback") {
            None | Some(Value::Null) => vec![],
            Some(v) => serde_json::from_value(v.clone()).map_err(|_| err("fallback", "lista de canais / list of channels"))?,
        };
        let mut seen = Vec::new();
        for c in &fallback {
            if seen.contains(c) {
                return Err(err("fallback", "canal repetido / repeated channel"));
            }
            seen.push(*c);
        }
        let mut providers = BTreeMap::new();
        if let Some(p) = obj.get("providers").filter(|v| !v.is_null()) {
            let p = p.as_object().ok_or_else(|| err("providers", "objeto por canal / object keyed by channel"))?;
            for (name, reference) in p {
                let field = format!("providers.{name}");
                let channel = Channel::parse(name).ok_or_else(|| err(&field, "canal desconhecido / unknown channel"))?;
                let reference = reference
                    .as_str()
                    .ok_or_else(|| err(&field, "texto / string"))
                    .and_then(|r| ProviderReference::parse_for(r, merchant).map_err(|m| err(&field, m)))?;
                providers.insert(channel, reference);
            }
        }
        Ok(Self { prices, monthly_budget, fallback, providers })
    }
}

/// At most this many calls to a payer per São Paulo day.
pub const MAX_CALLS_PER_DAY: u32 = 3;
/// How long after an unanswered call the next one is placed.
pub const RETRY_AFTER_NO_ANSWER: chrono::Duration = chrono::Duration::hours(2);

/// When to call again after a call, or None: only an unanswered call is retried, at most
/// [`MAX_CALLS_PER_DAY`] calls a São Paulo day (`attempts_today` counts the call just made), each
/// [`RETRY_AFTER_NO_ANSWER`] after the last and inside `hours` (the legal contact hours, or the merchant's
/// narrower ones). A retry that would fall on another day is not made: the day's attempts are over, and the
/// régua's next step calls again on its own day.
pub fn next_voice_attempt(
    attempts_today: u32,
    last_result: crate::domain::tracking::MessageStatus,
    now: chrono::DateTime<chrono::Utc>,
    hours: &crate::domain::calendar::ContactHours,
) -> Option<chrono::DateTime<chrono::Utc>> {
    if last_result != crate::domain::tracking::MessageStatus::NoAnswer || attempts_today >= MAX_CALLS_PER_DAY {
        return None;
    }
    let slot = hours.next_slot(now + RETRY_AFTER_NO_ANSWER);
    (crate::domain::calendar::local_date(slot) == crate::domain::calendar::local_date(now)).then_some(slot)
}

/// The key of a merchant's notification settings among its documents.
pub const SETTINGS_DOCUMENT: &str = "notification_settings";

/// A merchant's settings, or the defaults when it has saved none.
pub async fn settings_of(
    store: &dyn crate::ports::store::DocumentStore,
    merchant: &crate::domain::ids::MerchantId,
) -> Result<NotificationSettings, crate::ports::store::StoreError> {
    match store.get_merchant_document(merchant, SETTINGS_DOCUMENT).await? {
        None => Ok(NotificationSettings::default()),
        Some(v) => {
            serde_json::from_value(v).map_err(|e| crate::ports::store::StoreError::Corrupt { key: SETTINGS_DOCUMENT.into(), message: e.to_string() })
        }
    }
}

/// The month a cost is counted in: "2026-12" (São Paulo calendar).
pub fn spend_month(day: NaiveDate) -> String {
    day.format("%Y-%m").to_string()
}

/// One channel's line in a month's spend.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSpend {
    /// Messages sent (each, whether or not its unit was already paid).
    pub messages: u64,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 10).unwrap()
    }

    #[test]
    fn defaults_follow_the_public_price_list() {
        let s = NotificationSettings::default();
        assert_eq!(s.price(Channel::Whatsapp), ChannelPrice { amount: Decimal::new(55, 2), per: BillingUnit::Send });
        assert_eq!(s.price(Channel::Letter).amount, Decimal::new(291, 2));
        assert_eq!(s.price(Channel::Voice).per, BillingUnit::Day);
    }

    #[test]
    fn email_and_sms_share_one_price_per_charge_and_voice_pays_per_day() {
        let s = NotificationSettings::default();
        let charge = ChargeId::parse("chg_1").unwrap();
        let email = s.price(Channel::Email).unit_key(Channel::Email, &charge, day());
        let sms = s.price(Channel::Sms).unit_key(Channel::Sms, &charge, day());
        assert_eq!(email, sms);
        assert_ne!(
            s.price(Channel::Voice).unit_key(Channel::Voice, &charge, day()),
            s.price(Channel::Voice).unit_key(Channel::Voice, &charge, day().succ_opt().unwrap())
        );
        assert_eq!(s.price(Channel::Whatsapp).unit_key(Channel::Whatsapp, &charge, day()), None);
    }

    #[test]
    fn the_budget_stops_paid_channels_at_the_exact_cent_but_never_email() {
        let s = NotificationSettings::parse(&json!({"monthly_budget": "10.00"}), &loja()).unwrap();
        let cost = Decimal::new(55, 2);
        assert!(s.within_budget(Channel::Whatsapp, Decimal::new(945, 2), cost)); // 9.45 + 0.55 = 10.00
        assert!(!s.within_budget(Channel::Whatsapp, Decimal::new(946, 2), cost));
        assert!(s.within_budget(Channel::Email, Decimal::new(10_000, 2), Decimal::new(99, 2)));
        // An already-paid unit costs nothing and always goes.
        assert!(s.within_budget(Channel::Voice, Decimal::new(10_000, 2), Decimal::ZERO));
    }

    #[test]
    fn fallback_takes_the_next_channel_not_yet_tried() {
        let s = NotificationSettings::parse(&json!({"fallback": ["whatsapp", "sms", "email"]}), &loja()).unwrap();
        assert_eq!(s.next_channel(Channel::Whatsapp, &[]), Some(Channel::Sms));
        assert_eq!(s.next_channel(Channel::Sms, &[Channel::Whatsapp]), Some(Channel::Email));
        assert_eq!(s.next_channel(Channel::Email, &[Channel::Whatsapp, Channel::Sms]), None);
        // A channel outside the chain falls to the chain's start.
        assert_eq!(s.next_channel(Channel::Voice, &[]), Some(Channel::Whatsapp));
        assert_eq!(NotificationSettings::default().next_channel(Channel::Whatsapp, &[]), None);
    }

    fn loja() -> MerchantId {
        MerchantId::parse("mer_01loja").unwrap()
    }

    #[test]
    fn provider_references_point_only_at_merchant_secrets() {
        for ok in [
            "cobranca/mer_01loja/whatsapp",
            "arn:aws:secretsmanager:sa-east-1:123456789012:secret:cobranca/mer_01loja/sms-AbCdEf",
            "env:COBRANCA_MERCHANT_MER_01LOJA__SMS",
            "env:COBRANCA_MERCHANT_MER_01LOJA__SMS_2",
        ] {
            ProviderReference::parse_for(ok, &loja()).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "env:COBRANCA_WEBHOOK_SECRET",
            "env:HOME",
            "prod/db-password",
            "arn:aws:secretsmanager:sa-east-1:1:secret:other/x",
            "cobranca/",
            "cobranca/a b",
        ] {
            assert!(ProviderReference::parse(bad).is_err(), "{bad}");
        }
        let s = NotificationSettings::parse(&json!({"providers": {"sms": "cobranca/mer_01loja/sms"}}), &loja()).unwrap();
        assert_eq!(s.providers[&Channel::Sms].as_str(), "cobranca/mer_01loja/sms");
        assert_eq!(NotificationSettings::parse(&json!({"providers": {"sms": "env:PATH"}}), &loja()).unwrap_err().field, "providers.sms");
    }

    #[test]
    fn a_merchant_cannot_name_another_merchants_secret() {
        let other = MerchantId::parse("mer_01outra").unwrap();
        // Another merchant's, the deployment's own, a merchant whose id starts like ours, and variables that would
        // read as a longer merchant id's (`MER_01LOJA__X__SMS` is `mer_01loja__x`'s `SMS`).
        let prefixed = MerchantId::parse("mer_01loja_b").unwrap();
        for theirs in [
            "cobranca/mer_01outra/sms",
            "arn:aws:secretsmanager:sa-east-1:123456789012:secret:cobranca/mer_01outra/sms-AbCdEf",
            "env:COBRANCA_MERCHANT_MER_01OUTRA__SMS",
            "cobranca/webhook",
            "cobranca/mer_01loja_b/sms",
            "cobranca/mer_01loja/",
            "cobranca/mer_01lojaX/sms",
            "env:COBRANCA_MERCHANT_MER_01LOJA_B__SMS",
            "env:COBRANCA_MERCHANT_MER_01LOJA__X__SMS",
            "env:COBRANCA_MERCHANT_MER_01LOJA___SMS",
            "env:COBRANCA_MERCHANT_MER_01LOJA__",
            "env:COBRANCA_MERCHANT_MER_01LOJA_SMS",
        ] {
            assert!(ProviderReference::parse_for(theirs, &loja()).is_err(), "{theirs} accepted for mer_01loja");
            let e = NotificationSettings::parse(&json!({"providers": {"sms": theirs}}), &loja()).unwrap_err();
            assert_eq!(e.field, "providers.sms");
        }
        assert!(ProviderReference::parse_for("cobranca/mer_01outra/sms", &other).is_ok());
        assert!(ProviderReference::parse_for("env:COBRANCA_MERCHANT_MER_01LOJA_B__SMS", &prefixed).is_ok());
        // A reference stored before references were scoped is still refused where it is read.
        let stored: ProviderReference = serde_json::from_value(json!("cobranca/mer_01outra/sms")).unwrap();
        assert!(!stored.belongs_to(&loja()));
    }

    #[test]
    fn bad_settings_name_the_field() {
        let cases = [
            (json!({"prices": {"fax": {"amount": "1.00"}}}), "prices.fax"),
            (json!({"prices": {"sms": {"amount": 0.1}}}), "prices.sms.amount"),
            (json!({"prices": {"sms": {"amount": "0.101"}}}), "prices.sms.amount"),
            (json!({"prices": {"sms": {"amount": "0.10", "per": "week"}}}), "prices.sms.per"),
            (json!({"monthly_budget": "-5"}), "monthly_budget"),
            (json!({"monthly_budget": 5}), "monthly_budget"),
            (json!({"fallback": ["sms", "sms"]}), "fallback"),
            (json!({"fallback": ["pigeon"]}), "fallback"),
            (json!({"budget": "1.00"}), "budget"),
        ];
        for (body, field) in cases {
            assert_eq!(NotificationSettings::parse(&body, &loja()).unwrap_err().field, field, "{body}");
        }
        let ok = NotificationSettings::parse(&json!({"prices": {"sms": {"amount": "0", "per": "send"}}}), &loja()).unwrap();
        assert_eq!(ok.price(Channel::Sms), ChannelPrice { amount: Decimal::ZERO, per: BillingUnit::Send });
    }

    fn at(d: u32, h: u32, m: u32) -> chrono::DateTime<chrono::Utc> {
        crate::domain::calendar::local_instant(NaiveDate::from_ymd_opt(2026, 12, d).unwrap(), chrono::NaiveTime::from_hms_opt(h, m, 0).unwrap())
    }

    #[test]
    fn retries_an_unanswered_call_two_hours_later_up_to_three_a_day_within_contact_hours() {
        let legal = crate::domain::calendar::ContactHours::legal();
        // Wednesday 9 December 2026.
        assert_eq!(next_voice_attempt(1, crate::domain::tracking::MessageStatus::NoAnswer, at(9, 9, 0), &legal), Some(at(9, 11, 0)));
        assert_eq!(next_voice_attempt(2, crate::domain::tracking::MessageStatus::NoAnswer, at(9, 11, 0), &legal), Some(at(9, 13, 0)));
        assert_eq!(next_voice_attempt(3, crate::domain::tracking::MessageStatus::NoAnswer, at(9, 13, 0), &legal), None, "three calls a day at most");
        // Answered or failed calls are not repeated.
        assert_eq!(next_voice_attempt(1, crate::domain::tracking::MessageStatus::Delivered, at(9, 9, 0), &legal), None);
        assert_eq!(next_voice_attempt(1, crate::domain::tracking::MessageStatus::Failed, at(9, 9, 0), &legal), None);
        // 18:30 + 2 h is past 20:00: the day is over.
        assert_eq!(next_voice_attempt(1, crate::domain::tracking::MessageStatus::NoAnswer, at(9, 18, 30), &legal), None);
        // Saturday 12 December closes at 14:00.
        assert_eq!(next_voice_attempt(1, crate::domain::tracking::MessageStatus::NoAnswer, at(12, 11, 0), &legal), Some(at(12, 13, 0)));
        assert_eq!(next_voice_attempt(1, crate::domain::tracking::MessageStatus::NoAnswer, at(12, 12, 30), &legal), None);
        // A call before opening (merchant hours from 10:00) waits for the window.
        let narrow = crate::domain::calendar::ContactHours {
            weekdays: (chrono::NaiveTime::from_hms_opt(10, 0, 0).unwrap(), chrono::NaiveTime::from_hms_opt(18, 0, 0).unwrap()),
            saturdays: None,
        };
        assert_eq!(next_voice_attempt(1, crate::domain::tracking::MessageStatus::NoAnswer, at(9, 7, 30), &narrow), Some(at(9, 10, 0)));
    }
}
