//! Device-events entry point: the devices table's stream in, `Device
//! Enrolled` and `Pre-approval Expired` out to the event bus. A batch whose
//! events could not all be published fails, and Lambda hands it over again
//! (at least once, as EventBridge delivers).

use devices::stream::StreamEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::aws::clients;
use shared::aws::events::EventBridgePublisher;
use shared::env::required;
use shared::events::{Event, EventPublisher};

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let bus = required("EVENT_BUS_NAME")?;
    let sdk = clients::sdk_config().await;
    let publisher = EventBridgePublisher {
        client: aws_sdk_eventbridge::Client::new(&sdk),
        bus,
    };
    let publisher = &publisher;
    run(service_fn(
        move |event: LambdaEvent<StreamEvent>| async move {
            let events: Vec<Event> = event
                .payload
                .records
                .iter()
                .filter_map(|r| {
                    Event::from_device_change(
                        r.dynamodb.old_image.as_ref(),
                        r.dynamodb.new_image.as_ref(),
                    )
                })
                .collect();
            publisher.publish(&events).await?;
            tracing::info!(published = events.len(), "device events");
            Ok::<_, Error>(serde_json::json!({ "published": events.len() }))
        },
    ))
    .await
}
