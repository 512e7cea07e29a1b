//! Responses: JSON bodies, errors that say what is wrong and how to fix it,
//! and CORS limited to the admin page's origin.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use shared::ports::PortError;

use crate::auth::AuthError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        field: Option<&'static str>,
        message: String,
    },
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// The file cannot be read as an import (e.g. mandatory columns missing):
    /// `headers` are the file's column titles, to map by hand.
    #[error("{message}")]
    Unprocessable {
        message: String,
        headers: Vec<String>,
    },
    #[error("{0}")]
    Unavailable(#[from] PortError),
}

impl ApiError {
    pub fn bad(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            field: Some(field),
            message: message.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "invalid_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::Unprocessable { .. } => "unreadable_file",
            Self::Unavailable(_) => "unavailable",
        }
    }

    pub fn into_response(self) -> Response<Body> {
        #[derive(Serialize)]
        struct Error<'a> {
            error: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            field: Option<&'a str>,
            message: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            headers: Option<&'a [String]>,
        }
        let message = match &self {
            // The cause is logged, not shown: it may name tables or keys.
            Self::Unavailable(e) => {
                tracing::error!(error = %e, "admin request failed");
                "the service is unavailable; try again shortly".to_owned()
            }
            other => other.to_string(),
        };
        let field = match &self {
            Self::BadRequest { field, .. } => *field,
            _ => None,
        };
        let mut r = json(
            self.status(),
            &Error {
                error: self.code(),
                field,
                message,
                headers: match &self {
                    Self::Unprocessable { headers, .. } => Some(headers),
                    _ => None,
                },
            },
        );
        match self {
            Self::Unauthorized(_) => {
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::MethodNotAllowed(allow) => {
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            _ => {}
        }
        r
    }
}

pub fn json(status: StatusCode, body: &impl Serialize) -> Response<Body> {
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
                HeaderValue::from_static("GET, PUT, POST, OPTIONS"),
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
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest {
        field: None,
        message: format!("the body is not what this endpoint takes: {e}"),
    })
}
