//! Nothing is sent for a device that is gone or changed (issue 27, item 3):
//! the sender checks the device an invite is for before it sends, and an
//! invite whose device no longer wants it becomes `cancelled`, with why.

use std::time::Duration;

use super::*;
use crate::domain::Expiry;
use crate::records::{DeviceInvite, DeviceRecord, DeviceStatus};

fn cancelled() -> InviteState {
    InviteState::parse("cancelled").expect("a `cancelled` invite state")
}

impl World {
    fn change_device(&self, serial: &str, change: impl FnOnce(&mut DeviceRecord)) {
        change(self.outbox.devices.lock().unwrap().get_mut(serial).unwrap());
    }

    fn remove_device(&self, serial: &str) {
        self.outbox.devices.lock().unwrap().remove(serial);
    }

    fn reason(&self, row: u64) -> Option<String> {
        self.record_of(row).reason
    }

    async fn counted(&self, n: u64) -> serde_json::Value {
        serde_json::to_value(self.outbox.tally(ORIGIN, n).await.unwrap()).unwrap()
    }
}

#[tokio::test(start_paused = true)]
async fn an_invite_whose_device_is_gone_or_changed_is_cancelled_with_why_and_never_sent() {
    let w = World::new(100.0);
    let batch = w.record(8).await;
    let now = crate::clock::epoch_now();
    // Row 1: removed (DELETE /v1/devices/{serial}, or its import undone).
    w.remove_device("SN1");
    // Row 2: enrolled before its invite went.
    w.change_device("SN2", |d| d.status = DeviceStatus::Enrolled);
    // Row 3: its pre-approval lapsed, not yet marked by the sweep; row 4: marked.
    w.change_device("SN3", |d| d.expires = Some(Expiry::from_epoch(now - 1)));
    w.change_device("SN4", |d| d.status = DeviceStatus::Expired);
    // Row 5: imported again, with the new import's invite.
    let other = InviteRef::new("imp-2", 9).tag();
    w.change_device("SN5", |d| {
        d.invite = Some(DeviceInvite {
            reference: other.clone(),
            state: InviteState::Queued,
        })
    });
    // Row 6: imported again with Invite = none: the device holds no invite.
    w.change_device("SN6", |d| d.invite = None);
    // Row 7: still current, expiring later; row 8: still current.
    w.change_device("SN7", |d| d.expires = Some(Expiry::from_epoch(now + 3600)));

    let verdicts = w.deliver(batch).await;
    assert!(
        verdicts.iter().all(|(_, v)| *v == Verdict::Done),
        "{verdicts:?}"
    );
    assert_eq!(
        w.sent_to(),
        ["u7@x.com", "u8@x.com"],
        "only the current ones"
    );
    let why = [
        (1, "DeviceRemoved"),
        (2, "DeviceEnrolled"),
        (3, "PreApprovalExpired"),
        (4, "PreApprovalExpired"),
        (5, "InviteReplaced"),
        (6, "InviteReplaced"),
    ];
    for (row, reason) in why {
        assert_eq!(w.state(row), cancelled(), "row {row}");
        assert_eq!(w.reason(row).as_deref(), Some(reason), "row {row}");
        assert_eq!(w.record_of(row).token, None, "row {row}: no claim left");
    }
    assert_eq!(
        (w.state(7), w.state(8)),
        (InviteState::Sent, InviteState::Sent)
    );
    // A device this invite is still the latest of shows it cancelled; one
    // that has another invite, or none since its reset, is left as it is.
    assert_eq!(w.shown("SN2"), Some(cancelled()));
    assert_eq!(w.shown("SN3"), Some(cancelled()));
    let five = w.outbox.devices.lock().unwrap()["SN5"]
        .invite
        .clone()
        .unwrap();
    assert_eq!((five.reference, five.state), (other, InviteState::Queued));
    assert_eq!(
        w.shown("SN6"),
        None,
        "a device without an invite is not pointed back to this one"
    );
    let t = w.counted(8).await;
    assert_eq!(
        (
            t["cancelled"].as_u64(),
            t["sent"].as_u64(),
            t["queued"].as_u64()
        ),
        (Some(6), Some(2), Some(0)),
        "{t}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_repeated_delivery_of_a_cancelled_invite_does_nothing() {
    let w = World::new(100.0);
    let batch = w.record(2).await;
    w.remove_device("SN1");
    w.deliver(batch.clone()).await;
    assert_eq!(w.state(1), cancelled());
    let before = w.record_of(1);
    // SQS delivers at least once: the same messages again, three times.
    for _ in 0..3 {
        let again = w.deliver(batch.clone()).await;
        assert!(again.iter().all(|(_, v)| *v == Verdict::Done), "{again:?}");
    }
    let after = w.record_of(1);
    assert_eq!(
        (after.state, after.attempt, after.reason, after.token),
        (before.state, before.attempt, before.reason, before.token),
        "the record is as the first delivery left it"
    );
    assert_eq!(w.sent_to(), ["u2@x.com"]);
    assert_eq!(
        w.sender.tries("u1@x.com"),
        0,
        "never handed to the provider"
    );
    let t = w.counted(2).await;
    assert_eq!(
        (
            t["cancelled"].as_u64(),
            t["sent"].as_u64(),
            t["queued"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "counted once: {t}"
    );
}

/// At a low quota an invite claimed early waits seconds for its place in the
/// rate: a device removed meanwhile is seen just before the send.
#[tokio::test(start_paused = true)]
async fn a_device_removed_while_its_invite_waits_for_the_rate_is_not_sent() {
    let w = World::new(1.0);
    let batch = w.record(4).await;
    let devices = w.outbox.devices.clone();
    let remove = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        devices.lock().unwrap().remove("SN4");
    });
    let verdicts = w.deliver(batch).await;
    remove.await.unwrap();
    assert!(
        verdicts.iter().all(|(_, v)| *v == Verdict::Done),
        "{verdicts:?}"
    );
    assert_eq!(w.sent_to(), ["u1@x.com", "u2@x.com", "u3@x.com"]);
    assert_eq!(w.state(4), cancelled());
    assert_eq!(w.reason(4).as_deref(), Some("DeviceRemoved"));
}

/// A sender that dies after it found the device gone, before it wrote
/// anything, leaves its claim: once the claim expires, the next delivery of
/// the message settles the invite as any claim whose sender died
/// (`unconfirmed`: a claim does not tell how far its holder got). One whose
/// write of `cancelled` merely failed gives its claim back, and the next
/// delivery cancels the invite. Neither is ever sent.
#[tokio::test(start_paused = true)]
async fn a_crash_between_the_check_and_its_write_is_settled_by_the_retry() {
    let w = World::new(100.0);
    let batch = w.record(2).await;
    w.remove_device("SN1");
    w.remove_device("SN2");
    let (one, two) = (vec![batch[0].clone()], vec![batch[1].clone()]);
    // Row 1: the sender dies: neither the cancellation nor the claim's return is written.
    *w.outbox.fail_transitions.lock().unwrap() = 2;
    let first = w.deliver(one.clone()).await;
    assert!(matches!(first[0].1, Verdict::RetryAfter(_)), "{first:?}");
    assert_eq!(w.state(1), InviteState::Sending, "its claim is left");
    // Row 2: the write of `cancelled` fails, the claim goes back.
    *w.outbox.fail_transitions.lock().unwrap() = 1;
    let first = w.deliver(two.clone()).await;
    assert!(matches!(first[0].1, Verdict::RetryAfter(_)), "{first:?}");
    assert_eq!(w.state(2), InviteState::Queued, "its claim went back");

    let retry = w.deliver(two.clone()).await;
    assert_eq!(retry[0].1, Verdict::Done, "{retry:?}");
    assert_eq!(w.state(2), cancelled());
    assert_eq!(w.reason(2).as_deref(), Some("DeviceRemoved"));
    // Row 1's claim holds until it expires, then the retry settles it.
    let held = w.deliver(one.clone()).await;
    assert!(matches!(held[0].1, Verdict::RetryAfter(_)), "{held:?}");
    let expiry = crate::clock::epoch_now() + DeliverConfig::default().claim_seconds + 1;
    *w.outbox.now.lock().unwrap() = expiry;
    let retry = w.deliver(one.clone()).await;
    assert_eq!(retry[0].1, Verdict::Done, "{retry:?}");
    assert_eq!(w.state(1), InviteState::Unconfirmed);
    assert_eq!(w.reason(1).as_deref(), Some("SenderStopped"));
    for _ in 0..2 {
        assert!(w
            .deliver(batch.clone())
            .await
            .iter()
            .all(|(_, v)| *v == Verdict::Done));
    }
    assert_eq!(
        (w.state(1), w.state(2)),
        (InviteState::Unconfirmed, cancelled())
    );
    assert!(w.sender.tried.lock().unwrap().is_empty(), "never sent");
}

/// Cancelled invites take no place in the account's one-second windows, nor
/// make their sender take places for them: a place taken and never used is
/// lost to every sender for that second. Nine cancelled, then the one sent:
/// one place (a sender takes places ahead for the batch's invites not yet
/// claimed, and no more once they are known).
#[tokio::test(start_paused = true)]
async fn cancelled_invites_take_no_place_in_the_rate() {
    let w = World::new(5.0);
    let batch = w.record(10).await;
    for row in 1..=9 {
        w.remove_device(&format!("SN{row}"));
    }
    w.deliver(batch).await;
    assert_eq!(w.sent_to(), ["u10@x.com"]);
    let taken: u32 = w.windows.taken.lock().unwrap().values().sum();
    assert_eq!(taken, 1, "one place, for the one send");
}
