//! The event bus as a user's rule sees it: a queue subscribed to every
//! event of source `preapprove`, read back by detail type.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::admin::var;
use crate::Stack;

/// A queue and the one rule that sends it every event of the bus.
pub async fn subscribe(st: &Stack, u: &str) -> (aws_sdk_eventbridge::Client, String) {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let queue_url = st
        .sqs
        .create_queue()
        .queue_name(format!("events-{u}"))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let arn = st
        .sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue arn")
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("arn");
    let bus = var("EVENT_BUS_NAME");
    events
        .put_rule()
        .name(format!("all-{u}"))
        .event_bus_name(&bus)
        .event_pattern(json!({"source": ["preapprove"]}).to_string())
        .send()
        .await
        .expect("rule");
    events
        .put_targets()
        .rule(format!("all-{u}"))
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("targets");
    (events, queue_url)
}

/// Every event received so far that names this run's prefix, by detail type.
async fn received(st: &Stack, queue_url: &str, u: &str, into: &mut BTreeMap<String, Vec<Value>>) {
    loop {
        let out = st
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return;
        }
        for m in messages {
            let body = m.body.unwrap_or_default();
            assert!(
                !body.contains("s3cret-pw"),
                "an event carried a password: {body}"
            );
            let event: Value = serde_json::from_str(&body).expect("event JSON");
            assert_eq!(event["source"], "preapprove", "{event}");
            if event["detail"].to_string().contains(u) {
                let kind = event["detail-type"].as_str().unwrap_or("?").to_owned();
                into.entry(kind).or_default().push(event["detail"].clone());
            }
            st.sqs
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle.unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
    }
}

pub async fn wait_for(
    st: &Stack,
    queue_url: &str,
    u: &str,
    want: &[(&str, usize)],
) -> BTreeMap<String, Vec<Value>> {
    let mut got = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        received(st, queue_url, u, &mut got).await;
        let done = want
            .iter()
            .all(|(k, n)| got.get(*k).map_or(0, Vec::len) >= *n);
        if done || Instant::now() > deadline {
            // A little longer: a duplicate would show now.
            tokio::time::sleep(Duration::from_secs(2)).await;
            received(st, queue_url, u, &mut got).await;
            return got;
        }
    }
}
