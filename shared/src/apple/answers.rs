//! What Apple's answers mean for the sync: a refusal's status and body become
//! a [`DepError`]; `Retry-After` becomes a wait. Apple writes its error codes
//! as a bare quoted string, plain text or JSON, so codes are matched as
//! substrings. An error names the call and Apple's short code, never a body,
//! a credential or a session.

use std::time::{Duration, SystemTime};

use memchr::memmem;

use crate::ade::ports::DepError;

/// How much of a refusal's body is read: Apple's codes are a few bytes.
pub const ERROR_BODY_LIMIT: usize = 4096;

/// A refusal (any status but 2xx) of `call` (`"POST /devices/sync"`).
pub fn refusal(status: u16, body: &[u8], retry_after: Option<Duration>, call: &str) -> DepError {
    let has = |code: &str| memmem::find(body, code.as_bytes()).is_some();
    let said = match code(body) {
        Some(code) => format!("{status} {code}"),
        None => status.to_string(),
    };
    match status {
        400 if has("EXPIRED_CURSOR") => DepError::CursorExpired,
        400 if has("INVALID_CURSOR") || has("CURSOR_REQUIRED") => DepError::CursorInvalid,
        400 if has("EXHAUSTED_CURSOR") => DepError::CursorExhausted,
        401 => DepError::Unauthorized(format!(
            "{call} answered {said}; if it lasts, download a new server token in Apple Business \
             Manager and upload it to the account"
        )),
        403 if has("T_C_NOT_SIGNED") => DepError::TermsNotSigned,
        403 => DepError::AccessDenied(format!("{call} answered {said}")),
        429 => DepError::Throttled { retry_after },
        500..=599 => DepError::Unavailable {
            message: format!("{call} answered {said}"),
            retry_after,
        },
        404 | 405 => DepError::Protocol(format!(
            "{call} answered {said}: is ADE_BASE_URL the base URL of Apple's device-assignment \
             service?"
        )),
        _ => DepError::Protocol(format!("{call} answered {said}")),
    }
}

/// Apple's short code (`INVALID_CURSOR`, `"signature_invalid"`, `T_C_NOT_SIGNED`),
/// when the body is one; anything longer or stranger is not repeated.
pub fn code(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let short = !text.is_empty() && text.len() <= 64;
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    (short && plain).then_some(text)
}

/// `Retry-After` (RFC 9110 §10.2.3): whole seconds, or an HTTP-date (a date
/// already past is no wait). `None` when it is neither.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// No answer at all: the connection was refused, timed out or broke.
pub fn unreachable(e: &reqwest::Error, call: &str, timeout: Duration) -> DepError {
    let what = if e.is_timeout() {
        format!("no answer to {call} within {} s", timeout.as_secs())
    } else if e.is_connect() {
        format!("no connection to Apple for {call}")
    } else {
        format!("the connection broke during {call}")
    };
    DepError::Unavailable {
        message: what,
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYNC: &str = "POST /devices/sync";

    #[test]
    fn cursor_codes_are_found_however_apple_writes_them() {
        for body in [
            &b"\"EXPIRED_CURSOR\""[..],
            b"EXPIRED_CURSOR",
            b"{\"error\":\"EXPIRED_CURSOR\"}",
            b"  EXPIRED_CURSOR\n",
        ] {
            assert_eq!(refusal(400, body, None, SYNC), DepError::CursorExpired);
        }
        assert_eq!(
            refusal(400, b"\"INVALID_CURSOR\"", None, SYNC),
            DepError::CursorInvalid
        );
        assert_eq!(
            refusal(400, b"CURSOR_REQUIRED", None, SYNC),
            DepError::CursorInvalid
        );
        assert_eq!(
            refusal(400, b"\"EXHAUSTED_CURSOR\"", None, "POST /server/devices"),
            DepError::CursorExhausted
        );
    }

    #[test]
    fn another_400_is_a_protocol_error_naming_the_call_and_the_code() {
        let e = refusal(400, b"\"MALFORMED_REQUEST_BODY\"", None, SYNC);
        assert_eq!(
            e,
            DepError::Protocol("POST /devices/sync answered 400 MALFORMED_REQUEST_BODY".into())
        );
        // A cursor code under another status is not a cursor error.
        assert!(matches!(
            refusal(500, b"INVALID_CURSOR", None, SYNC),
            DepError::Unavailable { .. }
        ));
    }

    #[test]
    fn terms_not_signed_is_told_apart_from_other_403s() {
        assert_eq!(
            refusal(403, b"T_C_NOT_SIGNED", None, SYNC),
            DepError::TermsNotSigned
        );
        assert_eq!(
            refusal(403, b"\"T_C_NOT_SIGNED\"", None, "GET /session"),
            DepError::TermsNotSigned
        );
        assert_eq!(
            refusal(403, b"ACCESS_DENIED", None, "GET /account"),
            DepError::AccessDenied("GET /account answered 403 ACCESS_DENIED".into())
        );
    }

    #[test]
    fn throttling_and_5xx_keep_the_wait_apple_asked_for() {
        let wait = Some(Duration::from_secs(7));
        assert_eq!(
            refusal(429, b"TOO_MANY_REQUESTS", wait, SYNC),
            DepError::Throttled { retry_after: wait }
        );
        assert_eq!(
            refusal(503, b"SERVICE_UNAVAILABLE", wait, SYNC),
            DepError::Unavailable {
                message: "POST /devices/sync answered 503 SERVICE_UNAVAILABLE".into(),
                retry_after: wait,
            }
        );
        assert!(matches!(
            refusal(500, b"", None, SYNC),
            DepError::Unavailable {
                retry_after: None,
                ..
            }
        ));
    }

    #[test]
    fn a_401_says_what_to_do_and_a_wrong_url_is_named() {
        let e = refusal(401, b"\"signature_invalid\"", None, "GET /session").to_string();
        assert!(
            e.contains("GET /session answered 401 signature_invalid"),
            "{e}"
        );
        assert!(e.contains("upload it to the account"), "{e}");
        let e = refusal(404, b"<html>not here</html>", None, "GET /account").to_string();
        assert!(e.contains("ADE_BASE_URL"), "{e}");
        assert!(!e.contains("html"), "{e}");
        assert!(matches!(
            refusal(302, b"", None, SYNC),
            DepError::Protocol(_)
        ));
    }

    #[test]
    fn a_body_is_repeated_only_when_it_is_a_short_code() {
        assert_eq!(code(b"\"INVALID_CURSOR\""), Some("INVALID_CURSOR"));
        assert_eq!(code(b"T_C_NOT_SIGNED\r\n"), Some("T_C_NOT_SIGNED"));
        assert_eq!(code(b""), None);
        assert_eq!(code(b"an error with spaces"), None);
        assert_eq!(code(b"{\"auth_session_token\":\"s3cr3t\"}"), None);
        assert_eq!(code(&[b'A'; 65]), None);
        assert_eq!(code(b"\xff\xfe"), None);
        let long = "x".repeat(200);
        let e = refusal(418, long.as_bytes(), None, SYNC).to_string();
        assert!(!e.contains("xxx"), "{e}");
    }

    #[test]
    fn retry_after_reads_seconds_or_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21T07:28:00Z
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:29:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        // RFC 850 and asctime forms are HTTP-dates too.
        assert_eq!(
            retry_after("Wednesday, 21-Oct-15 07:28:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after("Wed Oct 21 07:28:05 2015", now),
            Some(Duration::from_secs(5))
        );
        // A date already past: no wait.
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        for junk in ["", "-5", "1.5", "soon", "99999999999999999999999"] {
            assert_eq!(retry_after(junk, now), None, "{junk}");
        }
    }
}
