//! Pre-approved device enrollment: the domain (CSV dialects, header mapping,
//! validation, admission rules), the ports the functions need, and, behind the
//! `aws` feature, the AWS adapters that implement them.

pub mod admin;
pub mod admission;
#[cfg(feature = "aws")]
pub mod aws;
pub mod counts;
pub mod csvfile;
pub mod domain;
pub mod env;
pub mod events;
pub mod expiry;
pub mod export;
#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
pub mod import;
pub mod outbox;
pub mod password;
pub mod ports;
pub mod records;
pub mod seal;
pub mod settings;
pub mod undo;
