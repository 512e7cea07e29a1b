//! HTTP in and out: routing, status codes and JSON bodies around the pure
//! admission rules. No input makes this panic; store failures answer 503.
//!
//! What an anonymous caller gets: refusals that depend on the stored list are
//! one answer, byte for byte (`not_allowed`); every answer that is not a
//! pre-approval makes the same requests, given whether the request brings a
//! password: the read, with a password a claimed check (or a claim's request
//! that writes nothing, where none is compared), then on deny the denial
//! write; at most five password checks per lock window (`lockout`), each
//! claimed before its comparison; completing an enrollment needs the token of
//! an `allow`, grants exactly what that `allow` granted, against the same
//! record, and only once.

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use shared::admission::grouping::MarkKey;
use shared::admission::{
    decide, password_due, AdmissionRequest, AdmissionStore, Compared, Credential, Decision, Denial,
    DueCheck, Enrolled, Enrollment, Expect, Grant, PublicReason, Recorded, TokenKey,
    MAX_BODY_BYTES,
};
use shared::clock::epoch_now;
use shared::events::Outgoing;
use shared::password::PasswordKey;
use shared::port_error::PortError;
use shared::records::DeviceStatus;

pub struct App<S> {
    pub store: S,
    pub password_key: PasswordKey,
    /// Derived from the password key once, at start.
    pub tokens: TokenKey,
    /// How a denials ledger knows a serial; derived once, at start.
    pub marks: MarkKey,
    /// Each decision's event, published after the answer ([`crate::after_response`]).
    pub events: Outgoing,
}

impl<S> App<S> {
    pub fn new(store: S, password_key: PasswordKey) -> Self {
        Self {
            tokens: TokenKey::derive(&password_key),
            marks: MarkKey::derive(&password_key),
            events: Outgoing::default(),
            store,
            password_key,
        }
    }
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
    reason: PublicReason,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<&'a [String]>,
}

/// One request: who asked, what, when.
struct Attempt<'a> {
    request: &'a AdmissionRequest,
    endpoint: Endpoint,
    source_ip: Option<String>,
    now: u64,
}

pub async fn handle<S: AdmissionStore>(app: &App<S>, req: Request) -> Response<Body> {
    handle_at(app, req, epoch_now()).await
}

/// [`handle`] at `now` (epoch seconds): the clock a test moves, to reach
/// expiries, lock windows and token lifetimes.
pub async fn handle_at<S: AdmissionStore>(app: &App<S>, req: Request, now: u64) -> Response<Body> {
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
    let attempt = Attempt {
        request: &request,
        endpoint,
        source_ip: source_ip(&req),
        now,
    };
    match endpoint {
        Endpoint::Admission => admit(app, &attempt).await,
        Endpoint::Enrollments => complete(app, &attempt).await,
    }
}

/// The caller's address as API Gateway saw it (HTTP API or REST API).
fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(c) => c.http.source_ip.clone(),
        RequestContext::ApiGatewayV1(c) => c.identity.source_ip.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// A hash no password matches: a password not compared costs the same HMAC as one compared.
const NO_DEVICE_HASH: &str = "v2$0000000000000000000000000000000000000000000000000000000000000000";

/// POST /v1/admission: the decision, and on allow the token that completes the enrollment.
async fn admit<S: AdmissionStore>(app: &App<S>, a: &Attempt<'_>) -> Response<Body> {
    let request = a.request;
    let lookup = match app.store.lookup(&request.serial).await {
        Ok(l) => l,
        Err(e) => return unavailable(a.endpoint, &e),
    };
    let (compared, claimed) = match password_due(request, &lookup, a.now) {
        // No comparison without its claim: a store that cannot count answers 503.
        Some(due) => match compare(app, request, &due).await {
            Ok(found) => found,
            Err(e) => return unavailable(a.endpoint, &e),
        },
        None => (Compared::NotDue, None),
    };
    let decision = decide(request, &lookup, Credential::Password(compared), a.now);
    if compared == Compared::NotDue
        && request.password.is_some()
        && decision.grant() != Some(Grant::PreApproved)
    {
        stand_in(app, request).await;
    }
    if let (Compared::Right, Some(claimed)) = (compared, claimed) {
        if let Err(e) = app.store.clear_checks(&request.serial, claimed).await {
            tracing::error!(error = %e, "could not clear the password checks");
        }
    }
    settle(app, a, &decision).await;
    let token = decision.grant().map(|grant| {
        app.tokens.issue(
            &request.serial,
            request.platform.as_str(),
            grant,
            lookup.device.as_ref(),
            a.now,
        )
    });
    json(StatusCode::OK, &decision.answer(token))
}

/// Claims a password check, then compares: what it found, and the device's
/// checks with this one (to clear them when right). A refused claim compares
/// nothing (the window filled since the read).
async fn compare<S: AdmissionStore>(
    app: &App<S>,
    request: &AdmissionRequest,
    due: &DueCheck<'_>,
) -> Result<(Compared, Option<u64>), PortError> {
    let presented = request.password.as_deref().unwrap_or_default();
    let claimed = app.store.claim_check(&request.serial, &due.claim).await?;
    let stored = if claimed.is_some() {
        due.hash
    } else {
        NO_DEVICE_HASH
    };
    let right = app.password_key.verify(&request.serial, presented, stored);
    Ok(match claimed {
        Some(claimed) if right => (Compared::Right, Some(claimed)),
        Some(claimed) => (Compared::Wrong, Some(claimed)),
        None => (Compared::Refused, None),
    })
}

/// A password was presented and not compared, for an answer that could be a
/// compared one's (a refusal or an open enrollment): the same work as a
/// comparison, so that its time does not tell which serials have a password
/// to guess. A claim's request that its condition refuses, and an HMAC.
async fn stand_in<S: AdmissionStore>(app: &App<S>, request: &AdmissionRequest) {
    let presented = request.password.as_deref().unwrap_or_default();
    let _ = app
        .password_key
        .verify(&request.serial, presented, NO_DEVICE_HASH);
    if let Err(e) = app.store.claim_nothing(&request.serial).await {
        tracing::error!(error = %e, "could not stand in for a password check");
    }
}

/// POST /v1/enrollments: an admitted device (its token) becomes enrolled,
/// once, as its admission granted: the token's grant, judged against the
/// record it names, with the setting and the record read again now, and the
/// token refused if it completed an enrollment before (one request: the lookup).
async fn complete<S: AdmissionStore>(app: &App<S>, a: &Attempt<'_>) -> Response<Body> {
    let request = a.request;
    let token = request.enrollment_token.as_deref();
    let claims = match app
        .tokens
        .verify(token, &request.serial, request.platform.as_str(), a.now)
    {
        Ok(claims) => claims,
        Err(e) => {
            tracing::info!(endpoint = "enrollments", why = %e, "enrollment token refused");
            return invalid_token();
        }
    };
    let (lookup, used) = match app
        .store
        .lookup_completion(&request.serial, &claims.nonce)
        .await
    {
        Ok(read) => read,
        Err(e) => return unavailable(a.endpoint, &e),
    };
    if lookup
        .device
        .as_ref()
        .is_some_and(|d| d.status == DeviceStatus::Enrolled)
    {
        return already_enrolled();
    }
    // Used before: the device was reset, re-imported or restored since, and
    // needs a new admission.
    if used {
        tracing::info!(endpoint = "enrollments", "enrollment token used before");
        return invalid_token();
    }
    // Not the record the admission judged (imported, re-imported or removed
    // since): its grant does not carry over to another pre-approval.
    if claims.record != app.tokens.record(lookup.device.as_ref()) {
        tracing::info!(
            endpoint = "enrollments",
            "the device record changed since its admission"
        );
        return changed();
    }
    let decision = decide(request, &lookup, Credential::Token(claims.grant), a.now);
    settle(app, a, &decision).await;
    if !decision.is_allow() {
        return json(StatusCode::FORBIDDEN, &decision.answer(None));
    }
    let enrollment = Enrollment {
        serial: request.serial.clone(),
        platform: request.platform.as_str(),
        method: request.method_name(),
        os_version: request.os_version_text(),
        pre_approved: decision.pre_approved,
        expect: match &lookup.device {
            None => Expect::Absent,
            Some(d) => Expect::Unenrolled {
                status: d.status,
                password_hash: d.password_hash.clone(),
            },
        },
        at: a.now,
        nonce: claims.nonce,
        token_expires: claims.expires,
    };
    match app.store.enroll(&enrollment).await {
        Ok(Enrolled::Done) => json(
            StatusCode::OK,
            &EnrolledBody {
                status: "enrolled",
                pre_approved: decision.pre_approved,
                reason: decision.reason.public(),
                groups: decision.groups.as_deref(),
            },
        ),
        Ok(Enrolled::AlreadyEnrolled) => already_enrolled(),
        Ok(Enrolled::Changed) => changed(),
        Ok(Enrolled::TokenUsed) => invalid_token(),
        Err(e) => unavailable(a.endpoint, &e),
    }
}

/// What a decision leaves: its log line, its event (published after the
/// answer) and, on deny, the denial's count. A denial's event goes out only
/// when it made a new record (its serial's own, or its address's ledger
/// becoming a row): a flood of made-up serials from one address makes at
/// most ten an hour ([`shared::admission::grouping`]). A failed write is
/// logged, never turned into a different answer, and announces nothing.
async fn settle<S: AdmissionStore>(app: &App<S>, a: &Attempt<'_>, decision: &Decision) {
    let request = a.request;
    tracing::info!(
        endpoint = a.endpoint.name(),
        platform = request.platform.as_str(),
        decision = ?decision.decision,
        reason = decision.reason.as_str(),
        "admission"
    );
    let event = || shared::admission::decision_event(decision, request, a.endpoint.name(), a.now);
    if decision.is_allow() {
        app.events.push(event());
        return;
    }
    let denial = Denial {
        serial: request.serial.clone(),
        platform: request.platform.as_str(),
        method: request.method_name(),
        os_version: request.os_version_text(),
        reason: decision.reason,
        endpoint: a.endpoint.name(),
        at: a.now,
        source_ip: a.source_ip.clone(),
        mark: app.marks.mark(&request.serial),
    };
    let (id, grouped) = match app.store.record_denial(&denial).await {
        Ok(Recorded::Created { id }) => (id, false),
        Ok(Recorded::Opened { id }) => (id, true),
        Ok(Recorded::Counted) => return,
        Err(e) => {
            tracing::error!(error = %e, "could not record the denial");
            return;
        }
    };
    let mut e = event();
    if let Some(detail) = e.detail.as_object_mut() {
        detail.insert("denial_id".into(), id.into());
        if grouped {
            // This and the address's further attempts this hour are one row.
            detail.insert("grouped".into(), true.into());
        }
    }
    app.events.push(e);
}

fn invalid_token() -> Response<Body> {
    error(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        Some("enrollment_token"),
        "send the enrollment_token of this device's admission (it is valid once, for 15 minutes); ask for admission again",
    )
}

fn changed() -> Response<Body> {
    error(
        StatusCode::CONFLICT,
        "changed",
        None,
        "the device record changed since its admission (re-imported?); ask for admission again",
    )
}

fn already_enrolled() -> Response<Body> {
    error(
        StatusCode::CONFLICT,
        "already_enrolled",
        None,
        "this device has already completed enrollment",
    )
}

fn unavailable(endpoint: Endpoint, e: &shared::port_error::PortError) -> Response<Body> {
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

#[cfg(test)]
mod flood_tests;
#[cfg(test)]
mod tests;
