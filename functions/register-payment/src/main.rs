//! Consumes the payment-setup queue: registers boletos and Pix cobv with the wallet's bank, writes off
//! boletos that were replaced or whose charge closed, and runs what follows a payment (receipt, régua
//! stopped, event) off the payment webhook's path.

use cobranca::adapters::config;
use cobranca::http::lambda;
use cobranca::ports::providers::Providers;
use cobranca::service::registration::Registrar;
use cobranca::telemetry;
use lambda_runtime::{service_fn, Error};
use tokio::sync::OnceCell;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // Built on the first invocation (see `config::Core`).
    let wiring: OnceCell<(config::Core, Providers)> = OnceCell::new();
    let wiring = &wiring;
    lambda_runtime::run(service_fn(move |event| async move {
        let (core, providers) = wiring
            .get_or_try_init(|| async {
                let core = config::core().await?;
                let providers = config::providers(&core.aws).await?;
                Ok::<_, config::ConfigError>((core, providers))
            })
            .await?;
        let registrar = Registrar { store: core.store.as_ref(), providers, queue: core.queue.as_ref(), events: core.events.as_ref() };
        lambda::register_batch(&registrar, event).await
    }))
    .await
}
