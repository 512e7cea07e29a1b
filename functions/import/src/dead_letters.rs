//! What becomes of an import whose event the queue gave up on. The import
//! function marks its own last failed delivery, but an invocation that ran out
//! of memory or time never gets to: its event lands in the dead-letter queue,
//! and this consumer records the import as `failed` with a report, so that no
//! import stays `validating` or `writing` for ever.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::events::EventPublisher;
use shared::files::{ObjectVersion, ReportSink, Uploads};
use shared::import::ports::ImportRecords;
use shared::import::{mark_failed, ImportObject, Outcome};
use shared::port_error::PortError;

use crate::event::Notification;

/// The ports the consumer needs: reading the upload's version, the import's
/// record and its report.
pub struct DeadLetters<U, M, R, E> {
    pub uploads: U,
    pub records: M,
    pub reports: R,
    pub events: E,
    /// The import queue's maxReceiveCount: how often the event was tried.
    pub max_receives: u64,
}

pub async fn handle<U: Uploads, M: ImportRecords, R: ReportSink, E: EventPublisher>(
    app: &DeadLetters<U, M, R, E>,
    event: LambdaEvent<SqsEvent>,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in event.payload.records {
        let body = message.body.as_deref().unwrap_or_default();
        let marked = mark_failed_event(
            &app.uploads,
            &app.records,
            &app.reports,
            &app.events,
            body,
            app.max_receives,
        )
        .await;
        if let Err(e) = marked {
            // Kept in the dead-letter queue and tried again; nothing else is lost meanwhile.
            tracing::error!(message_id = ?message.message_id, error = %e, "could not mark the import failed");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Records every import an event names as `failed` (status and report). A
/// body that is no S3 event has no import to mark: it is dropped, logged.
pub async fn mark_failed_event(
    uploads: &impl Uploads,
    records: &impl ImportRecords,
    reports: &impl ReportSink,
    events: &impl EventPublisher,
    body: &str,
    attempts: u64,
) -> Result<(), PortError> {
    let Ok(notification) = serde_json::from_str::<Notification>(body) else {
        tracing::warn!(
            bytes = body.len(),
            "dead letter is not an S3 event; dropped"
        );
        return Ok(());
    };
    for record in notification.uploads() {
        let (bucket, key) = (record.s3.bucket.name.as_str(), record.key());
        let event_version = record.s3.object.version_id.as_deref();
        // The same version the import used; the event's own if the object is gone.
        let version = match uploads.head(bucket, &key, event_version).await {
            Ok(info) => info.version,
            Err(_) => ObjectVersion::new(event_version.map(str::to_owned), None),
        };
        let object = ImportObject::new(bucket, key, &version);
        let outcome = mark_failed(&object, attempts, records, reports, events)
            .await
            .map_err(|e| PortError::new("mark the import failed", e))?;
        match outcome {
            Outcome::AlreadyFinished(status) => {
                tracing::info!(import_id = %object.import_id(), ?status, "import had finished; left as it is")
            }
            _ => tracing::info!(import_id = %object.import_id(), "import marked failed"),
        }
    }
    Ok(())
}
