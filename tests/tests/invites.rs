//! The invite pipeline through the local stack: import -> invite queue ->
//! sender functions (as many as the template's ScalingConfig) -> SES in the
//! emulator, and SES events -> SNS -> SQS -> events function.
//!
//! The SES account (quota, throttling, refused recipients) is the emulator's
//! (`infra/emulator/behaviour/ses_account.py`) and is shared by every test, as an AWS account's
//! quota is shared by every import: each assertion holds whoever else sends.
//!
//! Adversaries: (2) faults — throttled sends, a refused recipient; (3) scale —
//! two imports at once against one account-wide quota. An anonymous caller
//! never reaches the sender (it reads only the queue); the events queue only
//! accepts the events topic (template policy).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use integration_tests::Stack;
use serde_json::json;
use shared::clock::epoch_now;

const HEADER: &str = "Name,Email,Ownership,Serial Number,Platform,Mobile,Password,Device Group\n";

fn file(u: &str, rows: usize) -> String {
    let mut body = String::from(HEADER);
    for i in 0..rows {
        body.push_str(&format!(
            "User {i},{u}-{i}@example.com,corporate,{u}-S{i:04},ios,,,\n"
        ));
    }
    body
}

/// Sends the emulator counted, by epoch second.
fn per_second(account: &serde_json::Value) -> BTreeMap<u64, u64> {
    account["sends_per_second"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(s, n)| (s.parse().unwrap(), n.as_u64().unwrap()))
        .collect()
}

#[tokio::test]
async fn two_imports_at_once_keep_to_the_accounts_quota_and_each_invite_goes_once() {
    // Well below what the emulator can send (~25/s here), so a sender that
    // ignored the quota would be caught by both bounds below.
    const QUOTA: u64 = 5;
    const ROWS: usize = 30;
    let st = Stack::from_env().await;
    st.ses_account(json!({"max_send_rate": QUOTA})).await;
    // Senders read the quota at most once a second locally (60 s in AWS).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let quota_from = epoch_now() + 1;
    let (a, b) = (format!("{}-qa", st.unique()), format!("{}-qb", st.unique()));
    let started = Instant::now();
    let (key_a, key_b) = (format!("imports/{a}.csv"), format!("imports/{b}.csv"));
    tokio::join!(
        st.upload(&key_a, file(&a, ROWS), &[("invite", "email")]),
        st.upload(&key_b, file(&b, ROWS), &[("invite", "email")]),
    );
    for u in [&a, &b] {
        let report = st.wait_for_report(&format!("imports/{u}.csv")).await;
        assert_eq!(report["status"], "completed", "{report:#}");
        assert_eq!(report["invites_queued"], ROWS as u64);
    }
    st.wait_for_invites().await;
    let elapsed = started.elapsed();

    let sent = st.emails_per_recipient().await;
    for u in [&a, &b] {
        for i in 0..ROWS {
            let to = format!("{u}-{i}@example.com");
            assert_eq!(sent.get(&to), Some(&1), "{to}: exactly one invite");
        }
    }
    // 60 invites at 5/s cannot take less than 11 s (12 windows, the first partial).
    assert!(
        elapsed >= Duration::from_secs(11),
        "60 invites in {elapsed:?}: faster than the quota allows"
    );
    // Every send of the account, whoever made it: a send takes its place in
    // the window of the second it was cleared in and may reach SES just after
    // that second turns, so any k seconds hold at most k + 1 windows.
    // Counted from when every sender had the quota (earlier tests sent at theirs).
    let counts = per_second(&st.ses_account(json!({})).await);
    let last = *counts.keys().last().unwrap();
    for start in quota_from..=last.saturating_sub(4) {
        let in_five: u64 = (start..start + 5)
            .map(|s| counts.get(&s).copied().unwrap_or(0))
            .sum();
        assert!(
            in_five <= 6 * QUOTA,
            "{in_five} sends in the 5 s from {start}: above the quota of {QUOTA}/s"
        );
    }
}

#[tokio::test]
async fn a_throttled_send_is_retried_and_a_refused_address_fails_alone() {
    let st = Stack::from_env().await;
    let u = st.unique();
    let refused = format!("{u}-2@example.com");
    let before = st.ses_account(json!({})).await["throttled"]
        .as_u64()
        .unwrap();
    // SES answers the next three sends "Maximum sending rate exceeded", and
    // refuses one recipient for good, as the sandbox refuses an unverified one.
    st.ses_account(json!({"throttle_next": 3, "reject": [refused]}))
        .await;
    let key = format!("imports/{u}.csv");
    st.upload(&key, file(&u, 6), &[("invite", "email")]).await;
    let report = st.wait_for_report(&key).await;
    assert_eq!(report["status"], "completed", "{report:#}");
    st.wait_for_invites().await;

    let after = st.ses_account(json!({})).await["throttled"]
        .as_u64()
        .unwrap();
    assert!(after >= before + 3, "the emulator throttled three sends");
    for i in [0, 1, 3, 4, 5] {
        let to = format!("{u}-{i}@example.com");
        assert_eq!(
            st.emails_to(&to).await.len(),
            1,
            "{to}: sent once after throttling"
        );
        let d = st
            .wait_for_invite_state(&format!("{u}-S{i:04}"), "sent")
            .await;
        assert!(d.invite.is_some());
    }
    assert!(st.emails_to(&refused).await.is_empty());
    st.wait_for_invite_state(&format!("{u}-S0002"), "failed")
        .await;
    let origin = report["import_id"].as_str().unwrap();
    // Row 4 of the file (header is row 1) is the refused one.
    let record = st.invite_record(origin, 4).await.expect("invite record");
    let reason = shared::aws::items::get_s(&record, "reason");
    assert_eq!(
        reason,
        Some("MessageRejected"),
        "the provider's code, never the address"
    );
    // Nor do the sender's logs (the local stack keeps them in .dev/).
    let dev = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.dev");
    for entry in std::fs::read_dir(&dev).expect(".dev").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("function-invite-sender") {
            let log = std::fs::read_to_string(entry.path()).unwrap_or_default();
            assert!(!log.contains(&refused), "{name} names the refused address");
        }
    }
}

#[tokio::test]
async fn a_bounce_event_marks_the_invite_bounced_and_a_stale_one_changes_nothing() {
    let st = Stack::from_env().await;
    let u = st.unique();
    let key = format!("imports/{u}.csv");
    st.upload(&key, file(&u, 2), &[("invite", "email")]).await;
    let report = st.wait_for_report(&key).await;
    let origin = report["import_id"].as_str().unwrap().to_owned();
    st.wait_for_invites().await;
    let bounced = st
        .wait_for_invite_state(&format!("{u}-S0000"), "sent")
        .await;
    let kept = st
        .wait_for_invite_state(&format!("{u}-S0001"), "sent")
        .await;

    let event = |tag: &str, message_id: &str| {
        // The shape of an SES event-publishing record (mail.tags carries the sender's tags).
        json!({
            "eventType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bounceSubType": "NoEmail",
                       "bouncedRecipients": [{"emailAddress": "someone@example.com"}]},
            "mail": {"messageId": message_id, "tags": {"invite": [tag], "attempt": ["1"]}}
        })
    };
    let message_id = |row| {
        let st = &st;
        let origin = origin.clone();
        async move {
            let r = st.invite_record(&origin, row).await.expect("record");
            shared::aws::items::get_s(&r, "message_id")
                .unwrap()
                .to_owned()
        }
    };
    let tag = bounced.invite.as_ref().unwrap().reference.clone();
    // A stale event (another message id) for the second invite: ignored.
    let other = kept.invite.as_ref().unwrap().reference.clone();
    st.publish_ses_event(&event(&other, "not-its-message"))
        .await;
    st.publish_ses_event(&event(&tag, &message_id(2).await))
        .await;
    st.wait_for_invite_state(&format!("{u}-S0000"), "bounced")
        .await;
    let record = st.invite_record(&origin, 2).await.unwrap();
    assert_eq!(
        shared::aws::items::get_s(&record, "reason"),
        Some("Permanent/NoEmail")
    );
    st.wait_for_drained(&st.invite_events_queue_url).await;
    let kept = st.device(&format!("{u}-S0001")).await.unwrap();
    assert_eq!(kept.invite.unwrap().state.as_str(), "sent");
    assert!(!message_id(3).await.is_empty());
}
