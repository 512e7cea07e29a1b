//! What admission needs from storage: one read per request, one write on
//! deny, one conditional write to complete an enrollment.

use std::future::Future;

use super::rules::{Lookup, Reason};
use crate::ports::PortError;

/// A refused attempt, kept for the admin page (expires after [`Denial::RETENTION_SECS`]).
/// Never carries a password or user details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub serial: String,
    pub platform: &'static str,
    pub method: Option<String>,
    pub os_version: Option<String>,
    pub reason: Reason,
    /// `admission` or `enrollments`.
    pub endpoint: &'static str,
    /// Seconds since the epoch.
    pub at: u64,
}

impl Denial {
    pub const RETENTION_SECS: u64 = 30 * 86_400;
}

/// What the device record must still be for the enrollment to complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// No record: open enrollment of a device that was never imported creates one.
    Absent,
    /// The pre-approved record admission just read, with the same password hash.
    PreApproved { password_hash: Option<String> },
}

/// A completed enrollment, written with one conditional update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    pub serial: String,
    pub platform: &'static str,
    pub method: Option<String>,
    pub os_version: Option<String>,
    /// Whether the pre-approval (and its groups) applied.
    pub pre_approved: bool,
    pub expect: Expect,
    pub at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrolled {
    Done,
    /// Another completion won: the device is enrolled already.
    AlreadyEnrolled,
    /// The record changed between the read and the write (re-imported); try again.
    Changed,
}

pub trait AdmissionStore: Send + Sync {
    /// The device with exactly this serial and the restriction setting, in one request.
    fn lookup(&self, serial: &str) -> impl Future<Output = Result<Lookup, PortError>> + Send;

    fn record_denial(&self, denial: &Denial) -> impl Future<Output = Result<(), PortError>> + Send;

    fn enroll(
        &self,
        enrollment: &Enrollment,
    ) -> impl Future<Output = Result<Enrolled, PortError>> + Send;
}
