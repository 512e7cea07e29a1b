//! What admission needs from storage: one read per request; one conditional
//! write before a password is compared (or, where a password is presented
//! but not compared, one that its condition refuses); on deny the denial's
//! writes ([`super::grouping`]); one transaction to complete an enrollment.

use std::future::Future;

use super::lockout::Claim;
use super::rules::{Lookup, Reason};
use crate::port_error::PortError;
use crate::records::DeviceStatus;

/// A refused attempt, kept for the admin page (expires after
/// [`Denial::RETENTION_SECS`]). Attempts of one serial for one reason within
/// one hour are one record with a counter, so a flood of one serial leaves
/// one item; a flood of many serials is bounded per address and hour
/// ([`super::grouping`]). Never carries a password or user details.
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
    /// How its address's ledger knows the serial ([`super::grouping::MarkKey`]).
    pub mark: Mark,
}

/// How a denials ledger knows a serial: 4 bytes of a keyed MAC of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mark(pub [u8; 4]);

impl Mark {
    /// As text (how the ledger's set of serials with records of their own holds it).
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
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

/// Where a denial was counted, and so whether it is news for the event bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A record of its own was created (its serial, reason and hour): one event.
    Created { id: String },
    /// Its address's ledger became a row of Blocked attempts with this
    /// attempt: one event for every attempt the ledger will count.
    Opened { id: String },
    /// Counted in a record that was announced before (or never will be).
    Counted,
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
    /// The enrollment token's nonce, recorded as used by this completion.
    pub nonce: String,
    /// Until when (epoch seconds) the token is valid: its use is kept that long.
    pub token_expires: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrolled {
    Done,
    /// Another completion won: the device is enrolled already.
    AlreadyEnrolled,
    /// The record changed between the read and the write (re-imported); try again.
    Changed,
    /// The token completed an enrollment before (a concurrent completion with it won).
    TokenUsed,
}

pub trait AdmissionStore: Send + Sync {
    /// The device with exactly this serial and the restriction setting, in one request.
    fn lookup(&self, serial: &str) -> impl Future<Output = Result<Lookup, PortError>> + Send;

    /// What [`Self::lookup`] reads, and whether the token with `nonce`
    /// completed an enrollment already: still one request.
    fn lookup_completion(
        &self,
        serial: &str,
        nonce: &str,
    ) -> impl Future<Output = Result<(Lookup, bool), PortError>> + Send;

    /// Counts the attempt in its own record ([`Denial::record_id`]) or its
    /// address's ledger ([`Denial::ledger_id`]), as [`super::grouping`] says.
    fn record_denial(
        &self,
        denial: &Denial,
    ) -> impl Future<Output = Result<Recorded, PortError>> + Send;

    /// Claims one password check on a pre-approved device, before the
    /// password is compared: one conditional write, taken only while the
    /// count still admits `claim` ([`Claim::admits`]). The device's checks
    /// claimed with it taken, or None when refused (compare nothing).
    fn claim_check(
        &self,
        serial: &str,
        claim: &Claim,
    ) -> impl Future<Output = Result<Option<u64>, PortError>> + Send;

    /// The request a claim makes, refused by its condition and so writing
    /// nothing: made where a password is presented but not compared, so that
    /// such an answer takes as long as one whose password was.
    fn claim_nothing(&self, serial: &str) -> impl Future<Output = Result<(), PortError>> + Send;

    /// A right password: clears the count, unless checks were claimed since
    /// this one (`claimed`, as [`Self::claim_check`] returned it).
    fn clear_checks(
        &self,
        serial: &str,
        claimed: u64,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Marks the device enrolled and the token's nonce used, together or
    /// not at all, each only if it is still as expected.
    fn enroll(
        &self,
        enrollment: &Enrollment,
    ) -> impl Future<Output = Result<Enrolled, PortError>> + Send;
}
