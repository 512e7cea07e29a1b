//! The expiry sweep: pre-approvals whose expiry has passed become `expired`
//! (kept, counted, renewable). Admission does not wait for it: it compares
//! the expiry itself, to the second; the sweep makes the list, the totals and
//! the `Pre-approval Expired` event follow.

use std::future::Future;

use futures::{stream, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::domain::Expiry;
use crate::port_error::PortError;

/// A pre-approval whose expiry has passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub serial: String,
    pub expires: Expiry,
}

/// Where the next page of one shard starts (the last item read).
pub type After = Option<Due>;

pub trait ExpiryStore: Send + Sync {
    /// The index's partitions; [`ExpiryStore::due`] reads one at a time.
    fn shards(&self) -> u32;

    /// Pre-approvals of `shard` with an expiry at or before `now`, soonest
    /// first, after `after`, at most `limit`; and where the next page starts.
    fn due(
        &self,
        shard: u32,
        now: u64,
        after: After,
        limit: usize,
    ) -> impl Future<Output = Result<(Vec<Due>, After), PortError>> + Send;

    /// Marks the device `expired` if it is still pre-approved with this
    /// expiry (false: it enrolled, was renewed, re-imported or removed).
    fn expire(&self, due: &Due, at: u64) -> impl Future<Output = Result<bool, PortError>> + Send;
}

/// Items per page of the index.
pub const PAGE: usize = 200;
/// Conditional writes in flight at once.
const IN_FLIGHT: usize = 16;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    pub expired: u64,
    /// Found due but changed since (not expired by this sweep).
    pub changed: u64,
    /// False when the sweep stopped for time; the next one goes on.
    pub complete: bool,
}

/// Expires every due pre-approval at `now`, shard by shard, until
/// `out_of_time` says stop. Each write is conditional, so sweeps that overlap
/// or repeat expire each device once.
pub async fn sweep(
    store: &impl ExpiryStore,
    now: u64,
    out_of_time: impl Fn() -> bool,
) -> Result<Swept, PortError> {
    let mut swept = Swept::default();
    for shard in 0..store.shards() {
        let mut after = None;
        loop {
            if out_of_time() {
                return Ok(swept);
            }
            let (due, next) = store.due(shard, now, after, PAGE).await?;
            let results: Vec<bool> = stream::iter(due.iter().map(|d| store.expire(d, now)))
                .buffer_unordered(IN_FLIGHT)
                .try_collect()
                .await?;
            for expired in results {
                if expired {
                    swept.expired += 1;
                } else {
                    swept.changed += 1;
                }
            }
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
    }
    swept.complete = true;
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::MemoryAdmin;
    use crate::records::DeviceStatus;

    #[tokio::test]
    async fn due_pre_approvals_expire_once_and_others_are_left_alone() {
        let store = MemoryAdmin::default();
        let now = 1_000_000;
        for (serial, expires, status) in [
            ("DUE1", Some(now - 1), DeviceStatus::PreApproved),
            ("DUE2", Some(now), DeviceStatus::PreApproved),
            ("LATER", Some(now + 1), DeviceStatus::PreApproved),
            ("NEVER", None, DeviceStatus::PreApproved),
            ("ENROLLED", None, DeviceStatus::Enrolled),
        ] {
            store.put_device(serial, status, expires.map(Expiry::from_epoch));
        }
        let swept = sweep(&store, now, || false).await.unwrap();
        assert_eq!((swept.expired, swept.changed, swept.complete), (2, 0, true));
        let status = |s| store.device_now(s).unwrap().status;
        assert_eq!(status("DUE1"), DeviceStatus::Expired);
        assert_eq!(status("DUE2"), DeviceStatus::Expired);
        assert_eq!(status("LATER"), DeviceStatus::PreApproved);
        assert_eq!(status("NEVER"), DeviceStatus::PreApproved);
        assert_eq!(status("ENROLLED"), DeviceStatus::Enrolled);
        // A repeated sweep (a retried invocation) finds nothing more to do.
        let again = sweep(&store, now, || false).await.unwrap();
        assert_eq!((again.expired, again.changed), (0, 0));
    }

    #[tokio::test]
    async fn a_sweep_out_of_time_stops_and_the_next_goes_on() {
        let store = MemoryAdmin::default();
        for i in 0..(PAGE * 2 + 5) {
            store.put_device(
                &format!("S{i:04}"),
                DeviceStatus::PreApproved,
                Some(Expiry::from_epoch(10)),
            );
        }
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let first = sweep(&store, 20, || {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 1
        })
        .await
        .unwrap();
        assert!(!first.complete);
        assert!(first.expired > 0 && first.expired < (PAGE * 2 + 5) as u64);
        let rest = sweep(&store, 20, || false).await.unwrap();
        assert_eq!(first.expired + rest.expired, (PAGE * 2 + 5) as u64);
    }
}
