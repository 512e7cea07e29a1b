//! Invite sender entry point: clients, the password key and the tuning are
//! read once per container, from the environment.

use invites::sender::{handle, Sender, SqsVisibility};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::aws::messaging::AwsInviteSender;
use shared::aws::outbox::DynamoOutbox;
use shared::aws::rate_windows::DynamoRateWindows;
use shared::aws::ses_quota::SesQuota;
use shared::aws::settings::DynamoSettings;
use shared::aws::tables::Tables;
use shared::aws::{clients, secrets};
use shared::env::{parsed_or, required};
use shared::outbox::deliver::DeliverConfig;
use shared::outbox::InviteOrigin;
use shared::seal::Sealer;

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let tables = Tables::from_env()?;
    let sdk = clients::sdk_config().await;
    let secrets_client = aws_sdk_secretsmanager::Client::new(&sdk);
    let key = secrets::password_key(&secrets_client, &required("PASSWORD_KEY_SECRET")?).await?;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    let configuration_set = std::env::var("SES_CONFIGURATION_SET")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let app = Sender {
        outbox: DynamoOutbox {
            client: dynamo.clone(),
            table: tables.imports.clone(),
            devices_table: tables.devices.clone(),
            sealer: Some(Sealer::new(&key)),
            retention_days: parsed_or("RETENTION_DAYS", 90)?,
        },
        windows: DynamoRateWindows {
            client: dynamo.clone(),
            table: tables.imports.clone(),
        },
        quota: SesQuota::new(
            ses.clone(),
            std::time::Duration::from_secs(parsed_or("INVITE_QUOTA_SECONDS", 60)?),
        ),
        sender: AwsInviteSender {
            ses,
            sns: aws_sdk_sns::Client::new(&sdk),
            configuration_set,
        },
        settings: DynamoSettings {
            client: dynamo,
            table: tables.settings,
        },
        visibility: SqsVisibility {
            client: aws_sdk_sqs::Client::new(&sdk),
            queue_url: required("INVITE_QUEUE_URL")?,
        },
        deployment: InviteOrigin {
            sender: required("INVITE_SENDER")?,
            enrollment_url: required("ENROLLMENT_URL")?,
        },
        config: DeliverConfig {
            claim_seconds: parsed_or("INVITE_CLAIM_SECONDS", 120)?,
            email_cap: parsed_or("INVITE_EMAIL_RATE", 0.0)?,
            email_fallback: parsed_or("INVITE_EMAIL_FALLBACK_RATE", 1.0)?,
            sms_per_second: parsed_or("INVITE_SMS_RATE", 1.0)?,
            concurrency: parsed_or("INVITE_CONCURRENCY", 16)?,
            ..DeliverConfig::default()
        },
    };
    let app = &app;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(handle(app, event).await)
    }))
    .await
}
