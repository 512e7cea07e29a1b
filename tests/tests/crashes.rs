//! Adversary 2 through the stack: a function's process is killed (SIGKILL,
//! as an out-of-memory kill or a host failure would) at a chosen point: the
//! import while it validates or writes, the invite sender while it sends,
//! the admin between an approval and its invite. Locally as in Lambda, the
//! invocation fails at once, the process is started again and the relay
//! delivers the event again; the result must be what an uninterrupted run
//! gives, and no invite may go out twice.
//!
//! One test function: the crashes are armed per function, so two scenarios
//! running side by side would kill each other's work (and the approvals
//! need "Pre-approved Devices Only", which every other test leaves off).

use integration_tests::admin::Admin;
use integration_tests::Stack;
use serde_json::json;

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

async fn crash_and_recover(
    st: &Stack,
    label: &str,
    function: &str,
    action: &str,
    count: u64,
    after_bytes: Option<u64>,
) {
    let u = format!("{}-{label}", st.unique());
    let key = format!("imports/{u}.csv");
    let (restarts_before, fired_before) = st.crashes(function).await;
    // Invites the senders may have had in flight when they died: the crash
    // kills every instance, each holding a batch (the template's
    // ScalingConfig and BatchSize; 20 x 10 since issue 27 item 5).
    let in_flight = st.sqs_messages_at_once("invite-sender").await;
    st.crash(function, action, count, after_bytes).await;
    st.upload(&key, file(&u), &[("invite", "email")]).await;
    let report = st.wait_for_report(&key).await;
    st.wait_for_invites().await;
    let (restarts, fired) = st.crashes(function).await;
    assert_eq!(fired, fired_before + 1, "{label}: the crash fired");
    assert!(
        restarts > restarts_before,
        "{label}: the process was started again"
    );

    assert_eq!(report["status"], "completed", "{label}: {report:#}");
    assert_eq!(report["devices_written"], ROWS as u64, "{label}");
    assert_eq!(report["users_written"], ROWS as u64, "{label}");
    assert_eq!(report["invites_queued"], ROWS as u64, "{label}");
    let states = st
        .invite_states(report["import_id"].as_str().unwrap())
        .await;
    assert_eq!(states.len(), ROWS, "{label}: one invite record per row");
    let unconfirmed: Vec<u64> = states
        .iter()
        .filter(|(_, s)| *s == "unconfirmed")
        .map(|(row, _)| *row)
        .collect();
    assert!(
        states.values().all(|s| s == "sent" || s == "unconfirmed"),
        "{label}: every invite sent or unconfirmed: {states:?}"
    );
    assert!(
        unconfirmed.len() <= in_flight,
        "{label}: at most the {in_flight} invites in flight: {unconfirmed:?}"
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
    // The undo's material: one before-image per device, none lost or doubled by the replay.
    let mut images = st
        .device_images(report["import_id"].as_str().unwrap())
        .await;
    images.sort();
    let serials: Vec<String> = (0..ROWS).map(|i| format!("{u}-S{i:05}")).collect();
    assert_eq!(images, serials, "{label}: one before-image per device");
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

/// The admin approves a blocked device and its process dies at the approval's
/// transaction: before it (nothing committed: the admin's retry approves, one
/// invite), or once DynamoDB has answered it (committed, the answer lost: the
/// retry finds it approved, and the invite queued before the commit still
/// goes, once).
async fn approval_crash(a: &Admin, label: &str, after_bytes: Option<u64>) {
    let st = &a.st;
    let u = format!("{}-{label}", st.unique());
    let serial = format!("{u}-BLOCKED");
    let attempt = json!({"serial_number": serial, "platform": "ios"}).to_string();
    let (_, d) = st.post(&st.admission_url, attempt.clone()).await;
    assert_eq!(d["decision"], "deny", "{label}: {d}");
    let denials = a.get("/admission-denials").await;
    let id = denials["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["serial_number"] == serial.as_str())
        .and_then(|d| d["id"].as_str())
        .expect("the blocked attempt is listed")
        .to_owned();
    let email = format!("{u}@example.com");
    let approve =
        json!({"name": "New User", "email": email, "ownership": "corporate", "invite": "email"});
    let path = format!("/admission-denials/{id}/approve");

    let (restarts_before, fired_before) = st.crashes("admin").await;
    st.crash("admin", "dynamodb:TransactWriteItems", 1, after_bytes)
        .await;
    // Raw: a crashed invocation's answer is Lambda's error, not the API's.
    let crashed = st
        .http
        .post(format!("{}{path}", a.base))
        .bearer_auth(&a.token)
        .header("content-type", "application/json")
        .body(approve.to_string())
        .send()
        .await
        .expect("admin API");
    assert!(
        crashed.status().is_server_error(),
        "{label}: the approval's invocation failed: {}",
        crashed.status()
    );
    let (restarts, fired) = st.crashes("admin").await;
    assert_eq!(fired, fired_before + 1, "{label}: the crash fired");
    assert!(restarts > restarts_before, "{label}: admin started again");

    // The admin tries again, as the page's error tells them to.
    let (status, v) = a.send("POST", &path, approve).await;
    match after_bytes {
        None => assert_eq!(status, 200, "{label}: nothing was committed: {v}"),
        Some(_) => assert_eq!(status, 409, "{label}: approved already: {v}"),
    }
    st.wait_for_invites().await;
    st.wait_for_invite_state(&serial, "sent").await;
    assert_eq!(
        st.emails_to(&email).await.len(),
        1,
        "{label}: exactly one invite"
    );
    let (_, d) = st.post(&st.admission_url, attempt).await;
    assert_eq!(d["reason"], "pre_approved", "{label}: {d}");
}

#[tokio::test]
async fn an_import_killed_anywhere_completes_as_if_it_had_not_been() {
    let st = Stack::from_env().await;
    // A quota that sends 1,500 invites in seconds, not the 107 s of a new account's 14/s.
    st.ses_account(serde_json::json!({"max_send_rate": 200}))
        .await;
    // Validation: half-way through reading the file (~100 KB) the first time.
    crash_and_recover(&st, "validating", "import", "s3:GetObject", 1, Some(40_000)).await;
    // The write pass: before its third batch of writes (users and their before-images).
    crash_and_recover(&st, "writing", "import", "dynamodb:BatchWriteItem", 3, None).await;
    // Its devices: the fifth transaction committed, its answer lost (issue 27).
    crash_and_recover(
        &st,
        "devices",
        "import",
        "dynamodb:TransactWriteItems",
        5,
        Some(1),
    )
    .await;
    // Invites: the sender, before the 431st email leaves.
    crash_and_recover(&st, "inviting", "invite-sender", "ses:SendEmail", 431, None).await;

    // The admin function, between an approval and its invite.
    let a = Admin::new().await;
    st.set_pre_approved_only(true).await;
    approval_crash(&a, "before-commit", None).await;
    approval_crash(&a, "after-commit", Some(1)).await;
    st.set_pre_approved_only(false).await;
}
