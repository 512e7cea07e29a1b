//! The admin's use cases, over narrow ports and free of AWS types: settings,
//! devices and the overview, blocked attempts and their approval, import
//! history, the guided upload, and Apple ADE accounts. The admin function
//! only translates HTTP to these calls and their results (typed,
//! serialisable views) back.

pub mod ade;
pub mod approvals;
pub mod devices;
mod error;
pub mod exports;
pub mod imports;
mod page;
mod ports;
pub mod settings;
pub mod undo;
pub mod uploads;

pub use crate::counts::Count;
pub use error::AdminError;
pub use page::{Cursor, Items, Page};
pub use ports::{
    Acted, AdminPorts, AdminReads, ApprovalWrite, Approvals, DenialView, DeviceAction,
    DeviceActions, DeviceAudit, Published, ReportFiles, Staging,
};

/// How long presigned links live: long enough to click, not to share.
pub const LINK_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);
