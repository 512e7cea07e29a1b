use std::collections::HashMap;

use super::*;
use crate::fakes::{Answer, MemoryOutbox, MemoryQuota, MemorySender, MemoryWindows};
use crate::outbox::{events, InviteRef, OutboxEntry};

const ORIGIN: &str = "imp-1";

fn invite(row: u64, to: &str, channel: InviteChannel) -> Invite {
    Invite {
        row,
        channel,
        to: to.into(),
        user_name: "Jane".into(),
        serial: format!("SN{row}"),
        device_name: None,
        platform: "macos",
        password: None,
    }
}

struct World {
    outbox: MemoryOutbox,
    windows: MemoryWindows,
    quota: MemoryQuota,
    sender: MemorySender,
    origin: InviteOrigin,
}

impl World {
    fn new(per_second: f64) -> Self {
        Self {
            outbox: MemoryOutbox::default(),
            windows: MemoryWindows::default(),
            quota: MemoryQuota(Some(SendQuota {
                per_second,
                remaining_today: None,
            })),
            sender: MemorySender::default(),
            origin: InviteOrigin {
                sender: "it@example.com".into(),
                enrollment_url: "https://e/".into(),
            },
        }
    }

    async fn record(&self, n: u64) -> Vec<Incoming> {
        let entries: Vec<OutboxEntry> = (1..=n)
            .map(|row| OutboxEntry {
                origin: ORIGIN.into(),
                invite: invite(row, &format!("u{row}@x.com"), InviteChannel::Email),
            })
            .collect();
        self.outbox.record(&entries).await.unwrap();
        self.outbox.add_devices_for(&entries);
        (1..=n).map(|row| message(row, 1)).collect()
    }

    async fn deliver(&self, batch: Vec<Incoming>) -> Vec<(String, Verdict)> {
        let ports = DeliverPorts {
            outbox: &self.outbox,
            windows: &self.windows,
            quota: &self.quota,
            sender: &self.sender,
            origin: &self.origin,
        };
        deliver_batch(batch, &ports, &DeliverConfig::default(), &|| false).await
    }

    fn sent_to(&self) -> Vec<String> {
        self.sender.sent_to()
    }

    fn state(&self, row: u64) -> InviteState {
        self.outbox.state_of(&InviteRef::new(ORIGIN, row)).unwrap()
    }
}

fn message(row: u64, attempt: u32) -> Incoming {
    Incoming {
        id: format!("m{row}-{attempt}"),
        body: serde_json::to_string(&InviteMessage {
            origin: ORIGIN.into(),
            row,
            attempt,
        })
        .unwrap(),
        queued_at: crate::clock::epoch_now(),
    }
}

#[tokio::test(start_paused = true)]
async fn each_invite_goes_once_however_often_its_message_comes() {
    let w = World::new(100.0);
    let mut batch = w.record(5).await;
    batch.push(message(2, 1));
    let verdicts = w.deliver(batch.clone()).await;
    assert!(
        verdicts[..5].iter().all(|(_, v)| *v == Verdict::Done),
        "{verdicts:?}"
    );
    // The copy found the invite claimed by its twin: it comes back later.
    assert!(
        matches!(verdicts[5].1, Verdict::RetryAfter(_)),
        "{verdicts:?}"
    );
    // The whole batch again, as a redelivery would bring it: nothing more is sent.
    let again = w.deliver(batch).await;
    assert!(again.iter().all(|(_, v)| *v == Verdict::Done), "{again:?}");
    assert_eq!(w.sent_to().len(), 5);
    assert!((1..=5).all(|r| w.state(r) == InviteState::Sent));
    assert_eq!(w.outbox.shown("SN3"), Some(InviteState::Sent));
    let tally = w.outbox.tally(ORIGIN, 5).await.unwrap();
    assert_eq!((tally.queued, tally.sent), (0, 5));
}

#[tokio::test(start_paused = true)]
async fn a_throttled_send_is_retried_and_a_refused_one_fails_alone() {
    let mut w = World::new(100.0);
    *w.sender.throttle_first.lock().unwrap() = 2;
    w.sender.refuse = vec!["u3@x.com".into()];
    let batch = w.record(4).await;
    w.deliver(batch).await;
    assert_eq!(w.sent_to(), ["u1@x.com", "u2@x.com", "u4@x.com"]);
    assert_eq!(w.state(3), InviteState::Failed);
    let rec = w.outbox.records.lock().unwrap()[&InviteRef::new(ORIGIN, 3)].clone();
    assert_eq!(rec.reason.as_deref(), Some("address refused"));
    let tally = w.outbox.tally(ORIGIN, 4).await.unwrap();
    assert_eq!((tally.sent, tally.failed, tally.queued), (3, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_send_that_keeps_failing_is_put_back_unclaimed() {
    let w = World::new(100.0);
    w.sender.fail_always.lock().unwrap().push("u1@x.com".into());
    let batch = w.record(2).await;
    let verdicts = w.deliver(batch).await;
    assert_eq!(verdicts[0].1, Verdict::RetryAfter(30));
    assert_eq!(verdicts[1].1, Verdict::Done);
    assert_eq!(w.state(1), InviteState::Queued, "claim given back");
    w.sender.fail_always.lock().unwrap().clear();
    w.deliver(vec![message(1, 1)]).await;
    assert_eq!(w.sent_to(), ["u1@x.com", "u2@x.com"]);
}

impl World {
    fn record_of(&self, row: u64) -> crate::fakes::MemoryRecord {
        self.outbox.records.lock().unwrap()[&InviteRef::new(ORIGIN, row)].clone()
    }

    fn shown(&self, serial: &str) -> Option<InviteState> {
        self.outbox.shown(serial)
    }
}

#[tokio::test(start_paused = true)]
async fn a_send_whose_answer_is_lost_is_unconfirmed_and_never_sent_again() {
    let w = World::new(100.0);
    // Row 1: the provider takes the message and the answer is lost (a
    // timeout after the request went out). Row 2: the same after a throttled
    // try, which did not go out. Row 3: sent.
    w.sender.script("u1@x.com", [Answer::LostAfterSend]);
    w.sender
        .script("u2@x.com", [Answer::Throttle, Answer::LostAfterSend]);
    let batch = w.record(3).await;
    let verdicts = w.deliver(batch.clone()).await;
    assert!(
        verdicts.iter().all(|(_, v)| *v == Verdict::Done),
        "{verdicts:?}"
    );
    assert_eq!(
        (w.sender.tries("u1@x.com"), w.sender.tries("u2@x.com")),
        (1, 2),
        "an unknown outcome is not retried in place"
    );
    for row in [1, 2] {
        assert_eq!(w.state(row), InviteState::Unconfirmed, "row {row}");
        let rec = w.record_of(row);
        assert_eq!(rec.reason.as_deref(), Some("Timeout"));
        assert_eq!(rec.token, None, "the claim is over");
        assert_eq!(w.shown(&format!("SN{row}")), Some(InviteState::Unconfirmed));
    }
    assert_eq!(w.state(3), InviteState::Sent);
    // However often the messages come back, nothing is sent again.
    for _ in 0..3 {
        let again = w.deliver(batch.clone()).await;
        assert!(again.iter().all(|(_, v)| *v == Verdict::Done), "{again:?}");
    }
    assert_eq!(
        (w.sender.tries("u1@x.com"), w.sender.tries("u2@x.com")),
        (1, 2)
    );
    // Each went out exactly once (the provider took the lost ones).
    assert_eq!(w.sent_to(), ["u1@x.com", "u2@x.com", "u3@x.com"]);
    let t = w.outbox.tally(ORIGIN, 3).await.unwrap();
    assert_eq!((t.unconfirmed, t.sent, t.queued), (2, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_permanent_refusal_fails_with_its_code_and_is_not_retried() {
    let w = World::new(100.0);
    w.sender.script(
        "u1@x.com",
        [Answer::Refuse("SendingPausedException".into())],
    );
    let batch = w.record(2).await;
    let verdicts = w.deliver(batch.clone()).await;
    assert_eq!(verdicts[0].1, Verdict::Done, "the message is acknowledged");
    assert_eq!(w.state(1), InviteState::Failed);
    assert_eq!(
        w.record_of(1).reason.as_deref(),
        Some("SendingPausedException")
    );
    assert_eq!(w.shown("SN1"), Some(InviteState::Failed));
    assert_eq!(w.sender.tries("u1@x.com"), 1, "no retry in place");
    // Its message coming back sends nothing.
    let again = w.deliver(batch).await;
    assert!(again.iter().all(|(_, v)| *v == Verdict::Done), "{again:?}");
    assert_eq!(w.sender.tries("u1@x.com"), 1);
    assert_eq!(w.sent_to(), ["u2@x.com"]);
    let t = w.outbox.tally(ORIGIN, 2).await.unwrap();
    assert_eq!((t.failed, t.sent, t.queued), (1, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_throttled_send_is_retried_until_it_goes_once() {
    let w = World::new(100.0);
    let retries = DeliverConfig::default().send_retries as usize;
    // Row 1 is throttled twice, then taken; row 2 more often than the
    // retries in place: its claim is given back and its message comes again.
    w.sender
        .script("u1@x.com", [Answer::Throttle, Answer::Throttle]);
    w.sender
        .script("u2@x.com", vec![Answer::Throttle; retries + 1]);
    let batch = w.record(2).await;
    let verdicts = w.deliver(batch).await;
    assert_eq!(verdicts[0].1, Verdict::Done);
    assert_eq!(verdicts[1].1, Verdict::RetryAfter(30));
    assert_eq!(w.state(1), InviteState::Sent);
    assert_eq!(w.state(2), InviteState::Queued, "claim given back");
    assert_eq!(w.record_of(2).token, None);
    assert_eq!(w.sender.tries("u1@x.com"), 3);
    assert_eq!(w.sender.tries("u2@x.com"), retries + 1);
    let v = w.deliver(vec![message(2, 1)]).await;
    assert_eq!(v[0].1, Verdict::Done);
    assert_eq!(w.state(2), InviteState::Sent);
    assert_eq!(w.sent_to(), ["u1@x.com", "u2@x.com"], "each once");
}

#[tokio::test(start_paused = true)]
async fn a_claim_whose_sender_died_is_unconfirmed_and_never_sent_again() {
    let w = World::new(100.0);
    w.record(1).await;
    let r = InviteRef::new(ORIGIN, 1);
    let now = crate::clock::epoch_now();
    // A sender claimed it and died.
    assert!(matches!(
        w.outbox.claim(&r, 1, "dead", now + 60).await.unwrap(),
        Claimed::Owned(_)
    ));
    // While the claim holds, the message waits.
    let v = w.deliver(vec![message(1, 1)]).await;
    assert!(matches!(v[0].1, Verdict::RetryAfter(s) if s > 1));
    *w.outbox.now.lock().unwrap() = now + 61;
    let v = w.deliver(vec![message(1, 1)]).await;
    assert_eq!(v[0].1, Verdict::Done);
    assert!(w.sent_to().is_empty());
    assert_eq!(w.state(1), InviteState::Unconfirmed);
    assert_eq!(w.outbox.tally(ORIGIN, 1).await.unwrap().unconfirmed, 1);
}

#[tokio::test(start_paused = true)]
async fn a_message_waits_for_its_record_for_a_while_then_is_dropped() {
    let w = World::new(100.0);
    let v = w.deliver(vec![message(9, 1)]).await;
    assert_eq!(v[0].1, Verdict::RetryAfter(10));
    let mut old = message(9, 1);
    old.queued_at -= 301;
    assert_eq!(w.deliver(vec![old]).await[0].1, Verdict::Done);
    // A stale message of an earlier attempt is dropped at once.
    w.record(1).await;
    w.outbox
        .records
        .lock()
        .unwrap()
        .get_mut(&InviteRef::new(ORIGIN, 1))
        .unwrap()
        .attempt = 3;
    assert_eq!(w.deliver(vec![message(1, 2)]).await[0].1, Verdict::Done);
    assert!(w.sent_to().is_empty());
}

#[tokio::test(start_paused = true)]
async fn two_senders_together_keep_to_the_quota() {
    let w = World::new(5.0);
    let batch = w.record(40).await;
    let (a, b) = batch.split_at(20);
    let start = tokio::time::Instant::now();
    tokio::join!(w.deliver(a.to_vec()), w.deliver(b.to_vec()));
    assert_eq!(w.sent_to().len(), 40);
    let windows = w.windows.taken.lock().unwrap().clone();
    assert!(windows.values().all(|n| *n <= 5), "{windows:?}");
    // 40 sends at 5 a second fill 8 windows; the first may start late in its second.
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn an_exhausted_day_quota_puts_email_back_and_an_unreadable_quota_falls_back() {
    let mut w = World::new(10.0);
    w.quota = MemoryQuota(Some(SendQuota {
        per_second: 10.0,
        remaining_today: Some(0.0),
    }));
    let batch = w.record(2).await;
    let v = w.deliver(batch.clone()).await;
    assert!(v.iter().all(|(_, v)| *v == Verdict::RetryAfter(QUOTA_WAIT)));
    assert_eq!(w.state(1), InviteState::Queued);
    w.quota = MemoryQuota(None);
    w.deliver(batch).await;
    assert_eq!(w.sent_to().len(), 2);
    let per_window: HashMap<_, _> = w.windows.taken.lock().unwrap().clone();
    assert!(per_window.values().all(|n| *n <= 1), "fallback: 1 a second");
}

#[tokio::test(start_paused = true)]
async fn an_event_that_overtakes_the_senders_record_waits_for_it() {
    let w = World::new(100.0);
    w.record(1).await;
    let r = InviteRef::new(ORIGIN, 1);
    // The sender has claimed the invite and sent it, but not yet recorded the send.
    let Claimed::Owned(_) = w.outbox.claim(&r, 1, "tok", u64::MAX).await.unwrap() else {
        panic!("claimed");
    };
    let delivered = events::DeliveryEvent {
        invite: r.clone(),
        attempt: 1,
        message_id: "m-1".into(),
        state: InviteState::Delivered,
        reason: None,
    };
    assert_eq!(
        events::apply(&w.outbox, &delivered).await.unwrap(),
        events::Applied::TooEarly
    );
    let sent = Transition {
        invite: &r,
        attempt: 1,
        from: InviteState::Sending,
        to: InviteState::Sent,
        token: Some("tok"),
        message_id: Some("m-1"),
        reason: None,
    };
    assert!(w.outbox.transition(&sent).await.unwrap());
    assert_eq!(
        events::apply(&w.outbox, &delivered).await.unwrap(),
        events::Applied::Changed
    );
    assert_eq!(w.state(1), InviteState::Delivered);
    // An event of an older attempt is not early: it is over.
    let old = events::DeliveryEvent {
        attempt: 0,
        ..delivered
    };
    assert_eq!(
        events::apply(&w.outbox, &old).await.unwrap(),
        events::Applied::Ignored
    );
}

#[tokio::test]
async fn a_device_never_goes_back_to_an_earlier_state_of_the_same_invite() {
    let w = World::new(100.0);
    w.record(1).await;
    let r = InviteRef::new(ORIGIN, 1);
    let shown = || w.outbox.shown("SN1").unwrap();
    // (written, then shown): the events function may write a delivery before
    // the sender writes its send, and a complaint comes after a delivery.
    let steps = [
        (InviteState::Delivered, InviteState::Delivered),
        (InviteState::Sent, InviteState::Delivered),
        (InviteState::Complained, InviteState::Complained),
        (InviteState::Delivered, InviteState::Complained),
        // A resend starts over.
        (InviteState::Queued, InviteState::Queued),
        (InviteState::Sent, InviteState::Sent),
    ];
    for (written, expected) in steps {
        w.outbox.show_on_device("SN1", &r, written).await.unwrap();
        assert_eq!(shown(), expected, "after {written}");
    }
}

#[tokio::test(start_paused = true)]
async fn sms_invites_use_their_own_lane() {
    let w = World::new(100.0);
    let entry = OutboxEntry {
        origin: ORIGIN.into(),
        invite: invite(1, "+14155550100", InviteChannel::Sms),
    };
    w.outbox.record(std::slice::from_ref(&entry)).await.unwrap();
    w.outbox.add_devices_for(&[entry]);
    w.deliver(vec![message(1, 1)]).await;
    assert_eq!(w.sent_to(), ["+14155550100"]);
    let windows = w.windows.taken.lock().unwrap().clone();
    assert!(windows.keys().all(|(c, _)| *c == InviteChannel::Sms));
}

#[tokio::test(start_paused = true)]
async fn a_bounce_moves_a_sent_invite_and_a_stale_event_does_nothing() {
    let w = World::new(100.0);
    let batch = w.record(1).await;
    w.deliver(batch).await;
    let r = InviteRef::new(ORIGIN, 1);
    let id = w.outbox.records.lock().unwrap()[&r]
        .message_id
        .clone()
        .unwrap();
    let event = |message_id: &str, state| events::DeliveryEvent {
        invite: r.clone(),
        attempt: 1,
        message_id: message_id.into(),
        state,
        reason: Some("Permanent/General".into()),
    };
    let outbox = &w.outbox;
    let apply = |e| async move { events::apply(outbox, &e).await.unwrap() };
    assert_eq!(
        apply(event("other", InviteState::Bounced)).await,
        events::Applied::Ignored
    );
    assert_eq!(
        apply(event(&id, InviteState::Delivered)).await,
        events::Applied::Changed
    );
    assert_eq!(
        apply(event(&id, InviteState::Bounced)).await,
        events::Applied::Changed
    );
    assert_eq!(w.state(1), InviteState::Bounced);
    let t = w.outbox.tally(ORIGIN, 1).await.unwrap();
    assert_eq!((t.sent, t.delivered, t.bounced), (0, 0, 1));
    assert_eq!(w.outbox.shown("SN1"), Some(InviteState::Bounced));
}

mod cancelled;
