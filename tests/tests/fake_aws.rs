//! The bench's fake AWS endpoint (`integration_tests::fake_aws`) answers the
//! sender's adapters as the services do where the sender depends on it: a
//! claim is taken once, a transition needs its claim's token, SES refuses past
//! its rate and from an unverified sender, transactions on one item conflict.
//! It needs no stack: the fake runs in the test, on a port of its own.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use integration_tests::fake_aws::{run, Fake, Setup};
use shared::aws::messaging::AwsInviteSender;
use shared::aws::outbox::DynamoOutbox;
use shared::domain::{InviteChannel, InviteState};
use shared::outbox::{
    Claimed, Invite, InviteMessage, InviteOrigin, InviteRef, InviteSender, Outbox, OutboxEntry,
    SendError, Transition,
};

async fn fake(quota: f64, delays_ms: (u64, u64, u64)) -> (Arc<Fake>, aws_config::SdkConfig) {
    let fake = Arc::new(Fake::new(Setup {
        tables: vec![
            ("imports".into(), vec!["import_id".into(), "sk".into()]),
            ("devices".into(), vec!["serial".into()]),
        ],
        queues: vec!["invites".into()],
        visibility_timeout_s: 360,
        redeliver_every: 0,
        sender: "no-reply@example.com".into(),
        configuration_set: None,
        quota_per_s: quota,
        delays_ms,
    }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    tokio::spawn(run(listener, fake.clone()));
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
        .load()
        .await;
    (fake, sdk)
}

fn outbox(sdk: &aws_config::SdkConfig) -> DynamoOutbox {
    DynamoOutbox {
        client: aws_sdk_dynamodb::Client::new(sdk),
        table: "imports".into(),
        devices_table: "devices".into(),
        sealer: None,
        retention_days: 90,
    }
}

fn invite(row: u64) -> Invite {
    Invite {
        row,
        channel: InviteChannel::Email,
        to: format!("fake{row}@example.com"),
        user_name: format!("User {row}"),
        serial: format!("FAKE{row:06}"),
        device_name: None,
        platform: "ios",
        password: None,
    }
}

/// The outcome a sender records once the provider accepted the invite.
fn sent<'a>(r: &'a InviteRef, token: &'a str, message_id: &'a str) -> Transition<'a> {
    Transition {
        invite: r,
        attempt: 1,
        from: InviteState::Sending,
        to: InviteState::Sent,
        token: Some(token),
        message_id: Some(message_id),
        reason: None,
    }
}

/// Invites of `origin` at `rows`, recorded and claimed (attempt 1, token "t").
async fn recorded_and_claimed(outbox: &DynamoOutbox, origin: &str, rows: &[u64]) -> Vec<InviteRef> {
    let entries: Vec<_> = rows
        .iter()
        .map(|&row| OutboxEntry {
            origin: origin.into(),
            invite: invite(row),
        })
        .collect();
    outbox.record(&entries).await.expect("recorded");
    let until = shared::clock::epoch_now() + 120;
    let refs: Vec<_> = rows
        .iter()
        .map(|&row| InviteRef::new(origin, row))
        .collect();
    for r in &refs {
        outbox.claim(r, 1, "t", until).await.expect("claimed");
    }
    refs
}

#[tokio::test]
async fn a_claim_is_taken_once_and_its_outcome_needs_its_token() {
    let (_fake, sdk) = fake(100.0, (0, 0, 0)).await;
    let outbox = outbox(&sdk);
    let entry = OutboxEntry {
        origin: "o1".into(),
        invite: invite(2),
    };
    assert_eq!(
        outbox
            .record(std::slice::from_ref(&entry))
            .await
            .expect("recorded"),
        vec![None]
    );
    assert_eq!(
        outbox.record(&[entry]).await.expect("answered"),
        vec![Some(InviteState::Queued)],
        "a replayed record finds the first"
    );
    let r = InviteRef::new("o1", 2);
    let until = shared::clock::epoch_now() + 120;
    assert!(matches!(
        outbox.claim(&r, 1, "a", until).await.expect("claimed"),
        Claimed::Owned(_)
    ));
    assert!(matches!(
        outbox.claim(&r, 1, "b", until).await.expect("answered"),
        Claimed::Held { .. }
    ));
    assert!(matches!(
        outbox.claim(&r, 2, "b", until).await.expect("answered"),
        Claimed::OtherAttempt { attempt: 1 }
    ));
    assert!(!outbox
        .transition(&sent(&r, "b", "m1"))
        .await
        .expect("answered"));
    assert!(outbox
        .transition(&sent(&r, "a", "m1"))
        .await
        .expect("recorded"));
    assert!(
        !outbox
            .transition(&sent(&r, "a", "m1"))
            .await
            .expect("answered"),
        "once"
    );
    let tally = outbox.tally("o1", 1).await;
    assert!(
        tally.is_err(),
        "Query is not served: the fake refuses what it cannot judge"
    );
}

#[tokio::test]
async fn ses_refuses_past_its_rate_and_from_an_unverified_sender() {
    let (fake, sdk) = fake(2.0, (0, 0, 0)).await;
    let sender = AwsInviteSender {
        ses: aws_sdk_sesv2::Client::new(&sdk),
        sns: aws_sdk_sns::Client::new(&sdk),
        configuration_set: None,
    };
    let origin = InviteOrigin {
        sender: "no-reply@example.com".into(),
        enrollment_url: "https://enroll.example.com/".into(),
    };
    let msg = |row| InviteMessage {
        origin: "o2".into(),
        row,
        attempt: 1,
    };
    let mut results = Vec::new();
    for row in 2..5 {
        results.push(sender.send(&invite(row), &origin, &msg(row)).await);
    }
    assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
    assert_eq!(
        results[2],
        Err(SendError::Retry("TooManyRequestsException".into())),
        "a third in the same second is throttled"
    );
    let stranger = InviteOrigin {
        sender: "someone@example.org".into(),
        ..origin
    };
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(
        sender.send(&invite(9), &stranger, &msg(9)).await,
        Err(SendError::Refused {
            code: "MessageRejected".into()
        })
    );
    let stats = fake.ses.lock().expect("ses").stats();
    assert_eq!(stats["accepted"], 2);
    assert_eq!(stats["throttled"], 1);
    assert_eq!(stats["duplicates"], 0);
}

#[tokio::test]
async fn transactions_on_one_counter_conflict_and_are_retried() {
    // 50 ms a call: two transitions at once hold the same counter item.
    let (fake, sdk) = fake(100.0, (50, 0, 0)).await;
    let outbox = outbox(&sdk);
    // Two rows on one counter item (row % SHARDS).
    let refs = recorded_and_claimed(&outbox, "o3", &[2, 2 + shared::aws::outbox::SHARDS]).await;
    let (a, b) = (sent(&refs[0], "t", "m"), sent(&refs[1], "t", "m"));
    let (a, b) = tokio::join!(outbox.transition(&a), outbox.transition(&b));
    assert!(a.expect("recorded") && b.expect("recorded"));
    let stats = fake.dynamo.lock().expect("dynamo").stats();
    assert!(
        stats["transaction_conflicts"].as_u64() >= Some(1),
        "{stats}"
    );
    assert_eq!(stats["tables"]["imports"]["states"]["sent"], 2);
}

#[tokio::test]
async fn many_transitions_on_one_counter_all_record() {
    // Twelve senders recording outcomes on one counter item at once: before
    // the jittered backoff they retried in step and met again, and half of
    // them gave up (a sent invite left to turn `unconfirmed`).
    let (fake, sdk) = fake(100.0, (5, 0, 0)).await;
    let outbox = outbox(&sdk);
    let shards = shared::aws::outbox::SHARDS;
    let rows: Vec<u64> = (0..12).map(|k| 2 + k * shards).collect();
    let refs = recorded_and_claimed(&outbox, "o4", &rows).await;
    let transitions: Vec<_> = refs.iter().map(|r| sent(r, "t", "m")).collect();
    let results = futures::future::join_all(transitions.iter().map(|t| outbox.transition(t))).await;
    assert!(results.iter().all(|r| matches!(r, Ok(true))), "{results:?}");
    let stats = fake.dynamo.lock().expect("dynamo").stats();
    assert_eq!(stats["tables"]["imports"]["states"]["sent"], 12);
}
