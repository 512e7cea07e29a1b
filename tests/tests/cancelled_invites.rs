//! Nothing is sent for a device that is gone or changed (issue 27, item 3),
//! through the local stack: an import undone at once while its invites wait
//! for a 1/s quota sends only what was already in flight, and a device
//! removed with `DELETE /v1/devices/{serial}` before its invite went gets
//! none. The rest become `cancelled`, with why; none stays `queued`.
//!
//! A file of its own: it lowers the account's SES quota and holds its rate
//! windows, which the other invite tests (`invites.rs`) would feel. Both
//! tests here hold whatever the other does meanwhile.
//!
//! Adversaries: (2) faults — the device changes while its invite is queued,
//! claimed, or waiting for the rate; (3) scale — 300 invites, of which the
//! senders (20 instances of 10) may hold up to 200 at once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::admin::Admin;
use integration_tests::Stack;
use serde_json::{json, Value};
use shared::clock::epoch_now;

const HEADER: &str = "Name,Email,Ownership,Serial Number,Platform,Mobile,Password,Device Group\n";

fn file(u: &str, rows: usize) -> String {
    let mut body = String::from(HEADER);
    for i in 0..rows {
        body.push_str(&format!(
            "User {i},{u}-{i}@example.com,corporate,{u}-S{i:04},ios,,pw-{i}-long-enough,\n"
        ));
    }
    body
}

async fn finished_import(a: &Admin, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while a.get(&format!("/imports/{id}")).await["status"] != "completed" {
        assert!(Instant::now() < deadline, "import {id} did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn finished_undo(a: &Admin, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let u = a.get(&format!("/imports/{id}/undo")).await;
        if u["status"] == "done" || u["status"] == "failed" {
            return u;
        }
        assert!(
            Instant::now() < deadline,
            "undo of {id} did not finish: {u}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Emails the emulator recorded to this test's recipients (`<u>-<row>@...`).
async fn emails_of(st: &Stack, u: &str) -> BTreeMap<String, usize> {
    st.emails_per_recipient()
        .await
        .into_iter()
        .filter(|(to, _)| to.starts_with(&format!("{u}-")))
        .collect()
}

fn count(states: &BTreeMap<u64, String>, state: &str) -> usize {
    states.values().filter(|s| *s == state).count()
}

#[tokio::test]
async fn an_import_undone_at_once_sends_at_most_the_invites_in_flight() {
    const ROWS: usize = 300;
    let a = Admin::new().await;
    let st = &a.st;
    let quota = st.ses_account(json!({})).await["max_send_rate"]
        .as_f64()
        .unwrap();
    st.ses_account(json!({"max_send_rate": 1})).await;
    // Senders read the quota at most once a second locally (60 s in AWS).
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let u = st.unique();
    let key = format!("imports/{u}.csv");
    let started = Instant::now();
    st.upload(&key, file(&u, ROWS), &[("invite", "email")])
        .await;
    let report = st.wait_for_report(&key).await;
    assert_eq!(report["status"], "completed", "{report:#}");
    assert_eq!(report["invites_queued"], ROWS as u64);
    let id = report["import_id"].as_str().unwrap().to_owned();
    finished_import(&a, &id).await;

    let (status, v) = a
        .send("POST", &format!("/imports/{id}/undo"), json!({}))
        .await;
    assert_eq!(status, 202, "{v}");
    let undo = finished_undo(&a, &id).await;
    assert_eq!(undo["status"], "done", "{undo:#}");
    assert_eq!(undo["counts"]["devices_removed"], ROWS as u64, "{undo:#}");
    let undone_at = epoch_now();
    let undone_after = started.elapsed();
    // In flight once every device is gone: claimed by a sender, or sent.
    let at_undo = st.invite_states(&id).await;
    let in_flight = count(&at_undo, "sending") + count(&at_undo, "sent");
    // The quota back, so that what is left drains at once.
    st.ses_account(json!({"max_send_rate": quota})).await;
    st.wait_for_invites().await;

    let states = st.invite_states(&id).await;
    assert_eq!(states.len(), ROWS, "one record per row");
    let (sent, cancelled) = (count(&states, "sent"), count(&states, "cancelled"));
    assert_eq!(
        sent + cancelled,
        ROWS,
        "every invite sent or cancelled, none queued or sending: {states:?}"
    );
    let emails = emails_of(st, &u).await;
    assert!(
        emails.values().all(|n| *n == 1),
        "each at most once: {emails:?}"
    );
    assert_eq!(
        emails.len(),
        sent,
        "an email for each `sent` invite, no other"
    );
    assert!(
        sent <= in_flight,
        "{sent} sent, but only {in_flight} were in flight when the undo ended"
    );
    // Nothing waited out the undo in a sender's queue: every send was
    // recorded within moments of the undo's end (a send already cleared
    // then, and its answer).
    for (row, state) in &states {
        if state == "sent" {
            let record = st.invite_record(&id, *row).await.unwrap();
            let at = shared::aws::items::get_n(&record, "updated_at");
            assert!(
                at <= undone_at + 5,
                "row {row} sent {} s after the undo ended",
                at - undone_at
            );
        } else {
            let record = st.invite_record(&id, *row).await.unwrap();
            assert_eq!(
                shared::aws::items::get_s(&record, "reason"),
                Some("DeviceRemoved"),
                "row {row}: why"
            );
        }
    }
    let import = a.get(&format!("/imports/{id}")).await;
    assert_eq!(
        (
            import["invites"]["cancelled"].as_u64(),
            import["invites"]["sent"].as_u64(),
            import["invites"]["queued"].as_u64()
        ),
        (Some(cancelled as u64), Some(sent as u64), Some(0)),
        "{:#}",
        import["invites"]
    );
    println!(
        "{ROWS} invites at 1/s, the undo done {undone_after:.1?} after the upload: \
         {in_flight} in flight then, {sent} sent, {cancelled} cancelled"
    );
}

/// The account's e-mail windows for the next `seconds`, taken as if other
/// senders had used them: no e-mail leaves meanwhile (`aws/rate_windows.rs`).
async fn hold_email_windows(st: &Stack, seconds: u64) -> Vec<u64> {
    let from = epoch_now();
    let held: Vec<u64> = (from..from + seconds).collect();
    for second in &held {
        st.dynamo
            .put_item()
            .table_name(&st.imports_table)
            .item("import_id", AttributeValue::S("RATE#email".into()))
            .item("sk", AttributeValue::S(second.to_string()))
            .item("used", AttributeValue::N("1000000".into()))
            .item("expires_at", AttributeValue::N((second + 3600).to_string()))
            .send()
            .await
            .expect("hold a rate window");
    }
    held
}

async fn release_email_windows(st: &Stack, held: &[u64]) {
    for second in held {
        st.dynamo
            .delete_item()
            .table_name(&st.imports_table)
            .key("import_id", AttributeValue::S("RATE#email".into()))
            .key("sk", AttributeValue::S(second.to_string()))
            .send()
            .await
            .expect("release a rate window");
    }
}

/// Each way a device changes before its invite goes, through the stack's own
/// routes where there is one: removed (`DELETE /v1/devices/{serial}`),
/// enrolled (admission, then enrollment), lapsed (its expiry moved into the
/// past, as time would), imported again (a `replace` import with its own
/// invite). Only the untouched device and the new import's invite are sent.
#[tokio::test]
async fn a_device_removed_or_changed_before_its_invite_went_gets_none() {
    let a = Admin::new().await;
    let st = &a.st;
    st.set_pre_approved_only(false).await;
    let u = st.unique();
    let serial = |i: usize| format!("{u}-S{i:04}");
    let to = |i: usize| format!("{u}-{i}@example.com");
    // No e-mail leaves for a minute, unless released: the invites wait, claimed or queued.
    let held = hold_email_windows(st, 60).await;
    let key = format!("imports/{u}.csv");
    st.upload(&key, file(&u, 5), &[("invite", "email")]).await;
    let report = st.wait_for_report(&key).await;
    assert_eq!(report["invites_queued"], 5, "{report:#}");
    let id = report["import_id"].as_str().unwrap().to_owned();

    // Row 0: removed.
    let (status, v) = a
        .call(
            "DELETE",
            &format!("/devices/{}", serial(0)),
            None,
            Some(&a.token),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    // Row 1: enrolled (openly: no password given).
    let asked = json!({"serial_number": serial(1), "platform": "ios"});
    let (_, allowed) = st.post(&st.admission_url, asked.to_string()).await;
    let done = json!({"serial_number": serial(1), "platform": "ios",
                      "enrollment_token": allowed["enrollment_token"]});
    let (status, v) = st.post(&st.enrollments_url, done.to_string()).await;
    assert_eq!(status, 200, "{v}");
    // Row 2: its pre-approval lapsed (not yet swept).
    st.dynamo
        .update_item()
        .table_name(&st.devices_table)
        .key("serial", AttributeValue::S(serial(2)))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(":past", AttributeValue::N((epoch_now() - 1).to_string()))
        .send()
        .await
        .expect("lapse a pre-approval");
    // Row 3: imported again, with the new import's invite.
    let again = format!("imports/{u}-again.csv");
    let row = format!(
        "{HEADER}User 3,{},corporate,{},ios,,pw-new-long-enough,\n",
        to(3),
        serial(3)
    );
    st.upload(
        &again,
        row,
        &[("invite", "email"), ("existing-users", "replace")],
    )
    .await;
    let second = st.wait_for_report(&again).await;
    assert_eq!(second["devices_written"], 1, "{second:#}");
    let second_id = second["import_id"].as_str().unwrap().to_owned();
    // A device changed a moment before its invite's place in the rate is
    // taken may still get it (the sender reads it less than a second
    // before): these changed well before.
    tokio::time::sleep(Duration::from_secs(2)).await;
    release_email_windows(st, &held).await;
    st.wait_for_invites().await;

    let states = st.invite_states(&id).await;
    // Spreadsheet row = index + 2.
    let why = [
        (2, "DeviceRemoved"),
        (3, "DeviceEnrolled"),
        (4, "PreApprovalExpired"),
        (5, "InviteReplaced"),
    ];
    for (row, reason) in why {
        assert_eq!(
            states.get(&row).map(String::as_str),
            Some("cancelled"),
            "row {row}: {states:?}"
        );
        let record = st.invite_record(&id, row).await.unwrap();
        assert_eq!(
            shared::aws::items::get_s(&record, "reason"),
            Some(reason),
            "row {row}"
        );
    }
    assert_eq!(
        states.get(&6).map(String::as_str),
        Some("sent"),
        "{states:?}"
    );
    assert_eq!(
        st.invite_states(&second_id)
            .await
            .get(&2)
            .map(String::as_str),
        Some("sent"),
        "the new import's invite"
    );
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(st.emails_to(&to(i)).await.len());
    }
    assert_eq!(
        sent,
        [0, 0, 0, 1, 1],
        "emails per row: only the new import's and the untouched one"
    );
    let mail = st.emails_to(&to(3)).await[0].to_string();
    assert!(
        mail.contains("pw-new-long-enough") && !mail.contains("pw-3-long-enough"),
        "the new password only"
    );
    assert!(st.device(&serial(0)).await.is_none());
    // The enrolled device shows its invite cancelled; the re-imported one its new one.
    assert_eq!(
        st.device(&serial(1))
            .await
            .unwrap()
            .invite
            .map(|i| i.state.as_str()),
        Some("cancelled")
    );

    // Row 0's message delivered again (SQS delivers at least once): still nothing.
    let message = json!({"origin": id, "row": 2, "attempt": 1}).to_string();
    st.sqs
        .send_message()
        .queue_url(&st.invite_queue_url)
        .message_body(message)
        .send()
        .await
        .expect("queue the message again");
    st.wait_for_invites().await;
    assert!(st.emails_to(&to(0)).await.is_empty());
    assert_eq!(
        st.invite_states(&id).await.get(&2).map(String::as_str),
        Some("cancelled")
    );
}
