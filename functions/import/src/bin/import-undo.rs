//! Undo entry point: one SQS message `{"import_id"}` per undo (or dry run)
//! the admin API requested, run in one invocation when it can. A run that
//! stops for time or fails is not acknowledged: it comes back and goes on
//! from its saved page; after the queue's last delivery it goes to the
//! dead-letter queue and its record says failed.

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::aws::clients;
use shared::aws::dynamo::DynamoImports;
use shared::aws::events::EventBridgePublisher;
use shared::aws::sqs::receive_count;
use shared::aws::tables::Tables;
use shared::aws::undo::DynamoUndo;
use shared::env::{parsed_or, required};
use shared::undo::run::{run as undo, Ran};
use shared::undo::{UndoStatus, UndoStore};

/// Left of the invocation's time when a run saves and stops.
const RESERVE: Duration = Duration::from_secs(30);

#[derive(serde::Deserialize)]
struct Request {
    import_id: String,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let tables = Tables::from_env()?;
    let max_receives: u32 = parsed_or("UNDO_MAX_RECEIVES", 5)?;
    let sdk = clients::sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let records = DynamoImports {
        client: dynamo.clone(),
        table: tables.imports.clone(),
    };
    let store = DynamoUndo {
        client: dynamo,
        tables,
        queue: None,
    };
    let events = EventBridgePublisher {
        client: aws_sdk_eventbridge::Client::new(&sdk),
        bus: required("EVENT_BUS_NAME")?,
    };
    let (store, records, events) = (&store, &records, &events);
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let out_of_time = shared::clock::out_of_time(event.context.deadline, RESERVE);
        let mut response = SqsBatchResponse::default();
        for message in event.payload.records {
            let body = message.body.as_deref().unwrap_or_default();
            let Ok(request) = serde_json::from_str::<Request>(body) else {
                tracing::warn!("not an undo request; dropped");
                continue;
            };
            let id = request.import_id.as_str();
            let outcome = undo(store, records, events, id, out_of_time).await;
            let again = match &outcome {
                Ok(Ran::Finished(s)) => {
                    tracing::info!(dry_run = s.dry_run, counts = ?s.counts, "undo finished");
                    false
                }
                Ok(Ran::Missing) => false,
                Ok(Ran::Paused(_)) => true,
                Err(e) => {
                    tracing::error!(error = %e, "undo stopped; it goes on from its last page");
                    if receive_count(&message.attributes) >= max_receives {
                        if let Ok(Some(mut s)) = store.load(id).await {
                            s.status = UndoStatus::Failed;
                            s.error = Some(format!("{e}; ask for the undo again to go on"));
                            let _ = store.save(&s).await;
                        }
                        false
                    } else {
                        true
                    }
                }
            };
            if again {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message.message_id.clone().unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        Ok::<_, Error>(response)
    }))
    .await
}
