//! Apple Automated Device Enrollment: an ADE account (one MDM server in Apple
//! Business Manager) lists the devices Apple assigned to it, and the account
//! pre-approves them (the seeds' "Add as Pre-approved Device").

pub mod oauth;
pub mod token;
pub mod device;
pub mod account;
pub mod ports;
pub mod sync;
pub mod schedule;
