//! Apple Automated Device Enrollment (ADE, formerly DEP): an ADE account (one
//! MDM server in Apple Business Manager) lists the devices Apple assigned to
//! it, and the account pre-approves them (the seeds' "Add as Pre-approved
//! Device"). Here: the MDM server's key pair, the server token ABM encrypts to
//! it, the OAuth signature of Apple's sessions, Apple's devices, the account,
//! the ports and the sync. Pure: no AWS, no I/O.

pub mod oauth;
pub mod keypair;
pub mod token;
pub mod device;
pub mod account;
pub mod ports;
pub mod sync;
pub mod schedule;

/// Test support: tokens made by the system `openssl` as ABM makes them.
#[cfg(any(test, feature = "fakes"))]
pub mod openssl_cli;
