//! Where Apple's device-assignment service is, how long the client waits for
//! it, and how the client names itself. Read once per Lambda container.

use std::time::Duration;

use reqwest::Url;

use crate::ade::oauth;
use crate::env::{parsed_or, EnvError};

/// Apple's service; `ADE_BASE_URL` replaces it (a stand-in for tests, a proxy).
pub const DEFAULT_BASE_URL: &str = "https://mdmenrollment.apple.com";
/// `X-Server-Protocol-Version`: 3 is what open-source MDMs (nanodep, Fleet)
/// send, so Apple's most exercised answers; it has every field this product
/// reads (`device_family` and `os` came with 2). Later versions add calls and
/// fields this product does not use.
pub const PROTOCOL_VERSION: &str = "3";
/// A connection not made by then is Apple unreachable (the sync retries later).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole call, body included: a 1,000-device page is under a megabyte.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the client is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppleConfig {
    pub base_url: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error(
        "ADE_BASE_URL is not the base URL of Apple's device-assignment service: {0}; \
         leave it unset for {DEFAULT_BASE_URL}"
    )]
    BaseUrl(String),
    #[error("the HTTP client for Apple could not be built: {0}")]
    Client(String),
}

impl AppleConfig {
    /// Apple's service, with the default timeouts.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            connect_timeout: CONNECT_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
        }
    }

    /// `ADE_BASE_URL`, or Apple's own service when it is unset.
    pub fn from_env() -> Result<Self, ConfigError> {
        let base: String = parsed_or("ADE_BASE_URL", DEFAULT_BASE_URL.to_owned())?;
        Ok(Self::new(base))
    }
}

/// A real `User-Agent`: Apple refuses an HTTP library's default one.
pub fn user_agent() -> String {
    format!("preapprove/{}", env!("CARGO_PKG_VERSION"))
}

/// The URLs of the calls, made once from the base URL.
#[derive(Debug)]
pub struct Endpoints {
    pub session: Url,
    /// `/session`'s base string URI, as the OAuth signature covers it.
    pub session_signed: String,
    pub account: Url,
    pub devices: Url,
    pub sync: Url,
}

impl Endpoints {
    /// From a base URL such as `https://mdmenrollment.apple.com` (a path
    /// prefix is kept: a proxy may serve Apple under one).
    pub fn new(base_url: &str) -> Result<Self, ConfigError> {
        let bad = |why: &str| ConfigError::BaseUrl(why.to_owned());
        let base = Url::parse(base_url.trim())
            .map_err(|e| ConfigError::BaseUrl(format!("it does not parse as a URL ({e})")))?;
        if !matches!(base.scheme(), "https" | "http") {
            return Err(bad(
                "it must start with https:// (or http:// for a local stand-in)",
            ));
        }
        if base.host_str().is_none() {
            return Err(bad("it has no host"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(bad("it must not carry a user name or password"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(bad("it must not have a query or fragment"));
        }
        let prefix = base.path().trim_end_matches('/').to_owned();
        let at = |path: &str| {
            let mut url = base.clone();
            url.set_path(&format!("{prefix}{path}"));
            url
        };
        let session = at("/session");
        let session_signed = oauth::base_string_uri(
            session.scheme(),
            session.host_str().unwrap_or_default(),
            session.port_or_known_default(),
            session.path(),
        );
        Ok(Self {
            session_signed,
            session,
            account: at("/account"),
            devices: at("/server/devices"),
            sync: at("/devices/sync"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calls_are_under_the_base_url_and_the_signed_uri_is_rfc_5849s() {
        let apple = Endpoints::new(DEFAULT_BASE_URL).unwrap();
        assert_eq!(
            apple.session.as_str(),
            "https://mdmenrollment.apple.com/session"
        );
        assert_eq!(
            apple.session_signed,
            "https://mdmenrollment.apple.com/session"
        );
        assert_eq!(
            apple.devices.as_str(),
            "https://mdmenrollment.apple.com/server/devices"
        );
        assert_eq!(
            apple.sync.as_str(),
            "https://mdmenrollment.apple.com/devices/sync"
        );
        let local = Endpoints::new("http://127.0.0.1:4567/").unwrap();
        assert_eq!(local.account.as_str(), "http://127.0.0.1:4567/account");
        assert_eq!(local.session_signed, "http://127.0.0.1:4567/session");
        let proxied = Endpoints::new("https://Proxy.Example:443/apple/").unwrap();
        assert_eq!(
            proxied.sync.as_str(),
            "https://proxy.example/apple/devices/sync"
        );
        assert_eq!(
            proxied.session_signed,
            "https://proxy.example/apple/session"
        );
    }

    #[test]
    fn a_base_url_that_cannot_be_apples_is_refused_with_what_to_do() {
        for (url, why) in [
            ("mdmenrollment.apple.com", "does not parse"),
            ("ftp://mdmenrollment.apple.com", "https://"),
            (
                "https://user:secret@mdmenrollment.apple.com",
                "user name or password",
            ),
            ("https://mdmenrollment.apple.com/?x=1", "query"),
        ] {
            let e = Endpoints::new(url).unwrap_err().to_string();
            assert!(e.contains(why), "{url}: {e}");
            assert!(e.contains("leave it unset"), "{e}");
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn the_user_agent_names_the_product_and_its_version() {
        assert_eq!(
            user_agent(),
            format!("preapprove/{}", env!("CARGO_PKG_VERSION"))
        );
        assert!(!user_agent().to_ascii_lowercase().contains("reqwest"));
    }
}
