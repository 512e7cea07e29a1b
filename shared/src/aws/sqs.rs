//! SQS: one message sent, a message's receive count, and the import queue
//! for the continuation of a paused import.

use std::collections::HashMap;

use aws_sdk_sqs::error::DisplayErrorContext;

use crate::import::ports::Continuations;
use crate::port_error::PortError;

/// Sends `body` to the queue at `url`; `what` names the step in the error.
pub async fn send(
    client: &aws_sdk_sqs::Client,
    url: &str,
    body: impl Into<String>,
    what: &'static str,
) -> Result<(), PortError> {
    client
        .send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .map_err(|e| PortError::new(what, DisplayErrorContext(e)))?;
    Ok(())
}

/// How often a message was delivered, from its attributes (1 when absent).
pub fn receive_count(attributes: &HashMap<String, String>) -> u32 {
    attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1)
}

#[derive(Debug, Clone)]
pub struct SqsContinuations {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl Continuations for SqsContinuations {
    async fn requeue(&self, event: &str) -> Result<(), PortError> {
        send(
            &self.client,
            &self.queue_url,
            event,
            "queue the continuation",
        )
        .await
    }
}
