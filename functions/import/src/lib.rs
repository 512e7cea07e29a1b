//! Import Lambda: SQS-delivered S3 events -> validated devices, users and
//! invites. The import itself is `shared::import`; this crate reads the event,
//! picks the options and hands over, over ports built once in `main.rs`.

pub mod config;
pub mod dead_letters;
pub mod event;
pub mod handler;
