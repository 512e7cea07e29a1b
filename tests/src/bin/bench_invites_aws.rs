//! The invite sender at AWS's latencies (issue 27 item 5), against the fake
//! endpoint (`fake_aws`) that `AWS_ENDPOINT_URL` names. Two steps, each its
//! own process so that the sender's memory is measured alone:
//!
//! - `seed N`: N devices and their e-mail invites recorded through the real
//!   outbox (`DynamoOutbox::record`, passwords sealed) and queued through the
//!   real queue (`SqsInviteQueue`), as an import leaves them.
//! - `send N [INSTANCES] [BATCH]`: Lambda's part: INSTANCES sender instances
//!   (the template's MaximumConcurrency), each with its own clients built by
//!   the deployed function's own wiring (`invites::sender::from_env`), each
//!   fed by its own poller: ReceiveMessage of up to BATCH (the template's
//!   BatchSize), the real handler, DeleteMessageBatch of what it did not put
//!   back, until the queue is empty. Prints one JSON line: time, invites per
//!   second, the handler's put-backs, and this process's RSS over the run.
//!
//! The tables, queue and sender come from the function's variables
//! (`IMPORTS_TABLE`, `DEVICES_TABLE`, `INVITE_QUEUE_URL`, ...).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use futures::{stream, StreamExt, TryStreamExt};
use lambda_runtime::{Context, LambdaEvent};
use shared::aws::invite_queue::SqsInviteQueue;
use shared::aws::outbox::DynamoOutbox;
use shared::domain::InviteChannel;
use shared::outbox::{Invite, InviteMessage, InviteQueue, InviteRef, Outbox, OutboxEntry};
use shared::password::PasswordKey;
use shared::seal::Sealer;

/// The origin (import id) of the bench's invites.
const ORIGIN: &str = "bench-aws-latency";
/// The password key of the bench's sealed passwords (the seed seals, the sender opens).
const KEY: &[u8] = b"bench-invites-aws-latency-key-0123456789";

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("bench_invites_aws: {name} is not set");
        std::process::exit(2)
    })
}

fn key() -> PasswordKey {
    PasswordKey::new(KEY).unwrap_or_else(|_| {
        eprintln!("bench_invites_aws: the bench key is too short");
        std::process::exit(2)
    })
}

#[tokio::main]
async fn main() {
    let arg = |n: usize| std::env::args().nth(n);
    let number = |n: usize, default: u64| {
        arg(n)
            .and_then(|a| a.parse::<u64>().ok())
            .unwrap_or(default)
    };
    let invites = number(2, 10_000);
    let result = match arg(1).as_deref() {
        Some("seed") => seed(invites).await,
        Some("send") => send(invites, number(3, 10) as usize, number(4, 10) as i32).await,
        _ => Err("usage: bench_invites_aws seed|send N [INSTANCES] [BATCH]".to_owned()),
    };
    match result {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("bench_invites_aws: {e}");
            std::process::exit(1)
        }
    }
}

async fn seed(invites: u64) -> Result<serde_json::Value, String> {
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let outbox = DynamoOutbox {
        client: dynamo.clone(),
        table: var("IMPORTS_TABLE"),
        devices_table: var("DEVICES_TABLE"),
        sealer: Some(Sealer::new(&key())),
        retention_days: 90,
    };
    let queue = SqsInviteQueue {
        client: aws_sdk_sqs::Client::new(&sdk),
        url: var("INVITE_QUEUE_URL"),
    };
    let expires = shared::clock::epoch_now() + 30 * 86_400;
    let started = Instant::now();
    let rows: Vec<u64> = (2..invites + 2).collect();
    stream::iter(rows.chunks(100))
        .map(|chunk| {
            let (dynamo, outbox, queue) = (&dynamo, &outbox, &queue);
            async move {
                let entries: Vec<OutboxEntry> = chunk
                    .iter()
                    .map(|&row| OutboxEntry {
                        origin: ORIGIN.into(),
                        invite: Invite {
                            row,
                            channel: InviteChannel::Email,
                            to: format!("aws{row}@example.com"),
                            user_name: format!("User {row}"),
                            serial: format!("AWS{row:09}X"),
                            device_name: Some(format!("Device {row}")),
                            platform: "ios",
                            password: Some(format!("pw-{row:012}-bench")),
                        },
                    })
                    .collect();
                let devices = entries.iter().map(|e| {
                    let tag = InviteRef::new(ORIGIN, e.invite.row).tag();
                    dynamo
                        .put_item()
                        .table_name(&outbox.devices_table)
                        .item("serial", s(&e.invite.serial))
                        .item("status", s("pre_approved"))
                        .item("expires_at", n(expires))
                        .item("invite_ref", s(tag))
                        .item("invite_state", s("queued"))
                        .send()
                });
                stream::iter(devices)
                    .buffer_unordered(16)
                    .map_err(|e| {
                        format!(
                            "seed device: {}",
                            aws_sdk_dynamodb::error::DisplayErrorContext(e)
                        )
                    })
                    .try_collect::<Vec<_>>()
                    .await?;
                let recorded = outbox.record(&entries).await.map_err(|e| e.to_string())?;
                if recorded.iter().any(Option::is_some) {
                    return Err("invites were recorded already: start a fresh fake".to_owned());
                }
                let messages: Vec<InviteMessage> = entries
                    .iter()
                    .map(|e| InviteMessage::of(&e.invite_ref(), 1))
                    .collect();
                queue.enqueue(&messages, 0).await.map_err(|e| e.to_string())
            }
        })
        .buffer_unordered(4)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(serde_json::json!({"seeded": invites, "seconds": round(started.elapsed().as_secs_f64())}))
}

fn s(v: impl Into<String>) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::S(v.into())
}

fn n(v: u64) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::N(v.to_string())
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// What the pollers did, together.
#[derive(Default)]
struct Tally {
    done: AtomicU64,
    put_back: AtomicU64,
    invocations: AtomicU64,
    /// Microseconds spent in the handler, all invocations together.
    handler_us: AtomicU64,
    delete_failures: AtomicU64,
}

async fn send(invites: u64, instances: usize, batch: i32) -> Result<serde_json::Value, String> {
    let key = key();
    let queue_url = var("INVITE_QUEUE_URL");
    let tally = Arc::new(Tally::default());
    let rss: Arc<Mutex<Vec<(u64, u64)>>> = Arc::default();
    let sampler = {
        let (tally, rss) = (tally.clone(), rss.clone());
        tokio::spawn(async move {
            loop {
                let kb = proc_status_kb("VmRSS:");
                if let Ok(mut r) = rss.lock() {
                    r.push((tally.done.load(Ordering::Relaxed), kb));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    // The instances, each with its own clients, as each Lambda container has;
    // an invocation takes one, so no more than INSTANCES run at once.
    let mut apps = Vec::new();
    for _ in 0..instances {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        apps.push(invites::sender::from_env(&sdk, &key).map_err(|e| e.to_string())?);
    }
    let pool = Arc::new(Pool {
        idle: Mutex::new(apps),
        free: tokio::sync::Semaphore::new(instances),
    });
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut pollers = Vec::new();
    // Lambda's pollers receive while invocations run: more pollers than
    // instances, so an instance that finishes finds the next batch waiting.
    for _ in 0..instances * 2 {
        let (tally, queue_url, pool, sqs) =
            (tally.clone(), queue_url.clone(), pool.clone(), sqs.clone());
        pollers.push(tokio::spawn(async move {
            poll(&pool, sqs, queue_url, batch, &tally).await
        }));
    }
    for p in pollers {
        p.await.map_err(|e| e.to_string())??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    sampler.abort();
    let samples = rss.lock().map(|r| r.clone()).unwrap_or_default();
    let at = |fraction: f64| {
        samples
            .iter()
            .find(|(done, _)| *done as f64 >= fraction * invites as f64)
            .map_or(0.0, |(_, kb)| round(*kb as f64 / 1024.0))
    };
    let done = tally.done.load(Ordering::Relaxed);
    Ok(serde_json::json!({
        "invites": invites,
        "messages_done": done,
        "instances": instances,
        "batch": batch,
        "seconds": round(seconds),
        "per_s": round(invites as f64 / seconds),
        "invocations": tally.invocations.load(Ordering::Relaxed),
        "put_back": tally.put_back.load(Ordering::Relaxed),
        "invocation_ms_mean": round(
            tally.handler_us.load(Ordering::Relaxed) as f64
                / 1000.0
                / tally.invocations.load(Ordering::Relaxed).max(1) as f64
        ),
        "delete_failures": tally.delete_failures.load(Ordering::Relaxed),
        "cpu_seconds": round(cpu),
        "cpu_ms_per_invite": round(cpu * 1000.0 / invites.max(1) as f64),
        "rss_MB_at_10_50_90_percent": [at(0.1), at(0.5), at(0.9)],
        "rss_MB_max_sampled": round(samples.iter().map(|(_, kb)| *kb).max().unwrap_or(0) as f64 / 1024.0),
        "peak_rss_MB": round(proc_status_kb("VmHWM:") as f64 / 1024.0),
    }))
}

/// The sender instances not running an invocation.
struct Pool {
    idle: Mutex<Vec<invites::sender::AwsSender>>,
    free: tokio::sync::Semaphore,
}

/// Lambda's SQS poller: a batch, an idle instance's handler, the deletes.
async fn poll(
    pool: &Pool,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    batch: i32,
    tally: &Tally,
) -> Result<(), String> {
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(batch)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(sqs_err)?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            if queue_empty(&sqs, &queue_url).await? {
                return Ok(());
            }
            // Messages in flight elsewhere, or put back with a delay.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let mut records = Vec::with_capacity(messages.len());
        for m in &messages {
            let mut r = SqsMessage::default();
            r.message_id = m.message_id.clone();
            r.receipt_handle = m.receipt_handle.clone();
            r.body = m.body.clone();
            r.attributes = m
                .attributes
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.as_str().to_owned(), v))
                .collect::<HashMap<_, _>>();
            records.push(r);
        }
        let mut event = SqsEvent::default();
        event.records = records;
        let response = {
            let _permit = pool.free.acquire().await.map_err(|e| e.to_string())?;
            let mut context = Context::default();
            // The template's 60-second timeout, from the invocation's start.
            context.deadline = (std::time::SystemTime::now() + Duration::from_secs(60))
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let app = pool
                .idle
                .lock()
                .ok()
                .and_then(|mut idle| idle.pop())
                .ok_or("no idle instance under a permit")?;
            let began = Instant::now();
            let response = invites::sender::handle(&app, LambdaEvent::new(event, context)).await;
            tally
                .handler_us
                .fetch_add(began.elapsed().as_micros() as u64, Ordering::Relaxed);
            if let Ok(mut idle) = pool.idle.lock() {
                idle.push(app);
            }
            response
        };
        tally.invocations.fetch_add(1, Ordering::Relaxed);
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        tally
            .put_back
            .fetch_add(failed.len() as u64, Ordering::Relaxed);
        let mut entries = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            if failed.contains(&m.message_id().unwrap_or_default()) {
                continue;
            }
            entries.push(
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .build()
                    .map_err(|e| e.to_string())?,
            );
        }
        if entries.is_empty() {
            continue;
        }
        let deleted = sqs
            .delete_message_batch()
            .queue_url(&queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(sqs_err)?;
        tally
            .done
            .fetch_add(deleted.successful().len() as u64, Ordering::Relaxed);
        tally
            .delete_failures
            .fetch_add(deleted.failed().len() as u64, Ordering::Relaxed);
    }
}

async fn queue_empty(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<bool, String> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| format!("SQS: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    let attrs = out.attributes.unwrap_or_default();
    let count = |a: A| {
        attrs
            .get(&a)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(
        count(A::ApproximateNumberOfMessages) + count(A::ApproximateNumberOfMessagesNotVisible)
            == 0,
    )
}

fn sqs_err<E: std::error::Error>(e: E) -> String {
    format!("SQS: {}", aws_sdk_sqs::error::DisplayErrorContext(e))
}

/// A `/proc/self/status` figure in KiB (VmRSS, VmHWM).
fn proc_status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// This process's user and system CPU seconds (`/proc/self/stat`, 100 ticks a second).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let fields: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            let ticks =
                fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            Some(ticks as f64 / 100.0)
        })
        .unwrap_or(0.0)
}
