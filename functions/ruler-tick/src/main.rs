//! Runs on the EventBridge schedule: claims the reminders that are due and queues them, then makes the
//! subscription charges due for generation.

use cobranca::adapters::config;
use cobranca::http::lambda;
use cobranca::ports::providers::Providers;
use cobranca::service::tick::Tick;
use cobranca::service::ChargeService;
use cobranca::telemetry;
use lambda_runtime::{service_fn, Error};
use tokio::sync::OnceCell;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // Built on the first invocation (see `config::Core`).
    let wiring: OnceCell<config::Core> = OnceCell::new();
    let wiring = &wiring;
    // Making a charge needs no payment provider (registrations run in register-payment).
    let providers = &Providers::default();
    lambda_runtime::run(service_fn(move |event| async move {
        let core = wiring.get_or_try_init(config::core).await?;
        let tick = Tick::new(core.store.as_ref(), core.queue.as_ref(), core.events.as_ref());
        let charges = ChargeService { store: core.store.as_ref(), events: core.events.as_ref(), queue: core.queue.as_ref(), providers };
        lambda::tick_and_generate(&tick, &charges, event).await
    }))
    .await
}
