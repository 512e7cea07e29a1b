//! Expiry-sweep entry point: on a schedule (and when invoked by hand), the
//! pre-approvals whose expiry passed become `expired`.

use std::time::Duration;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::aws::clients;
use shared::aws::expiry::DynamoExpiry;
use shared::aws::tables::Tables;
use shared::clock::epoch_now;
use shared::expiry::sweep;

/// Left of the invocation's time when the sweep stops (the next one goes on).
const RESERVE: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let tables = Tables::from_env()?;
    let sdk = clients::sdk_config().await;
    let store = DynamoExpiry {
        client: aws_sdk_dynamodb::Client::new(&sdk),
        devices_table: tables.devices,
    };
    let store = &store;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let out_of_time = shared::clock::out_of_time(event.context.deadline, RESERVE);
        let swept = sweep(store, epoch_now(), out_of_time).await?;
        tracing::info!(
            expired = swept.expired,
            changed = swept.changed,
            complete = swept.complete,
            "expiry sweep"
        );
        Ok::<_, Error>(serde_json::to_value(swept)?)
    }))
    .await
}
