//! The invite outbox's two functions: the sender, which delivers queued
//! invites at the account's rate (`sender`), and the consumer of SES delivery
//! events, which moves each invite on (`status`).

pub mod sender;
pub mod status;
