//! AWS adapters. Clients are configured only from the SDK's standard settings
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, the credential chain), so the same binary
//! talks to the emulator, LocalStack or AWS depending on the environment alone.

pub mod admin;
pub mod admission;
pub mod batch;
pub mod clients;
pub mod counts;
pub mod dynamo;
pub mod events;
pub mod expiry;
pub mod exports;
pub mod import;
pub mod items;
pub mod messaging;
pub mod outbox;
pub mod s3;
pub mod secrets;
pub mod settings;
pub mod sqs;
pub mod transact;
pub mod undo;
