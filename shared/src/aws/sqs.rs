//! The import queue, for the continuation of a paused import.

use aws_sdk_sqs::error::DisplayErrorContext;

use crate::ports::{Continuations, PortError};

#[derive(Debug, Clone)]
pub struct SqsContinuations {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl Continuations for SqsContinuations {
    async fn requeue(&self, event: &str) -> Result<(), PortError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(event)
            .send()
            .await
            .map_err(|e| PortError::new("queue the continuation", DisplayErrorContext(e)))?;
        Ok(())
    }
}
