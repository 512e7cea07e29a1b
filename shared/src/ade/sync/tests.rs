use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::ade::account::{AccountSettings, TokenInfo};
use crate::ade::device::AdeDevice;
use crate::ade::token::ServerToken;
use crate::domain::{Ownership, Platform};
use crate::fakes::{MemoryAdeAccounts, MemoryAdeDevices, MemoryAdeSecrets, ScriptedApple};
use crate::records::{ade_origin, DeviceRecord, DeviceStatus, EnrollmentInfo};

const T0: u64 = 1_800_000_000;

struct World {
    accounts: MemoryAdeAccounts,
    secrets: MemoryAdeSecrets,
    devices: MemoryAdeDevices,
    apple: ScriptedApple,
    now: Arc<AtomicU64>,
    out_of_time: Arc<AtomicBool>,
}

fn device(serial: &str, family: &str, op: Option<&str>, date: Option<&str>) -> AdeDevice {
    AdeDevice {
        serial_number: serial.into(),
        device_family: Some(family.into()),
        model: Some(format!("{family} (test)")),
        op_type: op.map(Into::into),
        op_date: date.map(Into::into),
        ..AdeDevice::default()
    }
}

fn page(devices: Vec<AdeDevice>, cursor: &str, more: bool) -> DevicePage {
    DevicePage {
        devices,
        cursor: Some(cursor.into()),
        more_to_follow: more,
    }
}

fn macs(range: std::ops::Range<u32>) -> Vec<AdeDevice> {
    range
        .map(|i| device(&format!("MAC{i:05}"), "Mac", None, None))
        .collect()
}

impl World {
    async fn new(preapprove: bool) -> Self {
        let w = World {
            accounts: MemoryAdeAccounts::default(),
            secrets: MemoryAdeSecrets::default(),
            devices: MemoryAdeDevices::default(),
            apple: ScriptedApple::default(),
            now: Arc::new(AtomicU64::new(T0)),
            out_of_time: Arc::new(AtomicBool::new(false)),
        };
        let account = AdeAccount {
            id: "acct".into(),
            settings: AccountSettings {
                name: "Main ABM".into(),
                preapprove,
                domain: Some("example.com".into()),
                groups: vec!["ade".into()],
            },
            certificate_pem: "CERT".into(),
            created_at: "2027-01-15T08:00:00Z".into(),
            created_by: "admin".into(),
            token: Some(TokenInfo {
                consumer_key: "CK_1".into(),
                access_token_expiry: "2028-01-15T08:00:00Z".into(),
                expiry_epoch: T0 + 365 * 86_400,
                server_name: Some("MDM".into()),
                server_uuid: None,
                org_name: None,
                admin_id: None,
                uploaded_at: "2027-01-15T08:00:00Z".into(),
                uploaded_by: "admin".into(),
            }),
            full_requested: None,
            sync: SyncState {
                health: Health::Ok,
                ..SyncState::default()
            },
        };
        w.accounts.create(&account).await.unwrap();
        w.secrets.create("acct", "KEY").await.unwrap();
        let token = ServerToken {
            consumer_key: "CK_1".into(),
            consumer_secret: "CS_1".into(),
            access_token: "AT_1".into(),
            access_secret: "AS_1".into(),
            access_token_expiry: "2028-01-15T08:00:00Z".into(),
            expiry_epoch: T0 + 365 * 86_400,
        };
        w.secrets.put_token("acct", &token).await.unwrap();
        w
    }

    async fn run_as(&self, trigger: Trigger, owner: &str) -> Result<Outcome, SyncError> {
        let ports = SyncPorts {
            accounts: &self.accounts,
            secrets: &self.secrets,
            devices: &self.devices,
            apple: &self.apple,
        };
        let now = self.now.clone();
        let oot = self.out_of_time.clone();
        let now_fn = move || now.load(Ordering::SeqCst);
        let oot_fn = move || oot.load(Ordering::SeqCst);
        let clock = RunClock {
            now: &now_fn,
            out_of_time: &oot_fn,
        };
        sync_account(&ports, "acct", trigger, owner, &clock).await
    }

    async fn run(&self, trigger: Trigger) -> Outcome {
        self.run_as(trigger, "run-1").await.unwrap()
    }

    fn account(&self) -> AdeAccount {
        self.accounts.account("acct").unwrap()
    }

    fn advance(&self, secs: u64) {
        self.now.fetch_add(secs, Ordering::SeqCst);
    }
}

fn report(o: Outcome) -> (SyncReport, Health) {
    match o {
        Outcome::Ran { report, health } => (report, health),
        other => panic!("expected a run, got {other:?}"),
    }
}

fn csv_device(serial: &str) -> DeviceRecord {
    DeviceRecord {
        serial: serial.into(),
        status: DeviceStatus::PreApproved,
        platform: Platform::Ios,
        ownership: Some(Ownership::Personal),
        email: "ann@example.com".into(),
        device_name: Some("Ann's iPad".into()),
        groups: vec!["csv".into()],
        password_hash: Some("v2$hash".into()),
        import_id: "import-1".into(),
        domain: None,
        updated_at: "t".into(),
        enrollment: None,
        checks: Default::default(),
        invite: None,
        expires: None,
        ade: None,
    }
}

#[tokio::test]
async fn a_first_sync_fetches_every_page_then_syncs_from_the_last_cursor() {
    let w = World::new(true).await;
    // 2,500 devices in pages of 1000, Apple repeating two across page boundaries.
    let mut second = macs(1000..2000);
    second.push(device("MAC00999", "Mac", None, None));
    w.apple
        .fetch(Ok(page(macs(0..1000), "f1", true)))
        .fetch(Ok(page(second, "f2", true)))
        .fetch(Ok(page(macs(1999..2500), "f3", false)));
    let (r, health) = report(w.run(Trigger::Scheduled).await);
    assert_eq!(health, Health::Ok);
    assert!(r.complete);
    assert_eq!(r.kind, "fetch");
    assert_eq!(r.pages, 4, "3 fetch pages and 1 sync page");
    assert_eq!(w.devices.devices.lock().unwrap().len(), 2500);
    let d = w.devices.get("MAC01234").unwrap();
    assert_eq!(d.status, DeviceStatus::PreApproved);
    assert_eq!(d.platform, Platform::Macos);
    assert_eq!(d.ownership, Some(Ownership::Corporate));
    assert_eq!(d.import_id, ade_origin("acct"));
    assert_eq!(d.groups, ["ade"]);
    assert_eq!(d.password_hash, None, "ADE devices have no password");
    assert_eq!(d.ade.unwrap().model.as_deref(), Some("Mac (test)"));
    let a = w.account();
    assert_eq!(a.sync.cursor.as_deref(), Some("f3"));
    assert_eq!(a.sync.last_full_at, Some(T0));
    assert_eq!(a.sync.fetch, None);
    let asked = w.apple.asked();
    assert_eq!(
        asked,
        [
            ("fetch", None),
            ("fetch", Some("f1".into())),
            ("fetch", Some("f2".into())),
            ("sync", Some("f3".into()))
        ]
    );
}

#[tokio::test]
async fn sync_applies_added_modified_and_deleted_with_the_latest_op_date_winning() {
    let w = World::new(true).await;
    w.apple.fetch(Ok(page(macs(0..3), "f1", false)));
    w.run(Trigger::Scheduled).await;
    // Enrolled meanwhile, and a CSV pre-approval of a serial ABM also lists.
    let mut enrolled = w.devices.get("MAC00001").unwrap();
    enrolled.status = DeviceStatus::Enrolled;
    enrolled.enrollment = Some(EnrollmentInfo {
        enrolled_at: "t".into(),
        method: None,
        os_version: None,
        pre_approved: true,
    });
    w.devices.insert(enrolled);
    w.devices.insert(csv_device("IPAD1"));

    w.apple.sync(Ok(page(
        vec![
            device(
                "NEW1",
                "iPhone",
                Some("added"),
                Some("2027-01-15T09:00:00Z"),
            ),
            // A modified serial never seen (moved from another MDM server) is an add.
            device(
                "MOVED",
                "iPad",
                Some("modified"),
                Some("2027-01-15T09:00:00Z"),
            ),
            device("IPAD1", "iPad", Some("added"), Some("2027-01-15T09:00:00Z")),
            device(
                "MAC00000",
                "Mac",
                Some("deleted"),
                Some("2027-01-15T09:00:00Z"),
            ),
            device(
                "MAC00001",
                "Mac",
                Some("deleted"),
                Some("2027-01-15T09:00:00Z"),
            ),
            // Deleted, then added again later in time: it stays.
            device(
                "MAC00002",
                "Mac",
                Some("added"),
                Some("2027-01-15T10:00:00Z"),
            ),
            device(
                "MAC00002",
                "Mac",
                Some("deleted"),
                Some("2027-01-15T09:30:00Z"),
            ),
            device(
                "VISION1",
                "Vision",
                Some("added"),
                Some("2027-01-15T09:00:00Z"),
            ),
            device(
                "TV1",
                "AppleTV",
                Some("added"),
                Some("2027-01-15T09:00:00Z"),
            ),
        ],
        "s1",
        false,
    )));
    w.advance(300);
    let (r, _) = report(w.run(Trigger::Scheduled).await);
    assert_eq!(r.kind, "sync");
    assert_eq!(r.listed, 5, "NEW1, MOVED, IPAD1, MAC00002, TV1");
    assert_eq!((r.removed, r.kept), (1, 1));
    assert_eq!(r.unsupported, 1);
    assert_eq!(r.unsupported_devices[0].family, "Vision");
    assert!(w.devices.get("VISION1").is_none(), "not pre-approved");
    assert_eq!(w.devices.get("TV1").unwrap().platform, Platform::Tvos);
    assert_eq!(w.devices.get("MOVED").unwrap().platform, Platform::Ios);
    assert!(
        w.devices.get("MAC00000").is_none(),
        "deleted, never enrolled"
    );
    let kept = w.devices.get("MAC00001").unwrap();
    assert_eq!(
        kept.status,
        DeviceStatus::Enrolled,
        "never an enrolled device"
    );
    assert!(
        w.devices.get("MAC00002").is_some(),
        "its latest op was an add"
    );
    let csv = w.devices.get("IPAD1").unwrap();
    assert_eq!(csv.email, "ann@example.com", "the CSV's user stays");
    assert_eq!(csv.password_hash.as_deref(), Some("v2$hash"));
    assert_eq!(csv.import_id, "import-1");
    assert_eq!(
        csv.ade.as_ref().unwrap().account,
        "acct",
        "the account beside it"
    );
    assert_eq!(w.account().sync.cursor.as_deref(), Some("s1"));

    // Deleted by Apple later: the CSV pre-approval stays, unlinked.
    w.apple.sync(Ok(page(
        vec![device("IPAD1", "iPad", Some("deleted"), None)],
        "s2",
        false,
    )));
    let (r, _) = report(w.run(Trigger::Scheduled).await);
    assert_eq!((r.removed, r.kept), (0, 1));
    let csv = w.devices.get("IPAD1").unwrap();
    assert_eq!((csv.status, csv.ade), (DeviceStatus::PreApproved, None));
}

#[tokio::test]
async fn an_expired_cursor_becomes_a_full_fetch_that_removes_what_abm_no_longer_lists() {
    let w = World::new(true).await;
    w.apple.fetch(Ok(page(macs(0..4), "f1", false)));
    w.run(Trigger::Scheduled).await;
    let mut enrolled = w.devices.get("MAC00003").unwrap();
    enrolled.status = DeviceStatus::Enrolled;
    w.devices.insert(enrolled);
    // Released in ABM: no `deleted` for MAC00002 and MAC00003; the cursor expired.
    w.apple
        .sync(Err(DepError::CursorExpired))
        .fetch(Ok(page(macs(0..2), "f2", false)));
    w.advance(86_400);
    let (r, health) = report(w.run(Trigger::Scheduled).await);
    assert_eq!(health, Health::Ok);
    assert_eq!(r.kind, "fetch");
    assert_eq!((r.removed, r.kept), (1, 1));
    assert!(w.devices.get("MAC00002").is_none());
    let kept = w.devices.get("MAC00003").unwrap();
    assert_eq!((kept.status, kept.ade), (DeviceStatus::Enrolled, None));
    assert!(w.devices.get("MAC00001").is_some());
    assert_eq!(w.account().sync.cursor.as_deref(), Some("f2"));
}

#[tokio::test]
async fn a_week_after_the_last_full_fetch_the_next_run_reconciles() {
    let w = World::new(true).await;
    w.apple.fetch(Ok(page(macs(0..2), "f1", false)));
    w.run(Trigger::Scheduled).await;
    w.advance(RECONCILE_EVERY - 60);
    let (r, _) = report(w.run(Trigger::Scheduled).await);
    assert_eq!(r.kind, "sync");
    w.advance(120);
    w.apple.fetch(Ok(page(macs(1..2), "f2", false)));
    let (r, _) = report(w.run(Trigger::Scheduled).await);
    assert_eq!((r.kind.as_str(), r.removed), ("fetch", 1));
}

#[tokio::test]
async fn a_crash_between_a_pages_writes_and_its_cursor_replays_the_page() {
    let w = World::new(true).await;
    w.apple.fetch(Ok(page(macs(0..1), "f1", false)));
    w.run(Trigger::Scheduled).await;
    w.apple
        .sync(Ok(page(macs(10..12), "s1", true)))
        .sync(Ok(page(macs(12..14), "s2", false)));
    // The second page's writes fail (a throttled table, a killed process).
    *w.devices.fail_upsert_at.lock().unwrap() = Some(2);
    let err = w.run_as(Trigger::Scheduled, "run-1").await.err();
    assert!(matches!(err, Some(SyncError::Port(_))), "{err:?}");
    assert_eq!(
        w.account().sync.cursor.as_deref(),
        Some("s1"),
        "page 2 not skipped"
    );
    assert!(w.devices.get("MAC00012").is_none());
    // The next run asks from s1 again and gets page 2 again.
    w.apple.sync(Ok(page(macs(12..14), "s2", false)));
    w.run(Trigger::Scheduled).await;
    assert!(w.devices.get("MAC00013").is_some());
    assert_eq!(w.account().sync.cursor.as_deref(), Some("s2"));
    let asked = w.apple.asked();
    assert_eq!(asked.last().unwrap(), &("sync", Some("s1".into())));
}

#[tokio::test]
async fn a_fetch_out_of_time_resumes_where_it_stopped_and_reconciles_once_whole() {
    let w = World::new(true).await;
    // An earlier fetch left devices; the new one (requested) lists only some.
    w.apple.fetch(Ok(page(macs(0..6), "f0", false)));
    w.run(Trigger::Scheduled).await;
    w.apple
        .fetch(Ok(page(macs(0..2), "g1", true)))
        .fetch(Ok(page(macs(2..4), "g2", false)));
    w.out_of_time.store(true, Ordering::SeqCst);
    let (r, _) = report(w.run(Trigger::Requested { full: true }).await);
    assert!(!r.complete);
    let fetch = w.account().sync.fetch.expect("the fetch is under way");
    assert_eq!(fetch.cursor.as_deref(), Some("g1"));
    assert_eq!(
        w.devices.devices.lock().unwrap().len(),
        6,
        "nothing removed yet"
    );
    w.out_of_time.store(false, Ordering::SeqCst);
    let (r, _) = report(w.run(Trigger::Scheduled).await);
    assert!(r.complete);
    assert_eq!(
        r.removed, 2,
        "MAC00004 and MAC00005: listed by neither part"
    );
    assert!(
        w.devices.get("MAC00000").is_some(),
        "listed by the first part"
    );
    assert_eq!(w.account().sync.cursor.as_deref(), Some("g2"));
}

#[tokio::test]
async fn two_runs_of_one_account_at_once_the_second_is_busy() {
    let w = World::new(true).await;
    assert!(w
        .accounts
        .lease("acct", "other", T0, T0 + 60)
        .await
        .unwrap());
    assert_eq!(w.run(Trigger::Scheduled).await, Outcome::Busy);
    assert!(w.apple.asked().is_empty(), "Apple was not called");
    // A lapsed lease (a crashed run) is taken over.
    w.advance(61);
    assert!(matches!(
        w.run(Trigger::Scheduled).await,
        Outcome::Ran { .. }
    ));
}

#[tokio::test]
async fn terms_not_signed_says_so_and_the_next_run_tries_again() {
    let w = World::new(true).await;
    w.apple.fetch(Err(DepError::TermsNotSigned));
    let (r, health) = report(w.run(Trigger::Scheduled).await);
    assert_eq!(health, Health::TermsNotAccepted);
    assert!(!r.complete);
    let a = w.account();
    assert_eq!(a.sync.health, Health::TermsNotAccepted);
    assert!(a.sync.health.advice().contains("accept the new terms"));
    assert_eq!(a.sync.cursor, None);
    w.apple.fetch(Ok(page(macs(0..1), "f1", false)));
    w.advance(300);
    let (_, health) = report(w.run(Trigger::Scheduled).await);
    assert_eq!(health, Health::Ok);
}

#[tokio::test(start_paused = true)]
async fn a_short_retry_after_is_waited_out_and_a_long_one_ends_the_run() {
    let w = World::new(true).await;
    w.apple
        .fetch(Err(DepError::Throttled {
            retry_after: Some(Duration::from_secs(2)),
        }))
        .fetch(Err(DepError::Unavailable {
            message: "503".into(),
            retry_after: None,
        }))
        .fetch(Ok(page(macs(0..1), "f1", false)));
    let started = tokio::time::Instant::now();
    let (r, health) = report(w.run(Trigger::Scheduled).await);
    assert_eq!(health, Health::Ok);
    assert!(r.complete);
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "2 s, then 2 s backoff"
    );

    w.apple.sync(Err(DepError::Throttled {
        retry_after: Some(Duration::from_secs(3600)),
    }));
    let (r, health) = report(w.run(Trigger::Scheduled).await);
    assert_eq!((health, r.complete), (Health::AppleUnavailable, false));
    assert_eq!(w.account().sync.retry_at, Some(T0 + 3600));
    // The schedule waits; an admin's request does not.
    w.advance(60);
    assert_eq!(
        w.run(Trigger::Scheduled).await,
        Outcome::Skipped(Health::AppleUnavailable)
    );
    assert!(matches!(
        w.run(Trigger::Requested { full: false }).await,
        Outcome::Ran { .. }
    ));
}

#[tokio::test]
async fn with_pre_approval_off_nothing_is_written_and_the_report_counts_it() {
    let w = World::new(false).await;
    w.apple.fetch(Ok(page(macs(0..5), "f1", false)));
    let (r, _) = report(w.run(Trigger::Scheduled).await);
    assert_eq!((r.listed, r.not_pre_approved, r.pre_approved), (5, 5, 0));
    assert!(w.devices.devices.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_requested_full_fetch_is_done_once_by_a_fetch_that_started_after_it() {
    let w = World::new(true).await;
    w.apple.fetch(Ok(page(macs(0..1), "f1", false)));
    w.run(Trigger::Scheduled).await;
    w.advance(60);
    let request = crate::ade::account::FullRequest {
        at: T0 + 60,
        reason: FetchReason::SettingsChanged,
    };
    w.accounts.request_full("acct", request).await.unwrap();
    w.apple.fetch(Ok(page(macs(0..1), "f2", false)));
    let (r, _) = report(w.run(Trigger::Scheduled).await);
    assert_eq!(r.kind, "fetch");
    w.advance(60);
    let (r, _) = report(w.run(Trigger::Scheduled).await);
    assert_eq!(r.kind, "sync", "the request was done");
}

#[tokio::test]
async fn an_account_without_a_token_or_with_an_expired_one_calls_nobody() {
    let w = World::new(true).await;
    let mut a = w.account();
    a.token.as_mut().unwrap().expiry_epoch = T0 - 1;
    w.accounts.set(a);
    assert_eq!(
        w.run(Trigger::Scheduled).await,
        Outcome::Skipped(Health::TokenExpired)
    );
    assert_eq!(w.account().sync.health, Health::TokenExpired);
    let mut a = w.account();
    a.token = None;
    w.accounts.set(a);
    assert_eq!(
        w.run(Trigger::Scheduled).await,
        Outcome::Skipped(Health::AwaitingToken)
    );
    assert!(w.apple.asked().is_empty());
}

#[tokio::test]
async fn a_refused_token_says_to_upload_a_new_one() {
    let w = World::new(true).await;
    w.apple.fetch(Err(DepError::Unauthorized("401".into())));
    let (_, health) = report(w.run(Trigger::Scheduled).await);
    assert_eq!(health, Health::TokenRejected);
    assert!(health.advice().contains("download a new token"));
}
