//! The notification queue port (SQS in AWS).

use async_trait::async_trait;

use crate::notification::NotificationJob;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("queue unavailable: {0}")]
pub struct EnqueueError(pub String);

#[async_trait]
pub trait NotificationQueue: Send + Sync {
    /// Enqueues every job or fails; callers may retry, since consumers deduplicate by reminder.
    async fn enqueue(&self, jobs: &[NotificationJob]) -> Result<(), EnqueueError>;
}
