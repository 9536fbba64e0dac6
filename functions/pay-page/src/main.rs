//! What the payer opens from a payment link: the page, its Pix QR code and boleto, and its form posts.

use cobranca::adapters::config;
use cobranca::checkout::Checkout;
use cobranca::pages::PayerPages;
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
    let checkout = Checkout { store: store.as_ref(), queue: queue.as_ref(), events: events.as_ref(), providers: &providers };
    let pages = PayerPages { checkout, public_base_url: &public_base_url };
    let pages = &pages;
    lambda_http::run(service_fn(move |req: Request| async move {
        let response = pages.handle(&lambda::api_request(req), chrono::Utc::now()).await;
        Ok::<_, Error>(lambda::page_response(response))
    }))
    .await
}
