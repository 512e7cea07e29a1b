//! The import: validation pass, write pass, invites, report.

pub mod report;
pub mod row;
pub mod scan;

pub use report::{report_keys, Counts, ImportStatus, Report, Skipped};
pub use row::{DeviceRow, RowIssue};
pub use scan::{scan, FileError, RowPass, Scan};
