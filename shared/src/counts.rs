//! Device totals by status and platform, kept from the devices table's change
//! stream so that the overview and the list totals read one item, whatever the
//! number of devices.
//!
//! Why the stream and not the writers: the import writes devices with
//! BatchWriteItem (no condition, no second item) and admission completes an
//! enrollment with one conditional UpdateItem; neither can carry a counter
//! without doubling its requests. The stream sees every change once per
//! shard, with the item before and after, whoever wrote it.
//!
//! Why it is exact under retries: Lambda hands a shard's records over in
//! order the first time and may hand some over again after an error (the
//! documented at-least-once). Each shard's counted sequence number is kept
//! beside the counters and moves in the same UpdateItem as the counts, so a
//! record at or below it was counted already and is skipped. A record that
//! changes no total (an invite state, a failed attempt) is never written.

use std::collections::BTreeMap;
use std::future::Future;

use crate::port_error::PortError;
use crate::records::DeviceStatus;

/// Devices of one status and platform.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Count {
    pub status: DeviceStatus,
    pub platform: String,
    pub count: u64,
}

/// A stream record's sequence number, comparable across lengths (DynamoDB
/// Streams numbers have 21 to 40 digits and grow within a shard).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sequence(String);

impl Sequence {
    pub const WIDTH: usize = 40;

    pub fn parse(s: &str) -> Option<Self> {
        let digits = s.trim_start_matches('0');
        if s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if digits.len() > Self::WIDTH {
            return None;
        }
        Some(Self(format!("{digits:0>width$}", width = Self::WIDTH)))
    }

    /// Zero-padded to [`Self::WIDTH`], so that DynamoDB's string order is the numbers' order.
    pub fn as_padded(&self) -> &str {
        &self.0
    }
}

/// What a device counts under: its status and platform as stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bucket {
    pub status: String,
    pub platform: String,
}

impl Bucket {
    pub fn new(status: &str, platform: &str) -> Self {
        Self {
            status: status.to_owned(),
            platform: platform.to_owned(),
        }
    }
}

/// One change of a device item: where it counted before and after (None:
/// the item did not exist, or is not a device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: Sequence,
    pub old: Option<Bucket>,
    pub new: Option<Bucket>,
}

impl Change {
    /// Whether the change moves any total (most updates touch neither status nor platform).
    pub fn counts(&self) -> bool {
        self.old != self.new
    }
}

/// Signed changes to the totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta(BTreeMap<Bucket, i64>);

impl Delta {
    pub fn of<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Self {
        let mut d = Self::default();
        for c in changes {
            if let Some(old) = &c.old {
                *d.0.entry(old.clone()).or_default() -= 1;
            }
            if let Some(new) = &c.new {
                *d.0.entry(new.clone()).or_default() += 1;
            }
        }
        d.0.retain(|_, n| *n != 0);
        d
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Bucket, i64)> {
        self.0.iter().map(|(b, n)| (b, *n))
    }
}

/// Which state of the shard's mark an update is made against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect<'a> {
    /// The first try: nothing of this batch was counted (no mark, or one below its first record).
    Below(&'a Sequence),
    /// After a refusal: the mark is still what was read then.
    Exactly(Option<&'a Sequence>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// Refused, nothing written: the shard's mark as found.
    Refused(Option<Sequence>),
}

/// Where the totals live, with each shard's counted sequence number.
pub trait CountStore: Send + Sync {
    /// Adds `delta` and moves `shard`'s mark to `last` at once, if the mark is as `expect`ed.
    fn apply(
        &self,
        shard: &str,
        delta: &Delta,
        last: &Sequence,
        expect: Expect<'_>,
    ) -> impl Future<Output = Result<Applied, PortError>> + Send;

    fn totals(&self) -> impl Future<Output = Result<BTreeMap<Bucket, u64>, PortError>> + Send;

    /// Sets every total to a recount, leaving the shards' marks alone.
    fn replace(
        &self,
        totals: &BTreeMap<Bucket, u64>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Counts the devices themselves (the drift repair's source of truth).
pub trait Census: Send + Sync {
    fn census(&self) -> impl Future<Output = Result<BTreeMap<Bucket, u64>, PortError>> + Send;
}

/// The totals before and after a recount.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Recount {
    pub before: Vec<Count>,
    pub after: Vec<Count>,
}

/// Replaces the totals with a count of the table (drift repair). Changes
/// streamed while the table is read may be counted twice or not at all: run
/// it while no import is writing.
pub async fn recount(census: &impl Census, store: &impl CountStore) -> Result<Recount, PortError> {
    let before = as_counts(&store.totals().await?);
    let totals = census.census().await?;
    store.replace(&totals).await?;
    Ok(Recount {
        before,
        after: as_counts(&totals),
    })
}

/// What one batch of changes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Changes that moved a total, counted now.
    pub counted: usize,
    /// Changes counted by an earlier delivery of the same records.
    pub repeated: usize,
    /// Changes that move no total.
    pub neutral: usize,
}

/// Counts one shard's batch of changes (in stream order) exactly once.
pub async fn count(
    store: &impl CountStore,
    shard: &str,
    changes: &[Change],
) -> Result<Tally, PortError> {
    let counting: Vec<&Change> = changes.iter().filter(|c| c.counts()).collect();
    let neutral = changes.len() - counting.len();
    let (Some(first), Some(last)) = (
        counting.iter().map(|c| &c.seq).min(),
        counting.iter().map(|c| &c.seq).max(),
    ) else {
        return Ok(Tally {
            neutral,
            ..Tally::default()
        });
    };
    let delta = Delta::of(counting.iter().copied());
    let mark = match store
        .apply(shard, &delta, last, Expect::Below(first))
        .await?
    {
        Applied::Done => {
            return Ok(Tally {
                counted: counting.len(),
                repeated: 0,
                neutral,
            })
        }
        Applied::Refused(mark) => mark,
    };
    // Delivered again: only what lies past the mark is new.
    let fresh: Vec<&Change> = counting
        .iter()
        .copied()
        .filter(|c| mark.as_ref().is_none_or(|m| c.seq > *m))
        .collect();
    let repeated = counting.len() - fresh.len();
    let Some(last) = fresh.iter().map(|c| &c.seq).max() else {
        return Ok(Tally {
            counted: 0,
            repeated,
            neutral,
        });
    };
    let delta = Delta::of(fresh.iter().copied());
    match store
        .apply(shard, &delta, last, Expect::Exactly(mark.as_ref()))
        .await?
    {
        Applied::Done => Ok(Tally {
            counted: fresh.len(),
            repeated,
            neutral,
        }),
        // Lambda runs one batch per shard at a time; a second writer means the
        // mapping was changed (ParallelizationFactor): fail, and the retry reads again.
        Applied::Refused(_) => Err(PortError::new(
            "count devices",
            format!("shard {shard} was counted by another invocation meanwhile"),
        )),
    }
}

/// The totals as the overview shows them (known statuses, no zeros), sorted.
pub fn as_counts(totals: &BTreeMap<Bucket, u64>) -> Vec<Count> {
    let mut out: Vec<Count> = totals
        .iter()
        .filter(|(_, n)| **n > 0)
        .filter_map(|(b, n)| {
            Some(Count {
                status: DeviceStatus::parse(&b.status)?,
                platform: b.platform.clone(),
                count: *n,
            })
        })
        .collect();
    out.sort_by(|a, b| (a.status.as_str(), &a.platform).cmp(&(b.status.as_str(), &b.platform)));
    out
}

/// Devices of `status` (all statuses when None) in the totals.
pub fn total_of(counts: &[Count], status: Option<DeviceStatus>) -> u64 {
    counts
        .iter()
        .filter(|c| status.is_none_or(|s| c.status == s))
        .map(|c| c.count)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::MemoryCounts;

    fn seq(n: u64) -> Sequence {
        Sequence::parse(&format!(
            "{}",
            1_100_000_000_017_454_423_009u128 + n as u128
        ))
        .unwrap()
    }

    fn insert(n: u64, status: &str, platform: &str) -> Change {
        Change {
            seq: seq(n),
            old: None,
            new: Some(Bucket::new(status, platform)),
        }
    }

    fn modify(n: u64, from: (&str, &str), to: (&str, &str)) -> Change {
        Change {
            seq: seq(n),
            old: Some(Bucket::new(from.0, from.1)),
            new: Some(Bucket::new(to.0, to.1)),
        }
    }

    fn total(store: &MemoryCounts, status: &str, platform: &str) -> u64 {
        store
            .snapshot()
            .get(&Bucket::new(status, platform))
            .copied()
            .unwrap_or(0)
    }

    #[test]
    fn sequence_numbers_order_as_numbers_whatever_their_length() {
        let short = Sequence::parse("999").unwrap();
        let long = Sequence::parse("1000").unwrap();
        assert!(short < long);
        assert_eq!(short.as_padded().len(), Sequence::WIDTH);
        assert_eq!(Sequence::parse("0999"), Some(short));
        for bad in ["", "12a", "-1", &"9".repeat(41)] {
            assert_eq!(Sequence::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_rewrite_in_the_same_status_moves_nothing() {
        let same = modify(1, ("pre_approved", "ios"), ("pre_approved", "ios"));
        assert!(!same.counts());
        assert!(Delta::of([&same]).is_empty());
        let enrolled = modify(2, ("pre_approved", "ios"), ("enrolled", "ios"));
        let d: Vec<_> = Delta::of([&enrolled])
            .iter()
            .map(|(b, n)| (b.status.clone(), n))
            .collect();
        assert_eq!(d, [("enrolled".into(), 1), ("pre_approved".into(), -1)]);
    }

    #[tokio::test]
    async fn a_batch_delivered_twice_counts_once() {
        let store = MemoryCounts::default();
        let batch: Vec<Change> = (1..=5).map(|n| insert(n, "pre_approved", "ios")).collect();
        let t = count(&store, "s1", &batch).await.unwrap();
        assert_eq!(t.counted, 5);
        let again = count(&store, "s1", &batch).await.unwrap();
        assert_eq!((again.counted, again.repeated), (0, 5));
        assert_eq!(total(&store, "pre_approved", "ios"), 5);
    }

    #[tokio::test]
    async fn a_retry_that_overlaps_what_was_counted_adds_only_the_rest() {
        let store = MemoryCounts::default();
        let all: Vec<Change> = (1..=10)
            .map(|n| insert(n, "pre_approved", "android"))
            .collect();
        // A first delivery of records 1-4 was counted; the retry (bisected or
        // re-batched) brings 3-10.
        count(&store, "s1", &all[..4]).await.unwrap();
        let t = count(&store, "s1", &all[2..]).await.unwrap();
        assert_eq!((t.counted, t.repeated), (6, 2));
        assert_eq!(total(&store, "pre_approved", "android"), 10);
    }

    #[tokio::test]
    async fn shards_are_marked_apart_and_neutral_changes_write_nothing() {
        let store = MemoryCounts::default();
        count(&store, "s1", &[insert(5, "pre_approved", "ios")])
            .await
            .unwrap();
        // Another shard's lower numbers are not "already counted".
        let t = count(&store, "s2", &[insert(1, "pre_approved", "ios")])
            .await
            .unwrap();
        assert_eq!(t.counted, 1);
        let writes = store.writes();
        let neutral = modify(9, ("pre_approved", "ios"), ("pre_approved", "ios"));
        let t = count(&store, "s1", &[neutral]).await.unwrap();
        assert_eq!((t.counted, t.neutral), (0, 1));
        assert_eq!(store.writes(), writes, "no write for a neutral batch");
        assert_eq!(total(&store, "pre_approved", "ios"), 2);
    }

    #[tokio::test]
    async fn enrolling_and_removing_move_devices_between_totals() {
        let store = MemoryCounts::default();
        let changes = [
            insert(1, "pre_approved", "ios"),
            insert(2, "pre_approved", "ios"),
            modify(3, ("pre_approved", "ios"), ("enrolled", "ios")),
            Change {
                seq: seq(4),
                old: Some(Bucket::new("pre_approved", "ios")),
                new: None,
            },
        ];
        count(&store, "s1", &changes).await.unwrap();
        assert_eq!(total(&store, "pre_approved", "ios"), 0);
        assert_eq!(total(&store, "enrolled", "ios"), 1);
        let shown = as_counts(&store.snapshot());
        assert_eq!(shown.len(), 1, "zero totals are not shown: {shown:?}");
        assert_eq!(total_of(&shown, Some(DeviceStatus::Enrolled)), 1);
        assert_eq!(total_of(&shown, None), 1);
    }

    #[tokio::test]
    async fn a_failed_write_counts_nothing_and_the_retry_counts_all() {
        let store = MemoryCounts::default();
        let batch: Vec<Change> = (1..=3).map(|n| insert(n, "enrolled", "windows")).collect();
        store.fail_next();
        assert!(count(&store, "s1", &batch).await.is_err());
        assert_eq!(total(&store, "enrolled", "windows"), 0);
        count(&store, "s1", &batch).await.unwrap();
        assert_eq!(total(&store, "enrolled", "windows"), 3);
    }

    struct Table(BTreeMap<Bucket, u64>);

    impl Census for Table {
        async fn census(&self) -> Result<BTreeMap<Bucket, u64>, PortError> {
            Ok(self.0.clone())
        }
    }

    #[tokio::test]
    async fn a_recount_replaces_drifted_totals_and_keeps_the_marks() {
        let store = MemoryCounts::default();
        let batch: Vec<Change> = (1..=3).map(|n| insert(n, "pre_approved", "ios")).collect();
        count(&store, "s1", &batch).await.unwrap();
        let table = Table(BTreeMap::from([(Bucket::new("enrolled", "macos"), 7)]));
        let r = recount(&table, &store).await.unwrap();
        assert_eq!(total_of(&r.before, None), 3);
        assert_eq!(total_of(&r.after, None), 7);
        assert_eq!(total(&store, "pre_approved", "ios"), 0);
        // The shard's mark survived: its records are still not counted twice.
        let again = count(&store, "s1", &batch).await.unwrap();
        assert_eq!(again.repeated, 3);
        assert_eq!(total(&store, "enrolled", "macos"), 7);
    }
}
