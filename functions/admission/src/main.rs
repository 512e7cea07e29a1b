//! Admission Lambda entry point: clients, the password key and a warm
//! connection are ready before the first request arrives; each decision's
//! event is published after its answer.

use std::time::Duration;

use admission::after_response::AfterResponse;
use admission::config::Config;
use admission::handler::{handle, App};
use lambda_http::lambda_runtime::{layers::TracingLayer, Runtime};
use lambda_http::{service_fn, Adapter, Error};
use shared::admission::AdmissionStore;
use shared::aws::admission::DynamoAdmission;
use shared::aws::events::EventBridgePublisher;
use shared::aws::{clients, secrets};
use shared::events::EventPublisher;

/// How long publishing may hold the next invocation back (the answer has gone).
const PUBLISH_LIMIT: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let config = Config::from_env()?;
    let sdk = clients::sdk_config().await;
    let secrets_client = aws_sdk_secretsmanager::Client::new(&sdk);
    let store = DynamoAdmission::new(aws_sdk_dynamodb::Client::new(&sdk), config.tables);
    // The warm-up is the request the allow path makes (a serial no device has),
    // so its connection, TLS session and signing are ready; it runs beside the
    // secret read, and failing it only costs the first request that time.
    let (key, warm) = tokio::join!(
        secrets::password_key(&secrets_client, &config.password_key_secret),
        store.lookup("\u{1}warm-up")
    );
    if let Err(e) = warm {
        tracing::warn!(error = %e, "warm-up read failed");
    }
    // Both live as long as the process; the runtime's futures must be 'static.
    let app: &'static App<DynamoAdmission> = Box::leak(Box::new(App::new(store, key?)));
    let publisher: &'static EventBridgePublisher = Box::leak(Box::new(EventBridgePublisher {
        client: aws_sdk_eventbridge::Client::new(&sdk),
        bus: config.event_bus,
    }));
    let handler = service_fn(move |req| async move { Ok::<_, Error>(handle(app, req).await) });
    let publish = move || async move {
        let events = app.events.take();
        if events.is_empty() {
            return;
        }
        match tokio::time::timeout(PUBLISH_LIMIT, publisher.publish(&events)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, n = events.len(), "events not published"),
            Err(_) => tracing::error!(n = events.len(), "publishing events timed out"),
        }
    };
    Runtime::new(Adapter::from(handler))
        .layer(AfterResponse::new(publish))
        .layer(TracingLayer::new())
        .run()
        .await
}
