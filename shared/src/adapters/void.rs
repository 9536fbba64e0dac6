//! Adapters that accept and drop, for functions that must not publish (and for tests).

use async_trait::async_trait;

use crate::domain::events::{DomainEvent, EventBus, PublishError};

pub struct VoidEventBus;

#[async_trait]
impl EventBus for VoidEventBus {
    async fn publish(&self, _events: &[DomainEvent]) -> Result<(), PublishError> {
        Ok(())
    }

    async fn continue_tick(&self, _at: chrono::DateTime<chrono::Utc>) -> Result<(), PublishError> {
        Ok(())
    }
}
