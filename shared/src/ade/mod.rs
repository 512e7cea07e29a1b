//! Apple Automated Device Enrollment (ADE, formerly DEP): an ADE account (one
//! MDM server in Apple Business Manager) lists the devices Apple assigned to
//! it, and the account pre-approves them (the seeds' "Add as Pre-approved
//! Device"). The MDM server's key pair and the server token ABM encrypts to it
//! come first: pure, no AWS, no I/O.

pub mod keypair;
pub mod token;
pub mod device;
pub mod account;
pub mod ports;
pub mod sync;
pub mod schedule;

#[cfg(test)]
mod openssl_cli;
