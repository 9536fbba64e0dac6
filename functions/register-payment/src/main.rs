//! Consumes the payment-setup queue: registers boletos and Pix cobv with the wallet's bank, writes off
//! boletos that were replaced or whose charge closed.

use cobranca::adapters::config;
use cobranca::registration::Registrar;
use cobranca::{lambda, telemetry};
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let aws = config::aws().await;
    let store = config::store(&aws)?;
    let providers = config::providers(&aws).await?;
    let registrar = Registrar { store: store.as_ref(), providers: &providers };
    let registrar = &registrar;
    lambda_runtime::run(service_fn(move |event| lambda::register_batch(registrar, event))).await
}
