//! How the adapter reads each SDK error: retry (not accepted), unknown (may
//! have gone out) or refused (with its code). First on error values built
//! with the SDK's own constructors, then through the real SDK path against a
//! local server that answers as SES and SNS would, or hangs up, or says
//! nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sesv2::config::http::HttpResponse;
use aws_sdk_sesv2::error::{ConnectorError, ErrorMetadata};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sns::operation::publish::PublishError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

const ADDRESS: &str = "jane@example.com";
const NUMBER: &str = "+14155550100";

/// What the sender does with the error: `retry`, `unknown` or `refused <code>`.
fn outcome(e: &SendError) -> String {
    match e {
        SendError::Retry(_) => "retry".into(),
        SendError::Unknown(_) => "unknown".into(),
        SendError::Refused { code } => format!("refused {code}"),
    }
}

fn response(status: u16) -> HttpResponse {
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty())
}

/// An error answer as the SDK hands it over, with the address in its
/// message, as SES and SNS write it.
fn meta(code: Option<&str>) -> ErrorMetadata {
    let mut m = ErrorMetadata::builder().message(format!("{ADDRESS} {NUMBER} refused"));
    if let Some(code) = code {
        m = m.code(code);
    }
    m.build()
}

fn ses(code: Option<&str>, status: u16) -> SendError {
    send_error(SdkError::service_error(
        SendEmailError::generic(meta(code)),
        response(status),
    ))
}

fn sns(code: Option<&str>, status: u16) -> SendError {
    send_error(SdkError::service_error(
        PublishError::generic(meta(code)),
        response(status),
    ))
}

fn names_the_user(e: &SendError) -> bool {
    let text = format!("{e} {e:?}");
    text.contains(ADDRESS) || text.contains(NUMBER)
}

fn no_pii(e: &SendError) {
    assert!(!names_the_user(e), "{e:?}");
}

/// Runs every case and names all that differ, not just the first.
fn check(cases: Vec<(&str, SendError, &str)>) {
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(what, e, expected)| {
            let got = outcome(e);
            if names_the_user(e) {
                Some(format!("{what}: names the user: {e}"))
            } else {
                (got != *expected).then(|| format!("{what}: {got}, expected {expected}"))
            }
        })
        .collect();
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn service_answers_are_told_apart_by_code_and_status() {
    check(vec![
        // Throttling: not taken, send again later.
        (
            "SES TooManyRequestsException 429",
            ses(Some("TooManyRequestsException"), 429),
            "retry",
        ),
        (
            "SES ThrottlingException 400",
            ses(Some("ThrottlingException"), 400),
            "retry",
        ),
        ("SNS Throttling 400", sns(Some("Throttling"), 400), "retry"),
        ("SNS Throttled 429", sns(Some("Throttled"), 429), "retry"),
        (
            "SNS KMSThrottling 400",
            sns(Some("KMSThrottling"), 400),
            "retry",
        ),
        // Refused for good: failed with the code.
        (
            "SES MessageRejected 400",
            ses(Some("MessageRejected"), 400),
            "refused MessageRejected",
        ),
        (
            "SES BadRequestException 400",
            ses(Some("BadRequestException"), 400),
            "refused BadRequestException",
        ),
        (
            "SES SendingPausedException 400",
            ses(Some("SendingPausedException"), 400),
            "refused SendingPausedException",
        ),
        (
            "SES AccountSuspendedException 400",
            ses(Some("AccountSuspendedException"), 400),
            "refused AccountSuspendedException",
        ),
        (
            "SES MailFromDomainNotVerifiedException 400",
            ses(Some("MailFromDomainNotVerifiedException"), 400),
            "refused MailFromDomainNotVerifiedException",
        ),
        (
            "SES NotFoundException 404",
            ses(Some("NotFoundException"), 404),
            "refused NotFoundException",
        ),
        (
            "SES LimitExceededException 400 (a count of resources, not a rate)",
            ses(Some("LimitExceededException"), 400),
            "refused LimitExceededException",
        ),
        (
            "SES AccessDeniedException 403",
            ses(Some("AccessDeniedException"), 403),
            "refused AccessDeniedException",
        ),
        (
            "SNS InvalidParameter 400",
            sns(Some("InvalidParameter"), 400),
            "refused InvalidParameter",
        ),
        (
            "SNS ParameterValueInvalid 400",
            sns(Some("ParameterValueInvalid"), 400),
            "refused ParameterValueInvalid",
        ),
        (
            "SNS EndpointDisabled 400",
            sns(Some("EndpointDisabled"), 400),
            "refused EndpointDisabled",
        ),
        (
            "SNS AuthorizationError 403",
            sns(Some("AuthorizationError"), 403),
            "refused AuthorizationError",
        ),
        (
            "SNS NotFound 404",
            sns(Some("NotFound"), 404),
            "refused NotFound",
        ),
        ("a 4xx without a code", ses(None, 403), "refused HTTP403"),
        // The service's own failure, answered: it did not take the message.
        (
            "SES InternalFailure 500",
            ses(Some("InternalFailure"), 500),
            "retry",
        ),
        (
            "SES ServiceUnavailable 503",
            ses(Some("ServiceUnavailable"), 503),
            "retry",
        ),
        (
            "SNS InternalError 500",
            sns(Some("InternalError"), 500),
            "retry",
        ),
        // A gateway's answer, or a 5xx that is not the service's own error
        // document: the service behind it may have taken the message.
        (
            "SES InternalFailure 504",
            ses(Some("InternalFailure"), 504),
            "unknown",
        ),
        ("a 502 without a code", sns(None, 502), "unknown"),
        ("a 500 without a code", ses(None, 500), "unknown"),
    ]);
}

#[test]
fn transport_failures_are_unknown_unless_nothing_was_sent() {
    type E = SdkError<SendEmailError, HttpResponse>;
    let cases = vec![
        (
            "construction failure (never sent)",
            send_error(E::construction_failure("no credentials")),
            "retry",
        ),
        (
            "timeout",
            send_error(E::timeout_error("operation attempt timeout")),
            "unknown",
        ),
        (
            "dispatch failure, io (a reset after the request was written is io too)",
            send_error(E::dispatch_failure(ConnectorError::io(
                "connection reset by peer".into(),
            ))),
            "unknown",
        ),
        (
            "dispatch failure, timeout",
            send_error(E::dispatch_failure(ConnectorError::timeout(
                "read timeout".into(),
            ))),
            "unknown",
        ),
        (
            "dispatch failure, user",
            send_error(E::dispatch_failure(ConnectorError::user(
                "invalid request".into(),
            ))),
            "unknown",
        ),
        (
            "dispatch failure, other",
            send_error(E::dispatch_failure(ConnectorError::other("?".into(), None))),
            "unknown",
        ),
        (
            "response error (an answer that could not be read)",
            send_error(E::response_error("unreadable", response(200))),
            "unknown",
        ),
    ];
    check(cases);
}

// ---- The real SDK path, against a local server ----

#[derive(Clone, Copy)]
enum Reply {
    /// Answers with this status, error type (header, as SES v2 and moto
    /// send it) and body.
    Answer(u16, &'static str, &'static str),
    /// Reads the whole request, then closes the connection without a word.
    HangUp,
    /// Reads the whole request and never answers.
    Silence,
}

struct Server {
    endpoint: String,
    requests: Arc<AtomicUsize>,
}

impl Server {
    async fn start(reply: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    if !read_request(&mut socket).await {
                        return;
                    }
                    seen.fetch_add(1, Ordering::SeqCst);
                    match reply {
                        Reply::HangUp => drop(socket),
                        Reply::Silence => {
                            tokio::time::sleep(Duration::from_secs(60)).await;
                        }
                        Reply::Answer(status, error_type, body) => {
                            let head = format!(
                                "HTTP/1.1 {status} X\r\nx-amzn-RequestId: r-1\r\n\
                                 x-amzn-ErrorType: {error_type}\r\n\
                                 Content-Type: {}\r\nContent-Length: {}\r\n\r\n",
                                if body.starts_with('<') {
                                    "text/xml"
                                } else {
                                    "application/json"
                                },
                                body.len()
                            );
                            let _ = socket.write_all(head.as_bytes()).await;
                            let _ = socket.write_all(body.as_bytes()).await;
                            let _ = socket.shutdown().await;
                        }
                    }
                });
            }
        });
        Self { endpoint, requests }
    }

    /// An address nothing listens on: the connection is refused.
    async fn nobody() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        endpoint
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Reads one request (head and body); false if the client went away first.
async fn read_request(socket: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let body_at = loop {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..body_at]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < body_at + length {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    true
}

/// The adapter, its clients pointed at `endpoint`, configured as the
/// functions' are (standard retries) but for the timeouts given.
fn sender(
    endpoint: &str,
    timeouts: aws_sdk_sesv2::config::timeout::TimeoutConfig,
) -> AwsInviteSender {
    use aws_sdk_sesv2::config::{BehaviorVersion, Credentials, Region};
    let credentials = Credentials::new("AKIDTEST", "secret", None, None, "test");
    let ses = aws_sdk_sesv2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials.clone())
        .endpoint_url(endpoint)
        .timeout_config(timeouts.clone())
        .build();
    let sns = aws_sdk_sns::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .timeout_config(timeouts)
        .build();
    AwsInviteSender {
        ses: aws_sdk_sesv2::Client::from_conf(ses),
        sns: aws_sdk_sns::Client::from_conf(sns),
        configuration_set: None,
    }
}

fn no_timeouts() -> aws_sdk_sesv2::config::timeout::TimeoutConfig {
    aws_sdk_sesv2::config::timeout::TimeoutConfig::builder().build()
}

async fn send_to(sender: &AwsInviteSender, channel: InviteChannel) -> SendError {
    let invite = Invite {
        row: 2,
        channel,
        to: match channel {
            InviteChannel::Sms => NUMBER.into(),
            _ => ADDRESS.into(),
        },
        user_name: "Jane".into(),
        serial: "C02X".into(),
        device_name: None,
        platform: "macos",
        password: Some("pw-1".into()),
    };
    let origin = InviteOrigin {
        sender: "it@example.com".into(),
        enrollment_url: "https://e/".into(),
    };
    let attempt = InviteMessage {
        origin: "imp-1".into(),
        row: 2,
        attempt: 1,
    };
    let e = sender
        .send(&invite, &origin, &attempt)
        .await
        .expect_err("the server never accepts");
    no_pii(&e);
    e
}

const SES_REJECTED: &str = r#"{"message":"Email address is not verified. The following identities failed the check in region US-EAST-1: jane@example.com"}"#;
const SES_THROTTLED: &str = r#"{"message":"Maximum sending rate exceeded."}"#;
const SES_INTERNAL: &str = r#"{"message":"Internal failure."}"#;
const SNS_INVALID: &str = r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>InvalidParameter</Code><Message>Invalid parameter: PhoneNumber Reason: +14155550100 is not valid to publish to</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"#;
const SNS_THROTTLED: &str = r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"#;

/// (what, reply, channel, outcome): each goes out as one request at most.
#[tokio::test]
async fn the_sdk_path_reads_answers_hangups_and_silence() {
    let cases = [
        (
            "SES MessageRejected",
            Reply::Answer(400, "MessageRejected", SES_REJECTED),
            InviteChannel::Email,
            "refused MessageRejected",
        ),
        (
            "SES throttled",
            Reply::Answer(429, "TooManyRequestsException", SES_THROTTLED),
            InviteChannel::Email,
            "retry",
        ),
        (
            "SES internal failure",
            Reply::Answer(500, "InternalFailure", SES_INTERNAL),
            InviteChannel::Email,
            "retry",
        ),
        (
            "SNS invalid number",
            Reply::Answer(400, "InvalidParameter", SNS_INVALID),
            InviteChannel::Sms,
            "refused InvalidParameter",
        ),
        (
            "SNS throttled",
            Reply::Answer(400, "Throttling", SNS_THROTTLED),
            InviteChannel::Sms,
            "retry",
        ),
        (
            "SES hangs up after the request",
            Reply::HangUp,
            InviteChannel::Email,
            "unknown",
        ),
        (
            "SNS hangs up after the request",
            Reply::HangUp,
            InviteChannel::Sms,
            "unknown",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, reply, channel, expected) in cases {
        let server = Server::start(reply).await;
        let e = send_to(&sender(&server.endpoint, no_timeouts()), channel).await;
        let got = outcome(&e);
        if got != expected || server.requests() != 1 {
            wrong.push(format!(
                "{what}: {got} ({e}) after {} requests, expected {expected} after 1",
                server.requests()
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn a_timeout_after_the_request_is_unknown_and_not_sent_again() {
    use aws_sdk_sesv2::config::timeout::TimeoutConfig;
    let read = TimeoutConfig::builder()
        .read_timeout(Duration::from_millis(300))
        .build();
    let attempt = TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_millis(300))
        .build();
    let mut wrong = Vec::new();
    for (what, timeouts) in [("read timeout", read), ("attempt timeout", attempt)] {
        let server = Server::start(Reply::Silence).await;
        let e = send_to(&sender(&server.endpoint, timeouts), InviteChannel::Email).await;
        let got = outcome(&e);
        if got != "unknown" || server.requests() != 1 {
            wrong.push(format!(
                "{what}: {got} ({e}) after {} requests, expected unknown after 1",
                server.requests()
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn a_refused_connection_was_never_sent_and_is_retried() {
    let endpoint = Server::nobody().await;
    for channel in [InviteChannel::Email, InviteChannel::Sms] {
        let e = send_to(&sender(&endpoint, no_timeouts()), channel).await;
        assert_eq!(e, SendError::Retry("ConnectFailed".into()));
    }
}

#[tokio::test]
async fn invites_turned_off_are_refused_without_a_request() {
    let server = Server::start(Reply::HangUp).await;
    let e = send_to(
        &sender(&server.endpoint, no_timeouts()),
        InviteChannel::None,
    )
    .await;
    assert_eq!(outcome(&e), "refused InvitesOff");
    assert_eq!(server.requests(), 0);
}
