//! Admin API Lambda entry point: configuration and clients are built once, and the user pool's
//! signing keys fetched, before the first request (a failed fetch is retried by the first request).

use admin::auth::Verifier;
use admin::config::Config;
use admin::keys::HttpKeys;
use admin::routes::{handle, App};
use lambda_http::{service_fn, Error};
use shared::apple::{AppleConfig, AppleDep};
use shared::aws::ade::{DynamoAdeAccounts, SecretsAdeSecrets, SqsSyncJobs};
use shared::aws::admin::{AwsAde, AwsAdminPorts, DynamoAdmin};
use shared::aws::exports::{AwsExports, DynamoExports, SqsExportQueue};
use shared::aws::invite_queue::SqsInviteQueue;
use shared::aws::outbox::DynamoOutbox;
use shared::aws::s3::S3Bucket;
use shared::aws::settings::DynamoSettings;
use shared::aws::undo::DynamoUndo;
use shared::aws::{clients, secrets};
use shared::seal::Sealer;

/// Each call to Apple at most (the ADE sync allows more: it has 15 minutes).
const APPLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let config = Config::from_env()?;
    let sdk = clients::sdk_config().await;
    let keys = Box::new(HttpKeys::new(config.jwks_url.clone())?);
    let verifier = Verifier::start(keys, config.issuer.clone(), config.client_id.clone()).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    // Approvals have no password, but an import-wide resend reads sealed ones back.
    let secrets_client = aws_sdk_secretsmanager::Client::new(&sdk);
    let password_key = secrets::password_key(&secrets_client, &config.password_key_secret).await?;
    let outbox = DynamoOutbox {
        client: dynamo.clone(),
        table: config.tables.imports.clone(),
        devices_table: config.tables.devices.clone(),
        sealer: Some(Sealer::new(&password_key)),
        retention_days: config.retention_days,
    };
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    // A token's check is two calls to Apple (a session, then /account): both end, and the
    // admin gets Apple's 502, within API Gateway's 30 s.
    let apple = AppleConfig {
        request_timeout: APPLE_TIMEOUT,
        ..AppleConfig::from_env()?
    };
    let ports = AwsAdminPorts {
        settings: DynamoSettings {
            client: dynamo.clone(),
            table: config.tables.settings.clone(),
        },
        exports: AwsExports {
            records: DynamoExports {
                client: dynamo.clone(),
                table: config.tables.imports.clone(),
            },
            queue: SqsExportQueue {
                client: sqs.clone(),
                url: config.export_queue_url,
            },
        },
        undo: DynamoUndo {
            client: dynamo.clone(),
            tables: config.tables.clone(),
            queue: Some((sqs.clone(), config.undo_queue_url)),
        },
        ade: AwsAde {
            accounts: DynamoAdeAccounts {
                client: dynamo.clone(),
                table: config.ade_accounts_table,
            },
            secrets: SecretsAdeSecrets {
                client: secrets_client,
                prefix: config.ade_secret_prefix,
            },
            jobs: SqsSyncJobs {
                client: sqs.clone(),
                queue_url: config.ade_sync_queue_url,
            },
            // Checks an uploaded token with Apple's `GET /account` (ADE_BASE_URL).
            apple: AppleDep::new(&apple)?,
        },
        dynamo: DynamoAdmin::new(dynamo, config.tables, config.denials_table, outbox.clone()),
        outbox,
        queue: SqsInviteQueue {
            client: sqs,
            url: config.invite_queue_url,
        },
        bucket: S3Bucket {
            client: clients::s3(&sdk)?,
            bucket: config.bucket,
        },
    };
    let app = App {
        ports,
        verifier,
        allowed_origins: config.allowed_origins,
    };
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(handle(app, req).await)
    }))
    .await
}
