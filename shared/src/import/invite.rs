//! The invite's words, and the pace at which invites go out.

use std::time::Duration;

use crate::ports::Invite;

pub struct EmailText {
    pub subject: String,
    pub body: String,
}

fn device_label(invite: &Invite) -> String {
    match &invite.device_name {
        Some(name) => format!("{name} ({}, serial {})", invite.platform, invite.serial),
        None => format!("your {} device (serial {})", invite.platform, invite.serial),
    }
}

/// The email a user receives: who it is for, which device, where to go, and the password if any.
pub fn email_text(invite: &Invite, enrollment_url: &str) -> EmailText {
    let mut body = format!(
        "Hello {},\n\nYour IT team has pre-approved {} for enrollment.\n\n\
         To enroll it, open this link on the device:\n{}\n",
        invite.user_name,
        device_label(invite),
        enrollment_url
    );
    if let Some(p) = &invite.password {
        body.push_str(&format!("\nEnrollment password: {p}\n"));
    }
    body.push_str("\nIf you did not expect this message, contact your IT team.\n");
    EmailText {
        subject: "Enroll your device".into(),
        body,
    }
}

/// The SMS a user receives: the same facts, short.
pub fn sms_text(invite: &Invite, enrollment_url: &str) -> String {
    let mut text = format!(
        "{}, enroll {} at {}",
        invite.user_name,
        device_label(invite),
        enrollment_url
    );
    if let Some(p) = &invite.password {
        text.push_str(&format!(" Password: {p}"));
    }
    text
}

/// Spaces sends `1/rate` apart across all concurrent senders of one channel.
pub struct Pacer {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    /// `per_second` <= 0 means no pacing.
    pub fn new(per_second: f64) -> Self {
        let interval = if per_second > 0.0 {
            Duration::from_secs_f64(1.0 / per_second)
        } else {
            Duration::ZERO
        };
        Self {
            interval,
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    pub async fn wait(&self) {
        if self.interval.is_zero() {
            return;
        }
        let at = {
            let mut next = self.next.lock().await;
            let now = tokio::time::Instant::now();
            let at = (*next).max(now);
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::InviteChannel;

    fn invite(password: Option<&str>) -> Invite {
        Invite {
            row: 2,
            channel: InviteChannel::Email,
            to: "jane@example.com".into(),
            user_name: "Jane".into(),
            serial: "C02X".into(),
            device_name: Some("Jane's Mac".into()),
            platform: "macos",
            password: password.map(str::to_owned),
        }
    }

    #[test]
    fn email_names_user_device_url_and_password() {
        let t = email_text(&invite(Some("pw1")), "https://enroll.example.com/");
        for needle in [
            "Jane",
            "Jane's Mac",
            "C02X",
            "https://enroll.example.com/",
            "Enrollment password: pw1",
        ] {
            assert!(t.body.contains(needle), "{needle}");
        }
        assert!(!email_text(&invite(None), "u").body.contains("password"));
        let s = sms_text(&invite(Some("pw1")), "https://e/");
        assert!(s.contains("C02X") && s.contains("https://e/") && s.contains("pw1"));
    }

    #[tokio::test(start_paused = true)]
    async fn pacer_spaces_sends() {
        let p = Pacer::new(10.0);
        let start = tokio::time::Instant::now();
        for _ in 0..5 {
            p.wait().await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(400));
    }
}
