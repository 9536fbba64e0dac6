//! The SQS event-source mapping, as Lambda runs it: long-poll the queue, invoke the function with a batch,
//! delete what succeeded, leave reported failures (and everything, if the invocation failed) to come back
//! after the visibility timeout; the queue's redrive policy moves repeat failures to the dead-letter queue.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName};
use serde_json::{json, Value};

use crate::runtime_api::FunctionHost;

pub struct SqsMapping {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub batch_size: i32,
    pub host: FunctionHost,
    /// True while a batch is being processed.
    pub busy: AtomicBool,
    /// Set on shutdown: no new batches are taken, so nothing is left invisible on the queue by a runner that exits.
    pub stopping: AtomicBool,
    /// Cleared when the poll loop has exited (a receive may be in flight until then).
    pub polling: AtomicBool,
}

impl SqsMapping {
    pub async fn run(self: Arc<Self>) {
        self.polling.store(true, Ordering::SeqCst);
        while !self.stopping.load(Ordering::SeqCst) {
            if let Err(e) = self.poll_once().await {
                tracing::warn!(error = %e, "sqs poll failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        self.polling.store(false, Ordering::SeqCst);
    }

    async fn poll_once(&self) -> Result<(), String> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch_size.clamp(1, 10))
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(());
        }
        if self.stopping.load(Ordering::SeqCst) {
            // Received while shutting down: hand them straight back to the queue.
            for m in &messages {
                if let Some(handle) = &m.receipt_handle {
                    let _ =
                        self.client.change_message_visibility().queue_url(&self.queue_url).receipt_handle(handle).visibility_timeout(0).send().await;
                }
            }
            return Ok(());
        }
        self.busy.store(true, Ordering::SeqCst);
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attrs: serde_json::Map<String, Value> = m
                    .attributes
                    .as_ref()
                    .map(|a| a.iter().map(|(k, v)| (k.as_str().to_string(), Value::String(v.clone()))).collect())
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "attributes": attrs,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
                })
            })
            .collect();
        let result = self.host.invoke(&json!({ "Records": records })).await;
        let failed: Vec<String> = match &result {
            Ok(v) => v["batchItemFailures"]
                .as_array()
                .map(|a| a.iter().filter_map(|f| f["itemIdentifier"].as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "batch failed as a whole; messages return after the visibility timeout");
                messages.iter().filter_map(|m| m.message_id.clone()).collect()
            }
        };
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| m.message_id.as_ref().is_some_and(|id| !failed.contains(id)))
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder().id(i.to_string()).set_receipt_handle(m.receipt_handle.clone()).build().ok()
            })
            .collect();
        if !entries.is_empty() {
            self.client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
        }
        self.busy.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Messages still on the queue, visible or in flight.
    pub async fn outstanding(&self) -> Result<u64, String> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
        let attrs = out.attributes.unwrap_or_default();
        let get = |n: QueueAttributeName| attrs.get(&n).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        Ok(get(QueueAttributeName::ApproximateNumberOfMessages) + get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
    }

    /// Stops taking batches and waits (up to `limit`) for the poll loop to end, the batch in hand included.
    pub async fn stop(&self, limit: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + limit;
        while (self.polling.load(Ordering::SeqCst) || self.is_busy()) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }

    pub async fn arn_of(client: &aws_sdk_sqs::Client, url: &str) -> Result<String, String> {
        let out = client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
        Ok(out.attributes.unwrap_or_default().get(&QueueAttributeName::QueueArn).cloned().unwrap_or_default())
    }
}
