use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

async fn handle(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for message in event.payload.records {
        let id = message.message_id.clone().unwrap_or_default();
        let body = message.body.as_deref().unwrap_or("");
        match serde_json::from_str::<S3Event>(body) {
            Ok(s3) => {
                for r in s3.records {
                    tracing::info!(
                        bucket = r.s3.bucket.name.as_deref().unwrap_or(""),
                        key = r.s3.object.key.as_deref().unwrap_or(""),
                        "import received"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(message_id = %id, error = %e, "not an S3 event");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().with_target(false).without_time().init();
    run(service_fn(handle)).await
}
