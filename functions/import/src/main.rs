//! Import Lambda: SQS-delivered S3 events -> validated devices, users and invites.

mod config;
mod event;
mod handler;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::aws::{clients, secrets};

use crate::handler::App;

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let config = config::Config::from_env()?;
    let sdk = clients::sdk_config().await;
    let secrets_client = aws_sdk_secretsmanager::Client::new(&sdk);
    let password_key = secrets::password_key(&secrets_client, &config.password_key_secret).await?;
    let app = App {
        s3: clients::s3(&sdk)?,
        dynamo: aws_sdk_dynamodb::Client::new(&sdk),
        ses: aws_sdk_sesv2::Client::new(&sdk),
        sns: aws_sdk_sns::Client::new(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        config,
        password_key,
    };
    let app = &app;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(handler::handle(app, event).await)
    }))
    .await
}
