//! Admission's port over the admin's in-memory store: the devices table the
//! import, the undo, the sweep and the admin's actions write, and the
//! settings item the admin changes, as `DynamoAdmission` reads the same two
//! tables. The conditions are the DynamoDB adapter's, on the whole record.

use super::MemoryAdmin;
use crate::admin::DenialView;
use crate::admission::lockout::Claim;
use crate::admission::{
    AdmissionStore, Denial, Enrolled, Enrollment, Expect, Lookup, Recorded, StoredDevice,
};
use crate::clock::rfc3339;
use crate::domain::Platform;
use crate::port_error::PortError;
use crate::records::{DeviceRecord, DeviceStatus, EnrollmentInfo, PasswordChecks};

/// What admission reads of a stored device (the adapter's projection).
fn stored(d: &DeviceRecord) -> StoredDevice {
    StoredDevice {
        status: d.status,
        platform: d.platform,
        groups: d.groups.clone(),
        password_hash: d.password_hash.clone(),
        checks: d.checks,
        expires: d.expires,
    }
}

fn enrollment(e: &Enrollment) -> EnrollmentInfo {
    EnrollmentInfo {
        enrolled_at: rfc3339(e.at),
        method: e.method.clone(),
        os_version: e.os_version.clone(),
        pre_approved: e.pre_approved,
    }
}

/// The completing write's condition on the record as it is now (see
/// `DynamoAdmission::enrolled`): still the record the completion judged, and,
/// when its pre-approval applies, on the same platform and not lapsed.
fn still_as_judged(
    d: &DeviceRecord,
    e: &Enrollment,
    status: DeviceStatus,
    hash: &Option<String>,
) -> bool {
    d.status == status
        && d.password_hash == *hash
        && (!e.pre_approved
            || (d.platform.as_str() == e.platform
                && !d.expires.is_some_and(|x| x.has_passed(e.at))))
}

impl MemoryAdmin {
    fn lookup_now(&self, serial: &str) -> Lookup {
        Lookup {
            pre_approved_only: self.settings.lock().unwrap().settings.pre_approved_only,
            device: self.devices.lock().unwrap().get(serial).map(stored),
        }
    }
}

impl AdmissionStore for MemoryAdmin {
    async fn lookup(&self, serial: &str) -> Result<Lookup, PortError> {
        self.up()?;
        Ok(self.lookup_now(serial))
    }

    async fn lookup_completion(
        &self,
        serial: &str,
        nonce: &str,
    ) -> Result<(Lookup, bool), PortError> {
        self.up()?;
        let used = self.used_tokens.lock().unwrap().contains(nonce);
        Ok((self.lookup_now(serial), used))
    }

    /// One row per serial, reason and hour, as Blocked attempts lists them;
    /// the per-address ledger that bounds a flood is `MemoryAdmission`'s
    /// (its tests are the flood's), not repeated here.
    async fn record_denial(&self, d: &Denial) -> Result<Recorded, PortError> {
        self.up()?;
        let id = d.record_id();
        let mut denials = self.denials.lock().unwrap();
        if let Some(v) = denials.iter_mut().find(|v| v.id == id) {
            v.attempts += 1;
            v.at = rfc3339(d.at);
            return Ok(Recorded::Counted);
        }
        denials.push(DenialView {
            id: id.clone(),
            serial_number: d.serial.clone(),
            platform: d.platform.to_owned(),
            enrollment_method: d.method.clone(),
            os_version: d.os_version.clone(),
            reason: d.reason.as_str().to_owned(),
            endpoint: d.endpoint.to_owned(),
            at: rfc3339(d.at),
            first_at: Some(rfc3339(d.at)),
            attempts: 1,
            source_ip: d.source_ip.clone(),
            expires_at: d.at + Denial::RETENTION_SECS,
            approved_by: None,
            approved_at: None,
            grouped: false,
            serials: 1,
            sample: Vec::new(),
            returned: Vec::new(),
        });
        Ok(Recorded::Created { id })
    }

    async fn claim_check(&self, serial: &str, claim: &Claim) -> Result<Option<u64>, PortError> {
        self.up()?;
        let mut devices = self.devices.lock().unwrap();
        Ok(match devices.get_mut(serial) {
            Some(d) if d.status == DeviceStatus::PreApproved && claim.admits(&d.checks) => {
                d.checks = claim.taken(&d.checks);
                self.password_checks
                    .lock()
                    .unwrap()
                    .push((serial.to_owned(), claim.at));
                Some(d.checks.claimed)
            }
            _ => None,
        })
    }

    async fn claim_nothing(&self, _serial: &str) -> Result<(), PortError> {
        self.up()
    }

    async fn clear_checks(&self, serial: &str, claimed: u64) -> Result<(), PortError> {
        self.up()?;
        if let Some(d) = self.devices.lock().unwrap().get_mut(serial) {
            if d.checks.claimed == claimed {
                d.checks.cleared = claimed;
            }
        }
        Ok(())
    }

    async fn enroll(&self, e: &Enrollment) -> Result<Enrolled, PortError> {
        self.up()?;
        let mut used = self.used_tokens.lock().unwrap();
        let mut devices = self.devices.lock().unwrap();
        // Both writes' conditions, in one transaction: the token's first.
        if used.contains(&e.nonce) {
            return Ok(Enrolled::TokenUsed);
        }
        match (devices.get_mut(&e.serial), &e.expect) {
            (None, Expect::Absent) => {
                let platform = Platform::parse(e.platform)
                    .map_err(|err| PortError::new("memory store", err))?;
                devices.insert(
                    e.serial.clone(),
                    DeviceRecord {
                        serial: e.serial.clone(),
                        status: DeviceStatus::Enrolled,
                        platform,
                        ownership: None,
                        email: String::new(),
                        device_name: None,
                        groups: Vec::new(),
                        password_hash: None,
                        import_id: String::new(),
                        domain: None,
                        updated_at: rfc3339(e.at),
                        enrollment: Some(enrollment(e)),
                        checks: PasswordChecks::default(),
                        invite: None,
                        expires: None,
                        ade: None,
                    },
                );
            }
            (
                Some(d),
                Expect::Unenrolled {
                    status,
                    password_hash,
                },
            ) if still_as_judged(d, e, *status, password_hash) => {
                d.status = DeviceStatus::Enrolled;
                d.platform = Platform::parse(e.platform)
                    .map_err(|err| PortError::new("memory store", err))?;
                d.enrollment = Some(enrollment(e));
                d.updated_at = rfc3339(e.at);
                // The one-time password is used up only when its pre-approval applied.
                if e.pre_approved {
                    d.password_hash = None;
                }
                d.checks = PasswordChecks::default();
                d.expires = None;
            }
            (Some(d), _) if d.status == DeviceStatus::Enrolled => {
                return Ok(Enrolled::AlreadyEnrolled)
            }
            _ => return Ok(Enrolled::Changed),
        }
        used.insert(e.nonce.clone());
        Ok(Enrolled::Done)
    }
}
