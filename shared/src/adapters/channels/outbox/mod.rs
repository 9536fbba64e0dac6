//! The local development channel: every message is written to the store's outbox instead of a provider.
//! Recording is keyed by (charge, reminder), so delivering the same reminder twice records it once.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;

use crate::domain::notification::{NotificationSender, OutboxEntry, OutgoingMessage, SendError, SendReceipt};
use crate::ports::store::Store;

pub struct OutboxSender {
    pub store: Arc<dyn Store>,
}

#[async_trait]
impl NotificationSender for OutboxSender {
    async fn send(&self, m: &OutgoingMessage) -> Result<SendReceipt, SendError> {
        let entry = OutboxEntry {
            merchant_id: m.merchant_id.clone(),
            charge_id: m.charge_id.clone(),
            reminder_id: m.reminder_id.clone(),
            channel: m.channel,
            step: m.step.clone(),
            recipient: m.recipient.clone(),
            subject: m.subject.clone(),
            text: m.text.clone(),
            sent_at: Utc::now(),
            deliveries: 1,
        };
        self.store.record_outbox(&entry).await.map_err(|e| SendError::Transient(e.to_string()))?;
        Ok(SendReceipt::new(format!("outbox:{}:{}", m.charge_id, m.reminder_id)))
    }
}
