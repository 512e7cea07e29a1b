//! The route table: each route parses its request, calls its use case in
//! `shared::admin` and maps the result. CORS and the token check wrap them all.

use std::collections::HashMap;

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use shared::admin::ade::{self, AdePorts};
use shared::admin::approvals::{self, ApprovalRequest};
use shared::admin::devices::{self, DeviceQuery};
use shared::admin::{exports, imports, settings, undo, uploads, AdminPorts, DeviceAction};
use shared::clock::epoch_now;

use crate::auth::Verifier;
use crate::http::{body, cors, json, with_type, ApiError};

/// The adapters and configuration, built once per container.
pub struct App<P> {
    pub ports: P,
    pub verifier: Verifier,
    /// Origins the page is served from (CORS).
    pub allowed_origins: Vec<String>,
}

pub async fn handle<P: AdminPorts>(app: &App<P>, req: Request) -> Response<Body> {
    let origin = req
        .headers()
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = if req.method() == Method::OPTIONS {
        // CORS preflight: answered without a token, as API Gateway does.
        with_type(StatusCode::NO_CONTENT, Body::Empty, "text/plain")
    } else {
        route(app, &req)
            .await
            .unwrap_or_else(ApiError::into_response)
    };
    cors(response, origin.as_deref(), &app.allowed_origins)
}

/// Path segments after `/v1/`, percent-decoded (serials may hold any character).
fn segments(path: &str) -> Option<Vec<String>> {
    let rest = &path[path.find("/v1/")? + 4..];
    rest.trim_end_matches('/')
        .split('/')
        .map(|s| {
            percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        })
        .collect()
}

fn ok(body: &impl Serialize) -> Result<Response<Body>, ApiError> {
    Ok(json(StatusCode::OK, body))
}

async fn route<P: AdminPorts>(app: &App<P>, req: &Request) -> Result<Response<Body>, ApiError> {
    let path = segments(req.uri().path())
        .ok_or_else(|| ApiError::NoRoute("the admin API lives under /v1/".into()))?;
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let by = app.verifier.verify(authorization).await?.username;
    let query: HashMap<String, String> = req
        .query_string_parameters()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let q = |k: &str| query.get(k).map(String::as_str);
    let p = &app.ports;
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let m = req.method();
    let (get, post) = (m == Method::GET, m == Method::POST);
    match path.as_slice() {
        ["settings"] if get => ok(&settings::get(p.settings()).await?),
        ["settings"] if m == Method::PUT => {
            ok(&settings::put(p.settings(), &body(req.body())?, &by).await?)
        }
        ["settings"] => Err(ApiError::MethodNotAllowed("GET, PUT")),
        ["settings", "history"] if get => ok(&settings::history(p.settings()).await?),
        ["devices"] if get => {
            let query = DeviceQuery {
                status: q("status"),
                q: q("q"),
                invite: q("invite"),
                source: q("source"),
                account: q("account"),
                cursor: q("cursor"),
            };
            ok(&devices::list(p.reads(), query).await?)
        }
        ["devices", serial] if get => ok(&devices::one(p.reads(), p.devices(), serial).await?),
        ["devices", serial, "invite"] if post => {
            let queued = devices::resend(p.reads(), p.outbox(), p.queue(), serial, &by);
            Ok(json(StatusCode::ACCEPTED, &queued.await?))
        }
        ["devices", serial] if m == Method::DELETE => {
            ok(&devices::act(p.devices(), serial, DeviceAction::Remove, &by).await?)
        }
        ["devices", serial, "reset"] if post => {
            ok(&devices::act(p.devices(), serial, DeviceAction::Reset, &by).await?)
        }
        ["devices", serial, "renew"] if post => {
            let input: devices::RenewInput = match req.body().is_empty() {
                true => devices::RenewInput::default(),
                false => body(req.body())?,
            };
            ok(&devices::renew(p.devices(), p.settings(), serial, &input, &by).await?)
        }
        ["devices", serial, "unlock"] if post => {
            ok(&devices::act(p.devices(), serial, DeviceAction::Unlock, &by).await?)
        }
        ["overview"] if get => ok(&devices::overview(p.reads()).await?),
        ["admission-denials"] if get => ok(&approvals::list(p.reads(), q("cursor")).await?),
        ["admission-denials", id, "approve"] if post => {
            let input = body(req.body())?;
            let request = ApprovalRequest {
                id,
                input: &input,
                by: &by,
            };
            let approved = approvals::approve(p.reads(), p.approvals(), p.queue(), request);
            ok(&approved.await?)
        }
        ["exports"] if post => {
            // No body is no filter: every device.
            let filter = match req.body().is_empty() {
                true => serde_json::json!({}),
                false => body(req.body())?,
            };
            let started = exports::start(p.reads(), p.exports(), &filter, &by);
            Ok(json(StatusCode::ACCEPTED, &started.await?))
        }
        ["exports", id] if get => ok(&exports::one(p.exports(), p.files(), id).await?),
        ["imports"] if get => ok(&imports::list(p.reads(), q("cursor")).await?),
        ["imports"] if post => {
            let committed = uploads::commit(p.staging(), p.settings(), body(req.body())?, &by);
            Ok(json(StatusCode::ACCEPTED, &committed.await?))
        }
        ["imports", "preview"] if post => {
            let input = body(req.body())?;
            ok(&uploads::preview(p.staging(), p.settings(), p.reads(), input).await?)
        }
        ["imports", id] if get => ok(&imports::one(p.reads(), p.files(), p.outbox(), id).await?),
        ["imports", id, "undo"] if post => {
            let input: undo::UndoInput = match req.body().is_empty() {
                true => undo::UndoInput::default(),
                false => body(req.body())?,
            };
            let started = undo::start(p.reads(), p.undo(), id, &input, &by).await?;
            let status = if started.queued {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            Ok(json(status, &started.state))
        }
        ["imports", id, "undo"] if get => ok(&undo::get(p.undo(), id).await?),
        ["imports", id, "invites", "resend"] if post => {
            // Leaves API Gateway's 29 s with room: a larger set says `more` and is called again.
            let started = std::time::Instant::now();
            let out_of_time = move || started.elapsed() > std::time::Duration::from_secs(20);
            let resent =
                imports::resend_invites(p.reads(), p.outbox(), p.queue(), id, &by, &out_of_time);
            Ok(json(StatusCode::ACCEPTED, &resent.await?))
        }
        ["ade", "accounts", ..] => ade_route(p.ade(), m, &path[2..], req.body(), &by).await,
        ["uploads"] if post => Ok(json(
            StatusCode::CREATED,
            &uploads::upload_target(p.staging()).await?,
        )),
        ["sample.csv"] if get => Ok(sample()),
        _ => Err(ApiError::NoRoute(format!(
            "no route {} /v1/{}",
            m,
            path.join("/")
        ))),
    }
}

/// `/v1/ade/accounts[/{id}[/certificate|/token|/sync]]`.
async fn ade_route(
    p: &impl AdePorts,
    m: &Method,
    rest: &[&str],
    bytes: &[u8],
    by: &str,
) -> Result<Response<Body>, ApiError> {
    let now = epoch_now();
    let (get, post) = (m == Method::GET, m == Method::POST);
    match rest {
        [] if get => ok(&ade::list(p.accounts(), now).await?),
        [] if post => {
            let created = ade::create(p, &body(bytes)?, by, now).await?;
            Ok(json(StatusCode::CREATED, &created))
        }
        [] => Err(ApiError::MethodNotAllowed("GET, POST")),
        [id] if get => ok(&ade::get(p.accounts(), id, now).await?),
        [id] if m == Method::PUT => ok(&ade::update(p, id, &body(bytes)?, by, now).await?),
        [id] if m == Method::DELETE => {
            Ok(json(StatusCode::ACCEPTED, &ade::delete(p, id, by).await?))
        }
        [_] => Err(ApiError::MethodNotAllowed("GET, PUT, DELETE")),
        [id, "certificate"] if get => Ok(certificate(ade::certificate(p.accounts(), id).await?)),
        [id, "token"] if m == Method::PUT => ok(&ade::upload_token(p, id, bytes, by, now).await?),
        [id, "sync"] if post => {
            // No body is a sync of the changes since the last one.
            let input = match bytes.is_empty() {
                true => ade::SyncInput::default(),
                false => body(bytes)?,
            };
            let queued = ade::sync_now(p, id, input, by, now).await?;
            Ok(json(StatusCode::ACCEPTED, &queued))
        }
        _ => Err(ApiError::NoRoute(format!(
            "no route {m} /v1/ade/accounts/{}",
            rest.join("/")
        ))),
    }
}

fn certificate(c: ade::Certificate) -> Response<Body> {
    let mut r = with_type(StatusCode::OK, Body::from(c.pem), "application/x-pem-file");
    // The file name is letters, digits and dashes: always a valid header.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", c.file_name)) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

fn sample() -> Response<Body> {
    let mut r = with_type(
        StatusCode::OK,
        Body::from(uploads::SAMPLE_CSV),
        "text/csv; charset=utf-8",
    );
    r.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"pre-approved-devices-sample.csv\""),
    );
    r
}

#[cfg(test)]
mod tests;
