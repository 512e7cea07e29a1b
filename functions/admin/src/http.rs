//! Responses: JSON bodies, errors that say what is wrong and how to fix it,
//! and CORS limited to the admin page's origin.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use shared::admin::AdminError;

use crate::auth::AuthError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// No such route.
    #[error("{0}")]
    NoRoute(String),
    /// The route exists with these methods.
    #[error("{0}")]
    MethodNotAllowed(&'static str),
}

/// Every error's body: `{"error", "field"?, "message", "headers"?}`.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mapping: Option<&'a std::collections::BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform_sources: Option<&'a [String]>,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Admin(e) => match e {
                AdminError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
                AdminError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                AdminError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
                AdminError::TooSoon { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_soon"),
                AdminError::Unprocessable { .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "unreadable_file")
                }
                AdminError::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream_unavailable"),
                AdminError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            },
            // Not the caller's fault: a 401 would send the page to sign in again, to no avail.
            Self::Unauthorized(AuthError::Unavailable { .. }) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::NoRoute(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let (status, error) = self.status_and_code();
        let message = match &self {
            // The cause is logged, not shown: it may name tables or keys.
            Self::Admin(AdminError::Unavailable(e)) => {
                tracing::error!(error = %e, "admin request failed");
                "the service is unavailable; try again shortly".to_owned()
            }
            other => other.to_string(),
        };
        let (field, headers, mapping, platform_sources) = match &self {
            Self::Admin(AdminError::BadRequest { field, .. }) => (*field, None, None, None),
            Self::Admin(AdminError::Unprocessable {
                headers,
                mapping,
                platform_sources,
                ..
            }) => (
                None,
                Some(&headers[..]),
                Some(mapping),
                Some(&platform_sources[..]),
            ),
            _ => (None, None, None, None),
        };
        let mut r = json(
            status,
            &ErrorBody {
                error,
                field,
                message,
                headers,
                mapping,
                platform_sources,
            },
        );
        match self {
            Self::Unauthorized(AuthError::Unavailable { retry_after }) => {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            Self::Unauthorized(_) => {
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::MethodNotAllowed(allow) => {
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            Self::Admin(AdminError::TooSoon { retry_after, .. }) => {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            _ => {}
        }
        r
    }
}

pub fn json(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    // Serialising these plain structs cannot fail; an empty object is the fallback anyway.
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    with_type(status, Body::from(text), "application/json")
}

pub fn with_type(status: StatusCode, body: Body, content_type: &'static str) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Adds CORS headers when the request comes from an allowed origin.
pub fn cors(mut r: Response<Body>, origin: Option<&str>, allowed: &[String]) -> Response<Body> {
    let h = r.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin.filter(|o| allowed.iter().any(|a| a == o)) {
        if let Ok(v) = HeaderValue::from_str(origin) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, PUT, POST, DELETE, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
    }
    r
}

/// Parses a JSON body, naming what is wrong.
pub fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        AdminError::BadRequest {
            field: None,
            message: format!("the body is not what this endpoint takes: {e}"),
        }
        .into()
    })
}
