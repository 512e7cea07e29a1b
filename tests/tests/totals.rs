//! The overview's device totals, kept from the devices table's stream by the
//! device-totals function: exactly once per change whoever wrote it, and
//! recounted on request. One test in its own binary, so that nothing else
//! writes devices while it compares the totals with the table.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use integration_tests::admin::Admin;
use integration_tests::Stack;
use serde_json::{json, Value};

type Totals = BTreeMap<(String, String), u64>;

const HEADER: &str = "Name,Email,Ownership,Serial Number,Platform\n";

/// Devices per (status, platform), counted by reading the whole table.
async fn table_totals(st: &Stack) -> Totals {
    let mut totals = Totals::new();
    let mut start = None;
    loop {
        let out = st
            .dynamo
            .scan()
            .table_name(&st.devices_table)
            .projection_expression("#st, platform")
            .expression_attribute_names("#st", "status")
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan devices");
        for item in out.items() {
            let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            if let (Some(status), Some(platform)) = (get("status"), get("platform")) {
                *totals.entry((status, platform)).or_default() += 1;
            }
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            return totals;
        }
    }
}

async fn overview_totals(a: &Admin) -> Totals {
    let v = a.get("/overview").await;
    v["counts"]
        .as_array()
        .expect("counts")
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_owned();
            ((s("status"), s("platform")), c["count"].as_u64().unwrap())
        })
        .collect()
}

/// Waits until the overview shows what the table holds (the stream is
/// asynchronous), and returns it.
async fn settled(a: &Admin, what: &str) -> Totals {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (shown, table) = (overview_totals(a).await, table_totals(&a.st).await);
        if shown == table {
            return shown;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the overview never matched the table\noverview: {shown:?}\ntable:    {table:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn of(t: &Totals, status: &str, platform: &str) -> u64 {
    t.get(&(status.to_owned(), platform.to_owned()))
        .copied()
        .unwrap_or(0)
}

/// Invokes the device-totals function as Lambda's event source or an operator would.
fn stream_batch(shard: &str, platform: &str, seqs: std::ops::RangeInclusive<u64>) -> Value {
    let records: Vec<Value> = seqs
        .map(|n| {
            json!({"eventID": format!("e{n}"), "eventName": "INSERT", "eventSource": "aws:dynamodb",
                   "awsRegion": "us-east-1", "dynamodb": {
                       "SequenceNumber": format!("{}", 4_000_000_000_000_000_000_000u128 + u128::from(n)),
                       "SizeBytes": 50, "StreamViewType": "NEW_AND_OLD_IMAGES",
                       "Keys": {"serial": {"S": format!("{platform}-{n}")}},
                       "NewImage": {"serial": {"S": format!("{platform}-{n}")},
                                    "status": {"S": "pre_approved"}, "platform": {"S": platform}}}})
        })
        .collect();
    json!({"Records": records, "shardId": shard, "state": {}, "isFinalInvokeForWindow": false,
           "isWindowTerminatedEarly": false,
           "window": {"start": "2026-11-22T10:00:00Z", "end": "2026-11-22T10:01:00Z"}})
}

#[tokio::test]
async fn device_totals_follow_every_change_exactly_once() {
    let a = Admin::new().await;
    let st = &a.st;
    // Every earlier test binary's imports, enrollments, approvals, removals
    // and crashes (killed imports replay their chunks) were counted exactly.
    let start = settled(&a, "after the rest of the suite").await;

    // An import: 80 iOS and 40 Android devices.
    let u = st.unique();
    let mut body = HEADER.to_owned();
    for i in 0..120 {
        let platform = if i % 3 == 2 { "android" } else { "ios" };
        body.push_str(&format!(
            "User {i},{u}-{i}@example.com,corporate,{u}-T{i:03},{platform}\n"
        ));
    }
    let key = format!("imports/{u}-totals.csv");
    st.upload(&key, body.clone(), &[("invite", "none")]).await;
    assert_eq!(st.wait_for_report(&key).await["status"], "completed");
    let imported = settled(&a, "after an import").await;
    assert_eq!(
        of(&imported, "pre_approved", "ios"),
        of(&start, "pre_approved", "ios") + 80
    );
    assert_eq!(
        of(&imported, "pre_approved", "android"),
        of(&start, "pre_approved", "android") + 40
    );

    // The same file again (an admin's re-upload, or an import replaying its
    // chunks after a crash): every device rewritten in the same status.
    let again = format!("imports/{u}-totals-again.csv");
    st.upload(&again, body, &[("invite", "none")]).await;
    assert_eq!(st.wait_for_report(&again).await["status"], "completed");
    assert_eq!(
        settled(&a, "after the same rows again").await,
        imported,
        "a rewrite counts nothing"
    );

    // An administrator removes one.
    let (status, v) = a
        .call(
            "DELETE",
            &format!("/devices/{u}-T000"),
            None,
            Some(&a.token),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let removed = settled(&a, "after a removal").await;
    assert_eq!(
        of(&removed, "pre_approved", "ios"),
        of(&imported, "pre_approved", "ios") - 1
    );

    // Every read route stays within three DynamoDB requests (the overview
    // within one), whatever the table holds: counted at the admin function's
    // own endpoint, while nothing else calls it.
    let import_id = st.import_id(&key).await;
    let routes = [
        ("/overview".to_owned(), 1),
        ("/devices".to_owned(), 3),
        ("/devices?status=enrolled".to_owned(), 2),
        // A search reads no totals: up to one Query per status partition.
        (format!("/devices?q={u}-T1"), 3),
        (format!("/devices?q={u}-1@example.com"), 2),
        (format!("/devices/{u}-T001"), 3),
        ("/imports".to_owned(), 1),
        (format!("/imports/{import_id}"), 2),
        ("/admission-denials".to_owned(), 1),
        ("/settings".to_owned(), 1),
    ];
    for (path, most) in routes {
        let before = st.dynamodb_calls("admin").await;
        a.get(&path).await;
        let made = st.dynamodb_calls("admin").await - before;
        eprintln!("GET {path}: {made} DynamoDB request(s)");
        assert!(
            made <= most,
            "GET {path}: {made} DynamoDB requests, at most {most}"
        );
    }

    // Lambda's at-least-once: a batch delivered twice, then a retry that
    // overlaps it (bisected or re-batched), through the real totals item.
    let shard = format!("shardId-test-{u}");
    let platform = format!("zz{}", u.replace('-', ""));
    let answer = st
        .invoke("device-totals", &stream_batch(&shard, &platform, 1..=3))
        .await;
    assert_eq!(answer, json!({"state": {}, "batchItemFailures": []}));
    st.invoke("device-totals", &stream_batch(&shard, &platform, 1..=3))
        .await;
    st.invoke("device-totals", &stream_batch(&shard, &platform, 2..=5))
        .await;
    assert_eq!(of(&overview_totals(&a).await, "pre_approved", &platform), 5);

    // Drift (a bug, a batch given up on): the operator's recount repairs it,
    // the synthetic records above included.
    st.dynamo
        .update_item()
        .table_name(&st.settings_table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("counts".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("devices".into()),
        )
        .update_expression("ADD #n :five")
        .expression_attribute_names("#n", "n#enrolled#windows")
        .expression_attribute_values(
            ":five",
            aws_sdk_dynamodb::types::AttributeValue::N("5".into()),
        )
        .send()
        .await
        .expect("drift");
    assert_ne!(overview_totals(&a).await, table_totals(st).await);
    let r = st.invoke("device-totals", &json!({"recount": true})).await;
    assert!(r["before"].is_array() && r["after"].is_array(), "{r}");
    assert_eq!(overview_totals(&a).await, table_totals(st).await);
    assert_eq!(of(&overview_totals(&a).await, "pre_approved", &platform), 0);
}
