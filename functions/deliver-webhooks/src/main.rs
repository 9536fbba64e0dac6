//! Consumes the webhook queue: fans domain events out into deliveries to merchants' endpoints, and makes each
//! delivery's attempts (Standard Webhooks signatures, retries for about three days).

use cobranca::adapters::config;
use cobranca::adapters::http_webhooks::HttpWebhookTransport;
use cobranca::adapters::sqs::SqsQueue;
use cobranca::merchant_webhooks::MerchantWebhooks;
use cobranca::{lambda, telemetry};
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let aws = config::aws().await;
    let store = config::store(&aws)?;
    let queue = config::job_queue(&aws)?;
    let events = config::event_bus(&aws)?;
    let (sqs, queue_url) = config::webhook_queue(&aws)?;
    let schedule = config::webhook_retry_schedule()?;
    let transport = HttpWebhookTransport::new();
    let webhooks = MerchantWebhooks { store: store.as_ref(), queue: queue.as_ref(), events: events.as_ref(), transport: &transport, schedule: &schedule };
    let (webhooks, sqs, queue_url) = (&webhooks, &sqs, queue_url.as_str());
    let postpone = move |receipt: String, delay| async move { SqsQueue::postpone(sqs, queue_url, &receipt, delay).await };
    lambda_runtime::run(service_fn(move |event| lambda::webhook_batch(webhooks, postpone, event))).await
}
