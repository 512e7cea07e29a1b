//! Dead-letter consumer entry point: records imports whose events the import
//! queue gave up on (out of memory, out of time, failing every delivery) as
//! `failed`, with a report. Built once per container from the environment.

use import::dead_letters::{handle, DeadLetters};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::aws::clients;
use shared::aws::dynamo::DynamoImports;
use shared::aws::events::EventBridgePublisher;
use shared::aws::s3::{S3Reports, S3Uploads};
use shared::aws::tables::Tables;
use shared::env::{parsed_or, required};

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let tables = Tables::from_env()?;
    let max_receives = parsed_or("IMPORT_MAX_RECEIVES", 5)?;
    let sdk = clients::sdk_config().await;
    let s3 = clients::s3(&sdk)?;
    let app = DeadLetters {
        uploads: S3Uploads { client: s3.clone() },
        records: DynamoImports {
            client: aws_sdk_dynamodb::Client::new(&sdk),
            table: tables.imports,
        },
        reports: S3Reports { client: s3 },
        events: EventBridgePublisher {
            client: aws_sdk_eventbridge::Client::new(&sdk),
            bus: required("EVENT_BUS_NAME")?,
        },
        max_receives,
    };
    let app = &app;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(handle(app, event).await)
    }))
    .await
}
