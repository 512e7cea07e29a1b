//! The export function's handler: each SQS message names one export, which
//! runs start to end in this invocation ([`shared::export::run`]).

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use shared::aws::sqs::receive_count;
use shared::export::run::{run, Outcome};
use shared::export::{DeviceSource, ExportStore};
use shared::files::ReportSink;

/// The adapters, built once per container.
pub struct App<S, D, K> {
    pub store: S,
    pub source: D,
    pub sink: K,
    /// Where export files go (the import bucket, under `exports/`).
    pub bucket: String,
}

#[derive(Deserialize)]
struct Message {
    export_id: String,
}

/// Left to record a failure and answer before Lambda stops the invocation.
const RESERVE: Duration = Duration::from_secs(30);

pub async fn handle<S, D, K>(app: &App<S, D, K>, event: LambdaEvent<SqsEvent>) -> SqsBatchResponse
where
    S: ExportStore,
    D: DeviceSource,
    K: ReportSink,
{
    let out_of_time = shared::clock::out_of_time(event.context.deadline, RESERVE);
    let mut response = SqsBatchResponse::default();
    for message in event.payload.records {
        let Some(m) = message
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<Message>(b).ok())
        else {
            // Not ours (or garbled): retrying cannot mend it.
            tracing::warn!(message_id = ?message.message_id, "export message without an export id; dropped");
            continue;
        };
        let attempt = receive_count(&message.attributes);
        let ran = run(
            &app.store,
            &app.source,
            &app.sink,
            &app.bucket,
            &m.export_id,
            attempt,
            &out_of_time,
        )
        .await;
        match ran {
            Ok(outcome) => {
                if outcome == Outcome::Missing {
                    tracing::warn!(export_id = %m.export_id, "no such export; dropped");
                }
            }
            Err(e) => {
                // Its record could not be read or written: the message comes back.
                tracing::error!(export_id = %m.export_id, attempt, error = %e, "export not recorded; will retry");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message.message_id.clone().unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::SqsMessage;
    use shared::export::{ExportFilter, ExportState, ExportStatus};
    use shared::fakes::{MemoryDevices, MemoryExports, MemoryReports};

    fn event(bodies: &[(&str, u32)]) -> LambdaEvent<SqsEvent> {
        let mut payload = SqsEvent::default();
        for (i, (body, receives)) in bodies.iter().enumerate() {
            let mut m = SqsMessage::default();
            m.message_id = Some(format!("m{i}"));
            m.body = Some((*body).to_owned());
            m.attributes
                .insert("ApproximateReceiveCount".into(), receives.to_string());
            payload.records.push(m);
        }
        let mut context = lambda_runtime::Context::default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        context.deadline = now.as_millis() as u64 + 900_000;
        LambdaEvent::new(payload, context)
    }

    #[tokio::test]
    async fn each_message_runs_its_export_and_a_fourth_delivery_fails_it() {
        let app = App {
            store: MemoryExports::default(),
            source: MemoryDevices::default(),
            sink: MemoryReports::default(),
            bucket: "b".into(),
        };
        let a = ExportState::queued(ExportFilter::default(), None, "ann", "2026-11-22T10:00:00Z");
        let b = ExportState::queued(ExportFilter::default(), None, "ann", "2026-11-22T10:00:00Z");
        app.store.save_export(&a).await.unwrap();
        app.store.save_export(&b).await.unwrap();
        let body = |id: &str| serde_json::json!({ "export_id": id }).to_string();
        let (ba, bb) = (body(&a.export_id), body(&b.export_id));
        let out = handle(&app, event(&[(&ba, 1), (&bb, 4), ("garbage", 1)])).await;
        assert!(out.batch_item_failures.is_empty());
        let status = |id: &str| app.store.records.lock().unwrap()[id].status;
        assert_eq!(status(&a.export_id), ExportStatus::Ready);
        assert_eq!(status(&b.export_id), ExportStatus::Failed);
        let files = app.sink.objects.lock().unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), [&a.key]);
    }
}
