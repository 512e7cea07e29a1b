//! Invites by email (SES v2 SendEmail) and SMS (SNS Publish to a phone number).

use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};

use crate::domain::InviteChannel;
use crate::outbox::events::{TAG_ATTEMPT, TAG_INVITE};
use crate::outbox::invite::{email_text, sms_text};
use crate::outbox::InviteMessage;
use crate::outbox::{Invite, InviteOrigin, InviteSender, SendError};

#[derive(Debug, Clone)]
pub struct AwsInviteSender {
    pub ses: aws_sdk_sesv2::Client,
    pub sns: aws_sdk_sns::Client,
    /// The SES configuration set whose event destination reports deliveries,
    /// bounces and complaints; None sends without one (no delivery status).
    pub configuration_set: Option<String>,
}

/// SES and SNS errors share the smithy error types: one mapping serves both.
/// A service error is described by its code only: providers echo the address
/// or number in their messages, and these strings reach logs and reports.
fn send_error<E, R>(e: SdkError<E, R>) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = e
        .as_service_error()
        .and_then(|se| se.code())
        .map(str::to_owned);
    let text = match &code {
        Some(c) => c.clone(),
        // Transport failures (timeouts, connection) carry no recipient data.
        None => DisplayErrorContext(&e).to_string(),
    };
    classify(code.as_deref(), text)
}

fn classify(code: Option<&str>, message: String) -> SendError {
    match code {
        Some(
            "TooManyRequestsException"
            | "Throttling"
            | "ThrottlingException"
            | "ThrottledException",
        ) => SendError::Throttled(message),
        Some(
            "MessageRejected"
            | "InvalidParameter"
            | "InvalidParameterException"
            | "InvalidParameterValue",
        ) => SendError::Rejected(message),
        _ => SendError::Other(message),
    }
}

impl InviteSender for AwsInviteSender {
    async fn send(
        &self,
        invite: &Invite,
        origin: &InviteOrigin,
        attempt: &InviteMessage,
    ) -> Result<String, SendError> {
        match invite.channel {
            InviteChannel::Email => {
                let text = email_text(invite, &origin.enrollment_url);
                let content = |data: String| {
                    Content::builder()
                        .data(data)
                        .charset("UTF-8")
                        .build()
                        .map_err(|e| SendError::Other(e.to_string()))
                };
                let message = Message::builder()
                    .subject(content(text.subject)?)
                    .body(Body::builder().text(content(text.body)?).build())
                    .build();
                let tag = |name: &str, value: String| {
                    MessageTag::builder()
                        .name(name)
                        .value(value)
                        .build()
                        .map_err(|e| SendError::Other(e.to_string()))
                };
                let out = self
                    .ses
                    .send_email()
                    .set_configuration_set_name(self.configuration_set.clone())
                    .email_tags(tag(TAG_INVITE, attempt.invite_ref().tag())?)
                    .email_tags(tag(TAG_ATTEMPT, attempt.attempt.to_string())?)
                    .from_email_address(&origin.sender)
                    .destination(Destination::builder().to_addresses(&invite.to).build())
                    .content(EmailContent::builder().simple(message).build())
                    .send()
                    .await
                    .map_err(send_error)?;
                Ok(out.message_id.unwrap_or_default())
            }
            InviteChannel::Sms => {
                let out = self
                    .sns
                    .publish()
                    .phone_number(&invite.to)
                    .message(sms_text(invite, &origin.enrollment_url))
                    .send()
                    .await
                    .map_err(send_error)?;
                Ok(out.message_id.unwrap_or_default())
            }
            InviteChannel::None => Err(SendError::Rejected(
                "invites are turned off for this upload".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
