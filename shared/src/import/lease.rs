//! One invocation at a time works on an import: the lease it holds is short
//! and renewed while it runs, so a dead holder's work is taken over within a
//! lease rather than a whole timeout.

use std::time::Duration;

use super::ports::{ImportRecords, Lease};

/// Extends the lease every third of its length; returns only when another
/// invocation has taken it (this one was stalled past its lease), with until when.
pub(super) async fn renew_lease<M: ImportRecords>(
    records: &M,
    import_id: &str,
    owner: &str,
    seconds: u64,
) -> u64 {
    let every = Duration::from_secs((seconds / 3).max(1));
    loop {
        tokio::time::sleep(every).await;
        let until = crate::clock::epoch_now() + seconds;
        match records.lease(import_id, owner, until).await {
            Ok(Lease::Taken) => {}
            Ok(Lease::Held { until }) => return until,
            // Tried again at the next beat; the lease still has two thirds to run.
            Err(e) => tracing::warn!(%import_id, error = %e, "could not renew the import lease"),
        }
    }
}
