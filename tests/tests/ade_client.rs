//! The client of Apple's device-assignment API (`shared::apple`) against the
//! ADE simulator (`ADE_SIMULATOR_URL`): real OAuth-signed sessions from real
//! server tokens, pages, cursors, and the failures Apple answers. Each test
//! makes its own MDM server; the one that moves the simulator's clock runs alone.

use std::time::{Duration, Instant};

use integration_tests::ade_sim::{MdmServer, Simulator};
use serde_json::{json, Value};
use shared::ade::ports::{DepConnector, DepError, DepSession, DevicePage};
use shared::apple::{AppleConfig, AppleDep};
use tokio::sync::{RwLock, RwLockReadGuard};

/// Moving the simulator's clock ages every test's sessions and cursors.
static CLOCK: RwLock<()> = RwLock::const_new(());

async fn clock_still() -> RwLockReadGuard<'static, ()> {
    CLOCK.read().await
}

fn apple(sim: &Simulator) -> AppleDep {
    AppleDep::new(&AppleConfig::new(&sim.url)).expect("the client")
}

fn entries(serials: &[String], family: &str, op: &str) -> Value {
    Value::Array(
        serials
            .iter()
            .map(|s| json!({"serial_number": s, "device_family": family, "op": op}))
            .collect(),
    )
}

fn serials(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:05}")).collect()
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase()
}

/// No credential or session shows in an error.
fn assert_no_secret(e: &DepError, server: &MdmServer) {
    let text = format!("{e} {e:?}");
    for secret in [
        &server.token.consumer_secret,
        &server.token.access_token,
        &server.token.access_secret,
    ] {
        assert!(!text.contains(secret.as_str()), "a secret in {text}");
    }
}

#[tokio::test]
async fn a_session_is_made_once_and_reused_by_later_connections() {
    let _still = clock_still().await;
    let sim = Simulator::from_env();
    let server = sim.new_server().await;
    let apple = apple(&sim);

    let first = apple.connect(&server.token);
    let account = first.account().await.expect("GET /account");
    let described = sim.describe(&server).await;
    assert_eq!(
        account.server_uuid.as_deref(),
        described["server_uuid"].as_str()
    );
    assert_eq!(
        account.server_name.as_deref(),
        described["server_name"].as_str()
    );
    assert!(
        account.org_name.is_some() && account.admin_id.is_some(),
        "{account:?}"
    );
    first.fetch(None, 10).await.expect("an empty fetch");
    assert_eq!(
        first.requests(),
        3,
        "GET /session, GET /account, POST /server/devices"
    );

    // A warm container's next run: the kept session, no new GET /session.
    let second = apple.connect(&server.token);
    second.account().await.expect("GET /account again");
    assert_eq!(second.requests(), 1);
    assert_eq!(sim.requests(&server, "/session").await, 1);
    assert_eq!(sim.describe(&server).await["sessions_issued"], 1);

    // Another container (another connector) makes its own.
    apple_for_other_container(&sim, &server).await;
    assert_eq!(sim.requests(&server, "/session").await, 2);
}

async fn apple_for_other_container(sim: &Simulator, server: &MdmServer) {
    let other = apple(sim).connect(&server.token);
    other
        .account()
        .await
        .expect("GET /account from another container");
    assert_eq!(other.requests(), 2);
}

#[tokio::test]
async fn a_rotated_session_replaces_the_kept_one() {
    let _still = clock_still().await;
    let sim = Simulator::from_env();
    let server = sim.new_server().await;
    // Every answer carries a new session; the one it replaces stops working.
    sim.options(&server, json!({"rotate_session_every": 1}))
        .await;
    let apple = apple(&sim);
    let session = apple.connect(&server.token);
    for _ in 0..3 {
        session.account().await.expect("GET /account");
    }
    session.fetch(None, 5).await.expect("POST /server/devices");
    // The next connection starts from the latest one too.
    apple
        .connect(&server.token)
        .account()
        .await
        .expect("GET /account on a new connection");
    assert_eq!(
        sim.requests(&server, "/session").await,
        1,
        "a client that kept a replaced session would have been refused and signed in again"
    );
    assert_eq!(sim.describe(&server).await["sessions_issued"], 6);
}

#[tokio::test]
async fn a_refused_session_is_renewed_once_and_the_call_replayed() {
    let _still = clock_still().await;
    let sim = Simulator::from_env();
    let server = sim.new_server().await;
    sim.devices(
        &server,
        entries(&serials(&format!("R{}", unique()), 3), "iPhone", "added"),
    )
    .await;
    let session = apple(&sim).connect(&server.token);
    session.account().await.expect("GET /account");
    sim.expire_sessions(&server).await;

    let page = session.fetch(None, 100).await.expect("the fetch, replayed");
    assert_eq!(page.devices.len(), 3);
    assert_eq!(
        session.requests(),
        5,
        "session, account, fetch (401), session, fetch"
    );
    assert_eq!(sim.requests(&server, "/session").await, 2);
}

#[tokio::test]
async fn a_second_401_is_unauthorized_and_says_what_to_do() {
    let _still = clock_still().await;
    let sim = Simulator::from_env();
    let server = sim.new_server().await;
    let session = apple(&sim).connect(&server.token);
    session.account().await.expect("GET /account");

    sim.failures(
        &server,
        json!({"path": "/account", "status": 401, "times": 2}),
    )
    .await;
    let e = session.account().await.unwrap_err();
    assert!(matches!(e, DepError::Unauthorized(_)), "{e:?}");
    assert!(e.to_string().contains("upload it to the account"), "{e}");
    assert_eq!(
        session.requests(),
        5,
        "session, account, account (401), session, account (401)"
    );
    // Once Apple takes the token again, the next call signs in afresh.
    session
        .account()
        .await
        .expect("GET /account after the 401s");
    assert_eq!(sim.requests(&server, "/session").await, 3);

    // A renewed token in ABM: the old one is refused at GET /session itself.
    let renewed = sim.renew_token(&server).await;
    sim.expire_sessions(&server).await;
    let old = apple(&sim).connect(&server.token);
    let e = old.account().await.unwrap_err();
    match &e {
        DepError::Unauthorized(m) => assert!(
            m.contains("GET /session answered 401 token_rejected"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(old.requests(), 1, "no call without a session");
    assert_no_secret(&e, &server);
    apple(&sim)
        .connect(&renewed)
        .account()
        .await
        .expect("the renewed token works");
}

#[tokio::test]
async fn a_wrong_signature_is_refused_by_apple() {
    let _still = clock_still().await;
    let sim = Simulator::from_env();
    let server = sim.new_server().await;
    let apple = apple(&sim);
    for wrong in ["consumer_secret", "access_secret"] {
        let mut token = server.token.clone();
        match wrong {
            "consumer_secret" => token.consumer_secret.push('x'),
            _ => token.access_secret = token.access_secret.replace("AS_", "AS_0"),
        }
        let e = apple.connect(&token).account().await.unwrap_err();
        match &e {
            DepError::Unauthorized(m) => {
                assert!(
                    m.contains("GET /session answered 401 signature_invalid"),
                    "{wrong}: {m}"
                )
            }
            other => panic!("{wrong}: {other:?}"),
        }
        assert_no_secret(&e, &server);
    }
    // The right secrets sign correctly: the simulator checks RFC 5849's signature.
    apple
        .connect(&server.token)
        .account()
        .await
        .expect("the right secrets");
}

async fn fetch_all(session: &impl DepSession) -> (Vec<DevicePage>, String) {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = session
            .fetch(cursor.as_deref(), 1000)
            .await
            .expect("a page");
        cursor = page.cursor.clone();
        let more = page.more_to_follow;
        pages.push(page);
        if !more {
            return (pages, cursor.expect("the last page's cursor"));
        }
    }
}

#[tokio::test]
async fn a_fetch_of_2500_devices_takes_three_pages_then_is_exhausted() {
    let _still = clock_still().await;
    let sim = Simulator::from_env();
    let server = sim.new_server().await;
    let prefix = format!("F{}", unique());
    let all = serials(&prefix, 2500);
    sim.devices(&server, entries(&all[..1000], "iPad", "added"))
        .await;
    sim.devices(&server, entries(&all[1000..], "Mac", "added"))
        .await;
    let session = apple(&sim).connect(&server.token);

    let (pages, last) = fetch_all(&session).await;
    let sizes: Vec<(usize, bool)> = pages
        .iter()
        .map(|p| (p.devices.len(), p.more_to_follow))
        .collect();
    assert_eq!(sizes, [(1000, true), (1000, true), (500, false)]);
    let mut fetched: Vec<String> = pages
        .iter()
        .flat_map(|p| p.devices.iter().map(|d| d.serial_number.clone()))
        .collect();
    fetched.sort();
    assert_eq!(fetched, all);
    let mac = pages[2].devices.first().expect("a Mac");
    assert_eq!(mac.device_family.as_deref(), Some("Mac"));
    assert!(mac.op_type.is_none(), "a fetched device has no op_type");
    assert_eq!(session.requests(), 4, "one session, three pages");

    assert_eq!(
        session.fetch(Some(&last), 1000).await.unwrap_err(),
        DepError::CursorExhausted
    );
}

#[tokio::test]
async fn sync_lists_the_changes_since_the_cursor_with_their_op_types() {
    let _still = clock_still().await;
    let sim = Simulator::from_env();
    let server = sim.new_server().await;
    let prefix = format!("S{}", unique());
    let before = serials(&prefix, 3);
    sim.devices(&server, entries(&before, "iPhone", "added"))
        .await;
    let session = apple(&sim).connect(&server.token);
    let (_, cursor) = fetch_all(&session).await;

    let added = format!("{prefix}NEW");
    sim.devices(
        &server,
        json!([
            {"serial_number": added, "device_family": "AppleTV", "op": "added"},
            {"serial_number": before[0], "device_family": "iPhone", "model": "iPhone 16", "op": "modified"},
            {"serial_number": before[1], "op": "deleted"},
        ]),
    )
    .await;
    let page = session
        .sync(&cursor, 1000)
        .await
        .expect("POST /devices/sync");
    let changes: Vec<(&str, &str)> = page
        .devices
        .iter()
        .map(|d| (d.serial_number.as_str(), d.op_type.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        changes,
        [
            (added.as_str(), "added"),
            (before[0].as_str(), "modified"),
            (before[1].as_str(), "deleted")
        ]
    );
    assert!(page.devices.iter().all(|d| d.op_date.is_some()));
    assert_eq!(page.devices[1].model.as_deref(), Some("iPhone 16"));
    assert!(!page.more_to_follow);

    let next = page.cursor.expect("the next cursor");
    let quiet = session.sync(&next, 1000).await.expect("nothing new");
    assert!(quiet.devices.is_empty() && !quiet.more_to_follow);
}

#[tokio::test]
async fn expired_and_invalid_cursors_are_told_apart() {
    let sim = Simulator::from_env();
    let server = sim.new_server().await;
    let session = apple(&sim).connect(&server.token);
    let (_, cursor) = fetch_all(&session).await;

    assert_eq!(
        session.sync("not-a-cursor", 1000).await.unwrap_err(),
        DepError::CursorInvalid
    );
    assert_eq!(
        session.fetch(Some("not-a-cursor"), 1000).await.unwrap_err(),
        DepError::CursorInvalid
    );
    assert_eq!(
        session.sync("", 1000).await.unwrap_err(),
        DepError::CursorInvalid
    );

    {
        // Alone: the simulator's clock moves for every test.
        let _alone = CLOCK.write().await;
        sim.advance_clock(8 * 24 * 3600).await;
    }
    // The session lapsed too: the client signs in again before Apple refuses the cursor.
    assert_eq!(
        session.sync(&cursor, 1000).await.unwrap_err(),
        DepError::CursorExpired
    );
    assert_eq!(sim.requests(&server, "/session").await, 2);
}

#[tokio::test]
async fn unsigned_terms_are_their_own_error_until_accepted() {
    let _still = clock_still().await;
    let sim = Simulator::from_env();
    let server = sim.new_server().await;
    let apple = apple(&sim);
    let kept = apple.connect(&server.token);
    kept.account().await.expect("GET /account");

    sim.failures(&server, json!({"terms": false})).await;
    // With a session kept, the call is refused; without one, GET /session is.
    assert_eq!(
        kept.fetch(None, 10).await.unwrap_err(),
        DepError::TermsNotSigned
    );
    let fresh = AppleDep::new(&AppleConfig::new(&sim.url)).unwrap();
    assert_eq!(
        fresh.connect(&server.token).account().await.unwrap_err(),
        DepError::TermsNotSigned
    );

    sim.failures(&server, json!({"terms": true})).await;
    kept.fetch(None, 10).await.expect("the terms accepted");
}

#[tokio::test]
async fn throttling_and_5xx_carry_retry_after() {
    let _still = clock_still().await;
    let sim = Simulator::from_env();
    let server = sim.new_server().await;
    let session = apple(&sim).connect(&server.token);
    let (_, cursor) = fetch_all(&session).await;

    sim.failures(
        &server,
        json!([
            {"path": "/devices/sync", "status": 429, "retry_after": 7},
            {"path": "/server/devices", "status": 503, "retry_after": 3},
            {"path": "/account", "status": 500},
        ]),
    )
    .await;
    assert_eq!(
        session.sync(&cursor, 1000).await.unwrap_err(),
        DepError::Throttled {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    match session.fetch(None, 10).await.unwrap_err() {
        DepError::Unavailable {
            message,
            retry_after,
        } => {
            assert_eq!(retry_after, Some(Duration::from_secs(3)));
            assert!(
                message.contains("POST /server/devices answered 503"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        session.account().await.unwrap_err(),
        DepError::Unavailable {
            retry_after: None,
            ..
        }
    ));
    // Each failure was one answer: the calls go through again, on the same session.
    session.sync(&cursor, 1000).await.expect("after the 429");
    assert_eq!(sim.requests(&server, "/session").await, 1);
}

#[tokio::test]
async fn an_unreachable_apple_is_unavailable_at_once() {
    let _still = clock_still().await;
    let sim = Simulator::from_env();
    let server = sim.new_server().await;
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = AppleDep::new(&AppleConfig::new(format!("http://127.0.0.1:{port}"))).unwrap();
    let session = closed.connect(&server.token);
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(20), session.account())
        .await
        .expect("an answer before the request timeout");
    match answer.unwrap_err() {
        DepError::Unavailable {
            message,
            retry_after: None,
        } => assert!(
            message.contains("no connection to Apple for GET /session"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < shared::apple::config::CONNECT_TIMEOUT,
        "a refused connection is not waited on"
    );
    assert_eq!(session.requests(), 1);
}

#[tokio::test]
async fn a_late_answer_is_unavailable_after_the_request_timeout() {
    let _still = clock_still().await;
    let sim = Simulator::from_env();
    let server = sim.new_server().await;
    let impatient = AppleDep::new(&AppleConfig {
        request_timeout: Duration::from_secs(1),
        ..AppleConfig::new(&sim.url)
    })
    .unwrap();
    let session = impatient.connect(&server.token);
    session.account().await.expect("GET /account");
    sim.failures(&server, json!({"path": "/account", "delay_seconds": 3}))
        .await;
    match session.account().await.unwrap_err() {
        DepError::Unavailable { message, .. } => {
            assert!(
                message.contains("no answer to GET /account within 1 s"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
}
