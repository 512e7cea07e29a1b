//! The ADE sync function's handler. Two kinds of event arrive: the schedule
//! (every `AdeSyncMinutes`), which queues one job per account, and the queue's
//! jobs, each of which syncs (or purges) one account.

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde_json::Value;
use shared::ade::ports::{AdeAccounts, AdeDevices, AdeSecrets, DepConnector, SyncJob, SyncJobs};
use shared::ade::schedule::queue_all;
use shared::ade::sync::{sync_account, Outcome, RunClock, SyncPorts, Trigger};
use shared::clock::epoch_now;

/// The adapters, built once per container.
pub struct App<A, S, D, C, J> {
    pub accounts: A,
    pub secrets: S,
    pub devices: D,
    pub apple: C,
    pub jobs: J,
}

/// Left for saving the state and answering before Lambda stops the invocation.
pub const RESERVE: Duration = Duration::from_secs(60);

/// An invocation's answer: the queue's partial-batch failures, or the fan-out's count.
pub enum Answer {
    Jobs(SqsBatchResponse),
    Scheduled { queued: usize },
}

impl<A, S, D, C, J> App<A, S, D, C, J>
where
    A: AdeAccounts,
    S: AdeSecrets,
    D: AdeDevices,
    C: DepConnector,
    J: SyncJobs,
{
    /// `invocation` names this run (the Lambda request id): the lease's owner.
    pub async fn handle(
        &self,
        event: Value,
        invocation: &str,
        out_of_time: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<Answer, shared::port_error::PortError> {
        if event.get("Records").is_none() {
            let queued = queue_all(&self.accounts, &self.jobs).await?;
            return Ok(Answer::Scheduled { queued });
        }
        let event: SqsEvent = serde_json::from_value(event)
            .map_err(|e| shared::port_error::PortError::new("read sqs event", e))?;
        let mut response = SqsBatchResponse::default();
        for message in event.records {
            let Some(job) = message
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<SyncJob>(b).ok())
            else {
                // Not ours (or garbled): retrying cannot mend it.
                tracing::warn!(message_id = ?message.message_id, "not an ADE sync job; dropped");
                continue;
            };
            if let Err(e) = self.job(&job, invocation, out_of_time).await {
                tracing::error!(?job, error = %e, "ADE sync job failed; it comes back");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message.message_id.clone().unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        Ok(Answer::Jobs(response))
    }

    async fn job(
        &self,
        job: &SyncJob,
        invocation: &str,
        out_of_time: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        match job {
            SyncJob::Purge { account } => {
                let removal = self.devices.remove_all(account).await?;
                tracing::info!(
                    account,
                    removed = removal.removed,
                    kept = removal.kept,
                    "ADE account purged"
                );
                Ok(())
            }
            SyncJob::Sync {
                account,
                full,
                requested,
            } => {
                let trigger = match requested {
                    true => Trigger::Requested { full: *full },
                    false => Trigger::Scheduled,
                };
                let ports = SyncPorts {
                    accounts: &self.accounts,
                    secrets: &self.secrets,
                    devices: &self.devices,
                    apple: &self.apple,
                };
                let clock = RunClock {
                    now: &epoch_now,
                    out_of_time,
                };
                let outcome = sync_account(&ports, account, trigger, invocation, &clock).await?;
                self.after(account, outcome).await
            }
        }
    }

    /// Logs the run; a run stopped for time queues its own continuation.
    async fn after(
        &self,
        account: &str,
        outcome: Outcome,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        match outcome {
            Outcome::Ran { report, health } => {
                tracing::info!(
                    account,
                    kind = %report.kind,
                    complete = report.complete,
                    ?health,
                    pages = report.pages,
                    requests = report.requests,
                    listed = report.listed,
                    removed = report.removed,
                    unsupported = report.unsupported,
                    "ADE sync"
                );
                if !report.complete && health == shared::ade::account::Health::Ok {
                    self.jobs
                        .send(&SyncJob::Sync {
                            account: account.to_owned(),
                            full: false,
                            requested: true,
                        })
                        .await?;
                }
            }
            Outcome::Busy => tracing::info!(account, "ADE sync already running"),
            Outcome::NotFound => tracing::warn!(account, "no such ADE account; job dropped"),
            Outcome::Skipped(health) => tracing::info!(account, ?health, "ADE sync skipped"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
