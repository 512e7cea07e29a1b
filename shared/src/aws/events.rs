//! [`EventPublisher`] on an EventBridge bus: PutEvents ten entries at a time,
//! with the entries the bus refused (throttling, an internal error) sent again.

use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use super::sdk::sdk_error;
use crate::events::{Event, EventPublisher, SOURCE};
use crate::port_error::PortError;

/// PutEvents takes at most ten entries.
const PER_CALL: usize = 10;
const ATTEMPTS: u32 = 4;

pub struct EventBridgePublisher {
    pub client: Client,
    /// The bus name or ARN (`EVENT_BUS_NAME`).
    pub bus: String,
}

impl EventBridgePublisher {
    fn entry(&self, e: &Event) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(e.detail_type.as_str())
            .detail(e.detail.to_string())
            .build()
    }
}

impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[Event]) -> Result<(), PortError> {
        for chunk in events.chunks(PER_CALL) {
            let mut pending: Vec<PutEventsRequestEntry> =
                chunk.iter().map(|e| self.entry(e)).collect();
            for attempt in 0..ATTEMPTS {
                let out = self
                    .client
                    .put_events()
                    .set_entries(Some(pending.clone()))
                    .send()
                    .await
                    .map_err(|e| sdk_error("publish events", e))?;
                if out.failed_entry_count() == 0 {
                    pending.clear();
                    break;
                }
                // Results are in the order of the entries; a failed one has an error code.
                pending = pending
                    .into_iter()
                    .zip(out.entries())
                    .filter(|(_, r)| r.error_code().is_some())
                    .map(|(e, _)| e)
                    .collect();
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            if !pending.is_empty() {
                return Err(PortError::new(
                    "publish events",
                    format!(
                        "{} event(s) refused by the bus after {ATTEMPTS} attempts",
                        pending.len()
                    ),
                ));
            }
        }
        Ok(())
    }
}
