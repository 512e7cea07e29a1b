//! The delivery-event consumer's handler: SES events (through SNS and SQS)
//! move each invite they name from `sent` to `delivered`, `bounced`,
//! `complained` or `failed`. Events about other mail, or that come after a
//! newer attempt, change nothing.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::outbox::events::{apply, parse, Applied};
use shared::outbox::Outbox;

pub async fn handle<O: Outbox>(outbox: &O, event: LambdaEvent<SqsEvent>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for m in event.payload.records {
        let Some(e) = m.body.as_deref().and_then(parse) else {
            continue;
        };
        let again = match apply(outbox, &e).await {
            Ok(Applied::TooEarly) => {
                tracing::info!(row = e.invite.row, state = %e.state, "delivery event before the send was recorded; will retry");
                true
            }
            Ok(applied) => {
                tracing::info!(row = e.invite.row, state = %e.state, ?applied, "delivery event");
                false
            }
            Err(err) => {
                tracing::warn!(error = %err, "delivery event not applied; will retry");
                true
            }
        };
        if again {
            // Back after the queue's visibility timeout.
            let mut f = BatchItemFailure::default();
            f.item_identifier = m.message_id.unwrap_or_default();
            response.batch_item_failures.push(f);
        }
    }
    response
}
