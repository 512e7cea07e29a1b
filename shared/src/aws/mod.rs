//! AWS adapters. Clients are configured only from the SDK's standard settings
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, the credential chain), so the same binary
//! talks to the emulator, LocalStack or AWS depending on the environment alone.

pub mod clients;
