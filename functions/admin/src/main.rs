//! Admin API Lambda entry point: configuration, clients and the user pool's
//! signing keys are loaded once, before the first request.

use admin::auth::Verifier;
use admin::config::Config;
use admin::routes::{handle, App};
use lambda_http::{service_fn, Error};
use shared::aws::admin::{AwsAdminPorts, DynamoAdmin};
use shared::aws::clients;
use shared::aws::messaging::AwsInviteSender;
use shared::aws::s3::S3Bucket;
use shared::aws::settings::DynamoSettings;
use shared::ports::InviteOrigin;

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
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let ports = AwsAdminPorts {
        settings: DynamoSettings {
            client: dynamo.clone(),
            table: config.tables.settings.clone(),
        },
        dynamo: DynamoAdmin::new(dynamo, config.tables, config.denials_table),
        bucket: S3Bucket {
            client: clients::s3(&sdk)?,
            bucket: config.bucket,
        },
        sender: AwsInviteSender {
            ses: aws_sdk_sesv2::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
        },
    };
    let app = App {
        ports,
        verifier,
        allowed_origins: config.allowed_origins,
        deployment: InviteOrigin {
            sender: config.invite_sender,
            enrollment_url: config.enrollment_url,
        },
    };
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(handle(app, req).await)
    }))
    .await
}
