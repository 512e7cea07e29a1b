//! The import function in process: SQS batches in, over in-memory ports.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use shared::fakes::{
    MemoryAdmin, MemoryContinuations, MemoryDirectory, MemoryEvents, MemoryImports, MemoryOutbox,
    MemoryQueue, MemoryReports, MemoryUploads,
};
use shared::import::{ImportPorts, RunConfig};
use shared::password::PasswordKey;
use shared::settings::{SettingsPatch, SettingsStore};

use super::{handle, App, EventPorts};

struct Fakes {
    directory: MemoryDirectory,
    records: MemoryImports,
    reports: MemoryReports,
    uploads: MemoryUploads,
    /// The settings, and the invite outbox with its queue and the sender function.
    settings: MemoryAdmin,
    continuations: MemoryContinuations,
    events: MemoryEvents,
}

impl Default for Fakes {
    fn default() -> Self {
        let settings = MemoryAdmin::default();
        // One devices table, as in DynamoDB: the import writes it, the sender reads it.
        let directory = MemoryDirectory {
            devices: settings.devices.clone(),
            ..MemoryDirectory::default()
        };
        Self {
            directory,
            settings,
            records: MemoryImports::default(),
            reports: MemoryReports::default(),
            uploads: MemoryUploads::default(),
            continuations: MemoryContinuations::default(),
            events: MemoryEvents::default(),
        }
    }
}

impl ImportPorts for Fakes {
    type Directory = MemoryDirectory;
    type Records = MemoryImports;
    type Outbox = MemoryOutbox;
    type Queue = MemoryQueue;
    type Reports = MemoryReports;
    type Events = MemoryEvents;
    fn directory(&self) -> &MemoryDirectory {
        &self.directory
    }
    fn records(&self) -> &MemoryImports {
        &self.records
    }
    fn outbox(&self) -> &MemoryOutbox {
        &self.settings.outbox
    }
    fn queue(&self) -> &MemoryQueue {
        &self.settings.queue
    }
    fn reports(&self) -> &MemoryReports {
        &self.reports
    }
    fn events(&self) -> &MemoryEvents {
        &self.events
    }
}

impl EventPorts for Fakes {
    type Uploads = MemoryUploads;
    type Settings = MemoryAdmin;
    type Continuations = MemoryContinuations;
    fn uploads(&self) -> &MemoryUploads {
        &self.uploads
    }
    fn settings(&self) -> &MemoryAdmin {
        &self.settings
    }
    fn continuations(&self) -> &MemoryContinuations {
        &self.continuations
    }
}

const FILE: &str = "Name,Email,Ownership,Serial Number,Platform\n\
    Ann,ann@example.com,corporate,S-1,ios\n\
    Bob,bob@example.com,personal,S-2,android\n\
    Cy,cy@example.com,corporate,S-3,macos\n\
    Di,di@example.com,corporate,S-4,ios\n\
    Ed,ed@example.com,corporate,S-5,ios\n\
    Fay,fay@example.com,corporate,S-6,tvos\n";

fn app() -> App<Fakes> {
    App {
        ports: Fakes::default(),
        run: RunConfig {
            chunk_rows: 2,
            password_key: Some(PasswordKey::new(vec![7u8; 32]).unwrap()),
            ..RunConfig::default()
        },
        max_receives: 5,
    }
}

fn s3_event(key: &str) -> String {
    json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": 1}}}]})
    .to_string()
}

fn message(id: &str, body: &str, receives: u64) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.to_owned());
    m.body = Some(body.to_owned());
    m.attributes
        .insert("ApproximateReceiveCount".into(), receives.to_string());
    m
}

/// A batch, with `ms_left` before the invocation's deadline.
async fn deliver(app: &App<Fakes>, messages: Vec<SqsMessage>, ms_left: u64) -> Vec<String> {
    let mut payload = SqsEvent::default();
    payload.records = messages;
    let mut context = Context::default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    context.deadline = now.as_millis() as u64 + ms_left;
    let response = handle(app, LambdaEvent::new(payload, context)).await;
    response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

/// The JSON report of the one import of the upload at `key` (`imports/...`).
fn report(app: &App<Fakes>, key: &str) -> Value {
    let prefix = format!("reports/{}/", key.trim_start_matches("imports/"));
    let objects = app.ports.reports.objects.lock().unwrap();
    let mut reports = objects
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix) && k.ends_with(".json"));
    let (_, body) = reports.next().expect("a report");
    assert!(reports.next().is_none(), "one import of {key}");
    serde_json::from_slice(body).unwrap()
}

#[tokio::test]
async fn an_upload_runs_with_its_metadata_and_the_admins_sender() {
    let app = app();
    let patch: SettingsPatch =
        serde_json::from_value(json!({"invite_sender": "it@corp.example"})).unwrap();
    let (next, changes) = shared::settings::Settings::default().apply(&patch).unwrap();
    assert!(app
        .ports
        .settings
        .save(&next, 0, &changes, "admin")
        .await
        .unwrap());
    app.ports.uploads.put(
        "b",
        "imports/q3 list.csv",
        FILE,
        &[("domain", "corp.example")],
    );
    let failed = deliver(
        &app,
        vec![message("m1", &s3_event("imports/q3+list.csv"), 1)],
        900_000,
    )
    .await;
    assert!(failed.is_empty(), "{failed:?}");
    let r = report(&app, "imports/q3 list.csv");
    assert_eq!(
        (r["status"].as_str(), r["devices_written"].as_u64()),
        (Some("completed"), Some(6))
    );
    assert_eq!(r["options"]["domain"], "corp.example");
    {
        let devices = app.ports.directory.devices.lock().unwrap();
        assert_eq!(devices["S-1"].domain.as_deref(), Some("corp.example"));
    }
    app.ports.settings.deliver_invites().await;
    {
        let origins = app.ports.settings.sender.origins.lock().unwrap();
        assert_eq!(
            origins.len(),
            6,
            "one invite per row, by email (the default)"
        );
        assert_eq!(
            origins[0].sender, "it@corp.example",
            "the admin's sender wins"
        );
        assert_eq!(origins[0].enrollment_url, "https://deploy.example/enroll");
    }
    // The same event again finds the import finished: nothing is sent twice.
    let failed = deliver(
        &app,
        vec![message("m1", &s3_event("imports/q3+list.csv"), 2)],
        900_000,
    )
    .await;
    assert!(failed.is_empty());
    assert!(app.ports.settings.queue.messages.lock().unwrap().is_empty());
    assert_eq!(app.ports.settings.sender.sent.lock().unwrap().len(), 6);
}

#[tokio::test]
async fn test_events_are_acknowledged_and_other_bodies_retried() {
    let app = app();
    let test_event =
        json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}).to_string();
    let failed = deliver(
        &app,
        vec![
            message("t", &test_event, 1),
            message("x", "not an event", 1),
        ],
        900_000,
    )
    .await;
    assert_eq!(failed, ["x"]);
    assert!(app.ports.reports.objects.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_last_failed_delivery_records_the_import_as_failed() {
    let app = app();
    // The object is gone: every delivery fails; only the last one says so.
    let body = s3_event("imports/gone.csv");
    assert_eq!(
        deliver(&app, vec![message("m", &body, 4)], 900_000).await,
        ["m"]
    );
    assert!(app.ports.reports.objects.lock().unwrap().is_empty());
    assert_eq!(
        deliver(&app, vec![message("m", &body, 5)], 900_000).await,
        ["m"]
    );
    let r = report(&app, "imports/gone.csv");
    assert_eq!(r["status"], "failed");
    assert!(r["failure"].as_str().unwrap().contains("5 failed attempts"));
}

#[tokio::test]
async fn an_import_out_of_time_requeues_its_event() {
    let app = app();
    app.ports.uploads.put("b", "imports/slow.csv", FILE, &[]);
    let body = s3_event("imports/slow.csv");
    // Each chunk's write takes 100 ms and the deadline is 200 ms away: a chunk
    // or two, then the time left is inside the reserve kept for the checkpoint.
    app.ports
        .directory
        .write_ms
        .store(100, std::sync::atomic::Ordering::Relaxed);
    let failed = deliver(&app, vec![message("m", &body, 1)], 200).await;
    assert!(failed.is_empty(), "a pause is not a failure");
    assert_eq!(
        *app.ports.continuations.queued.lock().unwrap(),
        std::slice::from_ref(&body)
    );
    assert!(
        app.ports.reports.objects.lock().unwrap().is_empty(),
        "not finished"
    );
    // The continuation finishes it without queuing an invite twice.
    app.ports
        .directory
        .write_ms
        .store(0, std::sync::atomic::Ordering::Relaxed);
    assert!(deliver(&app, vec![message("m2", &body, 1)], 900_000)
        .await
        .is_empty());
    assert_eq!(report(&app, "imports/slow.csv")["status"], "completed");
    app.ports.settings.deliver_invites().await;
    assert_eq!(app.ports.settings.sender.sent_rows(), [2, 3, 4, 5, 6, 7]);
}

#[tokio::test]
async fn a_busy_import_is_not_acknowledged_nor_ever_marked_failed() {
    let app = app();
    app.ports.uploads.put("b", "imports/held.csv", FILE, &[]);
    let body = s3_event("imports/held.csv");
    // Another invocation created the record and holds its lease for ten minutes.
    let id = shared::import::ImportObject::new(
        "b",
        "imports/held.csv",
        &shared::files::ObjectVersion::new(Some("v1".into()), None),
    )
    .import_id();
    let state = shared::import::ports::ImportState {
        import_id: id.clone(),
        bucket: "b".into(),
        key: "imports/held.csv".into(),
        version: Some("v1".into()),
        status: shared::import::ImportStatus::Writing,
        options: Default::default(),
        counts: Default::default(),
        rows_done: 0,
        rows_validated: 0,
        skipped: vec![],
        skipped_total: 0,
        created_at: "t".into(),
    };
    app.ports
        .records
        .imports
        .lock()
        .unwrap()
        .insert(id.clone(), state);
    let until = shared::clock::epoch_now() + 600;
    app.ports
        .records
        .leased
        .lock()
        .unwrap()
        .insert(id.clone(), ("other".into(), until));
    // Even on its last delivery: reported as a failure (not acknowledged), not recorded as failed.
    assert_eq!(
        deliver(&app, vec![message("m", &body, 5)], 900_000).await,
        ["m"]
    );
    assert!(app.ports.reports.objects.lock().unwrap().is_empty());
    assert!(app.ports.settings.queue.messages.lock().unwrap().is_empty());
}
