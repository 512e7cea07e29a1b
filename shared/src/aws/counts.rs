//! The device totals item (settings table, `pk=counts, sk=devices`) and the
//! recount's parallel Scan of the devices table.
//!
//! One item holds every total (`n#<status>#<platform>`) and, per stream
//! shard, the last counted sequence number (`mark#<shard>`) with when it
//! moved (`seen#<shard>`): a batch's counts and its mark move in one
//! conditional UpdateItem, so no transaction is needed and concurrent shards
//! never conflict. Marks of shards idle for two days (past the stream's 24 h
//! retention, so nothing of theirs can be delivered again) are removed.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use futures::future::try_join_all;

use super::items::{get_s, s, Item};
use super::sdk::sdk_error;
use crate::clock::epoch_now;
use crate::counts::{Applied, Bucket, Census, CountStore, Delta, Expect, Sequence};
use crate::port_error::PortError;

const PK: &str = "counts";
const SK: &str = "devices";
const TOTAL: &str = "n#";
const MARK: &str = "mark#";
const SEEN: &str = "seen#";
/// A shard idle this long can deliver nothing again (stream records live 24 h).
const STALE_SECS: u64 = 2 * 86_400;
/// Segments of the recount's parallel Scan.
const SEGMENTS: i32 = 4;

fn num(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn total_name(b: &Bucket) -> String {
    format!("{TOTAL}{}#{}", b.status, b.platform)
}

fn bucket_of(name: &str) -> Option<Bucket> {
    let (status, platform) = name.strip_prefix(TOTAL)?.split_once('#')?;
    Some(Bucket::new(status, platform))
}

fn signed(v: &AttributeValue) -> i64 {
    v.as_n().ok().and_then(|n| n.parse().ok()).unwrap_or(0)
}

pub struct DynamoCounts {
    pub client: Client,
    /// The settings table.
    pub table: String,
}

impl DynamoCounts {
    /// An UpdateItem of the totals item.
    fn update(&self) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(PK))
            .key("sk", s(SK))
    }

    async fn item(&self) -> Result<Item, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(PK))
            .key("sk", s(SK))
            .send()
            .await
            .map_err(|e| sdk_error("read device totals", e))?;
        Ok(out.item.unwrap_or_default())
    }

    /// Drops the marks of shards that stopped long ago (best effort: a
    /// refused or failed removal is tried again after the next batch).
    async fn prune(&self, item: &Item, keep: &str) {
        let now = epoch_now();
        let stale: Vec<(&str, &AttributeValue)> = item
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(SEEN)?, v)))
            .filter(|(shard, v)| {
                *shard != keep && u64::try_from(signed(v)).unwrap_or(0) + STALE_SECS < now
            })
            .take(20)
            .collect();
        if stale.is_empty() {
            return;
        }
        let mut req = self.update();
        let mut removes = Vec::new();
        let mut conditions = Vec::new();
        for (i, (shard, seen)) in stale.iter().enumerate() {
            req = req
                .expression_attribute_names(format!("#m{i}"), format!("{MARK}{shard}"))
                .expression_attribute_names(format!("#s{i}"), format!("{SEEN}{shard}"))
                .expression_attribute_values(format!(":s{i}"), (*seen).clone());
            removes.push(format!("#m{i}, #s{i}"));
            conditions.push(format!("#s{i} = :s{i}"));
        }
        let result = req
            .update_expression(format!("REMOVE {}", removes.join(", ")))
            .condition_expression(conditions.join(" AND "))
            .send()
            .await;
        match result {
            Ok(_) => tracing::info!(shards = stale.len(), "marks of finished shards removed"),
            Err(e) => tracing::warn!(error = %sdk_error("prune shard marks", e), "prune later"),
        }
    }
}

impl CountStore for DynamoCounts {
    async fn apply(
        &self,
        shard: &str,
        delta: &Delta,
        last: &Sequence,
        expect: Expect<'_>,
    ) -> Result<Applied, PortError> {
        let mut req = self
            .update()
            .expression_attribute_names("#mark", format!("{MARK}{shard}"))
            .expression_attribute_names("#seen", format!("{SEEN}{shard}"))
            .expression_attribute_values(":last", s(last.as_padded()))
            .expression_attribute_values(":now", num(i64::try_from(epoch_now()).unwrap_or(0)));
        let mut adds = Vec::new();
        for (i, (bucket, n)) in delta.iter().enumerate() {
            req = req
                .expression_attribute_names(format!("#c{i}"), total_name(bucket))
                .expression_attribute_values(format!(":c{i}"), num(n));
            adds.push(format!("#c{i} :c{i}"));
        }
        let mut update = "SET #mark = :last, #seen = :now".to_owned();
        if !adds.is_empty() {
            update.push_str(" ADD ");
            update.push_str(&adds.join(", "));
        }
        req = match expect {
            Expect::Below(first) => req
                .condition_expression("attribute_not_exists(#mark) OR #mark < :first")
                .expression_attribute_values(":first", s(first.as_padded())),
            Expect::Exactly(None) => req.condition_expression("attribute_not_exists(#mark)"),
            Expect::Exactly(Some(read)) => req
                .condition_expression("#mark = :read")
                .expression_attribute_values(":read", s(read.as_padded())),
        };
        let result = req
            .update_expression(update)
            .return_values(ReturnValue::AllNew)
            // A refusal says where the mark stands, in the same round trip.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                if let Some(item) = out.attributes() {
                    self.prune(item, shard).await;
                }
                Ok(Applied::Done)
            }
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    let mark = c
                        .item()
                        .and_then(|i| get_s(i, &format!("{MARK}{shard}")))
                        .and_then(Sequence::parse);
                    Ok(Applied::Refused(mark))
                }
                _ => Err(sdk_error("count devices", e)),
            },
        }
    }

    async fn totals(&self) -> Result<BTreeMap<Bucket, u64>, PortError> {
        Ok(self
            .item()
            .await?
            .iter()
            .filter_map(|(k, v)| Some((bucket_of(k)?, u64::try_from(signed(v)).unwrap_or(0))))
            .collect())
    }

    async fn replace(&self, totals: &BTreeMap<Bucket, u64>) -> Result<(), PortError> {
        let old = self.item().await?;
        let mut req = self.update();
        let mut sets = Vec::new();
        for (i, (bucket, n)) in totals.iter().enumerate() {
            req = req
                .expression_attribute_names(format!("#c{i}"), total_name(bucket))
                .expression_attribute_values(
                    format!(":c{i}"),
                    num(i64::try_from(*n).unwrap_or(i64::MAX)),
                );
            sets.push(format!("#c{i} = :c{i}"));
        }
        let mut removes = Vec::new();
        for (i, name) in old
            .keys()
            .filter(|k| bucket_of(k).is_some_and(|b| !totals.contains_key(&b)))
            .enumerate()
        {
            req = req.expression_attribute_names(format!("#r{i}"), name.clone());
            removes.push(format!("#r{i}"));
        }
        let mut update = String::new();
        if !sets.is_empty() {
            update = format!("SET {}", sets.join(", "));
        }
        if !removes.is_empty() {
            update.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        if update.is_empty() {
            return Ok(());
        }
        req.update_expression(update.trim())
            .send()
            .await
            .map_err(|e| sdk_error("write device totals", e))?;
        Ok(())
    }
}

/// Counts the devices table itself: a parallel Scan of two attributes.
pub struct DynamoCensus {
    pub client: Client,
    /// The devices table.
    pub table: String,
}

impl DynamoCensus {
    async fn segment(&self, segment: i32) -> Result<BTreeMap<Bucket, u64>, PortError> {
        let mut totals = BTreeMap::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .segment(segment)
                .total_segments(SEGMENTS)
                .projection_expression("#st, platform")
                .expression_attribute_names("#st", "status")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("recount devices", e))?;
            for item in out.items() {
                if let (Some(status), Some(platform)) =
                    (get_s(item, "status"), get_s(item, "platform"))
                {
                    *totals.entry(Bucket::new(status, platform)).or_default() += 1;
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(totals);
            }
        }
    }
}

impl Census for DynamoCensus {
    async fn census(&self) -> Result<BTreeMap<Bucket, u64>, PortError> {
        let parts = try_join_all((0..SEGMENTS).map(|seg| self.segment(seg))).await?;
        let mut totals = BTreeMap::new();
        for part in parts {
            for (bucket, n) in part {
                *totals.entry(bucket).or_default() += n;
            }
        }
        Ok(totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_names_round_trip() {
        let b = Bucket::new("pre_approved", "ios");
        assert_eq!(bucket_of(&total_name(&b)), Some(b));
        assert_eq!(bucket_of("mark#shardId-1"), None);
        assert_eq!(bucket_of("pk"), None);
    }
}
