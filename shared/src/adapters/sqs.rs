//! The notification queue on SQS.

use async_trait::async_trait;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

use crate::notification::NotificationJob;
use crate::queue::{EnqueueError, NotificationQueue};

pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }
}

#[async_trait]
impl NotificationQueue for SqsQueue {
    /// Sends in batches of 10 (SQS's maximum), retrying only the entries a batch reports as failed.
    async fn enqueue(&self, jobs: &[NotificationJob]) -> Result<(), EnqueueError> {
        for chunk in jobs.chunks(10) {
            let mut pending: Vec<(String, String)> = chunk
                .iter()
                .enumerate()
                .map(|(i, j)| (i.to_string(), serde_json::to_string(j).expect("job serialises")))
                .collect();
            for attempt in 0..3 {
                let entries = pending
                    .iter()
                    .map(|(id, body)| SendMessageBatchRequestEntry::builder().id(id).message_body(body).build().expect("id and body set"))
                    .collect();
                let out = self
                    .client
                    .send_message_batch()
                    .queue_url(&self.queue_url)
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
