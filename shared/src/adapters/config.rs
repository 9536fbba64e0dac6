//! Wiring from the environment: reads the `COBRANCA_*` variables and builds the adapters. The channels' and
//! institutions' connectors declare the variables that are theirs (credentials, endpoints; `registry` in
//! `adapters::channels` and `adapters::providers`), and this wiring walks those registries without naming one.

use crate::adapters::channels::registry::{self, Callback, CallbackTools, Credentials};
use crate::adapters::channels::ChannelRouter;
use crate::domain::channel_policy::ProviderDirectory;
use crate::domain::notification::Channel;
use crate::service::merchant_webhooks::{RetrySchedule, UrlPolicy};
use std::sync::Arc;

use crate::adapters::channels::outbox::OutboxSender;
use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::eventbridge::EventBridgeBus;
use crate::adapters::sqs::SqsQueue;
use crate::domain::events::EventBus;
use crate::domain::notification::NotificationSender;
use crate::domain::standard_webhooks::WebhookSecret;
use crate::ports::providers::{Provider, Providers};
use crate::ports::queue::JobQueue;
use crate::ports::store::Store;

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

pub fn env(name: &str) -> Result<String, ConfigError> {
    crate::adapters::credentials::variable(name).ok_or_else(|| ConfigError(format!("{name} is not set")))
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
    Ok(Arc::new(
        SqsQueue::new(aws_sdk_sqs::Client::new(aws), env("COBRANCA_NOTIFICATION_QUEUE_URL")?, env("COBRANCA_PAYMENT_SETUP_QUEUE_URL").ok())
            .with_webhook_queue(env("COBRANCA_WEBHOOK_QUEUE_URL").ok()),
    ))
}

/// Which webhook endpoint URLs merchants may register: public https only, unless
/// `COBRANCA_WEBHOOK_ALLOW_LOCAL=true` (local development and tests, where receivers run on localhost).
pub fn webhook_url_policy() -> UrlPolicy {
    UrlPolicy { allow_local: std::env::var("COBRANCA_WEBHOOK_ALLOW_LOCAL").is_ok_and(|v| v == "true") }
}

/// Who may create merchants and how fast a key may go: `COBRANCA_OPERATOR_KEY_SHA256` (the operator key's SHA-256
/// in hex; empty closes `POST /v1/merchants`) and `COBRANCA_RATE_LIMIT_PER_MINUTE` (requests per minute per key
/// unless the key says otherwise; empty or 0 for no limit).
pub fn access_policy() -> Result<crate::domain::api_keys::AccessPolicy, ConfigError> {
    let operator_key = crate::domain::api_keys::AccessPolicy::parse_operator_hash(&env("COBRANCA_OPERATOR_KEY_SHA256").unwrap_or_default())
        .map_err(|e| ConfigError(format!("COBRANCA_OPERATOR_KEY_SHA256: {e}")))?;
    let default_rate_limit = match env("COBRANCA_RATE_LIMIT_PER_MINUTE").unwrap_or_default().trim() {
        "" | "0" => None,
        raw => {
            Some(raw.parse::<u32>().map_err(|_| ConfigError(format!("COBRANCA_RATE_LIMIT_PER_MINUTE: expected requests per minute, got {raw:?}")))?)
        }
    };
    Ok(crate::domain::api_keys::AccessPolicy { operator_key, default_rate_limit })
}

/// The webhook retry schedule: the standard three days, or `COBRANCA_WEBHOOK_RETRY_DELAYS` ("1s,2s,5s") where
/// three days cannot be waited for (tests, local runs).
pub fn webhook_retry_schedule() -> Result<RetrySchedule, ConfigError> {
    match env("COBRANCA_WEBHOOK_RETRY_DELAYS") {
        Ok(raw) => RetrySchedule::parse(&raw)
            .ok_or_else(|| ConfigError(format!("COBRANCA_WEBHOOK_RETRY_DELAYS: expected delays like \"5s,1m,2h\", got {raw:?}"))),
        Err(_) => Ok(RetrySchedule::standard()),
    }
}

/// The notification queue as its consumer needs it: a client and the URL, to back retries off on the queue.
pub fn notification_queue(aws: &aws_config::SdkConfig) -> Result<(aws_sdk_sqs::Client, String), ConfigError> {
    Ok((aws_sdk_sqs::Client::new(aws), env("COBRANCA_NOTIFICATION_QUEUE_URL")?))
}

/// The webhook queue as its consumer needs it: a client and the URL, to postpone retries on the queue itself.
pub fn webhook_queue(aws: &aws_config::SdkConfig) -> Result<(aws_sdk_sqs::Client, String), ConfigError> {
    Ok((aws_sdk_sqs::Client::new(aws), env("COBRANCA_WEBHOOK_QUEUE_URL")?))
}

/// Where a deployment keeps each channel's provider credentials: `COBRANCA_{CHANNEL}_CREDENTIALS` (JSON,
/// locally) or `…_CREDENTIALS_ARN` (a Secrets Manager secret holding it, in AWS), as its connector declares.
pub fn credentials_variable(channel: Channel) -> &'static str {
    registry::connector(channel).credentials_variable()
}

/// A channel's adapter from its provider credentials, built by the channel's connector (the shape of each is
/// its `example_credentials`; docs/channels.md).
pub fn channel_adapter(channel: Channel, c: &serde_json::Value, aws: &aws_config::SdkConfig) -> Result<Arc<dyn NotificationSender>, ConfigError> {
    let connector = registry::connector(channel);
    connector.build(&Credentials { variable: connector.credentials_variable(), value: c }, aws).map_err(ConfigError)
}

/// The deployment's channel adapters, each turned on by its credentials (see `channel_adapter`) or by the
/// variables its connector reads instead (e-mail: `COBRANCA_EMAIL_FROM`, a verified SES sender). A channel
/// without a provider is not served: live merchants' messages on it are not sent. Test merchants' messages go to
/// the outbox (`outbox`) whatever is configured here.
pub async fn sender(aws: &aws_config::SdkConfig) -> Result<Arc<dyn NotificationSender>, ConfigError> {
    if let Ok(other) = env("COBRANCA_CHANNEL") {
        if other != "outbox" {
            return Err(ConfigError(format!("COBRANCA_CHANNEL={other}: channels are now configured by their credentials (see README)")));
        }
    }
    let mut adapters: std::collections::HashMap<Channel, Arc<dyn NotificationSender>> = Default::default();
    for channel in Channel::ALL {
        if let Some(c) = deployment_credentials(aws, channel).await? {
            adapters.insert(channel, channel_adapter(channel, &c, aws)?);
        }
    }
    Ok(Arc::new(ChannelRouter { adapters }))
}

/// Where test-mode merchants' messages go: the development outbox in the table (`GET /_local/outbox`).
pub fn outbox(store: Arc<dyn Store>) -> Arc<dyn NotificationSender> {
    Arc::new(OutboxSender { store })
}

/// A channel's deployment credentials, if configured.
async fn deployment_credentials(aws: &aws_config::SdkConfig, channel: Channel) -> Result<Option<serde_json::Value>, ConfigError> {
    let connector = registry::connector(channel);
    if let Some(c) = connector.environment_credentials() {
        return Ok(Some(c));
    }
    credentials(aws, connector.credentials_variable()).await
}

/// Merchants' own provider accounts, resolved from their references (Secrets Manager, or the environment
/// locally) and kept five minutes, so a rotated secret is picked up without a deployment.
pub struct MerchantProviders {
    aws: aws_config::SdkConfig,
    cache: Cached<serde_json::Value>,
    /// By channel and reference ("sms cobranca/mer_…/sms").
    adapters: Cached<Arc<dyn NotificationSender>>,
    /// Whether a merchant's secret may point the adapter elsewhere (`api_url`): only where endpoints may be local
    /// (`COBRANCA_WEBHOOK_ALLOW_LOCAL`, local development and tests).
    policy: UrlPolicy,
}

/// A cached value and when it was fetched.
type Cached<T> = std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, T)>>;

const MERCHANT_PROVIDER_TTL: std::time::Duration = std::time::Duration::from_secs(300);

impl MerchantProviders {
    pub fn new(aws: aws_config::SdkConfig) -> Self {
        Self { aws, cache: Default::default(), adapters: Default::default(), policy: webhook_url_policy() }
    }
}

#[async_trait::async_trait]
impl crate::domain::channel_policy::ProviderDirectory for MerchantProviders {
    async fn sender(
        &self,
        merchant: &crate::domain::ids::MerchantId,
        channel: Channel,
        reference: &crate::domain::channel_policy::ProviderReference,
    ) -> Result<Arc<dyn NotificationSender>, crate::domain::notification::SendError> {
        use crate::domain::notification::SendError;
        if !reference.belongs_to(merchant) {
            return Err(SendError::Permanent(format!("merchant provider {} is not {merchant}'s own secret", reference.as_str())));
        }
        let key = format!("{} {}", channel.as_str(), reference.as_str());
        if let Some((at, adapter)) = self.adapters.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            if at.elapsed() < MERCHANT_PROVIDER_TTL {
                return Ok(adapter.clone());
            }
        }
        // An unreadable secret may be a passing AWS fault; a secret that does not describe an adapter needs a person.
        let c = self.credentials(merchant, reference).await.map_err(SendError::Transient)?;
        // The provider's API is where we send the merchant's messages, with its token: a URL of the merchant's
        // choosing there would have us call any address for them (SSRF). The providers' own APIs are the defaults.
        if c.get("api_url").is_some() && !self.policy.allow_local {
            return Err(SendError::Permanent(format!(
                "merchant provider {}: api_url is not accepted in a merchant's secret / api_url não é aceito no segredo do lojista",
                reference.as_str()
            )));
        }
        let adapter = channel_adapter(channel, &c, &self.aws)
            .map_err(|e| SendError::Permanent(format!("merchant provider {}: {}", reference.as_str(), e.0)))?;
        self.adapters.lock().unwrap_or_else(|p| p.into_inner()).insert(key, (std::time::Instant::now(), adapter.clone()));
        Ok(adapter)
    }

    async fn credentials(
        &self,
        merchant: &crate::domain::ids::MerchantId,
        reference: &crate::domain::channel_policy::ProviderReference,
    ) -> Result<serde_json::Value, String> {
        // Checked here, where secrets are read: one role reads every merchant's secrets, so IAM cannot tell them apart.
        if !reference.belongs_to(merchant) {
            return Err(format!("{} is not {merchant}'s own secret", reference.as_str()));
        }
        if let Some((at, c)) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(reference.as_str()) {
            if at.elapsed() < MERCHANT_PROVIDER_TTL {
                return Ok(c.clone());
            }
        }
        let raw = match reference.as_str().strip_prefix("env:") {
            Some(var) => std::env::var(var).map_err(|_| format!("{var} is not set"))?,
            None => aws_sdk_secretsmanager::Client::new(&self.aws)
                .get_secret_value()
                .secret_id(reference.as_str())
                .send()
                .await
                .map_err(|e| format!("reading {}: {}", reference.as_str(), aws_sdk_secretsmanager::error::DisplayErrorContext(&e)))?
                .secret_string
                .ok_or_else(|| format!("{} has no string value", reference.as_str()))?,
        };
        // The secret's text never goes into an error: it may hold the credentials in a shape we do not expect.
        let c: serde_json::Value = serde_json::from_str(&raw).map_err(|_| format!("{} must hold a JSON object", reference.as_str()))?;
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(reference.as_str().to_string(), (std::time::Instant::now(), c.clone()));
        Ok(c)
    }
}

/// Status callbacks of the configured providers, verified with the deployment's credentials
/// (`/v1/webhooks/notifications/{provider}`) or a merchant's own (`…/{provider}/{merchant_id}`).
pub struct ConfiguredCallbacks {
    aws: aws_config::SdkConfig,
    store: Arc<dyn Store>,
    merchants: Arc<MerchantProviders>,
    tools: CallbackTools,
}

impl ConfiguredCallbacks {
    pub fn new(aws: aws_config::SdkConfig, store: Arc<dyn Store>, merchants: Arc<MerchantProviders>) -> Self {
        Self { aws, store, merchants, tools: CallbackTools::new(std::time::Duration::from_secs(5)) }
    }

    /// The credentials that sign this source's callbacks.
    async fn credentials_of(
        &self,
        channel: Channel,
        source: crate::domain::tracking::CallbackSource<'_>,
    ) -> Result<serde_json::Value, crate::domain::tracking::CallbackError> {
        use crate::domain::tracking::CallbackError;
        let unauthorized = |why: String| CallbackError::Unauthorized(why);
        match source.merchant {
            None => deployment_credentials(&self.aws, channel)
                .await
                .map_err(|e| unauthorized(e.0))?
                .ok_or_else(|| unauthorized(format!("{} is not configured", source.provider))),
            Some(merchant) => {
                let settings =
                    crate::domain::channel_policy::settings_of(self.store.as_ref(), merchant).await.map_err(|e| unauthorized(e.to_string()))?;
                let reference =
                    settings.providers.get(&channel).ok_or_else(|| unauthorized(format!("the merchant has no {} provider", source.provider)))?;
                self.merchants.credentials(merchant, reference).await.map_err(unauthorized)
            }
        }
    }
}

#[async_trait::async_trait]
impl crate::domain::tracking::ChannelCallbacks for ConfiguredCallbacks {
    fn channel_of(&self, provider: &str) -> Option<Channel> {
        registry::by_provider(provider).map(|c| c.channel())
    }

    async fn handshake(
        &self,
        source: crate::domain::tracking::CallbackSource<'_>,
        query: &[(String, String)],
    ) -> Option<Result<String, crate::domain::tracking::CallbackError>> {
        let connector = registry::by_provider(source.provider)?;
        let handshake = connector.handshake()?;
        Some(match self.credentials_of(connector.channel(), source).await {
            Ok(c) => handshake(query, &c),
            Err(e) => Err(e),
        })
    }

    async fn parse(
        &self,
        source: crate::domain::tracking::CallbackSource<'_>,
        query: &[(String, String)],
        headers: &std::collections::HashMap<String, String>,
        body: &[u8],
    ) -> Result<Vec<crate::domain::tracking::StatusUpdate>, crate::domain::tracking::CallbackError> {
        let connector =
            registry::by_provider(source.provider).ok_or_else(|| crate::domain::tracking::CallbackError::Malformed("unknown provider".into()))?;
        let c = self.credentials_of(connector.channel(), source).await?;
        connector.status_updates(&Callback { query, headers, body }, &c, &self.tools).await
    }
}

/// The banks and acquirers wallets can name, each registered by its connector (`adapters::providers::registry`)
/// when its credentials are configured: as JSON in its credentials variable (`COBRANCA_BB_CREDENTIALS`,
/// `COBRANCA_CIELO_CREDENTIALS`) locally, or by reference to a Secrets Manager secret holding that JSON
/// (`…_CREDENTIALS_ARN`) in AWS. The sandbox needs none and is always there for test-mode merchants (development,
/// tests, demos); `Providers` never hands it to a live one. An institution's environment variable
/// (`COBRANCA_BB_ENV`, `COBRANCA_CIELO_ENV`) = `sandbox` points it at the institution's own test environment (BB's
/// homologação, Cielo's sandbox); each endpoint's `…_URL` variable overrides that endpoint (tests, proxies).
pub async fn providers(aws: &aws_config::SdkConfig) -> Result<Providers, ConfigError> {
    use crate::adapters::providers::registry::{self, Environment};
    let mut providers = Providers::default();
    for institution in Provider::ALL {
        let connector = registry::connector(institution);
        let (variable, value) = match connector.credentials_variable() {
            None => ("", serde_json::Value::Null),
            Some(variable) => match credentials(aws, variable).await? {
                Some(value) => (variable, value),
                None => continue,
            },
        };
        let test = connector.environment_variable().is_some_and(|v| std::env::var(v).is_ok_and(|e| e == "sandbox"));
        let environment = if test { Environment::Test } else { Environment::Production };
        providers = connector.register(providers, &Credentials { variable, value: &value }, environment).map_err(ConfigError)?;
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

/// How the BCB Pix webhook is authenticated: `COBRANCA_PIX_WEBHOOK_MTLS=true` behind API Gateway mutual TLS, with
/// the PSP's certificate pinned by `COBRANCA_PIX_WEBHOOK_CERT_SHA256` (fingerprints, comma-separated) or by
/// `COBRANCA_PIX_WEBHOOK_CERT_SUBJECT` and `COBRANCA_PIX_WEBHOOK_CERT_ISSUER` (as API Gateway forwards them;
/// mutual TLS without a pin is a configuration error); or a shared secret in `COBRANCA_PIX_WEBHOOK_SECRET`.
/// Neither turns the route off.
pub fn pix_webhook_auth() -> Result<Option<crate::http::api::provider_webhooks::PixWebhookAuth>, ConfigError> {
    use crate::http::mtls::ClientCertPin;
    if std::env::var("COBRANCA_PIX_WEBHOOK_MTLS").is_ok_and(|v| v == "true") {
        let pin = match (env("COBRANCA_PIX_WEBHOOK_CERT_SHA256"), env("COBRANCA_PIX_WEBHOOK_CERT_SUBJECT"), env("COBRANCA_PIX_WEBHOOK_CERT_ISSUER")) {
            (Ok(fingerprints), _, _) => ClientCertPin::parse_sha256(&fingerprints).map_err(|e| ConfigError(format!("COBRANCA_PIX_WEBHOOK_CERT_SHA256: {e}")))?,
            (Err(_), Ok(subject_dn), Ok(issuer_dn)) => ClientCertPin::SubjectAndIssuer { subject_dn, issuer_dn },
            _ => return Err(ConfigError("COBRANCA_PIX_WEBHOOK_MTLS=true needs the PSP's certificate: COBRANCA_PIX_WEBHOOK_CERT_SHA256, or COBRANCA_PIX_WEBHOOK_CERT_SUBJECT and COBRANCA_PIX_WEBHOOK_CERT_ISSUER".into())),
        };
        return Ok(Some(crate::http::api::provider_webhooks::PixWebhookAuth::MutualTls(pin)));
    }
    Ok(env("COBRANCA_PIX_WEBHOOK_SECRET").ok().map(crate::http::api::provider_webhooks::PixWebhookAuth::SharedSecret))
}

/// The static header value Cielo is set up to send with its notification posts (`x-webhook-secret`):
/// `notification_secret` in the Cielo credentials. Without it `/v1/webhooks/cielo` is off.
pub async fn cielo_notification_secret(aws: &aws_config::SdkConfig) -> Result<Option<String>, ConfigError> {
    let variable = crate::adapters::providers::registry::connector(Provider::Cielo).credentials_variable().expect("Cielo has credentials");
    Ok(credentials(aws, variable).await?.and_then(|c| c["notification_secret"].as_str().map(str::to_string)).filter(|s| s.len() >= 16))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::channel_policy::{ProviderDirectory, ProviderReference};
    use crate::domain::ids::MerchantId;
    use crate::domain::notification::SendError;

    fn directory(allow_local: bool) -> MerchantProviders {
        MerchantProviders {
            aws: aws_config::SdkConfig::builder().build(),
            cache: Default::default(),
            adapters: Default::default(),
            policy: UrlPolicy { allow_local },
        }
    }

    #[tokio::test]
    async fn a_merchants_secret_cannot_point_the_provider_api_elsewhere() {
        let merchant = MerchantId::parse("mer_01apiurl").unwrap();
        // A variable of this test's own; nothing else reads it.
        std::env::set_var("COBRANCA_MERCHANT_MER_01APIURL__SMS", r#"{"token":"t","from":"Loja","api_url":"http://169.254.169.254/latest"}"#);
        let reference = ProviderReference::parse_for("env:COBRANCA_MERCHANT_MER_01APIURL__SMS", &merchant).unwrap();
        match directory(false).sender(&merchant, Channel::Sms, &reference).await {
            Err(SendError::Permanent(why)) => assert!(why.contains("api_url"), "{why}"),
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("an adapter aimed at the metadata address"),
        }
        assert!(directory(true).sender(&merchant, Channel::Sms, &reference).await.is_ok(), "local development may");
        // Another merchant's reference is not read at all.
        let other = MerchantId::parse("mer_01other").unwrap();
        assert!(directory(true).credentials(&other, &reference).await.unwrap_err().contains("not mer_01other's own secret"));
    }
}
