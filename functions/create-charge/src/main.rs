//! The merchant API: customers, charges, wallets, réguas, card payments (see `cobranca::api`).

use cobranca::api::Api;
use cobranca::adapters::config;
use cobranca::{lambda, telemetry};
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let aws = config::aws().await;
    let store = config::store(&aws)?;
    let events = config::event_bus(&aws)?;
    let queue = config::job_queue(&aws)?;
    let providers = config::providers(&aws).await?;
    let public_base_url = config::public_base_url()?;
    let api = Api { store: store.as_ref(), events: events.as_ref(), queue: queue.as_ref(), providers: &providers, public_base_url: &public_base_url, webhook_urls: config::webhook_url_policy() };
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move {
        let response = api.handle(&lambda::api_request(req), chrono::Utc::now()).await;
        Ok::<_, Error>(lambda::http_response(response))
    }))
    .await
}
