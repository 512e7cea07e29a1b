//! The device-totals function: the devices table's stream in (Lambda's
//! DynamoDB event source with a tumbling window, whose events name their
//! shard), the totals the overview reads out. Invoked with `{"recount": true}`
//! it recounts the table instead (drift repair).

use serde::Deserialize;
use serde_json::{json, Value};
use shared::counts::{self, Bucket, Census, Change, CountStore, Sequence};
use thiserror::Error;

use crate::stream::{StreamEvent, StreamRecord};

#[derive(Debug, Error)]
pub enum TotalsError {
    #[error(
        "the event names no shard: give the DynamoDB event source a TumblingWindowInSeconds \
         (its events carry the shard id the counting marks)"
    )]
    NoShard,
    #[error("record {0} has no readable SequenceNumber")]
    BadSequence(String),
    #[error("{0}")]
    Port(#[from] shared::port_error::PortError),
    #[error("not a stream event nor a recount request: {0}")]
    Unknown(String),
}

/// What the function is invoked with.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Invocation {
    Stream(StreamEvent),
    Recount { recount: bool },
}

/// Where an image counts: its `status` and `platform` strings (None when it is no device).
fn bucket(image: Option<&Value>) -> Option<Bucket> {
    let image = image?;
    let status = image.get("status")?.get("S")?.as_str()?;
    let platform = image.get("platform")?.get("S")?.as_str()?;
    Some(Bucket::new(status, platform))
}

pub fn changes(records: &[StreamRecord]) -> Result<Vec<Change>, TotalsError> {
    records
        .iter()
        .map(|r| {
            Ok(Change {
                seq: Sequence::parse(&r.dynamodb.sequence_number)
                    .ok_or_else(|| TotalsError::BadSequence(r.event_id.clone()))?,
                old: bucket(r.dynamodb.old_image.as_ref()),
                new: bucket(r.dynamodb.new_image.as_ref()),
            })
        })
        .collect()
}

/// Handles one invocation; the answer keeps a tumbling window's (empty) state,
/// which Lambda requires of every answer.
pub async fn handle(
    store: &impl CountStore,
    census: &impl Census,
    event: Value,
) -> Result<Value, TotalsError> {
    let invocation: Invocation =
        serde_json::from_value(event).map_err(|e| TotalsError::Unknown(e.to_string()))?;
    match invocation {
        Invocation::Recount { recount: true } => {
            let r = counts::recount(census, store).await?;
            tracing::info!(
                before = counts::total_of(&r.before, None),
                after = counts::total_of(&r.after, None),
                "device totals recounted"
            );
            Ok(serde_json::to_value(r).unwrap_or_default())
        }
        Invocation::Recount { recount: false } => {
            Err(TotalsError::Unknown("recount: false".into()))
        }
        Invocation::Stream(event) => {
            if event.records.is_empty() {
                // A window's final invoke may bring no records.
                return Ok(json!({"state": {}, "batchItemFailures": []}));
            }
            let shard = event.shard_id.ok_or(TotalsError::NoShard)?;
            let changes = changes(&event.records)?;
            let t = counts::count(store, &shard, &changes).await?;
            tracing::info!(
                counted = t.counted,
                repeated = t.repeated,
                neutral = t.neutral,
                "device changes counted"
            );
            Ok(json!({"state": {}, "batchItemFailures": []}))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use shared::fakes::MemoryCounts;
    use shared::port_error::PortError;

    struct NoTable;

    impl Census for NoTable {
        async fn census(&self) -> Result<BTreeMap<Bucket, u64>, PortError> {
            Ok(BTreeMap::new())
        }
    }

    fn image(status: &str, platform: &str) -> Value {
        json!({"serial": {"S": "X"}, "status": {"S": status}, "platform": {"S": platform},
               "email": {"S": "ann@example.com"}})
    }

    fn event(shard: Option<&str>, records: Vec<Value>) -> Value {
        let mut e = json!({"Records": records, "window": {"start": "2026-11-22T10:00:00Z",
            "end": "2026-11-22T10:01:00Z"}, "state": {}, "isFinalInvokeForWindow": false,
            "isWindowTerminatedEarly": false, "eventSourceARN": "arn:aws:dynamodb:...:stream/x"});
        if let Some(s) = shard {
            e["shardId"] = json!(s);
        }
        e
    }

    fn record(seq: &str, old: Option<Value>, new: Option<Value>) -> Value {
        let mut body = json!({"SequenceNumber": seq, "SizeBytes": 10,
                              "StreamViewType": "NEW_AND_OLD_IMAGES", "Keys": {"serial": {"S": "X"}}});
        if let Some(o) = old {
            body["OldImage"] = o;
        }
        if let Some(n) = new {
            body["NewImage"] = n;
        }
        json!({"eventID": format!("e{seq}"), "eventName": "MODIFY", "eventSource": "aws:dynamodb",
               "awsRegion": "us-east-1", "dynamodb": body})
    }

    #[tokio::test]
    async fn a_stream_batch_is_counted_and_answers_the_window_state() {
        let store = MemoryCounts::default();
        let e = event(
            Some("shardId-1"),
            vec![
                record("111", None, Some(image("pre_approved", "ios"))),
                record(
                    "112",
                    Some(image("pre_approved", "ios")),
                    Some(image("enrolled", "ios")),
                ),
                record("113", None, Some(image("pre_approved", "android"))),
            ],
        );
        let answer = handle(&store, &NoTable, e.clone()).await.unwrap();
        assert_eq!(answer, json!({"state": {}, "batchItemFailures": []}));
        handle(&store, &NoTable, e).await.unwrap();
        let totals = store.snapshot();
        assert_eq!(totals[&Bucket::new("enrolled", "ios")], 1);
        assert_eq!(totals.get(&Bucket::new("pre_approved", "ios")), None);
        assert_eq!(totals[&Bucket::new("pre_approved", "android")], 1);
    }

    #[tokio::test]
    async fn events_without_a_shard_or_a_sequence_fail_loudly() {
        let store = MemoryCounts::default();
        let no_shard = event(
            None,
            vec![record("1", None, Some(image("enrolled", "ios")))],
        );
        let e = handle(&store, &NoTable, no_shard).await.unwrap_err();
        assert!(e.to_string().contains("TumblingWindowInSeconds"), "{e}");
        let bad = event(Some("s"), vec![record("x1", None, None)]);
        assert!(matches!(
            handle(&store, &NoTable, bad).await,
            Err(TotalsError::BadSequence(_))
        ));
        let final_invoke = event(None, vec![]);
        assert!(handle(&store, &NoTable, final_invoke).await.is_ok());
        assert!(handle(&store, &NoTable, json!({"hello": 1})).await.is_err());
    }

    #[tokio::test]
    async fn a_recount_answers_before_and_after() {
        let store = MemoryCounts::default();
        let e = event(
            Some("s"),
            vec![record("5", None, Some(image("enrolled", "windows")))],
        );
        handle(&store, &NoTable, e).await.unwrap();
        let r = handle(&store, &NoTable, json!({"recount": true}))
            .await
            .unwrap();
        assert_eq!(r["before"][0]["count"], 1);
        assert_eq!(r["after"], json!([]));
    }
}
