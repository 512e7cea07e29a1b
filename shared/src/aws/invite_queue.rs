//! The invite queue on SQS: small messages naming an invite's attempt, sent
//! ten to a SendMessageBatch.

use futures::{stream, StreamExt, TryStreamExt};

use crate::outbox::{InviteMessage, InviteQueue};
use crate::port_error::PortError;

/// The invite queue.
#[derive(Debug, Clone)]
pub struct SqsInviteQueue {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
}

impl SqsInviteQueue {
    /// One SendMessageBatch of up to 10. Entries SQS did not take are sent
    /// again once; still refused, the caller fails (an import chunk is then
    /// replayed and queues them again).
    async fn send_batch(
        &self,
        batch: &[InviteMessage],
        delay_seconds: u32,
    ) -> Result<(), PortError> {
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        let mut entries = Vec::with_capacity(batch.len());
        for (i, m) in batch.iter().enumerate() {
            let body = serde_json::to_string(m).map_err(|e| PortError::new("queue invite", e))?;
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .delay_seconds(delay_seconds as i32)
                    .build()
                    .map_err(|e| PortError::new("queue invite", e))?,
            );
        }
        for _ in 0..2 {
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries.clone()))
                .send()
                .await
                .map_err(|e| {
                    PortError::new("queue invite", aws_sdk_sqs::error::DisplayErrorContext(e))
                })?;
            let failed: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
            if failed.is_empty() {
                return Ok(());
            }
            entries.retain(|e| failed.contains(&e.id()));
        }
        Err(PortError::new(
            "queue invite",
            "SQS refused some invite messages",
        ))
    }
}

impl InviteQueue for SqsInviteQueue {
    async fn enqueue(
        &self,
        messages: &[InviteMessage],
        delay_seconds: u32,
    ) -> Result<(), PortError> {
        let sends: Vec<_> = messages
            .chunks(10)
            .map(|batch| self.send_batch(batch, delay_seconds))
            .collect();
        stream::iter(sends)
            .buffer_unordered(8)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }
}
