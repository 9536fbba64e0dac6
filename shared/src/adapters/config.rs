//! Wiring from the environment: the one place that reads `COBRANCA_*` variables and builds adapters.

use crate::adapters::channels::ChannelRouter;
use crate::adapters::ses::SesEmail;
use crate::adapters::whatsapp::{WhatsAppCloud, WhatsAppConfig};
use crate::notification::Channel;
use crate::merchant_webhooks::{RetrySchedule, UrlPolicy};
use std::sync::Arc;

use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::eventbridge::EventBridgeBus;
use crate::adapters::outbox::OutboxSender;
use crate::adapters::bb::{BancoDoBrasil, BbConfig};
use crate::adapters::cielo::{Cielo, CieloConfig};
use crate::adapters::sandbox::{SandboxAcquirer, SandboxBank};
use crate::providers::{Provider, Providers};
use crate::adapters::sqs::SqsQueue;
use crate::events::EventBus;
use crate::notification::NotificationSender;
use crate::queue::JobQueue;
use crate::store::Store;
use crate::webhook::WebhookSecret;

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

pub fn env(name: &str) -> Result<String, ConfigError> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).ok_or_else(|| ConfigError(format!("{name} is not set")))
}

/// The AWS SDK configuration, loaded once per process. Honours AWS_ENDPOINT_URL (LocalStack).
pub async fn aws() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The adapters every function shares. Functions build them on their first invocation, not at start-up:
/// loading the AWS configuration and TLS roots is most of a cold start, and an init phase that only starts the
/// runtime is as short as an empty function's.
pub struct Core {
    pub aws: aws_config::SdkConfig,
    pub store: Arc<dyn Store>,
    pub events: Arc<dyn EventBus>,
    pub queue: Arc<dyn JobQueue>,
}

pub async fn core() -> Result<Core, ConfigError> {
    let aws = aws().await;
    Ok(Core { store: store(&aws)?, events: event_bus(&aws)?, queue: job_queue(&aws)?, aws })
}

/// `Core` plus the payment providers and the public base URL: what the merchant API and the payer's page need.
pub async fn core_with_providers() -> Result<(Core, Providers, String), ConfigError> {
    let core = core().await?;
    let providers = providers(&core.aws).await?;
    Ok((core, providers, public_base_url()?))
}

pub fn store(aws: &aws_config::SdkConfig) -> Result<Arc<dyn Store>, ConfigError> {
    Ok(Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), env("COBRANCA_TABLE")?)))
}

pub fn event_bus(aws: &aws_config::SdkConfig) -> Result<Arc<dyn EventBus>, ConfigError> {
    Ok(Arc::new(EventBridgeBus::new(aws_sdk_eventbridge::Client::new(aws), env("COBRANCA_EVENT_BUS")?)))
}

pub fn job_queue(aws: &aws_config::SdkConfig) -> Result<Arc<dyn JobQueue>, ConfigError> {
    Ok(Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(aws), env("COBRANCA_NOTIFICATION_QUEUE_URL")?, env("COBRANCA_PAYMENT_SETUP_QUEUE_URL").ok()).with_webhook_queue(env("COBRANCA_WEBHOOK_QUEUE_URL").ok())))
}

/// Which webhook endpoint URLs merchants may register: public https only, unless
/// `COBRANCA_WEBHOOK_ALLOW_LOCAL=true` (local development and tests, where receivers run on localhost).
pub fn webhook_url_policy() -> UrlPolicy {
    UrlPolicy { allow_local: std::env::var("COBRANCA_WEBHOOK_ALLOW_LOCAL").is_ok_and(|v| v == "true") }
}

/// The webhook retry schedule: the standard three days, or `COBRANCA_WEBHOOK_RETRY_DELAYS` ("1s,2s,5s") where
/// three days cannot be waited for (tests, local runs).
pub fn webhook_retry_schedule() -> Result<RetrySchedule, ConfigError> {
    match env("COBRANCA_WEBHOOK_RETRY_DELAYS") {
        Ok(raw) => RetrySchedule::parse(&raw).ok_or_else(|| ConfigError(format!("COBRANCA_WEBHOOK_RETRY_DELAYS: expected delays like \"5s,1m,2h\", got {raw:?}"))),
        Err(_) => Ok(RetrySchedule::standard()),
    }
}

/// The webhook queue as its consumer needs it: a client and the URL, to postpone retries on the queue itself.
pub fn webhook_queue(aws: &aws_config::SdkConfig) -> Result<(aws_sdk_sqs::Client, String), ConfigError> {
    Ok((aws_sdk_sqs::Client::new(aws), env("COBRANCA_WEBHOOK_QUEUE_URL")?))
}

/// The channel adapters: WhatsApp (Meta Cloud API) when `COBRANCA_WHATSAPP_CREDENTIALS` (JSON, locally) or
/// `COBRANCA_WHATSAPP_CREDENTIALS_ARN` (a Secrets Manager secret holding it) gives
/// `{"phone_number_id","access_token","templates":{"before_due":"…",…},"api_url"?,"language"?}`; e-mail through
/// SES when `COBRANCA_EMAIL_FROM` names a verified sender (`COBRANCA_SES_CONFIGURATION_SET` for bounce and
/// complaint events); every channel without a provider writes to the development outbox.
pub async fn sender(aws: &aws_config::SdkConfig, store: Arc<dyn Store>) -> Result<Arc<dyn NotificationSender>, ConfigError> {
    if let Ok(other) = env("COBRANCA_CHANNEL") {
        if other != "outbox" {
            return Err(ConfigError(format!("COBRANCA_CHANNEL={other}: channels are now configured by their credentials (see README)")));
        }
    }
    let mut adapters: std::collections::HashMap<Channel, Arc<dyn NotificationSender>> = Default::default();
    if let Some(c) = credentials(aws, "COBRANCA_WHATSAPP_CREDENTIALS").await? {
        let field = |k: &str| c[k].as_str().map(str::to_string).ok_or_else(|| ConfigError(format!("COBRANCA_WHATSAPP_CREDENTIALS lacks {k}")));
        let templates = c["templates"]
            .as_object()
            .ok_or_else(|| ConfigError("COBRANCA_WHATSAPP_CREDENTIALS lacks templates (régua step → approved template name)".into()))?
            .iter()
            .filter_map(|(step, name)| name.as_str().map(|n| (step.clone(), n.to_string())))
            .collect();
        let config = WhatsAppConfig {
            api_url: c["api_url"].as_str().unwrap_or("https://graph.facebook.com/v21.0").to_string(),
            phone_number_id: field("phone_number_id")?,
            access_token: field("access_token")?,
            templates,
            language: c["language"].as_str().unwrap_or("pt_BR").to_string(),
            timeout: std::time::Duration::from_secs(8),
        };
        adapters.insert(Channel::Whatsapp, Arc::new(WhatsAppCloud::new(config)));
    }
    // E-mail through Amazon SES v2 once a verified sender is named.
    if let Ok(from) = env("COBRANCA_EMAIL_FROM") {
        let configuration_set = env("COBRANCA_SES_CONFIGURATION_SET").ok();
        adapters.insert(Channel::Email, Arc::new(SesEmail { client: aws_sdk_sesv2::Client::new(aws), from, configuration_set }));
    }
    Ok(Arc::new(ChannelRouter { adapters, outbox: Arc::new(OutboxSender { store }) }))
}

/// The banks and acquirers wallets can name. The sandbox is always there (development, tests, demos);
/// Banco do Brasil and Cielo are added when their credentials are configured: as JSON in
/// `COBRANCA_BB_CREDENTIALS` / `COBRANCA_CIELO_CREDENTIALS` locally, or by reference to a Secrets Manager secret
/// holding that JSON (`…_CREDENTIALS_ARN`) in AWS. `COBRANCA_BB_ENV` / `COBRANCA_CIELO_ENV` = `sandbox` points
/// them at the institutions' own test environments (BB's homologação, Cielo's sandbox); `…_URL` variables override single endpoints (tests, proxies).
pub async fn providers(aws: &aws_config::SdkConfig) -> Result<Providers, ConfigError> {
    let mut providers = Providers::default()
        .with_bank(Provider::Sandbox, Arc::new(SandboxBank))
        .with_acquirer(Provider::Sandbox, Arc::new(SandboxAcquirer));
    let timeout = std::time::Duration::from_secs(10);
    if let Some(c) = credentials(aws, "COBRANCA_BB_CREDENTIALS").await? {
        let sandbox = std::env::var("COBRANCA_BB_ENV").is_ok_and(|e| e == "sandbox");
        let url = |name: &str, production: &str, test: &str| std::env::var(name).unwrap_or_else(|_| (if sandbox { test } else { production }).to_string());
        let field = |k: &str| c[k].as_str().map(str::to_string).ok_or_else(|| ConfigError(format!("COBRANCA_BB_CREDENTIALS lacks {k}")));
        providers = providers.with_bank(
            Provider::BancoDoBrasil,
            Arc::new(BancoDoBrasil::new(BbConfig {
                oauth_url: url("COBRANCA_BB_OAUTH_URL", "https://oauth.bb.com.br/oauth/token", "https://oauth.hm.bb.com.br/oauth/token"),
                cobranca_base_url: url("COBRANCA_BB_COBRANCA_URL", "https://api.bb.com.br/cobrancas/v2", "https://api.hm.bb.com.br/cobrancas/v2"),
                pix_base_url: url("COBRANCA_BB_PIX_URL", "https://api-pix.bb.com.br/pix/v2", "https://api.hm.bb.com.br/pix/v2"),
                client_id: field("client_id")?,
                client_secret: field("client_secret")?,
                developer_application_key: field("developer_application_key")?,
                timeout,
            })),
        );
    }
    if let Some(c) = credentials(aws, "COBRANCA_CIELO_CREDENTIALS").await? {
        let sandbox = std::env::var("COBRANCA_CIELO_ENV").is_ok_and(|e| e == "sandbox");
        let default = if sandbox { "https://apisandbox.cieloecommerce.cielo.com.br" } else { "https://api.cieloecommerce.cielo.com.br" };
        let query_default = if sandbox { "https://apiquerysandbox.cieloecommerce.cielo.com.br" } else { "https://apiquery.cieloecommerce.cielo.com.br" };
        let field = |k: &str| c[k].as_str().map(str::to_string).ok_or_else(|| ConfigError(format!("COBRANCA_CIELO_CREDENTIALS lacks {k}")));
        providers = providers.with_acquirer(
            Provider::Cielo,
            Arc::new(Cielo::new(CieloConfig {
                api_url: std::env::var("COBRANCA_CIELO_URL").unwrap_or_else(|_| default.into()),
                query_url: std::env::var("COBRANCA_CIELO_QUERY_URL").unwrap_or_else(|_| query_default.into()),
                merchant_id: field("merchant_id")?,
                merchant_key: field("merchant_key")?,
                timeout,
            })),
        );
    }
    Ok(providers)
}

/// A provider's credentials (a JSON object): from `{name}` itself, or the Secrets Manager secret `{name}_ARN`.
async fn credentials(aws: &aws_config::SdkConfig, name: &str) -> Result<Option<serde_json::Value>, ConfigError> {
    let raw = match (env(name), env(&format!("{name}_ARN"))) {
        (Ok(v), _) => v,
        (Err(_), Ok(arn)) => aws_sdk_secretsmanager::Client::new(aws)
            .get_secret_value()
            .secret_id(&arn)
            .send()
            .await
            .map_err(|e| ConfigError(format!("reading {arn}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e))))?
            .secret_string
            .ok_or_else(|| ConfigError(format!("{arn} has no string value")))?,
        (Err(_), Err(_)) => return Ok(None),
    };
    serde_json::from_str(&raw).map(Some).map_err(|_| ConfigError(format!("{name} must be a JSON object")))
}

/// How the BCB Pix webhook is authenticated: `COBRANCA_PIX_WEBHOOK_MTLS=true` behind API Gateway mutual TLS, or
/// a shared secret in `COBRANCA_PIX_WEBHOOK_SECRET`; neither turns the route off.
pub fn pix_webhook_auth() -> Option<crate::api::PixWebhookAuth> {
    if std::env::var("COBRANCA_PIX_WEBHOOK_MTLS").is_ok_and(|v| v == "true") {
        return Some(crate::api::PixWebhookAuth::MutualTls);
    }
    env("COBRANCA_PIX_WEBHOOK_SECRET").ok().map(crate::api::PixWebhookAuth::SharedSecret)
}

/// The static header value Cielo is set up to send with its notification posts (`x-webhook-secret`):
/// `notification_secret` in the Cielo credentials. Without it `/v1/webhooks/cielo` is off.
pub async fn cielo_notification_secret(aws: &aws_config::SdkConfig) -> Result<Option<String>, ConfigError> {
    Ok(credentials(aws, "COBRANCA_CIELO_CREDENTIALS").await?.and_then(|c| c["notification_secret"].as_str().map(str::to_string)).filter(|s| s.len() >= 16))
}

/// Base URL of payment links.
pub fn public_base_url() -> Result<String, ConfigError> {
    env("COBRANCA_PUBLIC_BASE_URL")
}

/// Inbound webhook secrets: the value itself locally (`COBRANCA_WEBHOOK_SECRET`), or by reference to a
/// Secrets Manager secret in AWS (`COBRANCA_WEBHOOK_SECRET_ARN`), so no secret sits in the template.
pub async fn webhook_secrets(aws: &aws_config::SdkConfig) -> Result<Vec<WebhookSecret>, ConfigError> {
    let raw = match env("COBRANCA_WEBHOOK_SECRET") {
        Ok(v) => v,
        Err(_) => {
            let arn = env("COBRANCA_WEBHOOK_SECRET_ARN")?;
            let out = aws_sdk_secretsmanager::Client::new(aws)
                .get_secret_value()
                .secret_id(&arn)
                .send()
                .await
                .map_err(|e| ConfigError(format!("reading {arn}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e))))?;
            out.secret_string.ok_or_else(|| ConfigError(format!("{arn} has no string value")))?
        }
    };
    let secrets = WebhookSecret::parse_list(&raw);
    if secrets.is_empty() {
        return Err(ConfigError("no valid whsec_ secret configured".into()));
    }
    Ok(secrets)
}
