//! Delivery events from SES (a configuration set's event destination, through
//! SNS and SQS): each moves the invite it names from `sent` on. The invite is
//! found by the message tags the sender set, never by the address.

use serde_json::Value;

use super::{InviteRef, InviteState, Outbox, Transition};
use crate::port_error::PortError;

/// Tag names the sender puts on every e-mail.
pub const TAG_INVITE: &str = "invite";
pub const TAG_ATTEMPT: &str = "attempt";

/// What one event says about one invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryEvent {
    pub invite: InviteRef,
    pub attempt: u32,
    pub message_id: String,
    pub state: InviteState,
    /// The provider's reason code, e.g. `Permanent/General`.
    pub reason: Option<String>,
}

/// Reads an SES event, raw or in its SNS envelope. None for events that do
/// not change an invite's state (sends, opens, transient bounces, other mail).
pub fn parse(body: &str) -> Option<DeliveryEvent> {
    let mut v: Value = serde_json::from_str(body).ok()?;
    if v.get("Type").and_then(Value::as_str) == Some("Notification") {
        v = serde_json::from_str(v.get("Message")?.as_str()?).ok()?;
    }
    // Event publishing says `eventType`; identity notifications `notificationType`.
    let kind = v
        .get("eventType")
        .or_else(|| v.get("notificationType"))?
        .as_str()?;
    let mail = v.get("mail")?;
    let tag = |name: &str| {
        mail.get("tags")?
            .get(name)?
            .as_array()?
            .first()?
            .as_str()
            .map(str::to_owned)
    };
    let invite = InviteRef::from_tag(&tag(TAG_INVITE)?)?;
    let attempt = tag(TAG_ATTEMPT)?.parse().ok()?;
    let message_id = mail.get("messageId")?.as_str()?.to_owned();
    let text = |section: &str, field: &str| v.get(section)?.get(field)?.as_str().map(str::to_owned);
    let (state, reason) = match kind {
        "Delivery" => (InviteState::Delivered, None),
        "Bounce" => {
            let kind = text("bounce", "bounceType").unwrap_or_default();
            // A transient bounce is retried by SES itself; only a permanent one ends the invite.
            if kind != "Permanent" {
                return None;
            }
            let sub = text("bounce", "bounceSubType").unwrap_or_default();
            (InviteState::Bounced, Some(format!("{kind}/{sub}")))
        }
        "Complaint" => (
            InviteState::Complained,
            Some(text("complaint", "complaintFeedbackType").unwrap_or_else(|| "complaint".into())),
        ),
        "Reject" => (
            InviteState::Failed,
            Some(text("reject", "reason").unwrap_or_else(|| "Reject".into())),
        ),
        "Rendering Failure" | "RenderingFailure" => {
            (InviteState::Failed, Some("RenderingFailure".into()))
        }
        _ => return None,
    };
    Some(DeliveryEvent {
        invite,
        attempt,
        message_id,
        state,
        reason: reason.map(|r| crate::domain::clip_to(&r, 64).into_owned()),
    })
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The invite moved to the event's state.
    Changed,
    /// Nothing to change: another message, a newer attempt, or a state the
    /// event does not follow.
    Ignored,
    /// The event overtook the sender's own record of the send (the invite is
    /// still `sending` at this attempt): apply it again later.
    TooEarly,
}

/// Applies the event if the invite is still at that attempt and message, in
/// a state the event can follow.
pub async fn apply<O: Outbox>(outbox: &O, e: &DeliveryEvent) -> Result<Applied, PortError> {
    // Delivery follows a send; a bounce or complaint may also follow a delivery.
    let from: &[InviteState] = match e.state {
        InviteState::Delivered | InviteState::Failed => &[InviteState::Sent],
        _ => &[InviteState::Sent, InviteState::Delivered],
    };
    for &from in from {
        let t = Transition {
            invite: &e.invite,
            attempt: e.attempt,
            from,
            to: e.state,
            token: None,
            message_id: Some(&e.message_id),
            reason: e.reason.as_deref(),
        };
        if outbox.transition(&t).await? {
            if let Some(status) = outbox.status(&e.invite).await? {
                outbox
                    .show_on_device(&status.serial, &e.invite, e.state)
                    .await?;
            }
            return Ok(Applied::Changed);
        }
    }
    // SES can report a delivery before the sender has written down its send.
    let early = outbox
        .status(&e.invite)
        .await?
        .is_some_and(|st| st.state == InviteState::Sending && st.attempt == e.attempt);
    Ok(if early {
        Applied::TooEarly
    } else {
        Applied::Ignored
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ses(kind: &str, extra: &str) -> String {
        let tag = InviteRef::new("imp-1", 7).tag();
        format!(
            r#"{{"eventType":"{kind}","mail":{{"messageId":"m-1","destination":["jane@example.com"],
            "tags":{{"invite":["{tag}"],"attempt":["2"]}}}}{extra}}}"#
        )
    }

    #[test]
    fn bounces_complaints_and_deliveries_are_read_from_the_tags() {
        let e = parse(&ses(
            "Bounce",
            r#","bounce":{"bounceType":"Permanent","bounceSubType":"NoEmail"}"#,
        ))
        .unwrap();
        assert_eq!(e.invite, InviteRef::new("imp-1", 7));
        assert_eq!((e.attempt, e.state), (2, InviteState::Bounced));
        assert_eq!(e.reason.as_deref(), Some("Permanent/NoEmail"));
        assert_eq!(
            parse(&ses("Delivery", "")).unwrap().state,
            InviteState::Delivered
        );
        assert_eq!(
            parse(&ses("Complaint", r#","complaint":{}"#))
                .unwrap()
                .state,
            InviteState::Complained
        );
        assert!(parse(&ses(
            "Bounce",
            r#","bounce":{"bounceType":"Transient","bounceSubType":"MailboxFull"}"#
        ))
        .is_none());
        assert!(parse(&ses("Open", "")).is_none());
    }

    #[test]
    fn an_sns_envelope_is_opened_and_foreign_mail_is_ignored() {
        let inner = ses("Delivery", "");
        let envelope = serde_json::json!({"Type": "Notification", "Message": inner}).to_string();
        assert_eq!(parse(&envelope).unwrap().state, InviteState::Delivered);
        let foreign = r#"{"eventType":"Delivery","mail":{"messageId":"x","tags":{}}}"#;
        assert!(parse(foreign).is_none());
        assert!(parse("not json").is_none());
    }
}
