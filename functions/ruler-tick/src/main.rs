//! Runs on the EventBridge schedule: claims the reminders that are due and queues them.

use cobranca::adapters::config;
use cobranca::tick::Tick;
use cobranca::{lambda, telemetry};
use lambda_runtime::{service_fn, Error};
use tokio::sync::OnceCell;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // Built on the first invocation (see `config::Core`).
    let core: OnceCell<config::Core> = OnceCell::new();
    let core = &core;
    lambda_runtime::run(service_fn(move |event| async move {
        let core = core.get_or_try_init(config::core).await?;
        let tick = Tick::new(core.store.as_ref(), core.queue.as_ref(), core.events.as_ref());
        lambda::tick(&tick, event).await
    }))
    .await
}
