//! Delivery-event consumer entry point.

use invites::status::handle;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::aws::clients;
use shared::aws::outbox::DynamoOutbox;
use shared::aws::tables::Tables;
use shared::env::parsed_or;

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let tables = Tables::from_env()?;
    let sdk = clients::sdk_config().await;
    // Events never read a password: no key is loaded.
    let outbox = DynamoOutbox {
        client: aws_sdk_dynamodb::Client::new(&sdk),
        table: tables.imports,
        devices_table: tables.devices,
        sealer: None,
        retention_days: parsed_or("RETENTION_DAYS", 90)?,
    };
    let outbox = &outbox;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(handle(outbox, event).await)
    }))
    .await
}
