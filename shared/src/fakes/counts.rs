//! The device totals in memory, with each shard's mark, as one DynamoDB item holds them.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::counts::{Applied, Bucket, CountStore, Delta, Expect, Sequence};
use crate::port_error::PortError;

#[derive(Default)]
pub struct MemoryCounts {
    totals: Mutex<BTreeMap<Bucket, i64>>,
    marks: Mutex<HashMap<String, Sequence>>,
    writes: AtomicUsize,
    fail_next: AtomicBool,
}

impl MemoryCounts {
    pub fn snapshot(&self) -> BTreeMap<Bucket, u64> {
        self.totals
            .lock()
            .unwrap()
            .iter()
            .map(|(b, n)| (b.clone(), u64::try_from(*n).unwrap_or(0)))
            .collect()
    }

    /// Updates written so far.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    /// The next write fails (a throttled or timed-out request), writing nothing.
    pub fn fail_next(&self) {
        self.fail_next.store(true, Ordering::Relaxed);
    }
}

impl CountStore for MemoryCounts {
    async fn apply(
        &self,
        shard: &str,
        delta: &Delta,
        last: &Sequence,
        expect: Expect<'_>,
    ) -> Result<Applied, PortError> {
        if self.fail_next.swap(false, Ordering::Relaxed) {
            return Err(PortError::new("count devices", "throttled"));
        }
        let mut marks = self.marks.lock().unwrap();
        let mark = marks.get(shard);
        let allowed = match expect {
            Expect::Below(first) => mark.is_none_or(|m| m < first),
            Expect::Exactly(read) => mark == read,
        };
        if !allowed {
            return Ok(Applied::Refused(mark.cloned()));
        }
        let mut totals = self.totals.lock().unwrap();
        for (bucket, n) in delta.iter() {
            *totals.entry(bucket.clone()).or_default() += n;
        }
        marks.insert(shard.to_owned(), last.clone());
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(Applied::Done)
    }

    async fn totals(&self) -> Result<BTreeMap<Bucket, u64>, PortError> {
        Ok(self.snapshot())
    }

    async fn replace(&self, totals: &BTreeMap<Bucket, u64>) -> Result<(), PortError> {
        *self.totals.lock().unwrap() = totals
            .iter()
            .map(|(b, n)| (b.clone(), i64::try_from(*n).unwrap_or(i64::MAX)))
            .collect();
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
