//! Consumes the notification queue: renders and sends one message per reminder, exactly once.

use std::sync::Arc;

use cobranca::adapters::config;
use cobranca::delivery::Delivery;
use cobranca::notification::NotificationSender;
use cobranca::{lambda, telemetry};
use lambda_runtime::{service_fn, Error};
use tokio::sync::OnceCell;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // Built on the first invocation (see `config::Core`).
    let wiring: OnceCell<(config::Core, Arc<dyn NotificationSender>, config::MerchantProviders, String)> = OnceCell::new();
    let wiring = &wiring;
    lambda_runtime::run(service_fn(move |event| async move {
        let (core, sender, merchant_providers, public_base_url) = wiring
            .get_or_try_init(|| async {
                let core = config::core().await?;
                let sender = config::sender(&core.aws, core.store.clone()).await?;
                let merchant_providers = config::MerchantProviders::new(core.aws.clone());
                Ok::<_, config::ConfigError>((core, sender, merchant_providers, config::public_base_url()?))
            })
            .await?;
        let delivery = Delivery { store: core.store.as_ref(), sender: sender.as_ref(), events: core.events.as_ref(), public_base_url, merchant_providers: Some(merchant_providers) };
        lambda::deliver_batch(&delivery, event).await
    }))
    .await
}
