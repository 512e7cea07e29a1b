//! What admission needs from storage: one read per request; on deny one
//! write (and one more, in parallel, for a wrong password); one conditional
//! write to complete an enrollment.

use std::future::Future;

use super::rules::{Lookup, Reason};
use crate::port_error::PortError;
use crate::records::DeviceStatus;

/// A refused attempt, kept for the admin page (expires after
/// [`Denial::RETENTION_SECS`]). Attempts of one serial for one reason within
/// one hour are one record with a counter, so a flood leaves one item.
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
    /// The caller's address as API Gateway saw it.
    pub source_ip: Option<String>,
}

impl Denial {
    pub const RETENTION_SECS: u64 = 30 * 86_400;
    /// Attempts of one serial for one reason are counted in one record per window.
    pub const WINDOW_SECS: u64 = 3600;

    /// The record this attempt counts in: the same for every attempt of this
    /// serial, for this reason, in this window.
    pub fn record_id(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [
            self.serial.as_bytes(),
            self.reason.as_str().as_bytes(),
            &(self.at / Self::WINDOW_SECS).to_be_bytes(),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        hex::encode(&h.finalize()[..16])
    }
}

/// What the device record must still be for the enrollment to complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// No record: open enrollment of a device that was never imported creates one.
    Absent,
    /// The record admission just read (pre-approved or expired), in the same
    /// status and with the same password hash.
    Unenrolled {
        status: DeviceStatus,
        password_hash: Option<String>,
    },
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
    /// The enrollment token's nonce, consumed by this completion.
    pub nonce: String,
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

    /// Counts the attempt in its record ([`Denial::record_id`]).
    fn record_denial(&self, denial: &Denial) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Appends a wrong password's time to a pre-approved device's failures (one atomic write).
    fn record_failure(
        &self,
        serial: &str,
        at: u64,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// A right password: clears the failures, unless more arrived since `seen` were read.
    fn reset_failures(
        &self,
        serial: &str,
        seen: usize,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    fn enroll(
        &self,
        enrollment: &Enrollment,
    ) -> impl Future<Output = Result<Enrolled, PortError>> + Send;
}
