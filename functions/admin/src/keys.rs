//! Where the user pool's signing keys come from: a port, so the verifier can be
//! tested against keys served from memory, and its adapter over HTTPS.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::auth::JwksError;

/// How long one fetch of the key set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// The future a fetch returns (boxed, so the verifier can hold any source).
pub type Fetch<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, JwksError>> + Send + 'a>>;

/// Serves the pool's key set (a JWKS document).
pub trait KeySource: Send + Sync {
    fn fetch(&self) -> Fetch<'_>;
}

/// The pool's `/.well-known/jwks.json`.
pub struct HttpKeys {
    client: reqwest::Client,
    url: String,
}

impl HttpKeys {
    pub fn new(url: String) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(FETCH_TIMEOUT).build()?;
        Ok(Self { client, url })
    }

    async fn get(&self) -> Result<Vec<u8>, reqwest::Error> {
        let response = self.client.get(&self.url).send().await?;
        Ok(response.error_for_status()?.bytes().await?.to_vec())
    }
}

impl KeySource for HttpKeys {
    fn fetch(&self) -> Fetch<'_> {
        // The URL is public (the pool's issuer); the error names it and no secret.
        Box::pin(async move {
            self.get()
                .await
                .map_err(|e| JwksError::Fetch(e.to_string()))
        })
    }
}
