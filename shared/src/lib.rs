//! Pre-approved device enrollment: the domain (CSV dialects, header mapping,
//! validation, admission rules), the use cases with the ports they need, and,
//! behind the `aws` and `apple` features, the adapters that implement those
//! ports (AWS, and Apple's device-assignment API).
//!
//! The modules are layers, listed bottom up: each one imports only modules
//! listed above it, never one below it, so the list can be read from the top
//! and nothing in it is part of a cycle. `make lint` checks this order
//! (`infra/check_layers.py`); `aws/mod.rs` lists the adapters the same way.

// Leaves: they import nothing from this crate.
pub mod clock;
pub mod env;
pub mod port_error;

// The domain: values that validate when built, CSV dialects and header
// mapping, passwords, and the stored shape of devices, users and imports.
pub mod csvfile;
pub mod domain;
pub mod password;
pub mod records;
pub mod seal;

// Ports more than one use case needs.
pub mod events;
pub mod files;

// Use cases, each with the ports of its own; later ones build on earlier ones.
pub mod counts;
pub mod outbox;
pub mod settings;
pub mod admission;
pub mod expiry;
pub mod export;
pub mod import;
pub mod undo;
pub mod ade;
pub mod admin;

// Adapters: AWS for the functions, Apple's device-assignment API for the ADE
// sync, in memory for tests and benchmarks.
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(any(test, feature = "apple"))]
pub mod apple;
#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
