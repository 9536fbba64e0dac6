//! The merchant API: customers, charges, wallets, réguas, card payments, webhook endpoints, reports
//! (see `cobranca::http::api`).

use cobranca::adapters::config;
use cobranca::http::api::Api;
use cobranca::http::lambda;
use cobranca::ports::providers::Providers;
use cobranca::telemetry;
use lambda_http::{service_fn, Error, Request};
use tokio::sync::OnceCell;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // Built on the first request (see `config::Core`).
    let wiring: OnceCell<(config::Core, Providers, String)> = OnceCell::new();
    let wiring = &wiring;
    let access = &config::access_policy()?;
    lambda_http::run(service_fn(move |req: Request| async move {
        let (core, providers, public_base_url) = wiring.get_or_try_init(config::core_with_providers).await?;
        let api = Api {
            store: core.store.as_ref(),
            events: core.events.as_ref(),
            queue: core.queue.as_ref(),
            providers,
            public_base_url,
            webhook_urls: config::webhook_url_policy(),
            access: access.clone(),
        };
        let response = api.handle(&lambda::api_request(req), chrono::Utc::now()).await;
        Ok::<_, Error>(lambda::http_response(response))
    }))
    .await
}
