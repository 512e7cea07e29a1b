use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;
use shared::ade::account::{AccountSettings, AdeAccount, SyncState, TokenInfo};
use shared::ade::device::AdeDevice;
use shared::ade::ports::{AdeAccounts, AdeSecrets, DevicePage, SyncJob};
use shared::ade::token::ServerToken;
use shared::clock::epoch_now;
use shared::fakes::{
    MemoryAdeAccounts, MemoryAdeDevices, MemoryAdeSecrets, MemorySyncJobs, ScriptedApple,
};

use super::*;

type TestApp =
    App<MemoryAdeAccounts, MemoryAdeSecrets, MemoryAdeDevices, ScriptedApple, MemorySyncJobs>;

async fn app_with(ids: &[(&str, bool)]) -> TestApp {
    let app = App {
        accounts: MemoryAdeAccounts::default(),
        secrets: MemoryAdeSecrets::default(),
        devices: MemoryAdeDevices::default(),
        apple: ScriptedApple::default(),
        jobs: MemorySyncJobs::default(),
    };
    for (id, with_token) in ids {
        let account = AdeAccount {
            id: (*id).into(),
            settings: AccountSettings {
                name: format!("account {id}"),
                preapprove: true,
                domain: None,
                groups: vec![],
            },
            certificate_pem: "CERT".into(),
            created_at: "t".into(),
            created_by: "admin".into(),
            token: with_token.then(|| TokenInfo {
                consumer_key: format!("CK_{id}"),
                access_token_expiry: "later".into(),
                expiry_epoch: epoch_now() + 86_400,
                server_name: None,
                server_uuid: None,
                org_name: None,
                admin_id: None,
                uploaded_at: "t".into(),
                uploaded_by: "admin".into(),
            }),
            full_requested: None,
            sync: SyncState::default(),
        };
        app.accounts.create(&account).await.unwrap();
        app.secrets.create(id, "KEY").await.unwrap();
        if *with_token {
            let token = ServerToken {
                consumer_key: format!("CK_{id}"),
                consumer_secret: "CS".into(),
                access_token: "AT".into(),
                access_secret: "AS".into(),
                access_token_expiry: "later".into(),
                expiry_epoch: epoch_now() + 86_400,
            };
            app.secrets.put_token(id, &token).await.unwrap();
        }
    }
    app
}

fn sqs(bodies: &[&str]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| json!({"messageId": format!("m{i}"), "body": b, "attributes": {}, "messageAttributes": {}}))
        .collect();
    json!({ "Records": records })
}

fn job(j: &SyncJob) -> String {
    serde_json::to_string(j).unwrap()
}

const NEVER: &(dyn Fn() -> bool + Send + Sync) = &|| false;

#[tokio::test]
async fn the_schedule_queues_one_job_per_account_with_a_token() {
    let app = app_with(&[("a", true), ("b", false), ("c", true)]).await;
    let schedule = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let Answer::Scheduled { queued } = app.handle(schedule, "inv", NEVER).await.unwrap() else {
        panic!("not a scheduled answer");
    };
    assert_eq!(queued, 2);
    let sent = app.jobs.sent.lock().unwrap().clone();
    let accounts: Vec<_> = sent
        .iter()
        .map(|j| match j {
            SyncJob::Sync {
                account,
                requested: false,
                full: false,
            } => account.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(accounts, ["a", "c"]);
    assert!(app.apple.asked().is_empty(), "the fan-out calls nobody");
}

/// Apple's last fetch page, listing one device.
fn one_device_page(serial: &str, family: &str) -> DevicePage {
    DevicePage {
        devices: vec![AdeDevice {
            serial_number: serial.into(),
            device_family: Some(family.into()),
            ..AdeDevice::default()
        }],
        cursor: Some("c1".into()),
        more_to_follow: false,
    }
}

/// The queue's message of an admin's "sync now" of `account`.
fn requested_sync(account: &str) -> String {
    job(&SyncJob::Sync {
        account: account.into(),
        full: false,
        requested: true,
    })
}

#[tokio::test]
async fn a_job_syncs_its_account_and_a_garbled_message_is_dropped() {
    let app = app_with(&[("a", true)]).await;
    app.apple.fetch(Ok(one_device_page("C02ABC", "Mac")));
    let sync = requested_sync("a");
    let Answer::Jobs(r) = app
        .handle(sqs(&[&sync, "{not json"]), "inv", NEVER)
        .await
        .unwrap()
    else {
        panic!("not a jobs answer");
    };
    assert!(r.batch_item_failures.is_empty());
    assert!(app.devices.get("C02ABC").is_some());
}

#[tokio::test]
async fn a_run_out_of_time_queues_its_continuation() {
    let app = app_with(&[("a", true)]).await;
    app.apple
        .fetch(Ok(DevicePage {
            devices: vec![],
            cursor: Some("f1".into()),
            more_to_follow: true,
        }))
        .fetch(Ok(DevicePage {
            devices: vec![],
            cursor: Some("f2".into()),
            more_to_follow: false,
        }));
    let late = AtomicBool::new(true);
    let out_of_time = move || late.load(Ordering::SeqCst);
    let sync = job(&SyncJob::Sync {
        account: "a".into(),
        full: false,
        requested: false,
    });
    app.handle(sqs(&[&sync]), "inv", &out_of_time)
        .await
        .unwrap();
    let sent = app.jobs.sent.lock().unwrap().clone();
    assert_eq!(
        sent,
        [SyncJob::Sync {
            account: "a".into(),
            full: false,
            requested: true
        }]
    );
}

#[tokio::test]
async fn a_purge_removes_the_accounts_own_pre_approvals() {
    let app = app_with(&[("a", true)]).await;
    app.apple.fetch(Ok(one_device_page("DMP1", "iPad")));
    let sync = requested_sync("a");
    app.handle(sqs(&[&sync]), "inv", NEVER).await.unwrap();
    assert!(app.devices.get("DMP1").is_some());
    let purge = job(&SyncJob::Purge {
        account: "a".into(),
    });
    app.handle(sqs(&[&purge]), "inv2", NEVER).await.unwrap();
    assert!(app.devices.get("DMP1").is_none());
}

#[tokio::test]
async fn a_failed_store_write_returns_the_message_to_the_queue() {
    let app = app_with(&[("a", true)]).await;
    app.apple.fetch(Ok(DevicePage {
        devices: vec![AdeDevice {
            serial_number: "X1".into(),
            device_family: Some("iPhone".into()),
            ..AdeDevice::default()
        }],
        cursor: Some("c1".into()),
        more_to_follow: false,
    }));
    *app.devices.fail_upsert_at.lock().unwrap() = Some(1);
    let sync = job(&SyncJob::Sync {
        account: "a".into(),
        full: false,
        requested: false,
    });
    let Answer::Jobs(r) = app.handle(sqs(&[&sync]), "inv", NEVER).await.unwrap() else {
        panic!("not a jobs answer");
    };
    assert_eq!(r.batch_item_failures.len(), 1);
    assert_eq!(r.batch_item_failures[0].item_identifier, "m0");
}
