//! The pool's signing keys: a rotated key is fetched on its first token, a failed first fetch is
//! retried by the first request, and unknown kids (anyone can send them) cause at most one fetch a
//! minute, one at a time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::routing::admin_operations;
use super::*;
use crate::auth::JwksError;
use crate::keys::{Fetch, KeySource};

const JWKS: &[u8] = include_bytes!("../../../tests/fixtures/jwks.json");
/// The set after the pool rotated to `rotated-key`: both keys.
const JWKS_ROTATED: &[u8] = include_bytes!("../../../tests/fixtures/jwks-rotated.json");
const ROTATED_KEY: &[u8] = include_bytes!("../../../tests/fixtures/rotated.pem");

/// The pool's key set served from memory (`None`: the endpoint is down), counting fetches.
#[derive(Clone, Default)]
struct FakeKeys(Arc<Served>);

#[derive(Default)]
struct Served {
    jwks: Mutex<Option<&'static [u8]>>,
    fetches: AtomicUsize,
}

impl FakeKeys {
    fn serving(jwks: Option<&'static [u8]>) -> Self {
        let keys = Self::default();
        keys.serve(jwks);
        keys
    }

    fn serve(&self, jwks: Option<&'static [u8]>) {
        *self.0.jwks.lock().unwrap() = jwks;
    }

    fn fetches(&self) -> usize {
        self.0.fetches.load(Ordering::SeqCst)
    }
}

impl KeySource for FakeKeys {
    fn fetch(&self) -> Fetch<'_> {
        Box::pin(async move {
            self.0.fetches.fetch_add(1, Ordering::SeqCst);
            // A fetch takes time: concurrent requests arrive while it is under way.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let served = *self.0.jwks.lock().unwrap();
            served
                .map(<[u8]>::to_vec)
                .ok_or_else(|| JwksError::Fetch("connection refused".into()))
        })
    }
}

/// The function as `main.rs` starts it, over these keys.
async fn app_over(keys: &FakeKeys) -> App<MemoryAdmin> {
    let verifier = Verifier::start(Box::new(keys.clone()), ISSUER.into(), CLIENT.into()).await;
    App {
        ports: MemoryAdmin::default(),
        verifier,
        allowed_origins: vec![PAGE_ORIGIN.into()],
    }
}

fn bearer(key: &[u8], kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    let claims = json!({"iss": ISSUER, "aud": CLIENT, "token_use": "id", "exp": now() + 600,
                        "sub": "u-1", "cognito:username": "ada"});
    let token = encode(&header, &claims, &EncodingKey::from_rsa_pem(key).unwrap()).unwrap();
    format!("Bearer {token}")
}

async fn status(app: &App<MemoryAdmin>, auth: &str) -> StatusCode {
    send(app, "GET", "/v1/settings", None, Some(auth))
        .await
        .status()
}

#[tokio::test(start_paused = true)]
async fn a_rotated_key_is_fetched_on_its_first_token() {
    let keys = FakeKeys::serving(Some(JWKS));
    let app = app_over(&keys).await;
    assert_eq!(
        status(&app, &bearer(ISSUER_KEY, "test-key")).await,
        StatusCode::OK
    );
    // The pool rotates: its set now holds the new key too, and a token signed by it arrives.
    keys.serve(Some(JWKS_ROTATED));
    let rotated = bearer(ROTATED_KEY, "rotated-key");
    assert_eq!(status(&app, &rotated).await, StatusCode::OK);
    assert_eq!(keys.fetches(), 2, "the start's fetch and one refetch");
    assert_eq!(status(&app, &rotated).await, StatusCode::OK);
    assert_eq!(
        status(&app, &bearer(ISSUER_KEY, "test-key")).await,
        StatusCode::OK
    );
    assert_eq!(keys.fetches(), 2, "known keys need no fetch");
}

#[tokio::test(start_paused = true)]
async fn a_failed_first_fetch_is_retried_by_the_first_request() {
    let keys = FakeKeys::serving(None);
    let app = app_over(&keys).await;
    keys.serve(Some(JWKS));
    assert_eq!(
        status(&app, &bearer(ISSUER_KEY, "test-key")).await,
        StatusCode::OK
    );
    assert_eq!(keys.fetches(), 2);
}

/// The anonymous caller: tokens with kids of its choosing make the function fetch the key set at
/// most once a minute, and the pool's own tokens keep working meanwhile.
#[tokio::test(start_paused = true)]
async fn unknown_kids_fetch_at_most_once_a_minute() {
    let keys = FakeKeys::serving(Some(JWKS));
    let app = app_over(&keys).await;
    let good = bearer(ISSUER_KEY, "test-key");
    for i in 0..50 {
        let forged = bearer(FORGER_KEY, &format!("kid-{i}"));
        assert_eq!(status(&app, &forged).await, StatusCode::UNAUTHORIZED);
        assert_eq!(status(&app, &good).await, StatusCode::OK);
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    assert_eq!(
        keys.fetches(),
        2,
        "the start's fetch and one for the first unknown kid"
    );
    tokio::time::advance(Duration::from_secs(11)).await;
    for i in 50..60 {
        let forged = bearer(FORGER_KEY, &format!("kid-{i}"));
        assert_eq!(status(&app, &forged).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(keys.fetches(), 3, "a minute later, one more");
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_unknown_kids_makes_one_fetch() {
    let keys = FakeKeys::serving(Some(JWKS));
    let app = app_over(&keys).await;
    keys.serve(Some(JWKS_ROTATED));
    let rotated = bearer(ROTATED_KEY, "rotated-key");
    let forged: Vec<String> = (0..20)
        .map(|i| bearer(FORGER_KEY, &format!("kid-{i}")))
        .collect();
    let burst = (0..20).flat_map(|i| [status(&app, &rotated), status(&app, &forged[i])]);
    let answers = futures::future::join_all(burst).await;
    for pair in answers.chunks(2) {
        assert_eq!(pair, [StatusCode::OK, StatusCode::UNAUTHORIZED]);
    }
    assert_eq!(
        keys.fetches(),
        2,
        "the start's fetch and one for the whole burst"
    );
}

/// With the key set unreachable, the keys already loaded keep working; a token they cannot judge is
/// answered 503 (signing in again would not help), never a panic; once the endpoint is back, the next
/// minute's fetch brings the keys.
#[tokio::test(start_paused = true)]
async fn a_key_set_that_cannot_be_fetched() {
    let keys = FakeKeys::serving(Some(JWKS));
    let app = app_over(&keys).await;
    keys.serve(None);
    let good = bearer(ISSUER_KEY, "test-key");
    let rotated = bearer(ROTATED_KEY, "rotated-key");
    assert_eq!(status(&app, &good).await, StatusCode::OK);
    let r = send(&app, "GET", "/v1/settings", None, Some(&rotated)).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "60");
    assert_eq!(status(&app, &good).await, StatusCode::OK);
    assert_eq!(keys.fetches(), 2);
    keys.serve(Some(JWKS_ROTATED));
    tokio::time::advance(Duration::from_secs(30)).await;
    let r = send(&app, "GET", "/v1/settings", None, Some(&rotated)).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "30");
    assert_eq!(keys.fetches(), 2, "no fetch within the minute");
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(status(&app, &rotated).await, StatusCode::OK);
    assert_eq!(keys.fetches(), 3);

    // Nothing loaded at all: every route answers 503, as documented.
    let down = FakeKeys::serving(None);
    let app = app_over(&down).await;
    for op in admin_operations() {
        let (method, path) = (op.method.as_str(), op.path_with("x1"));
        let r = send(&app, method, &path, Some(&json!({})), Some(&good)).await;
        assert_eq!(
            r.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path}"
        );
    }
    assert_eq!(
        down.fetches(),
        2,
        "the start's fetch and the first request's"
    );
}
