//! SQS batch -> one import per S3 record, with partial batch failures.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use shared::aws::sqs::receive_count;
use shared::domain::ImportOptions;
use shared::files::Uploads;
use shared::import::ports::Continuations;
use shared::import::{run_import, ImportObject, ImportPorts, Outcome, RunConfig, RunError};
use shared::port_error::PortError;
use shared::settings::SettingsStore;

use crate::event::{Notification, Record};

/// What the function talks to besides the run's ports: the uploads, the
/// admin's settings, and the queue a paused import continues through.
pub trait EventPorts: ImportPorts {
    type Uploads: Uploads;
    type Settings: SettingsStore;
    type Continuations: Continuations;
    fn uploads(&self) -> &Self::Uploads;
    fn settings(&self) -> &Self::Settings;
    fn continuations(&self) -> &Self::Continuations;
}

impl EventPorts for shared::aws::import::AwsImportPorts {
    type Uploads = shared::aws::s3::S3Uploads;
    type Settings = shared::aws::settings::DynamoSettings;
    type Continuations = shared::aws::sqs::SqsContinuations;
    fn uploads(&self) -> &Self::Uploads {
        &self.uploads
    }
    fn settings(&self) -> &Self::Settings {
        &self.settings
    }
    fn continuations(&self) -> &Self::Continuations {
        &self.continuations
    }
}

/// The adapters and configuration, built once per container.
pub struct App<P> {
    pub ports: P,
    /// Pacing, the password key and the deployment's invite origin.
    pub run: RunConfig,
    /// The queue's maxReceiveCount: on that delivery a failing import is recorded as failed.
    pub max_receives: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("message body is not an S3 event notification: {0}")]
    NotAnEvent(String),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Port(#[from] PortError),
    /// Another invocation holds the import: not acknowledged, so that the event
    /// comes back and, should the holder have died, takes over its expired lease.
    #[error("another invocation holds the import until {until} (epoch seconds)")]
    Busy { until: u64 },
}

pub async fn handle<P: EventPorts>(app: &App<P>, event: LambdaEvent<SqsEvent>) -> SqsBatchResponse {
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
            let attempts = u64::from(receive_count(&message.attributes));
            if let HandlerError::Busy { .. } = e {
                // Never recorded as failed: the holder may be alive and finish it.
                tracing::info!(message_id = %id, attempts, error = %e, "import busy; the event will come back");
            } else if attempts >= app.max_receives {
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

async fn mark_failed_imports<P: EventPorts>(app: &App<P>, message: &SqsMessage, attempts: u64) {
    let body = message.body.as_deref().unwrap_or_default();
    let (uploads, records, reports, events) = (
        app.ports.uploads(),
        app.ports.records(),
        app.ports.reports(),
        app.ports.events(),
    );
    if let Err(e) =
        crate::dead_letters::mark_failed_event(uploads, records, reports, events, body, attempts)
            .await
    {
        tracing::error!(error = %e, "could not mark the import failed; the dead-letter consumer will");
    }
}

async fn handle_message<P: EventPorts>(
    app: &App<P>,
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
    for record in notification.uploads() {
        match import_upload(app, record, remaining).await? {
            // Continue in a fresh invocation: the same event again resumes at the checkpoint.
            Outcome::Paused { .. } => app.ports.continuations().requeue(body).await?,
            Outcome::Busy { until } => return Err(HandlerError::Busy { until }),
            Outcome::Finished(_) | Outcome::AlreadyFinished(_) => {}
        }
    }
    Ok(())
}

/// Runs (or resumes) the import of one uploaded object.
async fn import_upload<P: EventPorts>(
    app: &App<P>,
    record: &Record,
    remaining: &(impl Fn() -> Duration + Sync),
) -> Result<Outcome, HandlerError> {
    let (bucket, key) = (record.s3.bucket.name.as_str(), record.key());
    let event_version = record.s3.object.version_id.as_deref();
    let info = app
        .ports
        .uploads()
        .head(bucket, &key, event_version)
        .await?;
    let settings = app.ports.settings().load().await?.settings;
    let options = ImportOptions::from_metadata(&info.metadata, &settings.import_defaults());
    let object = ImportObject::new(bucket, key.as_str(), &info.version);
    let source = app.ports.uploads().object(bucket, &key, &info.version);
    let import_id = object.import_id();
    let outcome = run_import(&object, options, source, &app.ports, &app.run, remaining).await?;
    tracing::info!(%import_id, outcome = ?outcome, "import step done");
    Ok(outcome)
}

#[cfg(test)]
mod tests;
