//! Consumes the webhook queue: fans domain events out into deliveries to merchants' endpoints, and makes each
//! delivery's attempts (Standard Webhooks signatures, retries for about three days).

use cobranca::adapters::config;
use cobranca::adapters::http_webhooks::HttpWebhookTransport;
use cobranca::adapters::sqs::SqsQueue;
use cobranca::http::lambda;
use cobranca::service::merchant_webhooks::{MerchantWebhooks, RetrySchedule};
use cobranca::telemetry;
use lambda_runtime::{service_fn, Error};
use tokio::sync::OnceCell;

struct Wiring {
    core: config::Core,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    schedule: RetrySchedule,
    transport: HttpWebhookTransport,
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
                let (sqs, queue_url) = config::webhook_queue(&core.aws)?;
                Ok::<_, config::ConfigError>(Wiring {
                    core,
                    sqs,
                    queue_url,
                    schedule: config::webhook_retry_schedule()?,
                    transport: HttpWebhookTransport::new(config::webhook_url_policy()),
                })
            })
            .await?;
        let webhooks = MerchantWebhooks {
            store: w.core.store.as_ref(),
            queue: w.core.queue.as_ref(),
            events: w.core.events.as_ref(),
            transport: &w.transport,
            schedule: &w.schedule,
        };
        let postpone = |receipt: String, delay| async move { SqsQueue::postpone(&w.sqs, &w.queue_url, &receipt, delay).await };
        lambda::webhook_batch(&webhooks, postpone, event).await
    }))
    .await
}
