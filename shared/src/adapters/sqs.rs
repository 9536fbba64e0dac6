//! The work queues on SQS: notifications and payment setup.

use async_trait::async_trait;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

use crate::domain::notification::NotificationJob;
use crate::ports::queue::{EnqueueError, JobQueue};
use crate::service::merchant_webhooks::WebhookJob;
use crate::service::registration::PaymentSetupJob;

pub struct SqsQueue {
    client: Client,
    notification_queue_url: String,
    setup_queue_url: Option<String>,
    webhook_queue_url: Option<String>,
}

impl SqsQueue {
    pub fn new(client: Client, notification_queue_url: impl Into<String>, setup_queue_url: Option<String>) -> Self {
        Self { client, notification_queue_url: notification_queue_url.into(), setup_queue_url, webhook_queue_url: None }
    }

    pub fn with_webhook_queue(mut self, url: Option<String>) -> Self {
        self.webhook_queue_url = url;
        self
    }

    /// Brings a received message back after `delay` (at most SQS's 12 hours): a webhook retry waits on the queue
    /// itself, with no scheduler. Only consumers call this, with the receipt handle of the message in hand.
    pub async fn postpone(client: &Client, queue_url: &str, receipt_handle: &str, delay: std::time::Duration) -> Result<(), EnqueueError> {
        let seconds = delay.as_secs().clamp(1, 12 * 3600 - 1) as i32;
        client
            .change_message_visibility()
            .queue_url(queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| EnqueueError(DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }

    /// Sends in batches of 10 (SQS's maximum), retrying only the entries a batch reports as failed.
    async fn send_all<T: serde::Serialize>(&self, queue_url: &str, jobs: &[T]) -> Result<(), EnqueueError> {
        for chunk in jobs.chunks(10) {
            let mut pending: Vec<(String, String)> =
                chunk.iter().enumerate().map(|(i, j)| (i.to_string(), serde_json::to_string(j).expect("job serialises"))).collect();
            for attempt in 0..3 {
                let entries = pending
                    .iter()
                    .map(|(id, body)| SendMessageBatchRequestEntry::builder().id(id).message_body(body).build().expect("id and body set"))
                    .collect();
                let out = self
                    .client
                    .send_message_batch()
                    .queue_url(queue_url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| EnqueueError(DisplayErrorContext(&e).to_string()))?;
                let failed: Vec<String> = out.failed.iter().map(|f| f.id.clone()).collect();
                if failed.is_empty() {
                    break;
                }
                if attempt == 2 {
                    return Err(EnqueueError(format!("{} messages refused by SQS", failed.len())));
                }
                pending.retain(|(id, _)| failed.contains(id));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn enqueue(&self, jobs: &[NotificationJob]) -> Result<(), EnqueueError> {
        self.send_all(&self.notification_queue_url, jobs).await
    }

    async fn enqueue_setup(&self, jobs: &[PaymentSetupJob]) -> Result<(), EnqueueError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let url = self.setup_queue_url.as_deref().ok_or_else(|| EnqueueError("COBRANCA_PAYMENT_SETUP_QUEUE_URL is not set".into()))?;
        self.send_all(url, jobs).await
    }

    async fn enqueue_webhooks(&self, jobs: &[WebhookJob]) -> Result<(), EnqueueError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let url = self.webhook_queue_url.as_deref().ok_or_else(|| EnqueueError("COBRANCA_WEBHOOK_QUEUE_URL is not set".into()))?;
        self.send_all(url, jobs).await
    }
}
