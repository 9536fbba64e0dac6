//! Domain events on an EventBridge bus.

use async_trait::async_trait;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use crate::domain::events::{DomainEvent, EventBus, PublishError};

pub const SOURCE: &str = "cobranca";
/// The detail-type of the event that runs a tick again; template.yaml routes it to ruler-tick.
pub const TICK_CONTINUATION: &str = "TickContinuation";

pub struct EventBridgeBus {
    client: Client,
    bus_name: String,
}

impl EventBridgeBus {
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self { client, bus_name: bus_name.into() }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), PublishError> {
        // PutEvents takes at most 10 entries.
        for chunk in events.chunks(10) {
            let entries = chunk
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus_name)
                        .source(SOURCE)
                        .detail_type(e.kind.as_str())
                        .detail(serde_json::to_string(e).expect("event serialises"))
                        .resources(e.charge_id.to_string())
                        .build()
                })
                .collect();
            let out =
                self.client.put_events().set_entries(Some(entries)).send().await.map_err(|e| PublishError(DisplayErrorContext(&e).to_string()))?;
            if out.failed_entry_count > 0 {
                return Err(PublishError(format!("{} events refused by EventBridge", out.failed_entry_count)));
            }
        }
        Ok(())
    }

    async fn continue_tick(&self, at: chrono::DateTime<chrono::Utc>) -> Result<(), PublishError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(SOURCE)
            .detail_type(TICK_CONTINUATION)
            .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(at.timestamp_millis()))
            .detail("{}")
            .build();
        let out = self.client.put_events().entries(entry).send().await.map_err(|e| PublishError(DisplayErrorContext(&e).to_string()))?;
        if out.failed_entry_count > 0 {
            return Err(PublishError("tick continuation refused by EventBridge".into()));
        }
        Ok(())
    }
}
