//! HTTP in and out: routing, status codes and JSON bodies around the pure
//! admission rules. No input makes this panic; store failures answer 503.

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use shared::admission::{
    decide, AdmissionRequest, AdmissionStore, Decision, Denial, Enrolled, Enrollment, Expect,
    Reason, MAX_BODY_BYTES,
};
use shared::password::PasswordKey;
use shared::records::epoch_now;

pub struct App<S> {
    pub store: S,
    pub password_key: PasswordKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Admission,
    Enrollments,
}

impl Endpoint {
    /// By suffix, so a stage or function-URL prefix in front of the path does not matter.
    fn of(path: &str) -> Option<Self> {
        let path = path.trim_end_matches('/');
        if path.ends_with("/v1/admission") {
            Some(Self::Admission)
        } else if path.ends_with("/v1/enrollments") {
            Some(Self::Enrollments)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Admission => "admission",
            Self::Enrollments => "enrollments",
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    message: &'a str,
}

fn json(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    // Serialising these plain structs cannot fail; an empty object is the fallback anyway.
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn error(status: StatusCode, error: &str, field: Option<&str>, message: &str) -> Response<Body> {
    json(
        status,
        &ErrorBody {
            error,
            field,
            message,
        },
    )
}

#[derive(Serialize)]
struct EnrolledBody<'a> {
    status: &'static str,
    pre_approved: bool,
    reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<&'a [String]>,
}

pub async fn handle<S: AdmissionStore>(app: &App<S>, req: Request) -> Response<Body> {
    let Some(endpoint) = Endpoint::of(req.uri().path()) else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            None,
            "use POST /v1/admission or POST /v1/enrollments",
        );
    };
    if req.method() != Method::POST {
        let mut r = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            None,
            "this endpoint accepts POST with a JSON body",
        );
        r.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return r;
    }
    let body: &[u8] = req.body();
    if body.len() > MAX_BODY_BYTES {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            Some("body"),
            "the body must be at most 4096 bytes",
        );
    }
    let request = match AdmissionRequest::from_json(body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some(e.field),
                &e.to_string(),
            )
        }
    };
    let lookup = match app.store.lookup(&request.serial).await {
        Ok(l) => l,
        Err(e) => return unavailable(endpoint, &e),
    };
    let decision = decide(&request, &lookup, |presented, stored| {
        app.password_key.verify(&request.serial, presented, stored)
    });
    let now = epoch_now();
    tracing::info!(
        endpoint = endpoint.name(),
        platform = request.platform.as_str(),
        decision = ?decision.decision,
        reason = decision.reason.as_str(),
        "admission"
    );
    if !decision.is_allow() {
        record_denial(app, &request, &decision, endpoint, now).await;
        return match (endpoint, decision.reason) {
            (Endpoint::Admission, _) => json(StatusCode::OK, &decision),
            (Endpoint::Enrollments, Reason::AlreadyEnrolled) => already_enrolled(),
            (Endpoint::Enrollments, _) => json(StatusCode::FORBIDDEN, &decision),
        };
    }
    if endpoint == Endpoint::Admission {
        return json(StatusCode::OK, &decision);
    }
    let enrollment = Enrollment {
        serial: request.serial.clone(),
        platform: request.platform.as_str(),
        method: request.method_name(),
        os_version: request.os_version_text(),
        pre_approved: decision.pre_approved,
        expect: match &lookup.device {
            None => Expect::Absent,
            Some(d) => Expect::PreApproved {
                password_hash: d.password_hash.clone(),
            },
        },
        at: now,
    };
    match app.store.enroll(&enrollment).await {
        Ok(Enrolled::Done) => json(
            StatusCode::OK,
            &EnrolledBody {
                status: "enrolled",
                pre_approved: decision.pre_approved,
                reason: decision.reason,
                groups: decision.groups.as_deref(),
            },
        ),
        Ok(Enrolled::AlreadyEnrolled) => already_enrolled(),
        Ok(Enrolled::Changed) => error(
            StatusCode::CONFLICT,
            "changed",
            None,
            "the device record changed while enrolling (re-imported?); try again",
        ),
        Err(e) => unavailable(endpoint, &e),
    }
}

fn already_enrolled() -> Response<Body> {
    error(
        StatusCode::CONFLICT,
        "already_enrolled",
        None,
        "this device has already completed enrollment; its one-time password cannot be used again",
    )
}

fn unavailable(endpoint: Endpoint, e: &shared::ports::PortError) -> Response<Body> {
    tracing::error!(endpoint = endpoint.name(), error = %e, "store unavailable");
    let mut r = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        None,
        "the device directory is unavailable; try again shortly",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    r
}

/// Only the deny path writes; a failed write is logged, never turned into a different answer.
async fn record_denial<S: AdmissionStore>(
    app: &App<S>,
    request: &AdmissionRequest,
    decision: &Decision,
    endpoint: Endpoint,
    at: u64,
) {
    let denial = Denial {
        serial: request.serial.clone(),
        platform: request.platform.as_str(),
        method: request.method_name(),
        os_version: request.os_version_text(),
        reason: decision.reason,
        endpoint: endpoint.name(),
        at,
    };
    if let Err(e) = app.store.record_denial(&denial).await {
        tracing::error!(error = %e, "could not record the denial");
    }
}

#[cfg(test)]
mod tests;
