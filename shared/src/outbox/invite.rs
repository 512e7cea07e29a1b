//! One invite as a sender delivers it, its words, and the port it goes out
//! through (SES for e-mail, SNS for SMS: `aws::messaging`).

use std::future::Future;

use crate::domain::InviteChannel;

/// One enrollment invite, for one row.
#[derive(Clone, PartialEq, Eq)]
pub struct Invite {
    pub row: u64,
    pub channel: InviteChannel,
    /// Email address or E.164 number.
    pub to: String,
    pub user_name: String,
    pub serial: String,
    pub device_name: Option<String>,
    pub platform: &'static str,
    /// Shown to the user in the invite; never logged.
    pub password: Option<String>,
}

impl std::fmt::Debug for Invite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invite")
            .field("row", &self.row)
            .field("channel", &self.channel)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

/// Why a send did not return a message id, told by what it means for the
/// message: not taken, perhaps taken, or refused for good. Each carries a
/// short code (the provider's error code, or what the transport saw), never
/// an address, a number or the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The provider did not take the message and may take it later
    /// (throttling, a connection never made, its own transient failure):
    /// sending it again cannot duplicate it.
    #[error("not sent ({0}); it may be sent again")]
    Retry(String),
    /// The request may have reached the provider and its answer was lost (a
    /// timeout, a connection broken after the request was written): the
    /// message may have gone out, so it is never sent again by itself.
    #[error("outcome unknown ({0}); it may have gone out")]
    Unknown(String),
    /// The provider refused this message for good (a bad address or number,
    /// sending paused, the account suspended...): `code` is its error code.
    #[error("refused ({code})")]
    Refused { code: String },
}

/// Who invites come from and where they send the user: the admin's settings
/// over the deployment's (see `Settings::invite_origin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteOrigin {
    /// The sender's email address.
    pub sender: String,
    pub enrollment_url: String,
}

/// Delivers invites by email (SES) or SMS (SNS).
pub trait InviteSender: Send + Sync {
    /// Returns the provider's message id. `attempt` names the invite and its
    /// attempt in the message's tags, for the delivery events.
    fn send(
        &self,
        invite: &Invite,
        origin: &InviteOrigin,
        attempt: &super::InviteMessage,
    ) -> impl Future<Output = Result<String, SendError>> + Send;
}

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
