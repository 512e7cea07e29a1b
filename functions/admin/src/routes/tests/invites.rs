//! Resending invites: one device's, and an import's refused or unconfirmed ones.

use super::*;

#[tokio::test]
async fn a_device_invite_is_resent_at_most_once_a_minute() {
    let app = app();
    app.ports
        .denials
        .lock()
        .unwrap()
        .push(denial("d1", "S1", "ios", "2026-11-20T10:00:00Z"));
    approve(&app, "d1", "email").await;
    app.ports.deliver_invites().await;
    // Just sent: too soon for another.
    let (status, v) = call(&app, "POST", "/v1/devices/S1/invite", None).await;
    assert_eq!(
        (status, error_of(&v).0),
        (StatusCode::TOO_MANY_REQUESTS, "too_soon")
    );
    // A minute later (the record was queued 61 s ago).
    for rec in app.ports.outbox.records.lock().unwrap().values_mut() {
        rec.queued_at -= 61;
    }
    let (status, v) = call(&app, "POST", "/v1/devices/S1/invite", None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(
        (v["invite_state"].as_str(), v["attempt"].as_u64()),
        (Some("queued"), Some(2))
    );
    let (status, _) = call(&app, "POST", "/v1/devices/S1/invite", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "one resend a minute");
    app.ports.deliver_invites().await;
    assert_eq!(app.ports.sender.sent.lock().unwrap().len(), 2);
    let (status, v) = call(&app, "POST", "/v1/devices/NOPE/invite", None).await;
    assert_eq!(
        (status, error_of(&v).0),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn an_import_resend_picks_bounced_failed_and_unconfirmed_invites_only() {
    use shared::outbox::{Outbox, OutboxEntry, Transition};
    let app = app();
    app.ports.imports.lock().unwrap().push(import(
        "imp",
        "imports/a.csv",
        ImportStatus::Completed,
        "2026-11-01T00:00:00Z",
    ));
    let entries: Vec<OutboxEntry> = (1..=4)
        .map(|row| OutboxEntry {
            origin: "imp".into(),
            invite: shared::outbox::Invite {
                row,
                channel: InviteChannel::Email,
                to: format!("u{row}@x.com"),
                user_name: "U".into(),
                serial: format!("S{row}"),
                device_name: None,
                platform: "ios",
                password: None,
            },
        })
        .collect();
    let outbox = &app.ports.outbox;
    outbox.insert(&entries);
    // As the import wrote them: each device holds its invite.
    outbox.add_devices_for(&entries);
    // Row 1 sent, 2 bounced, 3 failed, 4 unconfirmed; all a while ago.
    let ends = [
        InviteState::Sent,
        InviteState::Bounced,
        InviteState::Failed,
        InviteState::Unconfirmed,
    ];
    for (row, end) in (1..=4).zip(ends) {
        let r = shared::outbox::InviteRef::new("imp", row);
        outbox.claim(&r, 1, "t", u64::MAX).await.unwrap();
        let via_sent = matches!(end, InviteState::Bounced);
        let first = if via_sent { InviteState::Sent } else { end };
        let t = Transition {
            invite: &r,
            attempt: 1,
            from: InviteState::Sending,
            to: first,
            token: Some("t"),
            message_id: Some("m"),
            reason: None,
        };
        assert!(outbox.transition(&t).await.unwrap());
        if via_sent {
            let t = Transition {
                from: InviteState::Sent,
                to: end,
                token: None,
                ..t
            };
            assert!(outbox.transition(&t).await.unwrap());
        }
    }
    for rec in outbox.records.lock().unwrap().values_mut() {
        rec.queued_at -= 3600;
    }
    let (status, v) = call(&app, "POST", "/v1/imports/imp/invites/resend", None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v, json!({"resent": 3, "skipped": 0, "more": false}));
    app.ports.deliver_invites().await;
    assert_eq!(
        app.ports.sender.sent_to(),
        ["u2@x.com", "u3@x.com", "u4@x.com"]
    );
    let one = get(&app, "/v1/imports/imp").await;
    assert_eq!(one["invites"]["sent"], 4);
    assert_eq!(one["invites"]["bounced"], 0);
}

/// Issue 27 item 3: a device removed before its invite went gets none; one
/// that enrolled first gets none either, and once an administrator resets it
/// the invite is its again (same user; its password, if it enrolled openly),
/// to be sent from its page.
#[tokio::test]
async fn a_device_removed_or_enrolled_before_its_invite_went_gets_none() {
    let app = app();
    app.ports.denials.lock().unwrap().extend([
        denial("d1", "GONE", "ios", "2026-11-20T10:00:00Z"),
        denial("d2", "ENROLLED", "ios", "2026-11-20T10:00:00Z"),
    ]);
    assert_eq!(approve(&app, "d1", "email").await.0, StatusCode::OK);
    assert_eq!(approve(&app, "d2", "email").await.0, StatusCode::OK);
    let (status, v) = call(&app, "DELETE", "/v1/devices/GONE", None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    app.ports
        .devices
        .lock()
        .unwrap()
        .get_mut("ENROLLED")
        .unwrap()
        .status = DeviceStatus::Enrolled;

    app.ports.deliver_invites().await;
    assert!(
        app.ports.sender.sent.lock().unwrap().is_empty(),
        "neither invite was sent"
    );
    let of = |id: &str| {
        let r = shared::outbox::InviteRef::new(format!("approval:{id}"), 0);
        let records = app.ports.outbox.records.lock().unwrap();
        let rec = &records[&r];
        (rec.state.to_string(), rec.reason.clone())
    };
    assert_eq!(of("d1"), ("cancelled".into(), Some("DeviceRemoved".into())));
    assert_eq!(
        of("d2"),
        ("cancelled".into(), Some("DeviceEnrolled".into()))
    );
    let device = get(&app, "/v1/devices/ENROLLED").await;
    assert_eq!(
        (
            device["invite_state"].as_str(),
            device["invite"]["reason"].as_str()
        ),
        (Some("cancelled"), Some("DeviceEnrolled")),
        "{device}"
    );

    let (status, v) = call(&app, "POST", "/v1/devices/ENROLLED/reset", None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    for rec in app.ports.outbox.records.lock().unwrap().values_mut() {
        rec.queued_at -= 61;
    }
    let (status, v) = call(&app, "POST", "/v1/devices/ENROLLED/invite", None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    app.ports.deliver_invites().await;
    assert_eq!(
        app.ports.sender.sent_to(),
        ["Zoe@Example.com"],
        "sent once, after the reset"
    );
    assert_eq!(of("d2").0, "sent");
    // The removed device's stays cancelled: it has no device to resend from.
    assert_eq!(of("d1").0, "cancelled");
}
