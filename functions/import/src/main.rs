//! Import Lambda entry point: configuration, clients and the password key are
//! loaded once, before the first event.

use import::config::Config;
use import::handler::{handle, App};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::aws::dynamo::{DynamoDirectory, DynamoImports};
use shared::aws::events::EventBridgePublisher;
use shared::aws::import::AwsImportPorts;
use shared::aws::invite_queue::SqsInviteQueue;
use shared::aws::outbox::DynamoOutbox;
use shared::aws::s3::{S3Reports, S3Uploads};
use shared::aws::settings::DynamoSettings;
use shared::aws::sqs::SqsContinuations;
use shared::aws::{clients, secrets};
use shared::import::RunConfig;
use shared::seal::Sealer;

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let config = Config::from_env()?;
    let sdk = clients::sdk_config().await;
    let secrets_client = aws_sdk_secretsmanager::Client::new(&sdk);
    let password_key = secrets::password_key(&secrets_client, &config.password_key_secret).await?;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let s3 = clients::s3(&sdk)?;
    let tables = config.tables.clone();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let ports = AwsImportPorts {
        directory: DynamoDirectory::new(dynamo.clone(), tables.clone()),
        records: DynamoImports {
            client: dynamo.clone(),
            table: tables.imports.clone(),
        },
        outbox: DynamoOutbox {
            client: dynamo.clone(),
            table: tables.imports.clone(),
            devices_table: tables.devices.clone(),
            sealer: Some(Sealer::new(&password_key)),
            retention_days: config.retention_days,
        },
        queue: SqsInviteQueue {
            client: sqs.clone(),
            url: config.invite_queue_url.clone(),
        },
        reports: S3Reports { client: s3.clone() },
        uploads: S3Uploads { client: s3 },
        settings: DynamoSettings {
            client: dynamo,
            table: tables.settings,
        },
        continuations: SqsContinuations {
            client: sqs,
            queue_url: config.queue_url.clone(),
        },
        events: EventBridgePublisher {
            client: aws_sdk_eventbridge::Client::new(&sdk),
            bus: config.event_bus.clone(),
        },
    };
    let app = App {
        ports,
        run: RunConfig {
            chunk_rows: config.chunk_rows,
            password_key: Some(password_key),
            lease_seconds: config.lease_seconds,
        },
        max_receives: config.max_receives,
    };
    let app = &app;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(handle(app, event).await)
    }))
    .await
}
