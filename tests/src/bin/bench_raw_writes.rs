//! The emulator's raw BatchWriteItem ceiling, for `make bench` to put beside
//! the end-to-end import: N rows written as one device item and one user item
//! each, 25 items per request, as many requests in flight as the import uses,
//! with the same client. Prints one JSON line. Keys start with the optional
//! third argument, so that each run adds new items, as an import does, rather
//! than overwriting the previous run's. With a fourth argument `reads`, every
//! 100 rows (the import's chunk) are first looked up through the import's own
//! existence read (a BatchGetItem per 100 keys): the requests `skip` adds.

use std::time::Instant;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use shared::aws::batch::{send_in_batches, MAX_BATCH_WRITE};
use shared::aws::items::{device_item, user_item};
use shared::domain::{Ownership, Platform};
use shared::import::ports::Directory;
use shared::records::{DeviceRecord, DeviceStatus, UserRecord};

#[tokio::main]
async fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let in_flight: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(4);
    let prefix = std::env::args().nth(3).unwrap_or_else(|| "RAW".into());
    let mailbox = prefix.to_lowercase();
    let with_reads = std::env::args().nth(4).as_deref() == Some("reads");
    let devices = std::env::var("DEVICES_TABLE").expect("DEVICES_TABLE");
    let users = std::env::var("USERS_TABLE").expect("USERS_TABLE");
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let mut requests = Vec::with_capacity(rows * 2);
    for i in 0..rows {
        let d = DeviceRecord {
            serial: format!("{prefix}-{i:08}"),
            status: DeviceStatus::PreApproved,
            platform: Platform::Android,
            ownership: Some(Ownership::Corporate),
            email: format!("{mailbox}{i}@example.com"),
            device_name: Some(format!("Device {i}")),
            groups: vec!["Bench".into()],
            password_hash: None,
            import_id: "raw".into(),
            domain: None,
            updated_at: "2026-01-01T00:00:00Z".into(),
            enrollment: None,
            checks: Default::default(),
            invite: None,
            expires: None,
            ade: None,
        };
        let u = UserRecord {
            email: d.email.clone(),
            address: d.email.clone(),
            name: format!("User {i}"),
            sam_account_name: None,
            mobile: None,
            domain: None,
            import_id: "raw".into(),
            updated_at: d.updated_at.clone(),
        };
        for (table, item) in [(&devices, device_item(&d)), (&users, user_item(&u))] {
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("put");
            requests.push((
                table.clone(),
                WriteRequest::builder().put_request(put).build(),
            ));
        }
    }
    let started = Instant::now();
    if with_reads {
        let tables = shared::aws::tables::Tables::from_env().expect("table names");
        let directory = shared::aws::dynamo::DynamoDirectory::new(client.clone(), tables);
        let serials: Vec<String> = (0..rows).map(|i| format!("{prefix}-{i:08}")).collect();
        let emails: Vec<String> = (0..rows)
            .map(|i| format!("{mailbox}{i}@example.com"))
            .collect();
        for (s, e) in serials.chunks(100).zip(emails.chunks(100)) {
            directory.existing(s, e).await.expect("existence read");
        }
    }
    send_in_batches(requests, MAX_BATCH_WRITE, in_flight, |batch| {
        let client = client.clone();
        async move {
            let mut by_table = std::collections::HashMap::<String, Vec<WriteRequest>>::new();
            for (t, r) in batch {
                by_table.entry(t).or_default().push(r);
            }
            let out = client
                .batch_write_item()
                .set_request_items(Some(by_table))
                .send()
                .await
                .map_err(|e| {
                    shared::port_error::PortError::new(
                        "raw write",
                        aws_sdk_dynamodb::error::DisplayErrorContext(e),
                    )
                })?;
            let left = out
                .unprocessed_items
                .unwrap_or_default()
                .into_iter()
                .flat_map(|(t, rs)| rs.into_iter().map(move |r| (t.clone(), r)))
                .collect();
            Ok((left, Vec::<()>::new()))
        }
    })
    .await
    .expect("raw writes");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"rows\": {rows}, \"items\": {}, \"reads\": {with_reads}, \"seconds\": {secs:.3}, \"rows_per_s\": {:.1}}}",
        rows * 2,
        rows as f64 / secs
    );
}
