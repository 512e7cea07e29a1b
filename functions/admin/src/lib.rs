//! Admin API Lambda (`/v1/...` behind the HTTP API, JWT from a Cognito user
//! pool): HTTP in and out around the use cases of `shared::admin`.

pub mod auth;
pub mod config;
pub mod http;
pub mod keys;
pub mod routes;
