//! Consumes the notification queue: renders and sends one message per reminder, exactly once.

use std::sync::Arc;

use cobranca::adapters::config;
use cobranca::adapters::sqs::SqsQueue;
use cobranca::domain::notification::NotificationSender;
use cobranca::http::lambda;
use cobranca::service::delivery::Delivery;
use cobranca::telemetry;
use lambda_runtime::{service_fn, Error};
use tokio::sync::OnceCell;

struct Wiring {
    core: config::Core,
    /// The deployment's channel providers, for live merchants.
    sender: Arc<dyn NotificationSender>,
    /// Test merchants' messages.
    outbox: Arc<dyn NotificationSender>,
    /// Merchants' own provider accounts.
    merchant_providers: config::MerchantProviders,
    public_base_url: String,
    /// The queue itself, to back retries off on it.
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // Built on the first invocation (see `config::Core`).
    let wiring: OnceCell<Wiring> = OnceCell::new();
    let wiring = &wiring;
    lambda_runtime::run(service_fn(move |event| async move {
        let w = wiring
            .get_or_try_init(|| async {
                let core = config::core().await?;
                let sender = config::sender(&core.aws).await?;
                let outbox = config::outbox(core.store.clone());
                let (sqs, queue_url) = config::notification_queue(&core.aws)?;
                let merchant_providers = config::MerchantProviders::new(core.aws.clone());
                Ok::<_, config::ConfigError>(Wiring {
                    sender,
                    outbox,
                    merchant_providers,
                    public_base_url: config::public_base_url()?,
                    sqs,
                    queue_url,
                    core,
                })
            })
            .await?;
        let delivery = Delivery {
            store: w.core.store.as_ref(),
            sender: w.sender.as_ref(),
            outbox: w.outbox.as_ref(),
            events: w.core.events.as_ref(),
            public_base_url: &w.public_base_url,
            merchant_providers: Some(&w.merchant_providers),
        };
        let postpone = |receipt: String, delay| async move { SqsQueue::postpone(&w.sqs, &w.queue_url, &receipt, delay).await };
        lambda::deliver_batch(&delivery, postpone, event).await
    }))
    .await
}
