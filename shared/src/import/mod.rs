//! The import: validation pass, write pass, invites, report.
//!
//! [`run_import`] drives one import over its ports; the steps are modules of
//! their own, in the order an import goes through them.

mod close;
mod lease;
pub mod object;
mod outcome;
pub mod plan;
pub mod ports;
pub mod preview;
pub mod proposals;
pub mod report;
pub mod row;
pub mod run;
pub mod scan;
#[cfg(test)]
mod tests;
mod write;

pub use close::mark_failed;
pub use object::ImportObject;
pub use outcome::{Outcome, RunConfig, RunError};
pub use plan::{plan_chunk, Plan};
pub use ports::{ImportPorts, Ports};
pub use report::{report_keys, Counts, ImportStatus, Report, Skipped};
pub use row::{DeviceRow, Provenance, RowIssue};
pub use run::run_import;
pub use scan::{scan, FileError, RowPass, Scan};
pub use write::MAX_SKIPPED;
