//! End-to-end admission latency through the local stack beside a raw DynamoDB
//! GetItem to the same emulator, measured in the same run with the same
//! request count and concurrency. Seeds pre-approved devices, turns the
//! restriction on, then prints one JSON line. Target (issue 4): admission
//! p50 at most 1.3x the raw GetItem p50.
//!
//! Usage: bench_admission [REQUESTS=5000] [CONCURRENCY=16]

use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::stream::{self, StreamExt};
use integration_tests::Stack;
use shared::aws::items::device_item;
use shared::domain::{Ownership, Platform};
use shared::records::{DeviceRecord, DeviceStatus};

const DEVICES: usize = 1_000;

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn serial(i: usize) -> String {
    format!("BENCH-ADM-{:06}", i % DEVICES)
}

async fn seed(st: &Stack) {
    let writes: Vec<WriteRequest> = (0..DEVICES)
        .map(|i| {
            let d = DeviceRecord {
                serial: serial(i),
                status: DeviceStatus::PreApproved,
                platform: Platform::Ios,
                ownership: Some(Ownership::Corporate),
                email: format!("bench{i}@example.com"),
                device_name: None,
                groups: vec!["Bench".into()],
                password_hash: None,
                import_id: "bench".into(),
                domain: None,
                updated_at: "2026-01-01T00:00:00Z".into(),
                enrollment: None,
                checks: Default::default(),
                invite: None,
                expires: None,
                ade: None,
            };
            let put = PutRequest::builder()
                .set_item(Some(device_item(&d)))
                .build()
                .expect("put");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    for chunk in writes.chunks(25) {
        st.dynamo
            .batch_write_item()
            .request_items(&st.devices_table, chunk.to_vec())
            .send()
            .await
            .expect("seed devices");
    }
    st.set_pre_approved_only(true).await;
}

/// Runs `n` calls of `f` with `concurrency` in flight; returns each call's latency.
async fn measure<F, Fut>(n: usize, concurrency: usize, f: F) -> Vec<Duration>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let f = &f;
    stream::iter(0..n)
        .map(|i| async move {
            let start = Instant::now();
            f(i).await;
            start.elapsed()
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort_unstable();
    let at = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)].as_secs_f64() * 1000.0;
    (at(0.50), at(0.99))
}

fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

#[tokio::main]
async fn main() {
    let requests = arg(1, 5_000);
    let concurrency = arg(2, 16);
    let st = Stack::from_env().await;
    seed(&st).await;
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let http = reqwest::Client::new();
    let raw = |i: usize| {
        let dynamo = dynamo.clone();
        let table = st.devices_table.clone();
        async move {
            let out = dynamo
                .get_item()
                .table_name(table)
                .key("serial", AttributeValue::S(serial(i)))
                .consistent_read(true)
                .send()
                .await
                .expect("GetItem");
            assert!(out.item.is_some());
        }
    };
    let admit = |i: usize| {
        let http = http.clone();
        let url = st.admission_url.clone();
        async move {
            let body = format!(r#"{{"serial_number":"{}","platform":"ios"}}"#, serial(i));
            let r = http.post(url).body(body).send().await.expect("POST");
            assert_eq!(r.status().as_u16(), 200);
            let text = r.text().await.expect("body");
            assert!(text.contains(r#""reason":"pre_approved""#), "{text}");
        }
    };
    // Warm both paths (connections, the function's first requests).
    measure(200, concurrency, raw).await;
    measure(200, concurrency, admit).await;
    // Halves in turn, so drift in the emulator affects both alike.
    let (mut raw_all, mut adm_all) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        raw_all.extend(measure(requests / 2, concurrency, raw).await);
        adm_all.extend(measure(requests / 2, concurrency, admit).await);
    }
    let (raw50, raw99) = percentiles(raw_all);
    let (adm50, adm99) = percentiles(adm_all);
    let ratio = adm50 / raw50;
    println!(
        "{}",
        serde_json::json!({
            "bench": "admission_end_to_end",
            "requests": requests,
            "concurrency": concurrency,
            "raw_getitem_p50_ms": round(raw50),
            "raw_getitem_p99_ms": round(raw99),
            "admission_p50_ms": round(adm50),
            "admission_p99_ms": round(adm99),
            "p50_ratio": (ratio * 100.0).round() / 100.0,
            "target_ratio": 1.3,
            "ok": ratio <= 1.3,
        })
    );
}
