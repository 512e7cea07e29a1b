//! SQS batch -> one import per S3 record, with partial batch failures.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use shared::aws::dynamo::{DynamoDirectory, DynamoLedger};
use shared::aws::messaging::AwsInviteSender;
use shared::aws::s3::{head, S3Object, S3Reports};
use shared::aws::settings;
use shared::domain::ImportOptions;
use shared::import::{mark_failed, run_import, ImportObject, Outcome, Ports, RunError, Settings};
use shared::password::PasswordKey;

use crate::config::Config;
use crate::event::Notification;

/// Clients and settings built once per container.
pub struct App {
    pub config: Config,
    pub s3: aws_sdk_s3::Client,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub password_key: PasswordKey,
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("message body is not an S3 event notification: {0}")]
    NotAnEvent(String),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Port(#[from] shared::ports::PortError),
    #[error("could not queue the continuation: {0}")]
    Continue(String),
}

pub async fn handle(app: &App, event: LambdaEvent<SqsEvent>) -> SqsBatchResponse {
    let deadline_ms = event.context.deadline;
    let remaining = move || {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Duration::from_millis(deadline_ms.saturating_sub(now))
    };
    let mut response = SqsBatchResponse::default();
    for message in event.payload.records {
        let id = message.message_id.clone().unwrap_or_default();
        if let Err(e) = handle_message(app, &message, &remaining).await {
            let attempts = receive_count(&message);
            if attempts >= app.config.max_receives {
                tracing::error!(message_id = %id, attempts, error = %e, "import failed on its last delivery");
                mark_failed_imports(app, &message, attempts).await;
            } else {
                tracing::error!(message_id = %id, attempts, error = %e, "import failed; the message will be retried");
            }
            // Reported either way: the queue's redrive policy keeps the event in the DLQ.
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

fn receive_count(message: &SqsMessage) -> u64 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1)
}

/// The event's imports are recorded as failed (status and report), so the
/// admin sees the outcome rather than an import that never ends.
async fn mark_failed_imports(app: &App, message: &SqsMessage, attempts: u64) {
    let Ok(notification) =
        serde_json::from_str::<Notification>(message.body.as_deref().unwrap_or_default())
    else {
        return;
    };
    for record in notification
        .records
        .iter()
        .filter(|r| r.is_object_created())
    {
        let (bucket, key) = (record.s3.bucket.name.clone(), record.key());
        // The same version the import would have used; the event's own if the object is gone.
        let version = match head(
            &app.s3,
            &bucket,
            &key,
            record.s3.object.version_id.as_deref(),
        )
        .await
        {
            Ok(info) => info.version_id.or(info.etag),
            Err(_) => record.s3.object.version_id.clone(),
        };
        let object = ImportObject {
            bucket: bucket.clone(),
            key,
            version,
        };
        let ledger = DynamoLedger {
            client: app.dynamo.clone(),
            table: app.config.tables.imports.clone(),
        };
        let reports = S3Reports {
            client: app.s3.clone(),
            bucket,
        };
        match mark_failed(&object, attempts, &ledger, &reports).await {
            Ok(outcome) => {
                tracing::info!(import_id = %object.import_id(), ?outcome, "import marked failed")
            }
            Err(e) => {
                tracing::error!(import_id = %object.import_id(), error = %e, "could not mark the import failed")
            }
        }
    }
}

async fn handle_message(
    app: &App,
    message: &SqsMessage,
    remaining: &(impl Fn() -> Duration + Sync),
) -> Result<(), HandlerError> {
    let body = message.body.as_deref().unwrap_or_default();
    let notification: Notification =
        serde_json::from_str(body).map_err(|e| HandlerError::NotAnEvent(e.to_string()))?;
    if notification.event.as_deref() == Some("s3:TestEvent") {
        tracing::info!("S3 test event acknowledged");
        return Ok(());
    }
    for record in notification
        .records
        .iter()
        .filter(|r| r.is_object_created())
    {
        let key = record.key();
        let bucket = record.s3.bucket.name.clone();
        let info = head(
            &app.s3,
            &bucket,
            &key,
            record.s3.object.version_id.as_deref(),
        )
        .await?;
        let stored = settings::load(&app.dynamo, &app.config.tables.settings).await?;
        let options = ImportOptions::from_metadata(&info.metadata, stored.defaults);
        let version = info.version_id.clone().or_else(|| info.etag.clone());
        let object = ImportObject {
            bucket: bucket.clone(),
            key: key.clone(),
            version,
        };
        let source = Arc::new(S3Object {
            client: app.s3.clone(),
            bucket: bucket.clone(),
            key: key.clone(),
            version_id: info.version_id,
            etag: info.etag,
            handle: tokio::runtime::Handle::current(),
        });
        let directory = DynamoDirectory::new(app.dynamo.clone(), app.config.tables.clone());
        let ledger = DynamoLedger {
            client: app.dynamo.clone(),
            table: app.config.tables.imports.clone(),
        };
        let enrollment_url = stored
            .enrollment_url
            .unwrap_or_else(|| app.config.enrollment_url.clone());
        let sender = AwsInviteSender {
            ses: app.ses.clone(),
            sns: app.sns.clone(),
            from: stored
                .invite_sender
                .unwrap_or_else(|| app.config.invite_sender.clone()),
            enrollment_url: enrollment_url.clone(),
        };
        let reports = S3Reports {
            client: app.s3.clone(),
            bucket: bucket.clone(),
        };
        let run_settings = Settings {
            chunk_rows: app.config.chunk_rows,
            invite_concurrency: app.config.invite_concurrency,
            email_rate: app.config.email_rate,
            sms_rate: app.config.sms_rate,
            enrollment_url,
            password_key: Some(app.password_key.clone()),
            ..Settings::default()
        };
        let ports = Ports {
            directory: &directory,
            ledger: &ledger,
            sender: &sender,
            reports: &reports,
        };
        let import_id = object.import_id();
        let outcome =
            run_import(&object, options, source, &ports, &run_settings, remaining).await?;
        tracing::info!(%import_id, outcome = ?outcome, "import step done");
        if let Outcome::Paused { .. } = outcome {
            // Continue in a fresh invocation: the same event again resumes at the checkpoint.
            app.sqs
                .send_message()
                .queue_url(&app.config.queue_url)
                .message_body(body)
                .send()
                .await
                .map_err(|e| {
                    HandlerError::Continue(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
                })?;
        }
    }
    Ok(())
}
