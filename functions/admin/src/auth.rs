//! Verifies Cognito user-pool JWTs in the function itself (API Gateway's JWT
//! authorizer does the same in AWS; locally there is no API Gateway, so this
//! is the path both take): RS256 signature against the pool's JWKS, issuer,
//! app client (`aud` of ID tokens, `client_id` of access tokens), token use
//! and expiry.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::keys::KeySource;

/// Clock skew tolerated on `exp`, in seconds.
const LEEWAY_SECS: u64 = 5;

/// Requests cause at most one fetch of the key set in this time (the start's own aside).
const REFRESH_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("sign in first: the request has no bearer token")]
    Missing,
    #[error("the token is not valid: {0}")]
    Invalid(&'static str),
    #[error("the session has expired: sign in again")]
    Expired,
    /// The pool's keys could not be fetched to judge the token: signing in again would not help.
    #[error("the sign-in keys cannot be fetched now; try again in {retry_after} s")]
    Unavailable { retry_after: u64 },
}

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("the JWKS has no usable RS256 key")]
    NoKeys,
    #[error("JWKS: {0}")]
    Parse(String),
    #[error("the JWKS could not be fetched: {0}")]
    Fetch(String),
}

/// Reads a JWKS: its RS256 keys by `kid`.
fn parse(jwks: &[u8]) -> Result<KeySet, JwksError> {
    let set: JwkSet = serde_json::from_slice(jwks).map_err(|e| JwksError::Parse(e.to_string()))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        if let (Some(kid), AlgorithmParameters::RSA(rsa)) = (&jwk.common.key_id, &jwk.algorithm) {
            let key = DecodingKey::from_rsa_components(&rsa.n, &rsa.e)
                .map_err(|e| JwksError::Parse(e.to_string()))?;
            keys.insert(kid.clone(), key);
        }
    }
    if keys.is_empty() {
        return Err(JwksError::NoKeys);
    }
    Ok(keys)
}

async fn fetch(source: &dyn KeySource) -> Result<KeySet, JwksError> {
    parse(&source.fetch().await?)
}

/// Who made the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    pub username: String,
}

#[derive(Deserialize)]
struct Claims {
    token_use: Option<String>,
    aud: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    #[serde(rename = "cognito:username")]
    cognito_username: Option<String>,
    sub: Option<String>,
}

/// Keys of the pool by `kid`.
type KeySet = HashMap<String, DecodingKey>;

pub struct Verifier {
    /// The keys last fetched; swapped whole by a refresh, read without waiting for one.
    keys: RwLock<Arc<KeySet>>,
    /// Where the keys come from; `None`: a fixed set, never refreshed.
    source: Option<Box<dyn KeySource>>,
    /// The last refresh; held while one is under way, so there is one fetch at a time.
    refresh: Mutex<Refresh>,
    issuer: String,
    client_id: String,
}

/// The last fetch a request caused.
#[derive(Default)]
struct Refresh {
    at: Option<Instant>,
    failed: bool,
}

impl Verifier {
    /// Fetches the pool's keys before the first request. A failed fetch does not stop the start:
    /// it is logged, and the first request fetches again.
    pub async fn start(source: Box<dyn KeySource>, issuer: String, client_id: String) -> Self {
        let keys = match fetch(source.as_ref()).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(error = %e, "the user pool's signing keys: the first request fetches them again");
                KeySet::new()
            }
        };
        Self {
            keys: RwLock::new(Arc::new(keys)),
            source: Some(source),
            refresh: Mutex::new(Refresh::default()),
            issuer,
            client_id,
        }
    }

    /// A verifier over a fixed key set (tests).
    pub fn new(jwks: &[u8], issuer: String, client_id: String) -> Result<Self, JwksError> {
        Ok(Self {
            keys: RwLock::new(Arc::new(parse(jwks)?)),
            source: None,
            refresh: Mutex::new(Refresh::default()),
            issuer,
            client_id,
        })
    }

    fn current(&self) -> Arc<KeySet> {
        // A panic cannot happen while the lock is held (it only swaps an `Arc`).
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The key named `kid`: the one loaded, else from a refresh of the set, at most one a
    /// minute whoever asks (a stranger picks the kid), one at a time (the others wait for it).
    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        let unknown = AuthError::Invalid("unknown signing key");
        if let Some(key) = self.current().get(kid) {
            return Ok(key.clone());
        }
        let Some(source) = &self.source else {
            return Err(unknown);
        };
        let mut last = self.refresh.lock().await;
        // The refresh this request waited for may have brought the key.
        if let Some(key) = self.current().get(kid) {
            return Ok(key.clone());
        }
        let now = Instant::now();
        let since = last.at.map(|at| now.duration_since(at));
        if since.is_none_or(|since| since >= REFRESH_EVERY) {
            *last = Refresh {
                at: Some(now),
                failed: false,
            };
            match fetch(source.as_ref()).await {
                Ok(keys) => {
                    *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the user pool's signing keys: refresh failed; the loaded ones stay");
                    last.failed = true;
                }
            }
            if let Some(key) = self.current().get(kid) {
                return Ok(key.clone());
            }
        }
        match last.failed {
            true => {
                let waited = last.at.map_or(Duration::ZERO, |at| at.elapsed());
                let left = REFRESH_EVERY.saturating_sub(waited);
                Err(AuthError::Unavailable {
                    retry_after: left.as_secs_f64().ceil().max(1.0) as u64,
                })
            }
            false => Err(unknown),
        }
    }

    /// Checks an `Authorization` header value.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Admin, AuthError> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let header = decode_header(token).map_err(|_| AuthError::Invalid("malformed"))?;
        // Only RS256: a token cannot pick HS256 and sign with the public key.
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::Invalid("algorithm"));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or(AuthError::Invalid("unknown signing key"))?;
        let key = self.key(kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        // Checked below: access tokens carry `client_id` rather than `aud`.
        validation.validate_aud = false;
        validation.leeway = LEEWAY_SECS;
        let claims = decode::<Claims>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => AuthError::Invalid("issuer"),
                _ => AuthError::Invalid("signature or claims"),
            })?
            .claims;
        let client = match claims.token_use.as_deref() {
            Some("id") => claims.aud.as_deref(),
            Some("access") => claims.client_id.as_deref(),
            _ => return Err(AuthError::Invalid("token use")),
        };
        if client != Some(self.client_id.as_str()) {
            return Err(AuthError::Invalid("audience"));
        }
        let username = claims
            .cognito_username
            .or(claims.username)
            .or(claims.sub)
            .ok_or(AuthError::Invalid("no subject"))?;
        Ok(Admin { username })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test";
    const CLIENT: &str = "client-1";

    fn verifier() -> Verifier {
        Verifier::new(
            include_bytes!("../tests/fixtures/jwks.json"),
            ISSUER.into(),
            CLIENT.into(),
        )
        .unwrap()
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn sign(pem: &[u8], kid: &str, claims: serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        encode(&header, &claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap()
    }

    fn id_token(changes: serde_json::Value) -> serde_json::Value {
        let mut c = json!({"iss": ISSUER, "aud": CLIENT, "token_use": "id", "exp": now() + 600,
                           "sub": "u-1", "cognito:username": "admin"});
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    async fn check(token: &str) -> Result<Admin, AuthError> {
        verifier().verify(Some(&format!("Bearer {token}"))).await
    }

    const ISSUER_KEY: &[u8] = include_bytes!("../tests/fixtures/issuer.pem");
    const FORGER_KEY: &[u8] = include_bytes!("../tests/fixtures/forger.pem");

    #[tokio::test]
    async fn accepts_id_and_access_tokens_of_the_pool_and_client() {
        let admin = check(&sign(ISSUER_KEY, "test-key", id_token(json!({}))))
            .await
            .unwrap();
        assert_eq!(admin.username, "admin");
        let access = json!({"iss": ISSUER, "client_id": CLIENT, "token_use": "access",
                            "exp": now() + 600, "username": "admin2"});
        assert_eq!(
            check(&sign(ISSUER_KEY, "test-key", access))
                .await
                .unwrap()
                .username,
            "admin2"
        );
    }

    #[tokio::test]
    async fn refuses_everything_else() {
        let v = verifier();
        assert_eq!(v.verify(None).await, Err(AuthError::Missing));
        assert_eq!(
            v.verify(Some("Basic YWRtaW4=")).await,
            Err(AuthError::Missing)
        );
        assert_eq!(v.verify(Some("Bearer ")).await, Err(AuthError::Missing));
        assert!(matches!(
            check("not.a.jwt").await,
            Err(AuthError::Invalid(_))
        ));
        let forged = sign(FORGER_KEY, "test-key", id_token(json!({})));
        assert_eq!(
            check(&forged).await,
            Err(AuthError::Invalid("signature or claims"))
        );
        let expired = sign(ISSUER_KEY, "test-key", id_token(json!({"exp": now() - 60})));
        assert_eq!(check(&expired).await, Err(AuthError::Expired));
        let other_pool = sign(
            ISSUER_KEY,
            "test-key",
            id_token(json!({"iss": "https://evil"})),
        );
        assert_eq!(check(&other_pool).await, Err(AuthError::Invalid("issuer")));
        let other_client = sign(ISSUER_KEY, "test-key", id_token(json!({"aud": "client-2"})));
        assert_eq!(
            check(&other_client).await,
            Err(AuthError::Invalid("audience"))
        );
        let refresh = sign(
            ISSUER_KEY,
            "test-key",
            id_token(json!({"token_use": "refresh"})),
        );
        assert_eq!(check(&refresh).await, Err(AuthError::Invalid("token use")));
        let unknown_kid = sign(ISSUER_KEY, "other", id_token(json!({})));
        assert_eq!(
            check(&unknown_kid).await,
            Err(AuthError::Invalid("unknown signing key"))
        );
        // alg=HS256 signed with the public modulus as secret: the key confusion attack.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("test-key".into());
        let hs = encode(
            &header,
            &id_token(json!({})),
            &EncodingKey::from_secret(b"n"),
        )
        .unwrap();
        assert_eq!(check(&hs).await, Err(AuthError::Invalid("algorithm")));
        // A token with its payload swapped keeps an invalid signature.
        let good = sign(ISSUER_KEY, "test-key", id_token(json!({})));
        let other = sign(
            ISSUER_KEY,
            "test-key",
            id_token(json!({"cognito:username": "root"})),
        );
        let parts: Vec<&str> = good.split('.').collect();
        let swapped = format!(
            "{}.{}.{}",
            parts[0],
            other.split('.').nth(1).unwrap(),
            parts[2]
        );
        assert!(check(&swapped).await.is_err());
    }
}
