//! Device-totals entry point: the devices table's stream in, the overview's totals out.

use devices::totals::handle;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::aws::clients;
use shared::aws::counts::{DynamoCensus, DynamoCounts};
use shared::aws::tables::Tables;

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let tables = Tables::from_env()?;
    let sdk = clients::sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let store = DynamoCounts {
        client: dynamo.clone(),
        table: tables.settings,
    };
    let census = DynamoCensus {
        client: dynamo,
        table: tables.devices,
    };
    let (store, census) = (&store, &census);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(store, census, event.payload)
            .await
            .map_err(Error::from)
    }))
    .await
}
