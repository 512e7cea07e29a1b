//! AWS-like answers with AWS-like delays, for `make bench` to measure the
//! invite sender's own ceiling (issue 27 item 5): DynamoDB, SQS and SES v2
//! behind one endpoint (`AWS_ENDPOINT_URL`), each call answered after its
//! service's delay. It keeps state and judges requests the way the services
//! do where the sender depends on it (conditions, transactions' conflicts,
//! the queue's visibility, SES's rate): see each module. Requests must be
//! signed (SigV4 `Authorization`), as AWS requires; the signature itself is
//! not checked.
//!
//! `POST /_fake/config` changes the delays and the SES quota; `GET
//! /_fake/stats` reports requests per operation and each service's counts.

pub mod dynamo;
pub mod expr;
pub mod http;
pub mod ses;
pub mod sqs;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use dynamo::{Dynamo, Failure};
use http::{Request, Response};
use ses::Ses;
use sqs::Sqs;

/// Per-call delays in milliseconds.
pub struct Delays {
    pub dynamodb: AtomicU64,
    pub sqs: AtomicU64,
    pub ses: AtomicU64,
}

pub struct Fake {
    pub delays: Delays,
    pub dynamo: Mutex<Dynamo>,
    pub sqs: Mutex<Sqs>,
    pub ses: Mutex<Ses>,
    requests: Mutex<BTreeMap<String, u64>>,
}

/// What the fake serves.
pub struct Setup {
    /// Table name -> key attributes.
    pub tables: Vec<(String, Vec<String>)>,
    pub queues: Vec<String>,
    pub visibility_timeout_s: u64,
    pub redeliver_every: u64,
    pub sender: String,
    pub configuration_set: Option<String>,
    pub quota_per_s: f64,
    pub delays_ms: (u64, u64, u64),
}

impl Fake {
    pub fn new(s: Setup) -> Self {
        let mut dynamo = Dynamo::default();
        dynamo.schemas = s.tables.into_iter().collect();
        let mut sqs = Sqs::default();
        sqs.visibility_timeout_s = s.visibility_timeout_s;
        sqs.redeliver_every = s.redeliver_every;
        for q in s.queues {
            sqs.queues.insert(q, Default::default());
        }
        Self {
            delays: Delays {
                dynamodb: AtomicU64::new(s.delays_ms.0),
                sqs: AtomicU64::new(s.delays_ms.1),
                ses: AtomicU64::new(s.delays_ms.2),
            },
            dynamo: Mutex::new(dynamo),
            sqs: Mutex::new(sqs),
            ses: Mutex::new(Ses::new(s.sender, s.configuration_set, s.quota_per_s)),
            requests: Mutex::new(BTreeMap::new()),
        }
    }

    fn count(&self, what: String) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry(what).or_default() += 1;
        }
    }

    pub async fn handle(&self, req: Request) -> Response {
        if req.path.starts_with("/_fake/") {
            return self.control(&req);
        }
        let signed = req
            .header("authorization")
            .is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256 "));
        let target = req.header("x-amz-target").unwrap_or_default().to_owned();
        let json_type = "application/x-amz-json-1.0";
        if !signed {
            return error(
                403,
                json_type,
                &fail(
                    "MissingAuthenticationTokenException",
                    "Request is missing Authentication Token",
                ),
            );
        }
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) if req.body.is_empty() => json!({}),
            Err(_) => return error(400, json_type, &fail("SerializationException", "not JSON")),
        };
        if let Some(op) = target.strip_prefix("DynamoDB_20120810.") {
            self.count(format!("dynamodb.{op}"));
            return self.dynamodb(op, &body).await;
        }
        if let Some(op) = target.strip_prefix("AmazonSQS.") {
            self.count(format!("sqs.{op}"));
            sleep(&self.delays.sqs).await;
            let result = self
                .sqs
                .lock()
                .map_err(poisoned)
                .and_then(|mut q| q.handle(op, &body));
            return answer(result, json_type);
        }
        if req.path.starts_with("/v2/email/") {
            let rest = "application/json";
            let op = match (
                req.method.as_str(),
                req.path.split('?').next().unwrap_or(""),
            ) {
                ("GET", "/v2/email/account") => "GetAccount",
                ("POST", "/v2/email/outbound-emails") => "SendEmail",
                _ => {
                    return error(
                        404,
                        rest,
                        &fail("NotFoundException", "no such SES v2 route here"),
                    )
                }
            };
            self.count(format!("ses.{op}"));
            sleep(&self.delays.ses).await;
            let result = self
                .ses
                .lock()
                .map_err(poisoned)
                .and_then(|mut s| match op {
                    "GetAccount" => Ok(s.account()),
                    _ => s.send(&body),
                });
            return answer(result, rest);
        }
        error(
            400,
            json_type,
            &fail(
                "UnknownOperationException",
                "not a service this fake serves",
            ),
        )
    }

    async fn dynamodb(&self, op: &str, body: &Value) -> Response {
        let json_type = "application/x-amz-json-1.0";
        if op != "TransactWriteItems" {
            sleep(&self.delays.dynamodb).await;
            let result = self
                .dynamo
                .lock()
                .map_err(poisoned)
                .and_then(|mut d| d.single(op, body));
            return answer(result, json_type);
        }
        // A transaction holds its items for its whole call.
        let held = self.dynamo.lock().map_err(poisoned).and_then(|mut d| {
            let keys = d.transaction_keys(body)?;
            let busy = d.hold(&keys);
            Ok((keys, busy))
        });
        let (keys, busy) = match held {
            Ok(v) => v,
            Err(f) => return answer(Err(f), json_type),
        };
        sleep(&self.delays.dynamodb).await;
        if !busy.is_empty() {
            return answer(Err(Dynamo::conflict(keys.len(), &busy)), json_type);
        }
        let result = self.dynamo.lock().map_err(poisoned).and_then(|mut d| {
            let r = d.transact(body);
            d.release(&keys);
            r
        });
        answer(result, json_type)
    }

    fn control(&self, req: &Request) -> Response {
        let type_ = "application/json";
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/_fake/config") => {
                let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
                    return error(400, type_, &fail("BadRequest", "not JSON"));
                };
                for (name, slot) in [
                    ("dynamodb_ms", &self.delays.dynamodb),
                    ("sqs_ms", &self.delays.sqs),
                    ("ses_ms", &self.delays.ses),
                ] {
                    if let Some(v) = body[name].as_u64() {
                        slot.store(v, Ordering::Relaxed);
                    }
                }
                if let (Some(q), Ok(mut ses)) = (body["quota"].as_f64(), self.ses.lock()) {
                    ses.set_quota(q);
                }
                Response::json(200, type_, &json!({}))
            }
            ("GET", "/_fake/stats") => {
                let stats = json!({
                    "requests": self.requests.lock().map(|r| r.clone()).unwrap_or_default(),
                    "dynamodb": self.dynamo.lock().map(|d| d.stats()).unwrap_or_default(),
                    "sqs": self.sqs.lock().map(|q| q.stats()).unwrap_or_default(),
                    "ses": self.ses.lock().map(|s| s.stats()).unwrap_or_default(),
                    "delays_ms": {
                        "dynamodb": self.delays.dynamodb.load(Ordering::Relaxed),
                        "sqs": self.delays.sqs.load(Ordering::Relaxed),
                        "ses": self.delays.ses.load(Ordering::Relaxed),
                    },
                });
                Response::json(200, type_, &stats)
            }
            _ => error(404, type_, &fail("NotFound", "no such control route")),
        }
    }
}

async fn sleep(ms: &AtomicU64) {
    let ms = ms.load(Ordering::Relaxed);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

fn fail(kind: &'static str, message: &str) -> Failure {
    Failure {
        kind,
        message: message.into(),
        extra: Default::default(),
    }
}

fn poisoned<T>(_: T) -> Failure {
    fail("InternalFailure", "the fake's state is poisoned")
}

fn answer(result: Result<Value, Failure>, content_type: &str) -> Response {
    match result {
        Ok(v) => Response::json(200, content_type, &v),
        Err(f) => {
            let status = match f.kind {
                "TooManyRequestsException" => 429,
                "NotFoundException" if content_type == "application/json" => 404,
                "InternalFailure" => 500,
                _ => 400,
            };
            error(status, content_type, &f)
        }
    }
}

/// An error in the shape each protocol reads: `__type` (JSON 1.0) and the
/// `x-amzn-ErrorType` header (REST JSON), with `message`.
fn error(status: u16, content_type: &str, f: &Failure) -> Response {
    let mut body = serde_json::Map::new();
    body.insert("__type".into(), Value::String(f.kind.to_owned()));
    body.insert("message".into(), Value::String(f.message.clone()));
    body.extend(f.extra.clone());
    let mut r = Response::json(status, content_type, &Value::Object(body));
    r.headers.push(("x-amzn-errortype", f.kind.to_owned()));
    r
}

/// Serves `fake` on `listener` until the process ends.
pub async fn run(listener: tokio::net::TcpListener, fake: Arc<Fake>) {
    let handle = Arc::new(move |req: Request| {
        let fake = fake.clone();
        async move { fake.handle(req).await }
    });
    http::serve(listener, handle).await;
}
