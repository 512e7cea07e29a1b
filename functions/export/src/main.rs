//! Export Lambda entry point: clients built once, then one export per message.

use export::{handle, App};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::aws::clients;
use shared::aws::exports::{DynamoDeviceSource, DynamoExports};
use shared::aws::s3::S3Reports;
use shared::aws::tables::Tables;
use shared::env::required;

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let tables = Tables::from_env()?;
    let bucket = required("IMPORT_BUCKET")?;
    let sdk = clients::sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let app = App {
        store: DynamoExports {
            client: dynamo.clone(),
            table: tables.imports,
        },
        source: DynamoDeviceSource {
            client: dynamo,
            devices_table: tables.devices,
            users_table: tables.users,
        },
        sink: S3Reports {
            client: clients::s3(&sdk)?,
        },
        bucket,
    };
    let app = &app;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(handle(app, event).await)
    }))
    .await
}
