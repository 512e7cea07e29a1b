//! The admission request body, parsed field by field so that a malformed
//! request gets an error naming the field (serde's own messages name a line
//! and column, which an enrollment service cannot act on).

use serde_json::{Map, Value};

use crate::domain::Platform;

/// Largest body accepted; larger ones are answered `413`.
pub const MAX_BODY_BYTES: usize = 4096;
/// DynamoDB allows 2048-byte keys; real serials are far shorter.
pub const MAX_SERIAL_BYTES: usize = 256;
const MAX_PASSWORD_BYTES: usize = 256;
const MAX_METHOD_BYTES: usize = 64;

/// The platform a device says it is; Windows is understood so it can be refused by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedPlatform {
    Supported(Platform),
    Windows,
}

impl RequestedPlatform {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Supported(p) => p.as_str(),
            Self::Windows => "windows",
        }
    }
}

/// How the device is enrolling. Methods not listed here are accepted as
/// `Other`: no limitation of the seeds applies to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollmentMethod {
    Ade,
    ZeroTouch,
    Email,
    Sms,
    SelfService,
    Qr,
    ProfileOwner,
    DeviceOwner,
    Other(String),
}

impl EnrollmentMethod {
    fn parse(raw: &str) -> Self {
        match raw {
            "ade" => Self::Ade,
            "zero_touch" => Self::ZeroTouch,
            "email" => Self::Email,
            "sms" => Self::Sms,
            "self" => Self::SelfService,
            "qr" => Self::Qr,
            "android_enterprise_profile_owner" => Self::ProfileOwner,
            "android_enterprise_device_owner" => Self::DeviceOwner,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Ade => "ade",
            Self::ZeroTouch => "zero_touch",
            Self::Email => "email",
            Self::Sms => "sms",
            Self::SelfService => "self",
            Self::Qr => "qr",
            Self::ProfileOwner => "android_enterprise_profile_owner",
            Self::DeviceOwner => "android_enterprise_device_owner",
            Self::Other(s) => s,
        }
    }
}

/// An OS version as the device reports it (`14`, `12.1.0`); only the major number drives rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsVersion {
    pub major: u32,
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionRequest {
    /// Exactly as sent: compared byte-for-byte with the imported serial.
    pub serial: String,
    pub platform: RequestedPlatform,
    /// Never logged or stored; empty counts as not given.
    pub password: Option<String>,
    pub method: Option<EnrollmentMethod>,
    pub os_version: Option<OsVersion>,
    /// The `allow` answer's token, for completing the enrollment; checked by the handler.
    pub enrollment_token: Option<String>,
}

/// What is wrong with a request, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    pub field: &'static str,
    pub message: String,
}

fn bad<T>(field: &'static str, message: impl Into<String>) -> Result<T, RequestError> {
    Err(RequestError {
        field,
        message: message.into(),
    })
}

fn optional_string<'a>(
    body: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, RequestError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => bad(field, "must be a string"),
    }
}

fn required_string<'a>(
    body: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, RequestError> {
    match optional_string(body, field)? {
        Some(s) => Ok(s),
        None => bad(field, "is required"),
    }
}

fn parse_serial(raw: &str) -> Result<String, RequestError> {
    if raw.is_empty() {
        return bad("serial_number", "must not be empty");
    }
    if raw.len() > MAX_SERIAL_BYTES {
        return bad(
            "serial_number",
            format!("must be at most {MAX_SERIAL_BYTES} bytes"),
        );
    }
    if let Some(found) = crate::domain::invisible_in_serial(raw) {
        return bad(
            "serial_number",
            format!("has {found}; send the serial number exactly as the device reports it"),
        );
    }
    Ok(raw.to_owned())
}

fn parse_platform(raw: &str) -> Result<RequestedPlatform, RequestError> {
    if raw == "windows" {
        return Ok(RequestedPlatform::Windows);
    }
    match Platform::parse(raw) {
        Ok(p) => Ok(RequestedPlatform::Supported(p)),
        Err(_) if raw.eq_ignore_ascii_case("windows") => bad(
            "platform",
            format!("'{raw}' is not allowed; values are lower-case: use 'windows'"),
        ),
        Err(_) => match Platform::ALLOWED
            .iter()
            .find(|p| p.eq_ignore_ascii_case(raw))
        {
            Some(p) => bad(
                "platform",
                format!("'{raw}' is not allowed; values are lower-case: use '{p}'"),
            ),
            None => bad(
                "platform",
                "must be one of android, ios, macos, tvos, linux, windows",
            ),
        },
    }
}

fn parse_method(raw: &str) -> Result<EnrollmentMethod, RequestError> {
    let token = !raw.is_empty()
        && raw.len() <= MAX_METHOD_BYTES
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !token {
        return bad(
            "enrollment_method",
            "must be a lower-case name such as ade, zero_touch, email, sms, self, qr, \
             android_enterprise_profile_owner or android_enterprise_device_owner",
        );
    }
    Ok(EnrollmentMethod::parse(raw))
}

fn parse_os_version(value: &Value) -> Result<Option<OsVersion>, RequestError> {
    let raw = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return bad("os_version", "must be a string such as \"14\" or \"12.1\""),
    };
    if raw.is_empty() {
        return Ok(None);
    }
    let major = raw.split('.').next().unwrap_or_default();
    match major.parse::<u32>() {
        Ok(major) if raw.len() <= 32 => Ok(Some(OsVersion { major, raw })),
        _ => bad(
            "os_version",
            "must start with the major version number, such as \"14\" or \"12.1\"",
        ),
    }
}

impl AdmissionRequest {
    /// The enrollment method as sent, for records.
    pub fn method_name(&self) -> Option<String> {
        self.method.as_ref().map(|m| m.as_str().to_owned())
    }

    /// The OS version as sent, for records.
    pub fn os_version_text(&self) -> Option<String> {
        self.os_version.as_ref().map(|v| v.raw.clone())
    }

    /// Parses a JSON body. The caller has already refused bodies over [`MAX_BODY_BYTES`].
    pub fn from_json(body: &[u8]) -> Result<Self, RequestError> {
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) if body.iter().all(u8::is_ascii_whitespace) => {
                return bad(
                    "body",
                    "is empty; send a JSON object with serial_number and platform",
                )
            }
            Err(e) => return bad("body", format!("is not valid JSON ({e})")),
        };
        let Value::Object(map) = value else {
            return bad("body", "must be a JSON object");
        };
        let serial = parse_serial(required_string(&map, "serial_number")?)?;
        let platform = parse_platform(required_string(&map, "platform")?)?;
        let password = match optional_string(&map, "password")? {
            Some(p) if p.len() > MAX_PASSWORD_BYTES => {
                return bad(
                    "password",
                    format!("must be at most {MAX_PASSWORD_BYTES} bytes"),
                )
            }
            Some("") | None => None,
            Some(p) => Some(p.to_owned()),
        };
        let method = optional_string(&map, "enrollment_method")?
            .map(parse_method)
            .transpose()?;
        let os_version = match map.get("os_version") {
            Some(v) => parse_os_version(v)?,
            None => None,
        };
        // Tokens are short ASCII; anything longer is not one (answered as an invalid token).
        let enrollment_token = optional_string(&map, "enrollment_token")?
            .filter(|t| t.len() <= MAX_TOKEN_BYTES)
            .map(str::to_owned);
        Ok(Self {
            serial,
            platform,
            password,
            method,
            os_version,
            enrollment_token,
        })
    }
}

const MAX_TOKEN_BYTES: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<AdmissionRequest, RequestError> {
        AdmissionRequest::from_json(body.as_bytes())
    }

    fn field_of(body: &str) -> &'static str {
        parse(body).unwrap_err().field
    }

    #[test]
    fn full_request() {
        let r = parse(
            r#"{"serial_number":"AbC 1","platform":"android","password":"pw",
                "enrollment_method":"zero_touch","os_version":"12.1.0","extra":1}"#,
        )
        .unwrap();
        assert_eq!(r.serial, "AbC 1", "kept byte-for-byte");
        assert_eq!(r.platform, RequestedPlatform::Supported(Platform::Android));
        assert_eq!(r.password.as_deref(), Some("pw"));
        assert_eq!(r.method, Some(EnrollmentMethod::ZeroTouch));
        assert_eq!(r.os_version.unwrap().major, 12);
    }

    #[test]
    fn serials_no_device_reports_are_refused_naming_the_character() {
        for (serial, shown) in [
            (" AbC1", "U+0020 SPACE at its start"),
            (r"AbC1\u00a0", "U+00A0 NO-BREAK SPACE"),
            (r"Ab\u200bC1", "U+200B ZERO WIDTH SPACE inside it"),
            (r"\u202eAbC1", "U+202E RIGHT-TO-LEFT OVERRIDE"),
            (r"Ab\tC1", "U+0009 CHARACTER TABULATION"),
        ] {
            let e = parse(&format!(
                r#"{{"serial_number":"{serial}","platform":"ios"}}"#
            ))
            .unwrap_err();
            assert_eq!(e.field, "serial_number");
            assert!(e.message.contains(shown), "{serial:?}: {}", e.message);
        }
    }

    #[test]
    fn optional_fields() {
        let r =
            parse(r#"{"serial_number":"X","platform":"windows","password":"","os_version":13}"#)
                .unwrap();
        assert_eq!(r.platform, RequestedPlatform::Windows);
        assert_eq!(r.password, None);
        assert_eq!(r.method, None);
        assert_eq!(r.os_version.unwrap().major, 13);
        let r = parse(r#"{"serial_number":"X","platform":"ios","enrollment_method":"apple_configurator","os_version":null}"#).unwrap();
        assert_eq!(
            r.method,
            Some(EnrollmentMethod::Other("apple_configurator".into()))
        );
        assert_eq!(r.os_version, None);
    }

    #[test]
    fn malformed_requests_name_the_field() {
        assert_eq!(field_of(""), "body");
        assert_eq!(field_of("{"), "body");
        assert_eq!(field_of("[1]"), "body");
        assert_eq!(field_of(r#"{"platform":"ios"}"#), "serial_number");
        assert_eq!(
            field_of(r#"{"serial_number":"","platform":"ios"}"#),
            "serial_number"
        );
        assert_eq!(
            field_of(r#"{"serial_number":7,"platform":"ios"}"#),
            "serial_number"
        );
        assert_eq!(
            field_of(r#"{"serial_number":"a\nb","platform":"ios"}"#),
            "serial_number"
        );
        let long = "x".repeat(MAX_SERIAL_BYTES + 1);
        assert_eq!(
            field_of(&format!(r#"{{"serial_number":"{long}","platform":"ios"}}"#)),
            "serial_number"
        );
        assert_eq!(field_of(r#"{"serial_number":"X"}"#), "platform");
        assert_eq!(
            field_of(r#"{"serial_number":"X","platform":"blackberry"}"#),
            "platform"
        );
        assert_eq!(
            field_of(r#"{"serial_number":"X","platform":"ios","password":1}"#),
            "password"
        );
        assert_eq!(
            field_of(r#"{"serial_number":"X","platform":"ios","enrollment_method":"Email"}"#),
            "enrollment_method"
        );
        assert_eq!(
            field_of(r#"{"serial_number":"X","platform":"ios","os_version":"latest"}"#),
            "os_version"
        );
        assert_eq!(
            field_of(r#"{"serial_number":"X","platform":"ios","os_version":[14]}"#),
            "os_version"
        );
    }

    #[test]
    fn platform_is_case_sensitive_with_a_hint() {
        let e = parse(r#"{"serial_number":"X","platform":"iOS"}"#).unwrap_err();
        assert!(e.message.contains("'ios'"), "{e}");
        let e = parse(r#"{"serial_number":"X","platform":"Windows"}"#).unwrap_err();
        assert!(e.message.contains("'windows'"), "{e}");
    }
}
