//! Admin API Lambda entry point: configuration, clients and the user pool's
//! signing keys are loaded once, before the first request.

use admin::auth::Verifier;
use admin::config::Config;
use admin::routes::{handle, App};
use lambda_http::{service_fn, Error};
use shared::aws::clients;

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let config = Config::from_env()?;
    let sdk = clients::sdk_config().await;
    let jwks = reqwest::Client::new()
        .get(&config.jwks_url)
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let verifier = Verifier::new(&jwks, config.issuer.clone(), config.client_id.clone())?;
    let app = App {
        verifier,
        dynamo: aws_sdk_dynamodb::Client::new(&sdk),
        s3: clients::s3(&sdk)?,
        ses: aws_sdk_sesv2::Client::new(&sdk),
        sns: aws_sdk_sns::Client::new(&sdk),
        config,
    };
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(handle(app, req).await)
    }))
    .await
}
