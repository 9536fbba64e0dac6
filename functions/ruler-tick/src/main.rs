//! Runs on the EventBridge schedule: claims the reminders that are due and queues them.

use cobranca::tick::Tick;
use cobranca::adapters::config;
use cobranca::{lambda, telemetry};
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let aws = config::aws().await;
    let store = config::store(&aws)?;
    let queue = config::job_queue(&aws)?;
    let events = config::event_bus(&aws)?;
    let tick = Tick::new(store.as_ref(), queue.as_ref(), events.as_ref());
    let tick = &tick;
    lambda_runtime::run(service_fn(move |event| lambda::tick(tick, event))).await
}
