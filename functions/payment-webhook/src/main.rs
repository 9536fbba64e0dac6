//! POST /v1/webhooks/{provider}: payment notices from providers (our signed `cobranca` protocol, the BCB Pix API,
//! Cielo's notification post); /v1/webhooks/notifications/{provider}[/{merchant}]: message status callbacks.

use cobranca::adapters::config;
use cobranca::http::api::provider_webhooks::{AcquirerNotices, WebhookApi};
use cobranca::http::lambda;
use cobranca::service::settlement::Settlement;
use cobranca::telemetry;
use lambda_http::{service_fn, Error, Request};
use tokio::sync::OnceCell;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // Built on the first request, not at start-up: keeps cold starts short (see `config::Core`).
    let core: OnceCell<config::Core> = OnceCell::new();
    let secrets = OnceCell::new();
    let pix_auth = config::pix_webhook_auth()?;
    // Acquirers and their notification secret, read on the first acquirer notification.
    let acquirers = OnceCell::new();
    // Channel providers' status callbacks, verified with the deployment's or the merchant's provider secrets.
    let callbacks: OnceCell<config::ConfiguredCallbacks> = OnceCell::new();
    let (core, secrets, pix_auth, acquirers, callbacks) = (&core, &secrets, &pix_auth, &acquirers, &callbacks);
    lambda_http::run(service_fn(move |req: Request| async move {
        let core = core.get_or_try_init(config::core).await?;
        let aws = &core.aws;
        let secrets = secrets.get_or_try_init(|| config::webhook_secrets(aws)).await?;
        let acquirers = if req.uri().path() == "/v1/webhooks/cielo" {
            let (providers, secret) = acquirers
                .get_or_try_init(|| async {
                    Ok::<_, config::ConfigError>((config::providers(aws).await?, config::cielo_notification_secret(aws).await?))
                })
                .await?;
            secret.as_deref().map(|secret| AcquirerNotices { providers, secret })
        } else {
            None
        };
        let callbacks = callbacks.get_or_init(|| async {
            config::ConfiguredCallbacks::new(aws.clone(), core.store.clone(), std::sync::Arc::new(config::MerchantProviders::new(aws.clone())))
        });
        let callbacks = callbacks.await;
        let api = WebhookApi {
            settlement: Settlement { store: core.store.as_ref(), queue: core.queue.as_ref(), events: core.events.as_ref() },
            secrets,
            pix_auth: pix_auth.as_ref(),
            acquirers,
            channel_callbacks: Some(callbacks),
        };
        let response = api.handle(&lambda::api_request(req), chrono::Utc::now()).await;
        Ok::<_, Error>(lambda::http_response(response))
    }))
    .await
}
