//! In-process latency of the admission handler against the in-memory store:
//! HTTP request in, JSON response out, including the password HMAC.
//! Target (issue 4): p99 under 50 µs over 100k calls. Prints one JSON line.

use std::sync::atomic::Ordering;
use std::time::Instant;

use admission::handler::{handle, App};
use lambda_http::{http, Body};
use shared::admission::StoredDevice;
use shared::domain::{Password, Platform};
use shared::fakes::MemoryAdmission;
use shared::password::PasswordKey;
use shared::records::DeviceStatus;

const CALLS: usize = 100_000;
const DEVICES: usize = 10_000;
const TARGET_P99_US: f64 = 50.0;

fn main() {
    let calls = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CALLS);
    let key = PasswordKey::new(vec![3u8; 32]).expect("key");
    let store = MemoryAdmission::default();
    store.pre_approved_only.store(true, Ordering::Relaxed);
    {
        let password = Password::parse("one-time-pw").expect("password");
        let mut devices = store.devices.lock().expect("lock");
        for i in 0..DEVICES {
            let serial = format!("C02X{i:06}");
            let hash = key.hash(&serial, &password);
            devices.insert(
                serial,
                StoredDevice {
                    status: DeviceStatus::PreApproved,
                    platform: Platform::Macos,
                    groups: vec!["Engineering".into(), "Laptops".into()],
                    password_hash: Some(hash),
                    checks: Default::default(),
                    expires: None,
                },
            );
        }
    }
    let app = App::new(store, key);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut samples = Vec::with_capacity(calls);
    let mut allowed = 0usize;
    rt.block_on(async {
        for i in 0..calls + 1_000 {
            let body = format!(
                r#"{{"serial_number":"C02X{:06}","platform":"macos","password":"one-time-pw","enrollment_method":"ade","os_version":"15.1"}}"#,
                i % DEVICES
            );
            let req = http::Request::builder()
                .method("POST")
                .uri("https://api.example.com/v1/admission")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .expect("request");
            let start = Instant::now();
            let response = handle(&app, req).await;
            let took = start.elapsed();
            // The first thousand calls warm caches and the allocator.
            if i >= 1_000 {
                samples.push(took.as_nanos() as u64);
                let body: &[u8] = response.body();
                allowed += usize::from(body.starts_with(br#"{"decision":"allow""#));
            }
        }
    });
    assert_eq!(
        allowed, calls,
        "every call must be an allow of a pre-approved device"
    );
    samples.sort_unstable();
    let pct = |p: f64| {
        samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)] as f64 / 1000.0
    };
    let p99 = pct(0.99);
    println!(
        "{}",
        serde_json::json!({
            "bench": "admission_handler_in_process",
            "calls": calls,
            "p50_us": (pct(0.50) * 100.0).round() / 100.0,
            "p99_us": (p99 * 100.0).round() / 100.0,
            "max_us": (pct(1.0) * 100.0).round() / 100.0,
            "target_p99_us": TARGET_P99_US,
            "ok": p99 < TARGET_P99_US,
        })
    );
}
