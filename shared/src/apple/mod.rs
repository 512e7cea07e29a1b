//! The client of Apple's device-assignment API (ADE, formerly DEP): the
//! [`crate::ade::ports::DepConnector`] and [`crate::ade::ports::DepSession`]
//! the ADE sync uses. The base URL is configuration (`ADE_BASE_URL`, Apple's
//! own by default), so the same code talks to Apple or to a stand-in.
//!
//! Listed bottom up, as in `lib.rs`: each module imports only those listed
//! above it (checked by `make lint`).

// Where Apple is, how long to wait, how this client names itself.
pub mod config;
// What Apple's answers mean: the errors, `Retry-After`.
pub mod answers;
// `X-ADM-Auth-Session` tokens kept between connections, by consumer key.
pub mod sessions;
// One server token's calls: authenticate, call, renew once, replay.
pub mod session;
// Built once per Lambda container; hands out sessions.
pub mod connector;

pub use config::{AppleConfig, ConfigError};
pub use connector::AppleDep;
pub use session::AppleSession;
