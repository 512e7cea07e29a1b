//! The import: validation pass, write pass, invites, report.

pub mod invite;
pub mod preview;
pub mod report;
pub mod row;
pub mod run;
pub mod scan;

pub use report::{report_keys, Counts, ImportStatus, Report, Skipped};
pub use row::{DeviceRow, RowIssue};
pub use run::{
    mark_failed, plan_chunk, run_import, ImportObject, Outcome, Ports, RunError, Settings,
};
pub use scan::{scan, FileError, RowPass, Scan};
