//! The emulator's raw SendEmail ceiling, for `make bench` to put beside the
//! invite pipeline: N invites sent through the sender's own SES adapter
//! (`AwsInviteSender`: configuration set, tags), `in_flight` at a time, with
//! no record, claim, window or queue around them. Prints one JSON line.
//! Arguments: N, in flight, the sender address, a prefix for the recipients.

use std::time::Instant;

use aws_config::BehaviorVersion;
use futures::{stream, StreamExt};
use shared::aws::messaging::AwsInviteSender;
use shared::domain::InviteChannel;
use shared::outbox::InviteMessage;
use shared::outbox::{Invite, InviteOrigin, InviteSender};

#[tokio::main]
async fn main() {
    let arg = |n: usize| std::env::args().nth(n);
    let sends: u64 = arg(1).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let in_flight: usize = arg(2).and_then(|a| a.parse().ok()).unwrap_or(16);
    let from = arg(3).expect("sender address");
    let prefix = arg(4).unwrap_or_else(|| "raw".into());
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let sender = AwsInviteSender {
        ses: aws_sdk_sesv2::Client::new(&sdk),
        sns: aws_sdk_sns::Client::new(&sdk),
        configuration_set: std::env::var("SES_CONFIGURATION_SET").ok(),
    };
    let origin = InviteOrigin {
        sender: from,
        enrollment_url: "https://enroll.example.com/".into(),
    };
    let started = Instant::now();
    let failed = stream::iter(0..sends)
        .map(|i| {
            let (sender, origin, prefix) = (&sender, &origin, &prefix);
            async move {
                let invite = Invite {
                    row: i + 2,
                    channel: InviteChannel::Email,
                    to: format!("{prefix}-{i}@example.com"),
                    user_name: format!("User {i}"),
                    serial: format!("RAW{i:09}"),
                    device_name: None,
                    platform: "ios",
                    password: None,
                };
                let msg = InviteMessage {
                    origin: "raw".into(),
                    row: i + 2,
                    attempt: 1,
                };
                sender.send(&invite, origin, &msg).await.is_err()
            }
        })
        .buffer_unordered(in_flight.max(1))
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "sends": sends,
            "failed": failed,
            "in_flight": in_flight,
            "seconds": (secs * 100.0).round() / 100.0,
            "per_s": ((sends as f64 / secs) * 10.0).round() / 10.0,
        })
    );
}
