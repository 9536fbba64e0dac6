//! The work queues (SQS in AWS): notifications to send, payment artifacts to register with banks, and webhook
//! deliveries to merchants.

use async_trait::async_trait;

use crate::domain::notification::NotificationJob;
use crate::ports::jobs::{PaymentSetupJob, WebhookJob};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("queue unavailable: {0}")]
pub struct EnqueueError(pub String);

#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Enqueues every job or fails; callers may retry, since consumers deduplicate by reminder.
    async fn enqueue(&self, jobs: &[NotificationJob]) -> Result<(), EnqueueError>;
    /// Enqueues registrations and write-offs; the registrar skips a job whose work is already done.
    async fn enqueue_setup(&self, jobs: &[PaymentSetupJob]) -> Result<(), EnqueueError>;
    /// Enqueues webhook deliveries to merchants' endpoints; an attempt re-checks the delivery before sending.
    async fn enqueue_webhooks(&self, jobs: &[WebhookJob]) -> Result<(), EnqueueError>;
}
