//! What the payer opens from a payment link: the page, its Pix QR code and boleto, and its form posts.

use cobranca::adapters::config;
use cobranca::http::lambda;
use cobranca::http::pages::PayerPages;
use cobranca::ports::providers::Providers;
use cobranca::service::checkout::Checkout;
use cobranca::telemetry;
use lambda_http::{service_fn, Error, Request};
use tokio::sync::OnceCell;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // Built on the first request (see `config::Core`).
    let wiring: OnceCell<(config::Core, Providers, String)> = OnceCell::new();
    let wiring = &wiring;
    lambda_http::run(service_fn(move |req: Request| async move {
        let (core, providers, public_base_url) = wiring.get_or_try_init(config::core_with_providers).await?;
        let checkout = Checkout { store: core.store.as_ref(), queue: core.queue.as_ref(), events: core.events.as_ref(), providers };
        let pages = PayerPages { checkout, public_base_url };
        let response = pages.handle(&lambda::api_request(req), chrono::Utc::now()).await;
        Ok::<_, Error>(lambda::page_response(response))
    }))
    .await
}
