//! AWS adapters. Clients are configured only from the SDK's standard settings
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, the credential chain), so the same binary
//! talks to the emulator, LocalStack or AWS depending on the environment alone.
//!
//! Listed bottom up, as in `lib.rs`: each module imports only the adapters
//! listed above it (checked by `make lint`).

// Leaves: clients from configuration, table names, the SDK's errors.
pub mod clients;
pub mod sdk;
pub mod tables;

// DynamoDB item layouts and the request patterns the adapters share.
pub mod items;
pub mod batch;
pub mod queries;
pub mod transact;

// One adapter per port.
pub mod ade;
pub mod counts;
pub mod events;
pub mod expiry;
pub mod invite_queue;
pub mod messaging;
pub mod outbox;
pub mod rate_windows;
pub mod s3;
pub mod secrets;
pub mod ses_quota;
pub mod settings;
pub mod sqs;
pub mod denials;
pub mod admission;
pub mod exports;
pub mod undo;
pub mod dynamo;

// A function's ports, bundled and built once at start.
pub mod import;
pub mod admin;
