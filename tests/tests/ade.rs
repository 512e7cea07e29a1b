//! The ADE sync through the local stack: the `ade-sync` function against the
//! Apple simulator and the emulator's tables and secrets. Accounts are made
//! with the product's own adapters (as the admin API does); tokens are real
//! (the simulator encrypts them to a fresh certificate, `shared::ade::token`
//! reads them).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::ade_sim::{MdmServer, Simulator};
use integration_tests::Stack;
use serde_json::{json, Value};
use shared::ade::account::{AccountSettings, AdeAccount, Health, SyncState, TokenInfo};
use shared::ade::ports::{AdeAccounts, AdeSecrets, SyncJob};
use shared::aws::ade::{DynamoAdeAccounts, SecretsAdeSecrets, BY_ADE_ACCOUNT};
use shared::clock::epoch_now;
use shared::records::DeviceStatus;
use tokio::sync::{RwLock, RwLockReadGuard};

/// The simulator's clock is one for all its servers, and the schedule queues
/// every account: the tests that move the clock or run the schedule run
/// alone; the others hold both still (their sessions and cursors would age,
/// and a queued job would sync their account under them).
static CLOCK: RwLock<()> = RwLock::const_new(());

async fn clock_still() -> RwLockReadGuard<'static, ()> {
    CLOCK.read().await
}

struct World {
    st: Stack,
    sim: Simulator,
    accounts: DynamoAdeAccounts,
    secrets: SecretsAdeSecrets,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name}: run with `make integration`"))
}

impl World {
    async fn new() -> Self {
        let st = Stack::from_env().await;
        let sdk = aws_config::load_from_env().await;
        World {
            accounts: DynamoAdeAccounts {
                client: st.dynamo.clone(),
                table: var("ADE_ACCOUNTS_TABLE"),
            },
            secrets: SecretsAdeSecrets {
                client: aws_sdk_secretsmanager::Client::new(&sdk),
                prefix: var("ADE_SECRET_PREFIX"),
            },
            sim: Simulator::from_env(),
            st,
        }
    }

    /// An account with its server's token uploaded, as the admin API leaves it.
    async fn account(&self, preapprove: bool) -> (String, MdmServer) {
        let id = format!("ade-{}", self.st.unique());
        let server = self.sim.new_server().await;
        let account = AdeAccount {
            id: id.clone(),
            settings: AccountSettings {
                name: format!("ABM {id}"),
                preapprove,
                domain: Some("example.com".into()),
                groups: vec!["ade-devices".into()],
            },
            certificate_pem: "-----BEGIN CERTIFICATE-----".into(),
            created_at: shared::clock::now_rfc3339(),
            created_by: "admin".into(),
            token: Some(TokenInfo {
                consumer_key: server.consumer_key.clone(),
                access_token_expiry: server.token.access_token_expiry.clone(),
                expiry_epoch: server.token.expiry_epoch,
                server_name: None,
                server_uuid: None,
                org_name: None,
                admin_id: None,
                uploaded_at: shared::clock::now_rfc3339(),
                uploaded_by: "admin".into(),
            }),
            full_requested: None,
            sync: SyncState::default(),
        };
        self.accounts.create(&account).await.unwrap();
        self.secrets.create(&id, "unused here").await.unwrap();
        self.secrets.put_token(&id, &server.token).await.unwrap();
        (id, server)
    }

    /// One sync job, run by the function (as its queue would deliver it).
    async fn sync(&self, id: &str, requested: bool) -> Value {
        let job = SyncJob::Sync {
            account: id.to_owned(),
            full: false,
            requested,
        };
        let event = json!({"Records": [{
            "messageId": self.st.unique(),
            "body": serde_json::to_string(&job).unwrap(),
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
        }]});
        self.st.invoke("ade-sync", &event).await
    }

    async fn state(&self, id: &str) -> AdeAccount {
        self.accounts.get(id).await.unwrap().expect("the account")
    }

    /// The serials the account lists in the devices table (its index).
    async fn linked(&self, id: &str) -> BTreeSet<String> {
        let mut serials = BTreeSet::new();
        let mut start = None;
        loop {
            let out = self
                .st
                .dynamo
                .query()
                .table_name(&self.st.devices_table)
                .index_name(BY_ADE_ACCOUNT)
                .key_condition_expression("ade_account = :a")
                .expression_attribute_values(":a", AttributeValue::S(id.into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for item in out.items() {
                if let Some(AttributeValue::S(s)) = item.get("serial") {
                    serials.insert(s.clone());
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return serials;
            }
        }
    }
}

fn entries(serials: &[String], family: &str, op: &str) -> Value {
    Value::Array(
        serials
            .iter()
            .map(|s| json!({"serial_number": s, "device_family": family, "model": format!("{family} 2026"), "op": op}))
            .collect(),
    )
}

fn serials(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:05}")).collect()
}

#[tokio::test]
async fn a_first_sync_pre_approves_2500_devices_over_3_pages_and_admission_allows_them() {
    let w = World::new().await;
    let _still = clock_still().await;
    let (id, server) = w.account(true).await;
    let u = w.st.unique().to_uppercase();
    let macs = serials(&format!("M{u}"), 2490);
    let visions = serials(&format!("V{u}"), 10);
    w.sim.devices(&server, entries(&macs, "Mac", "added")).await;
    w.sim
        .devices(&server, entries(&visions, "Vision", "added"))
        .await;
    w.sim
        .options(&server, json!({"duplicates_across_pages": 3}))
        .await;

    w.sync(&id, false).await;
    let a = w.state(&id).await;
    let report = a.sync.last_run.clone().expect("a report");
    assert_eq!(a.sync.health, Health::Ok, "{:?}", a.sync.message);
    assert!(report.complete);
    assert_eq!(report.kind, "fetch");
    assert_eq!(report.unsupported, 10);
    assert_eq!(report.unsupported_devices.len(), 10);
    assert!(report
        .unsupported_devices
        .iter()
        .all(|d| d.family == "Vision"));
    assert_eq!(w.linked(&id).await.len(), 2490);
    assert_eq!(
        w.sim.requests(&server, "/server/devices").await,
        3,
        "3 pages of ≤1000"
    );
    assert_eq!(w.sim.requests(&server, "/devices/sync").await, 1);
    assert!(a.sync.cursor.is_some());

    let d = w.st.device(&macs[1234]).await.expect("pre-approved");
    assert_eq!(d.status, DeviceStatus::PreApproved);
    assert_eq!(d.groups, ["ade-devices"]);
    assert_eq!(d.source(), shared::records::DeviceSource::Ade);
    assert!(w.st.device(&visions[0]).await.is_none());

    // Admission treats it as any pre-approval: exact serial, platform, no
    // password (whatever the restriction; the settings are the admin tests').
    let (status, v) = w
        .st
        .post(
            &w.st.admission_url,
            json!({"serial_number": macs[7], "platform": "macos", "enrollment_method": "ade", "os_version": "15.1"})
                .to_string(),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["decision"], &v["reason"]),
        (&json!("allow"), &json!("pre_approved")),
        "{v}"
    );
}

#[tokio::test]
async fn changes_after_the_fetch_respect_enrolled_and_csv_devices() {
    let w = World::new().await;
    let _still = clock_still().await;
    let (id, server) = w.account(true).await;
    let u = w.st.unique().to_uppercase();
    let [gone, enrolled, csv, moved, late] =
        ["GONE", "ENRL", "CSV", "MOVED", "LATE"].map(|p| format!("{p}{u}"));
    // A CSV pre-approval of a serial ABM lists too.
    let key = format!("imports/{u}-ade.csv");
    w.st.upload(
        &key,
        format!("Name,Email,Ownership,Serial Number,Platform\nAnn,{u}-ann@example.com,corporate,{csv},ios\n"),
        &[("invite", "none")],
    )
    .await;
    assert_eq!(w.st.wait_for_report(&key).await["status"], "completed");
    let before = w.st.device(&csv).await.unwrap();

    let first = [gone.clone(), enrolled.clone(), csv.clone()];
    w.sim
        .devices(&server, entries(&first, "iPad", "added"))
        .await;
    w.sync(&id, false).await;
    let csv_now = w.st.device(&csv).await.unwrap();
    assert_eq!(csv_now.email, before.email, "the CSV's user stays");
    assert_eq!(csv_now.password_hash, before.password_hash);
    assert_eq!(
        csv_now.ade.as_ref().map(|l| l.account.as_str()),
        Some(id.as_str())
    );

    // One of them enrolls (as admission's completion leaves it).
    w.st.dynamo
        .update_item()
        .table_name(&w.st.devices_table)
        .key("serial", AttributeValue::S(enrolled.clone()))
        .update_expression("SET #s = :e, enrolled_at = :t")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":e", AttributeValue::S("enrolled".into()))
        .expression_attribute_values(":t", AttributeValue::S(shared::clock::now_rfc3339()))
        .send()
        .await
        .unwrap();

    // ABM unassigns all three, moves one in from another server, and adds one
    // that it then deletes and adds again (the latest op wins).
    w.sim
        .devices(&server, entries(&first, "iPad", "deleted"))
        .await;
    for (serial, family, op) in [
        (&moved, "iPhone", "modified"),
        (&late, "AppleTV", "added"),
        (&late, "AppleTV", "deleted"),
        (&late, "AppleTV", "added"),
    ] {
        w.sim
            .devices(&server, entries(std::slice::from_ref(serial), family, op))
            .await;
    }
    w.sync(&id, false).await;

    let report = w.state(&id).await.sync.last_run.unwrap();
    assert_eq!(report.kind, "sync");
    assert_eq!((report.removed, report.kept), (1, 2), "{report:?}");
    assert!(
        w.st.device(&gone).await.is_none(),
        "never enrolled: removed"
    );
    let e =
        w.st.device(&enrolled)
            .await
            .expect("never an enrolled device");
    assert_eq!((e.status, e.ade), (DeviceStatus::Enrolled, None));
    let c = w.st.device(&csv).await.expect("the CSV pre-approval stays");
    assert_eq!(
        (c.status, c.email, c.ade),
        (DeviceStatus::PreApproved, before.email, None)
    );
    assert_eq!(w.st.device(&moved).await.unwrap().platform.as_str(), "ios");
    assert_eq!(w.st.device(&late).await.unwrap().platform.as_str(), "tvos");
}

#[tokio::test]
async fn an_expired_cursor_leads_to_a_full_fetch_that_removes_released_devices() {
    let w = World::new().await;
    let _alone = CLOCK.write().await;
    let (id, server) = w.account(true).await;
    let u = w.st.unique().to_uppercase();
    let all = serials(&format!("R{u}"), 6);
    w.sim.devices(&server, entries(&all, "Mac", "added")).await;
    w.sync(&id, false).await;
    assert_eq!(w.linked(&id).await.len(), 6);
    // Released in ABM: no `deleted` event; then the cursor ages past 7 days.
    w.sim
        .devices(&server, entries(&all[4..], "Mac", "released"))
        .await;
    w.sim.advance_clock(8 * 86_400).await;
    w.sync(&id, false).await;
    let a = w.state(&id).await;
    let report = a.sync.last_run.unwrap();
    assert_eq!(report.kind, "fetch", "{report:?}");
    assert_eq!(report.removed, 2);
    assert_eq!(w.linked(&id).await, all[..4].iter().cloned().collect());
    assert_eq!(a.sync.health, Health::Ok);
}

/// The reconcile reads the account's index a page (1,000 keys) at a time and removes
/// behind the page it reads: every other device released, across three pages.
#[tokio::test]
async fn a_reconcile_removes_released_devices_across_pages_of_the_index() {
    let w = World::new().await;
    let _alone = CLOCK.write().await;
    let (id, server) = w.account(true).await;
    let u = w.st.unique().to_uppercase();
    let all = serials(&format!("P{u}"), 2_100);
    w.sim.devices(&server, entries(&all, "iPad", "added")).await;
    w.sync(&id, false).await;
    assert_eq!(w.linked(&id).await.len(), 2_100);
    let released: Vec<String> = all.iter().skip(1).step_by(2).cloned().collect();
    let kept: BTreeSet<String> = all.iter().step_by(2).cloned().collect();
    w.sim
        .devices(&server, entries(&released, "iPad", "released"))
        .await;
    w.sim.advance_clock(8 * 86_400).await;
    w.sync(&id, false).await;
    let report = w.state(&id).await.sync.last_run.unwrap();
    assert_eq!(report.kind, "fetch", "{report:?}");
    assert_eq!(report.removed, 1_050, "{report:?}");
    assert_eq!(w.linked(&id).await, kept);
}

#[tokio::test]
async fn two_syncs_of_one_account_at_once_ask_apple_once() {
    let w = World::new().await;
    let _still = clock_still().await;
    let (id, server) = w.account(true).await;
    let u = w.st.unique().to_uppercase();
    w.sim
        .devices(
            &server,
            entries(&serials(&format!("T{u}"), 50), "iPad", "added"),
        )
        .await;
    // Apple answers slowly, so both runs overlap.
    w.sim
        .failures(
            &server,
            json!({"path": "/server/devices", "delay_seconds": 2, "times": 1}),
        )
        .await;
    let (a, b) = tokio::join!(w.sync(&id, true), w.sync(&id, true));
    assert_eq!(a["batchItemFailures"], json!([]), "{a}");
    assert_eq!(b["batchItemFailures"], json!([]), "{b}");
    assert_eq!(
        w.sim.requests(&server, "/server/devices").await,
        1,
        "one run fetched"
    );
    assert_eq!(w.linked(&id).await.len(), 50);
}

#[tokio::test]
async fn terms_not_signed_and_throttling_show_on_the_account_and_admission_keeps_answering() {
    let w = World::new().await;
    let _still = clock_still().await;
    let (id, server) = w.account(true).await;
    let u = w.st.unique().to_uppercase();
    let serial = format!("K{u}");
    w.sim
        .devices(
            &server,
            entries(std::slice::from_ref(&serial), "iPhone", "added"),
        )
        .await;
    w.sync(&id, false).await;
    assert!(w.st.device(&serial).await.is_some());

    w.sim.failures(&server, json!({"terms": false})).await;
    w.sync(&id, false).await;
    let a = w.state(&id).await;
    assert_eq!(a.sync.health, Health::TermsNotAccepted);
    assert!(a.sync.health.advice().contains("accept the new terms"));
    // Apple refusing changes nothing for devices already synced.
    let (status, v) = w
        .st
        .post(
            &w.st.admission_url,
            json!({"serial_number": serial, "platform": "ios", "enrollment_method": "ade", "os_version": "18.1"})
                .to_string(),
        )
        .await;
    assert_eq!(
        (status, v["decision"].as_str()),
        (200, Some("allow")),
        "{v}"
    );

    w.sim.failures(&server, json!({"terms": true})).await;
    w.sim
        .failures(&server, json!({"path": "*", "status": 429, "body": "TOO_MANY_REQUESTS", "retry_after": 3600, "times": 1}))
        .await;
    w.sync(&id, false).await;
    let a = w.state(&id).await;
    assert_eq!(a.sync.health, Health::AppleUnavailable);
    let wait = a.sync.retry_at.expect("Retry-After kept") as i64 - epoch_now() as i64;
    assert!((3000..=3700).contains(&wait), "{wait}");
    // An admin's "Sync now" does not wait; it works again.
    w.sync(&id, true).await;
    assert_eq!(w.state(&id).await.sync.health, Health::Ok);
}

#[tokio::test]
async fn a_renewed_token_goes_on_from_the_same_cursor() {
    let w = World::new().await;
    let _still = clock_still().await;
    let (id, server) = w.account(true).await;
    let u = w.st.unique().to_uppercase();
    w.sim
        .devices(
            &server,
            entries(&serials(&format!("N{u}"), 3), "Mac", "added"),
        )
        .await;
    w.sync(&id, false).await;
    let cursor = w.state(&id).await.sync.cursor;
    let renewed = w.sim.renew_token(&server).await;
    w.secrets.put_token(&id, &renewed).await.unwrap();
    w.sim
        .devices(
            &server,
            entries(&serials(&format!("P{u}"), 2), "Mac", "added"),
        )
        .await;
    let fetches = w.sim.requests(&server, "/server/devices").await;
    w.sync(&id, false).await;
    let a = w.state(&id).await;
    assert_eq!(a.sync.health, Health::Ok, "{:?}", a.sync.message);
    assert_eq!(a.sync.last_run.unwrap().kind, "sync", "no new fetch");
    assert_eq!(w.sim.requests(&server, "/server/devices").await, fetches);
    assert_ne!(a.sync.cursor, cursor);
    assert_eq!(w.linked(&id).await.len(), 5);
}

#[tokio::test]
async fn the_schedule_queues_every_account_and_the_queue_syncs_them() {
    let w = World::new().await;
    let _alone = CLOCK.write().await;
    let (_id, server) = w.account(true).await;
    let u = w.st.unique().to_uppercase();
    let serial = format!("Q{u}");
    w.sim
        .devices(
            &server,
            entries(std::slice::from_ref(&serial), "iPad", "added"),
        )
        .await;
    let answer =
        w.st.invoke(
            "ade-sync",
            &json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}),
        )
        .await;
    assert!(answer["queued"].as_u64().unwrap() >= 1, "{answer}");
    // The stack's relay delivers the queue to the function, one job after
    // another: the other tests' accounts are synced too, some with a full fetch.
    let deadline = Instant::now() + Duration::from_secs(300);
    while w.st.device(&serial).await.is_none() {
        assert!(Instant::now() < deadline, "the queued job did not sync");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
