//! Admin API Lambda (`/v1/...` behind the HTTP API, JWT from a Cognito user
//! pool): settings, guided upload, imports, devices, blocked attempts.

pub mod auth;
pub mod config;
pub mod denials;
pub mod devices;
pub mod http;
pub mod imports;
pub mod routes;
pub mod settings;
pub mod uploads;
