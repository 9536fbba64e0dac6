//! Wiring from the environment: the one place that reads `COBRANCA_*` variables and builds adapters.

use std::sync::Arc;

use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::eventbridge::EventBridgeBus;
use crate::adapters::outbox::OutboxSender;
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

pub fn store(aws: &aws_config::SdkConfig) -> Result<Arc<dyn Store>, ConfigError> {
    Ok(Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), env("COBRANCA_TABLE")?)))
}

pub fn event_bus(aws: &aws_config::SdkConfig) -> Result<Arc<dyn EventBus>, ConfigError> {
    Ok(Arc::new(EventBridgeBus::new(aws_sdk_eventbridge::Client::new(aws), env("COBRANCA_EVENT_BUS")?)))
}

pub fn job_queue(aws: &aws_config::SdkConfig) -> Result<Arc<dyn JobQueue>, ConfigError> {
    Ok(Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(aws), env("COBRANCA_NOTIFICATION_QUEUE_URL")?, env("COBRANCA_PAYMENT_SETUP_QUEUE_URL").ok())))
}

/// The channel adapter. Only the outbox exists so far; real providers come with issue #10 and are chosen
/// by `COBRANCA_CHANNEL`.
pub fn sender(store: Arc<dyn Store>) -> Result<Arc<dyn NotificationSender>, ConfigError> {
    match std::env::var("COBRANCA_CHANNEL").unwrap_or_else(|_| "outbox".into()).as_str() {
        "outbox" => Ok(Arc::new(OutboxSender { store })),
        other => Err(ConfigError(format!("unknown COBRANCA_CHANNEL {other}"))),
    }
}

/// The banks and acquirers wallets can name. The sandbox is always there (development, tests, demos);
/// Banco do Brasil and Cielo are added when their credentials are configured.
pub fn providers() -> Result<Providers, ConfigError> {
    let providers = Providers::default()
        .with_bank(Provider::Sandbox, Arc::new(SandboxBank))
        .with_acquirer(Provider::Sandbox, Arc::new(SandboxAcquirer));
    Ok(providers)
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
