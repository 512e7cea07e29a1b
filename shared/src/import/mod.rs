//! The import: validation pass, write pass, invites, report.

pub mod invite;
pub mod preview;
pub mod report;
pub mod row;
pub mod run;
pub mod scan;

pub use report::{report_keys, Counts, ImportStatus, Report, Skipped};
pub use row::{DeviceRow, Provenance, RowIssue};
pub use run::{
    mark_failed, plan_chunk, run_import, ImportObject, ImportPorts, Outcome, Ports, RunConfig,
    RunError,
};
pub use scan::{scan, FileError, RowPass, Scan};
