//! Adversary 2 through the stack: the import function's process is killed
//! (SIGKILL, as an out-of-memory kill or a host failure would) at a chosen
//! point. Locally as in Lambda, the invocation fails at once, the process is
//! started again and the relay delivers the event again; the import must then
//! end exactly as an uninterrupted run would.
//!
//! One test function: the crashes are armed per function, so two scenarios
//! running side by side would kill each other's imports.

use integration_tests::Stack;
use serde_json::Value;

const HEADER: &str = "Name,Email,Ownership,Serial Number,Platform,Mobile,Password,Device Group\n";
const ROWS: usize = 1500;

fn file(u: &str) -> String {
    let mut body = String::from(HEADER);
    for i in 0..ROWS {
        body.push_str(&format!(
            "User {i},{u}-{i}@example.com,corporate,{u}-S{i:05},ios,,,Sales\n"
        ));
    }
    body
}

/// The rows whose invites the report calls unconfirmed (in flight at the crash).
fn unconfirmed_rows(report: &Value) -> Vec<u64> {
    report["invite_errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "invite_unconfirmed")
        .filter_map(|e| e["row"].as_u64())
        .collect()
}

async fn crash_and_recover(
    st: &Stack,
    label: &str,
    action: &str,
    count: u64,
    after_bytes: Option<u64>,
) {
    let u = format!("{}-{label}", st.unique());
    let key = format!("imports/{u}.csv");
    let (restarts_before, fired_before) = st.crashes("import").await;
    st.crash("import", action, count, after_bytes).await;
    st.upload(&key, file(&u), &[("invite", "email")]).await;
    let report = st.wait_for_report(&key).await;
    let (restarts, fired) = st.crashes("import").await;
    assert_eq!(fired, fired_before + 1, "{label}: the crash fired");
    assert!(
        restarts > restarts_before,
        "{label}: the process was started again"
    );

    assert_eq!(report["status"], "completed", "{label}: {report:#}");
    assert_eq!(report["devices_written"], ROWS as u64, "{label}");
    assert_eq!(report["users_written"], ROWS as u64, "{label}");
    let unconfirmed = unconfirmed_rows(&report);
    assert_eq!(
        report["invites_sent"].as_u64().unwrap() + unconfirmed.len() as u64,
        ROWS as u64,
        "{label}: every invite sent or reported unconfirmed: {report:#}"
    );
    assert_eq!(report["invites_unconfirmed"], unconfirmed.len() as u64);
    assert!(
        unconfirmed.len() <= 4,
        "{label}: at most the invites in flight"
    );

    let sent = st.emails_per_recipient().await;
    for i in 0..ROWS {
        let to = format!("{u}-{i}@example.com");
        let n = sent.get(&to).copied().unwrap_or(0);
        // Spreadsheet row = index + 2 (header is row 1).
        if unconfirmed.contains(&(i as u64 + 2)) {
            assert!(n <= 1, "{label}: {to} got {n} invites");
        } else {
            assert_eq!(n, 1, "{label}: {to} got {n} invites");
        }
    }
    for i in (0..ROWS).step_by(7).chain([ROWS - 1]) {
        let serial = format!("{u}-S{i:05}");
        let d = st
            .device(&serial)
            .await
            .unwrap_or_else(|| panic!("{label}: {serial} written"));
        assert_eq!(d.email, format!("{u}-{i}@example.com"), "{label}");
        assert_eq!(
            d.import_id,
            report["import_id"].as_str().unwrap(),
            "{label}"
        );
        assert_eq!(
            st.user_name(&d.email).await.as_deref(),
            Some(format!("User {i}").as_str())
        );
    }
}

#[tokio::test]
async fn an_import_killed_anywhere_completes_as_if_it_had_not_been() {
    let st = Stack::from_env().await;
    // Validation: half-way through reading the file (~100 KB) the first time.
    crash_and_recover(&st, "validating", "s3:GetObject", 1, Some(40_000)).await;
    // The write pass: before its third batch of writes.
    crash_and_recover(&st, "writing", "dynamodb:BatchWriteItem", 3, None).await;
    // Invites: before the 431st email leaves.
    crash_and_recover(&st, "inviting", "ses:SendEmail", 431, None).await;
}
