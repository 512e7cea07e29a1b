//! [`AppleDep`]: the HTTP client to Apple, built once per Lambda container
//! from its configuration, and the sessions it keeps between runs.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use super::config::{user_agent, AppleConfig, ConfigError, Endpoints};
use super::session::AppleSession;
use super::sessions::Sessions;
use crate::ade::ports::DepConnector;
use crate::ade::token::ServerToken;

/// The [`DepConnector`] to Apple's device-assignment API.
pub struct AppleDep {
    http: reqwest::Client,
    endpoints: Arc<Endpoints>,
    sessions: Sessions,
    request_timeout: Duration,
}

impl AppleDep {
    pub fn new(config: &AppleConfig) -> Result<Self, ConfigError> {
        let endpoints = Endpoints::new(&config.base_url)?;
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(user_agent())
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // Apple does not redirect; following one would hand the session header to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::Client(e.to_string()))?;
        Ok(Self {
            http,
            endpoints: Arc::new(endpoints),
            sessions: Sessions::default(),
            request_timeout: config.request_timeout,
        })
    }

    /// From `ADE_BASE_URL` (Apple's own service when unset).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::new(&AppleConfig::from_env()?)
    }
}

impl DepConnector for AppleDep {
    type Session = AppleSession;

    /// Makes no request: the first call authenticates, unless this container
    /// still keeps a session for the token's consumer key.
    fn connect(&self, token: &ServerToken) -> AppleSession {
        AppleSession {
            http: self.http.clone(),
            endpoints: Arc::clone(&self.endpoints),
            sessions: self.sessions.clone(),
            token: token.clone(),
            request_timeout: self.request_timeout,
            requests: AtomicU64::new(0),
        }
    }
}
