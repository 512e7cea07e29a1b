//! The schedule's fan-out: one sync job per account, so that accounts sync
//! independently (each in its own invocation, under its own lease).

use super::ports::{AdeAccounts, SyncJob, SyncJobs};
use crate::port_error::PortError;

/// Queues a sync of every account that has a token; returns how many.
pub async fn queue_all(
    accounts: &impl AdeAccounts,
    jobs: &impl SyncJobs,
) -> Result<usize, PortError> {
    let mut queued = 0;
    for account in accounts.list().await? {
        // Without a token there is nothing to ask Apple; the upload queues its own job.
        if account.token.is_none() {
            continue;
        }
        jobs.send(&SyncJob::Sync {
            account: account.id,
            full: false,
            requested: false,
        })
        .await?;
        queued += 1;
    }
    Ok(queued)
}
