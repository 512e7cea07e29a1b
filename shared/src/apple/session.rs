//! One server token's calls to Apple. A call uses the kept `X-ADM-Auth-Session`
//! (or makes one with `GET /session`); a new session header in any answer
//! replaces the kept one; a 401 gets one new session and the call is sent
//! again, and a second 401 is [`DepError::Unauthorized`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::answers::{self, ERROR_BODY_LIMIT};
use super::config::{Endpoints, PROTOCOL_VERSION};
use super::sessions::Sessions;
use crate::ade::oauth::{self, Credentials, Signing};
use crate::ade::ports::{AppleAccount, DepError, DepSession, DevicePage};
use crate::ade::token::ServerToken;
use crate::clock::epoch_now;

pub const SESSION_HEADER: &str = "X-ADM-Auth-Session";
pub const PROTOCOL_HEADER: &str = "X-Server-Protocol-Version";
/// What Apple sends and wants (its spelling, `UTF8`).
pub const JSON_TYPE: &str = "application/json;charset=UTF8";
/// A larger answer is refused rather than held in memory: a full page of
/// 1,000 devices is well under a megabyte.
pub const ANSWER_LIMIT: usize = 16 * 1024 * 1024;

/// The client of one server token. No `Debug`: it holds the token's secrets.
pub struct AppleSession {
    pub(super) http: reqwest::Client,
    pub(super) endpoints: Arc<Endpoints>,
    pub(super) sessions: Sessions,
    pub(super) token: ServerToken,
    pub(super) request_timeout: Duration,
    pub(super) requests: AtomicU64,
}

#[derive(Deserialize)]
struct SessionAnswer {
    auth_session_token: String,
}

#[derive(Serialize)]
struct FetchBody<'a> {
    limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<&'a str>,
}

#[derive(Serialize)]
struct SyncBody<'a> {
    cursor: &'a str,
    limit: u32,
}

/// One of Apple's calls, by its name in errors and logs.
struct Call<'a> {
    name: &'static str,
    method: Method,
    url: &'a Url,
    body: Option<Vec<u8>>,
}

impl AppleSession {
    /// `GET /session`, signed with the token: a new session, kept for the next calls.
    async fn authenticate(&self) -> Result<String, DepError> {
        const CALL: &str = "GET /session";
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let header = oauth::authorization(
            &Credentials {
                consumer_key: &self.token.consumer_key,
                consumer_secret: &self.token.consumer_secret,
                token: &self.token.access_token,
                token_secret: &self.token.access_secret,
            },
            &Signing {
                realm: "ADM",
                method: "GET",
                uri: &self.endpoints.session_signed,
                query: &[],
                timestamp: epoch_now(),
                nonce: &nonce,
            },
        );
        let request = self
            .http
            .get(self.endpoints.session.clone())
            .header(AUTHORIZATION, header)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
            .header(ACCEPT, JSON_TYPE);
        let answer = self.send(request, CALL).await?;
        if !answer.status().is_success() {
            return Err(self.refused(answer, CALL).await);
        }
        let session = self
            .read::<SessionAnswer>(answer, CALL)
            .await?
            .auth_session_token;
        if session.is_empty() || HeaderValue::from_str(&session).is_err() {
            return Err(DepError::Protocol(format!(
                "{CALL} answered a session token that cannot be sent back"
            )));
        }
        self.sessions.put(&self.token.consumer_key, &session);
        Ok(session)
    }

    /// A call with the kept session; a 401 gets one new session and one replay.
    async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, DepError> {
        let key = self.token.consumer_key.as_str();
        let (mut session, mut renewed) = match self.sessions.get(key) {
            Some(kept) => (kept, false),
            None => (self.authenticate().await?, true),
        };
        loop {
            let mut request = self
                .http
                .request(call.method.clone(), call.url.clone())
                .header(SESSION_HEADER, &session)
                .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
                .header(CONTENT_TYPE, JSON_TYPE)
                .header(ACCEPT, JSON_TYPE);
            if let Some(body) = &call.body {
                request = request.body(body.clone());
            }
            let answer = self.send(request, call.name).await?;
            if let Some(rotated) = answer
                .headers()
                .get(SESSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty() && *v != session)
            {
                session = rotated.to_owned();
                self.sessions.put(key, &session);
            }
            if answer.status() == StatusCode::UNAUTHORIZED {
                self.sessions.forget(key, &session);
                if renewed {
                    return Err(self.refused(answer, call.name).await);
                }
                tracing::info!(
                    call = call.name,
                    "apple refused the session; authenticating again"
                );
                session = self.authenticate().await?;
                renewed = true;
                continue;
            }
            if !answer.status().is_success() {
                return Err(self.refused(answer, call.name).await);
            }
            return self.read(answer, call.name).await;
        }
    }

    async fn send(&self, request: RequestBuilder, call: &str) -> Result<Response, DepError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let answer = request
            .send()
            .await
            .map_err(|e| answers::unreachable(&e, call, self.request_timeout))?;
        tracing::debug!(call, status = answer.status().as_u16(), "apple answered");
        Ok(answer)
    }

    /// A refusal's error, from its status, `Retry-After` and the start of its body.
    async fn refused(&self, mut answer: Response, call: &str) -> DepError {
        let status = answer.status().as_u16();
        let retry_after = answer
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| answers::retry_after(v, SystemTime::now()));
        let mut body = Vec::new();
        // A body cut short still has its code, if it had one; the rest is not needed.
        while body.len() < ERROR_BODY_LIMIT {
            match answer.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        body.truncate(ERROR_BODY_LIMIT);
        answers::refusal(status, &body, retry_after, call)
    }

    /// A 2xx answer's JSON, parsed from the body as it arrived.
    async fn read<T: DeserializeOwned>(
        &self,
        mut answer: Response,
        call: &str,
    ) -> Result<T, DepError> {
        let too_large = || {
            DepError::Protocol(format!(
                "{call} answered more than {} MB",
                ANSWER_LIMIT / (1024 * 1024)
            ))
        };
        let expected = answer.content_length().unwrap_or(0);
        if expected > ANSWER_LIMIT as u64 {
            return Err(too_large());
        }
        let mut body = Vec::with_capacity(expected as usize);
        while let Some(chunk) = answer
            .chunk()
            .await
            .map_err(|e| answers::unreachable(&e, call, self.request_timeout))?
        {
            if body.len() + chunk.len() > ANSWER_LIMIT {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        // The error's position, never its text: serde quotes the value it refused.
        serde_json::from_slice(&body).map_err(|e| {
            DepError::Protocol(format!(
                "{call} answered JSON not as expected ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    // A struct of strings and numbers always serialises.
    serde_json::to_vec(value).expect("a request body serialises")
}

impl DepSession for AppleSession {
    async fn account(&self) -> Result<AppleAccount, DepError> {
        self.call(Call {
            name: "GET /account",
            method: Method::GET,
            url: &self.endpoints.account,
            body: None,
        })
        .await
    }

    async fn fetch(&self, cursor: Option<&str>, limit: u32) -> Result<DevicePage, DepError> {
        self.call(Call {
            name: "POST /server/devices",
            method: Method::POST,
            url: &self.endpoints.devices,
            body: Some(json(&FetchBody { limit, cursor })),
        })
        .await
    }

    async fn sync(&self, cursor: &str, limit: u32) -> Result<DevicePage, DepError> {
        self.call(Call {
            name: "POST /devices/sync",
            method: Method::POST,
            url: &self.endpoints.sync,
            body: Some(json(&SyncBody { cursor, limit })),
        })
        .await
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}
