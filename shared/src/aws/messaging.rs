//! Invites by email (SES v2 SendEmail) and SMS (SNS Publish to a phone number).

use aws_sdk_sesv2::config::http::HttpResponse;
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

/// Error codes that refuse a request for the rate, before the message is
/// taken: the SDK's own throttling codes (`aws-runtime`'s
/// `THROTTLING_ERRORS`) and SNS's. Not `LimitExceededException`, which the
/// SDK counts as throttling for other services: SES v2 documents it for
/// SendEmail as "too many instances of the specified resource type", a count
/// that waiting does not lower; SES reports its rate and its daily quota as
/// `TooManyRequestsException` (or the common `ThrottlingException`).
const THROTTLING: &[&str] = &[
    "TooManyRequestsException",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    // SNS: `ThrottledException`'s code, and its KMS key's throttling.
    "Throttled",
    "KMSThrottling",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
];

/// Error codes with which the service says it did not take the request, and
/// may next time: it did not receive the whole request in time, or refused a
/// signature that a later try makes anew (expired credentials, a clock the
/// SDK corrects from the answer).
const NOT_TAKEN_YET: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "RequestExpired",
    "ExpiredToken",
    "ExpiredTokenException",
];

/// What a failed SendEmail or Publish means for the message. SES and SNS
/// errors share the smithy error types: one reading serves both. Nothing the
/// provider wrote is kept but its error code (it echoes the address or number
/// in its messages, and these strings reach logs and records).
///
/// - `ConstructionFailure`: the request was never sent: retry.
/// - `TimeoutError`, `ResponseError`: it may have reached the service: unknown.
/// - `DispatchFailure`: retry only when the connection was never made
///   ([`never_connected`]); else unknown. The SDK's kinds cannot tell:
///   `is_io` covers a refused connection and a reset after the request was
///   written alike, `is_timeout` a connect and a read timeout, and a hang-up
///   before the answer is `is_other`.
/// - `ServiceError`: the service answered; see [`service_error`].
fn send_error<E>(e: SdkError<E, HttpResponse>) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let transport = |e: &SdkError<E, HttpResponse>| {
        // The transport's own words (no address, no message): for the operator.
        tracing::warn!(error = %DisplayErrorContext(e), "invite send failed in transport");
    };
    match &e {
        SdkError::ServiceError(se) => service_error(se.err().code(), se.raw().status().as_u16()),
        SdkError::ConstructionFailure(_) => {
            transport(&e);
            SendError::Retry("ConstructionFailure".into())
        }
        SdkError::DispatchFailure(d) => {
            transport(&e);
            match d.as_connector_error() {
                Some(c) if never_connected(c) => SendError::Retry("ConnectFailed".into()),
                _ if d.is_timeout() => SendError::Unknown("Timeout".into()),
                _ if d.is_user() => SendError::Unknown("DispatchFailure".into()),
                _ => SendError::Unknown("ConnectionLost".into()),
            }
        }
        SdkError::TimeoutError(_) => {
            transport(&e);
            SendError::Unknown("Timeout".into())
        }
        // Its source may quote the answer: only the status is kept.
        SdkError::ResponseError(r) => {
            SendError::Unknown(format!("UnreadableResponse{}", r.raw().status().as_u16()))
        }
        _ => SendError::Unknown("SdkError".into()),
    }
}

/// An error the service answered, by its code and HTTP status.
///
/// - 502 and 504 are a gateway's answers (whatever the code): the service
///   behind it may have taken the message before the gateway gave up:
///   unknown.
/// - Throttling ([`THROTTLING`]), a request not taken yet
///   ([`NOT_TAKEN_YET`]) or 429: retry.
/// - 500 and 503 with the service's own error code (`InternalFailure`,
///   `ServiceUnavailable`, SNS's `InternalError`): retry. The service
///   answered that it failed the request, and SES returns a message id for
///   every message it takes; AWS documents these as retryable. A 5xx without
///   a code is not the service's own error document (a proxy's page):
///   unknown.
/// - Any other 4xx: refused for good, with its code (`MessageRejected`,
///   `BadRequestException`, `SendingPausedException`,
///   `AccountSuspendedException`, `MailFromDomainNotVerifiedException`,
///   `NotFoundException`, `LimitExceededException`; SNS `InvalidParameter`,
///   `ParameterValueInvalid`, `EndpointDisabled`, `AuthorizationError`,
///   `NotFound`, `KMS*`...): the request was refused and the same request
///   would be again; the admin resends once the cause is fixed, rather than
///   the message looping until the dead-letter queue.
fn service_error(code: Option<&str>, status: u16) -> SendError {
    let label = match code {
        Some(c) if !c.is_empty() => crate::domain::clip_to(c, 64).into_owned(),
        _ => format!("HTTP{status}"),
    };
    let known = |list: &[&str]| code.is_some_and(|c| list.contains(&c));
    match status {
        502 | 504 => SendError::Unknown(label),
        _ if known(THROTTLING) || known(NOT_TAKEN_YET) || status == 429 => SendError::Retry(label),
        500 | 503 if code.is_some_and(|c| !c.is_empty()) => SendError::Retry(label),
        400..=499 => SendError::Refused { code: label },
        _ => SendError::Unknown(label),
    }
}

/// True when the error says the connection failed while it was being made
/// (DNS, TCP connect, TLS handshake, connect timeout), before any request
/// was written. The SDK's HTTP client is hyper-util's; it marks those errors
/// `is_connect`, and the SDK keeps them as the source of its own.
fn never_connected(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if err
            .downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some_and(hyper_util::client::legacy::Error::is_connect)
        {
            return true;
        }
        next = err.source();
    }
    false
}

/// Sent once by the SDK: its standard retries repeat a request after a
/// timeout or a broken connection, which may deliver the invite twice. The
/// sender retries what may be retried itself, each try within its rate.
fn sesv2_once() -> aws_sdk_sesv2::config::Builder {
    aws_sdk_sesv2::config::Builder::default()
        .retry_config(aws_sdk_sesv2::config::retry::RetryConfig::disabled())
}

fn sns_once() -> aws_sdk_sns::config::Builder {
    aws_sdk_sns::config::Builder::default()
        .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
}

/// A request this adapter built wrong: never sent, and never will be.
fn invalid(e: aws_sdk_sesv2::error::BuildError) -> SendError {
    tracing::warn!(error = %e, "invite request could not be built");
    SendError::Refused {
        code: "InvalidRequest".into(),
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
                        .map_err(invalid)
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
                        .map_err(invalid)
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
                    .customize()
                    .config_override(sesv2_once())
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
                    .customize()
                    .config_override(sns_once())
                    .send()
                    .await
                    .map_err(send_error)?;
                Ok(out.message_id.unwrap_or_default())
            }
            InviteChannel::None => Err(SendError::Refused {
                code: "InvitesOff".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
