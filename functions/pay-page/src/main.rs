//! What the payer opens from a payment link: GET /pay/{token} and its Pix QR code and boleto.

use cobranca::adapters::config;
use cobranca::pages::PayerPages;
use cobranca::{lambda, telemetry};
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let aws = config::aws().await;
    let store = config::store(&aws)?;
    let pages = PayerPages { store: store.as_ref() };
    let pages = &pages;
    lambda_http::run(service_fn(move |req: Request| async move {
        let response = pages.handle(req.method().as_str(), req.uri().path(), chrono::Utc::now()).await;
        Ok::<_, Error>(lambda::page_response(response))
    }))
    .await
}
