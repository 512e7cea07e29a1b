//! A flood of new serials from one address costs a bounded number of denial
//! records and events, and the real devices among it still show (issue 26,
//! item 4). In process, against the in-memory store.

use lambda_http::http;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request};
use serde_json::json;
use shared::admission::grouping::{GENERATION, SAMPLE_BYTES};
use shared::events::DetailType;
use shared::fakes::MemoryAdmission;
use shared::password::PasswordKey;

use super::{handle, App};

const FLOOD_FROM: &str = "203.0.113.7";
const FLOOD: usize = 10_000;

fn app() -> App<MemoryAdmission> {
    let store = MemoryAdmission::default();
    store
        .pre_approved_only
        .store(true, std::sync::atomic::Ordering::Relaxed);
    App::new(store, PasswordKey::new(vec![9u8; 32]).unwrap())
}

/// An admission request for `serial` from `ip`, as API Gateway hands it over.
fn from(ip: Option<&str>, serial: &str) -> Request {
    let mut req = http::Request::builder()
        .method("POST")
        .uri("https://api.example.com/v1/admission")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"serial_number": serial, "platform": "ios"}).to_string(),
        ))
        .unwrap();
    let mut context =
        lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = ip.map(str::to_owned);
    req.extensions_mut()
        .insert(RequestContext::ApiGatewayV2(context));
    req
}

async fn deny(app: &App<MemoryAdmission>, ip: Option<&str>, serial: &str) {
    let r = handle(app, from(ip, serial)).await;
    assert_eq!(r.status(), http::StatusCode::OK);
}

/// The denial events published so far (and none from now on).
fn denied_events(app: &App<MemoryAdmission>) -> Vec<serde_json::Value> {
    app.events
        .take()
        .into_iter()
        .filter(|e| e.detail_type == DetailType::AdmissionDenied)
        .map(|e| e.detail)
        .collect()
}

/// Serials with a record of their own (a row of their own in Blocked attempts).
fn own_rows(app: &App<MemoryAdmission>) -> Vec<String> {
    let records = app.store.denial_records.lock().unwrap();
    records.values().map(|(d, _)| d.serial.clone()).collect()
}

/// 10,000 new serials from one address, with 5 real devices behind the
/// same address (a school's NAT) and 5 from addresses of their own, each
/// retrying while the flood goes on.
async fn flood_with_real_devices(app: &App<MemoryAdmission>, repeats: usize) {
    let nat: Vec<String> = (0..5).map(|i| format!("REAL-NAT-{i}")).collect();
    let apart: Vec<(String, String)> = (0..5)
        .map(|i| (format!("REAL-APART-{i}"), format!("198.51.100.{}", 10 + i)))
        .collect();
    for n in 0..FLOOD {
        for _ in 0..repeats {
            deny(app, Some(FLOOD_FROM), &format!("FLOOD-{n:05}")).await;
        }
        // Each real device tries at some point and retries every 8 attempts, 3 times.
        for (i, serial) in nat.iter().enumerate() {
            let start = 1000 + 1500 * i;
            if n >= start && n < start + 32 && (n - start) % 8 == 0 {
                deny(app, Some(FLOOD_FROM), serial).await;
            }
        }
        for (i, (serial, ip)) in apart.iter().enumerate() {
            let start = 700 + 1500 * i;
            if n >= start && n < start + 32 && (n - start) % 8 == 0 {
                deny(app, Some(ip), serial).await;
            }
        }
    }
}

/// Items the flood's address left in the denials table: the records of
/// their own last counted from it, and its ledger (one an hour).
fn items_from(app: &App<MemoryAdmission>, ip: &str) -> usize {
    let records = app.store.denial_records.lock().unwrap();
    let ledgers = app.store.denial_ledgers.lock().unwrap();
    let own = records.values();
    own.filter(|(d, _)| d.source_ip.as_deref() == Some(ip))
        .count()
        + ledgers
            .values()
            .filter(|l| l.source_ip.as_deref() == Some(ip))
            .count()
}

/// Every attempt is counted once: in a record of its own or in a ledger.
fn counted(app: &App<MemoryAdmission>) -> u64 {
    let own: u64 = app
        .store
        .denial_records
        .lock()
        .unwrap()
        .values()
        .map(|(_, n)| n)
        .sum();
    let grouped: u64 = app
        .store
        .denial_ledgers
        .lock()
        .unwrap()
        .values()
        .map(|l| l.attempts)
        .sum();
    own + grouped
}

/// The target of issue 26 item 4, also when every made-up serial is sent twice.
#[tokio::test]
async fn a_flood_of_new_serials_from_one_address_leaves_at_most_ten_records_and_events() {
    for repeats in [1, 2] {
        let app = app();
        flood_with_real_devices(&app, repeats).await;
        let rows = own_rows(&app);
        let events = denied_events(&app);
        let flood_rows = rows.iter().filter(|s| s.starts_with("FLOOD-")).count();
        let from_flood = |e: &&serde_json::Value| {
            e["serial_number"]
                .as_str()
                .is_some_and(|s| s.starts_with("FLOOD-") || s.starts_with("REAL-NAT-"))
        };
        let flood_events = events.iter().filter(from_flood).count();
        let items = items_from(&app, FLOOD_FROM);
        assert!(
            items <= 10,
            "repeats={repeats}: {items} items from the flood's address"
        );
        assert!(
            flood_events <= 10,
            "repeats={repeats}: {flood_events} events from the flood's address"
        );
        assert_eq!(
            events.iter().filter(|e| e["grouped"] == true).count(),
            1,
            "repeats={repeats}: the address's ledger is announced once"
        );
        if repeats == 1 {
            // The real ones come back and are told apart from made-up serials.
            assert!(flood_rows <= 4, "{flood_rows} made-up serials have rows");
            for i in 0..5 {
                for real in [format!("REAL-NAT-{i}"), format!("REAL-APART-{i}")] {
                    assert!(rows.contains(&real), "{real} has no row of its own");
                    assert!(
                        events.iter().any(|e| e["serial_number"] == real.as_str()),
                        "{real} was not announced"
                    );
                }
            }
        } else {
            // Sent twice, made-up serials take the returns' records: still bounded.
            assert!(flood_rows <= 9, "{flood_rows} made-up serials have rows");
        }
        let requests = (FLOOD * repeats + 5 * 4 * 2) as u64;
        assert_eq!(
            counted(&app),
            requests,
            "repeats={repeats}: no attempt lost or counted twice"
        );
    }
}

/// The ledger row says what it stands for: attempts, serials and a sample.
#[tokio::test]
async fn the_ledger_counts_attempts_and_serials_with_a_bounded_sample() {
    let app = app();
    for n in 0..100 {
        deny(
            &app,
            Some(FLOOD_FROM),
            &format!("S{n:03}-{}", "Z".repeat(240)),
        )
        .await;
    }
    let ledgers = app.store.denial_ledgers.lock().unwrap();
    let ledger = ledgers.values().next().unwrap();
    assert_eq!(ledgers.len(), 1);
    // The first 4 new serials have records of their own.
    assert_eq!((ledger.attempts, ledger.serials, ledger.own), (96, 96, 4));
    assert!(!ledger.sample.is_empty() && ledger.sample.len() <= 4);
    assert!(ledger
        .sample
        .values()
        .all(|s| s.len() <= SAMPLE_BYTES && s.starts_with('S')));
    let remembered = ledger.memory.recent.len() + ledger.memory.earlier.len();
    assert!(remembered <= 2 * GENERATION && ledger.owns.len() == 4);
}

/// Attempts without an address share one ledger an hour, bounded the same.
#[tokio::test]
async fn denials_without_an_address_are_bounded_together() {
    let app = app();
    for n in 0..1000 {
        deny(&app, None, &format!("NOADDR-{n}")).await;
    }
    assert_eq!(app.store.denial_ledgers.lock().unwrap().len(), 1);
    assert!(own_rows(&app).len() <= 4);
    assert!(denied_events(&app).len() <= 5);
    assert_eq!(counted(&app), 1000);
}

/// Serials of a made-up flood: unlike real serials, nothing about them is
/// chosen, so no test can pass by the luck of fixed names.
fn made_up(seed: u64, n: usize) -> String {
    // splitmix64: well spread, and the same on every run.
    let mut z = (seed << 32 | n as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    format!("F{:016X}", z ^ (z >> 31))
}

/// A real device behind the flooding address that tries again before
/// [`GENERATION`] (32) other new serials came from it is recognised every
/// time, whatever those serials are: it gets a row of its own and an event.
/// (It was a chance of (63/64)^32, about 60 %, when the ledger remembered
/// serials by hash slots.)
#[tokio::test]
async fn a_real_device_that_retries_within_a_generation_of_new_serials_always_gets_its_row() {
    for seed in 0..100 {
        let app = app();
        // The address's first serials take the records of new ones.
        for n in 0..4 {
            deny(&app, Some(FLOOD_FROM), &made_up(seed, n)).await;
        }
        let real = format!("REAL-{seed}");
        deny(&app, Some(FLOOD_FROM), &real).await;
        for n in 4..4 + GENERATION {
            deny(&app, Some(FLOOD_FROM), &made_up(seed, n)).await;
        }
        deny(&app, Some(FLOOD_FROM), &real).await;
        assert!(
            own_rows(&app).contains(&real),
            "seed {seed}: the retry after {GENERATION} made-up serials was not recognised"
        );
        let events = denied_events(&app);
        assert!(
            events.iter().any(|e| e["serial_number"] == real.as_str()),
            "seed {seed}: not announced"
        );
    }
}

/// Ten real devices behind the flooding address (a school's NAT), each
/// trying again within a generation: all ten show, five with rows of their
/// own (the returning serials' budget) and the others named on the
/// address's grouped row as serials that came back; the made-up serials,
/// which never come back, are not named there.
#[tokio::test]
async fn ten_real_devices_behind_a_flooding_address_all_show() {
    let app = app();
    let real: Vec<String> = (0..10).map(|i| format!("REAL-{i}")).collect();
    for n in 0..FLOOD {
        deny(&app, Some(FLOOD_FROM), &made_up(7, n)).await;
        for (i, serial) in real.iter().enumerate() {
            let start = 500 + 900 * i;
            if n == start || n == start + 20 {
                deny(&app, Some(FLOOD_FROM), serial).await;
            }
        }
    }
    let rows = own_rows(&app);
    assert!(items_from(&app, FLOOD_FROM) <= 10);
    let ledgers = app.store.denial_ledgers.lock().unwrap();
    let ledger = ledgers.values().next().unwrap();
    for serial in &real {
        assert!(
            rows.contains(serial) || ledger.returned.contains(serial),
            "{serial} shows nowhere: rows {rows:?}, named {:?}",
            ledger.returned
        );
    }
    assert_eq!(rows.iter().filter(|s| s.starts_with("REAL-")).count(), 5);
    assert!(ledger.returned.iter().all(|s| s.starts_with("REAL-")));
}
