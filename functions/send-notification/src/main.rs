//! Consumes the notification queue: renders and sends one message per reminder, exactly once.

use cobranca::delivery::Delivery;
use cobranca::adapters::config;
use cobranca::{lambda, telemetry};
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let aws = config::aws().await;
    let store = config::store(&aws)?;
    let sender = config::sender(store.clone())?;
    let events = config::event_bus(&aws)?;
    let public_base_url = config::public_base_url()?;
    let delivery = Delivery { store: store.as_ref(), sender: sender.as_ref(), events: events.as_ref(), public_base_url: &public_base_url };
    let delivery = &delivery;
    lambda_runtime::run(service_fn(move |event| lambda::deliver_batch(delivery, event))).await
}
