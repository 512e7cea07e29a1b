//! ADE sync entry point: clients built once from the environment, then each
//! invocation is the schedule's fan-out or a queue of sync jobs.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::apple::AppleDep;
use shared::aws::ade::{DynamoAdeAccounts, DynamoAdeDevices, SecretsAdeSecrets, SqsSyncJobs};
use shared::aws::clients;
use shared::env::required;

use ade::{Answer, App, RESERVE};

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let sdk = clients::sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let app = App {
        accounts: DynamoAdeAccounts {
            client: dynamo.clone(),
            table: required("ADE_ACCOUNTS_TABLE")?,
        },
        secrets: SecretsAdeSecrets {
            client: aws_sdk_secretsmanager::Client::new(&sdk),
            prefix: required("ADE_SECRET_PREFIX")?,
        },
        devices: DynamoAdeDevices {
            client: dynamo,
            devices_table: required("DEVICES_TABLE")?,
        },
        apple: AppleDep::from_env()?,
        jobs: SqsSyncJobs {
            client: aws_sdk_sqs::Client::new(&sdk),
            queue_url: required("ADE_SYNC_QUEUE_URL")?,
        },
    };
    let app = &app;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let out_of_time = shared::clock::out_of_time(event.context.deadline, RESERVE);
        let answer = app
            .handle(event.payload, &event.context.request_id, &out_of_time)
            .await?;
        Ok::<_, Error>(match answer {
            Answer::Jobs(response) => serde_json::to_value(response)?,
            Answer::Scheduled { queued } => serde_json::json!({ "queued": queued }),
        })
    }))
    .await
}
