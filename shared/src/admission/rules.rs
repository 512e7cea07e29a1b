//! The admission rules: whether an enrolling device may proceed, and why.
//! Pure: the caller fetches the device and the setting (one DynamoDB request)
//! and passes what vouches for the device (what comparing its password found,
//! where [`password_due`] says one is compared, after the attempt limit took
//! the check; or a verified enrollment token, which carries what its
//! admission granted).
//! The precise reason is for the admin's records; callers are answered with
//! [`Decision::answer`], which says the same for every refusal that depends
//! on what is stored.

use serde::Serialize;

use super::lockout::{self, Claim};
use super::request::{AdmissionRequest, EnrollmentMethod, RequestedPlatform};
use crate::domain::{Expiry, Platform};
use crate::records::{DeviceStatus, PasswordChecks};

/// What admission needs of a stored device (never the user's details).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDevice {
    pub status: DeviceStatus,
    pub platform: Platform,
    pub groups: Vec<String>,
    pub password_hash: Option<String>,
    /// The password checks claimed for the attempt limit ([`lockout`]).
    pub checks: PasswordChecks,
    /// When the pre-approval lapses (whether or not the sweep has marked it `expired` yet).
    pub expires: Option<Expiry>,
}

/// The device (if imported) and the restriction setting, read together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    /// The seeds' "Pre-approved Devices Only" enrollment restriction.
    pub pre_approved_only: bool,
    pub device: Option<StoredDevice>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    PreApproved,
    OpenEnrollment,
    NotPreApproved,
    PlatformMismatch,
    PasswordRequired,
    PasswordMismatch,
    AlreadyEnrolled,
    /// Too many wrong passwords: see [`lockout`].
    Locked,
    /// The pre-approval's expiry has passed.
    Expired,
    UnsupportedPlatform,
    UnsupportedEnrollmentMethod,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreApproved => "pre_approved",
            Self::OpenEnrollment => "open_enrollment",
            Self::NotPreApproved => "not_pre_approved",
            Self::PlatformMismatch => "platform_mismatch",
            Self::PasswordRequired => "password_required",
            Self::PasswordMismatch => "password_mismatch",
            Self::AlreadyEnrolled => "already_enrolled",
            Self::Locked => "locked",
            Self::Expired => "expired",
            Self::UnsupportedPlatform => "unsupported_platform",
            Self::UnsupportedEnrollmentMethod => "unsupported_enrollment_method",
        }
    }

    /// What a caller is told: the precise reason only where it depends on
    /// the request alone; `not_allowed` for everything that depends on what
    /// is stored (is the serial listed, for which platform, with a password,
    /// locked, enrolled), so that no answer tells an outsider about the list.
    pub fn public(self) -> PublicReason {
        match self {
            Self::PreApproved => PublicReason::PreApproved,
            Self::OpenEnrollment => PublicReason::OpenEnrollment,
            Self::UnsupportedPlatform => PublicReason::UnsupportedPlatform,
            Self::UnsupportedEnrollmentMethod => PublicReason::UnsupportedEnrollmentMethod,
            Self::NotPreApproved
            | Self::PlatformMismatch
            | Self::PasswordRequired
            | Self::PasswordMismatch
            | Self::AlreadyEnrolled
            | Self::Locked
            | Self::Expired => PublicReason::NotAllowed,
        }
    }
}

/// The reasons a caller may be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicReason {
    PreApproved,
    OpenEnrollment,
    NotAllowed,
    UnsupportedPlatform,
    UnsupportedEnrollmentMethod,
}

/// What every refusal that depends on the stored list says, word for word.
pub const NOT_ALLOWED: &str = "This device cannot enroll. If it should, ask your IT administrator \
    to pre-approve its serial number for this platform (serial numbers are case-sensitive) and \
    to send you its enrollment password, if it has one.";
const WINDOWS: &str = "Windows devices are not supported for pre-approved enrollment";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    Deny,
}

/// What the password comparison found, for the attempt limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// Nothing was compared: none was needed or presented, the limit refused
    /// the check, or the device was vouched for by a token.
    NotChecked,
    /// Right: the count is cleared.
    Right,
    Wrong,
}

/// What comparing the presented password with the stored hash found, made
/// only where [`password_due`] says and only once the attempt limit took the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    /// No comparison was due.
    NotDue,
    Right,
    Wrong,
    /// The attempt limit refused the check (the window filled since the
    /// read): nothing was compared.
    Refused,
}

/// A password comparison the rules need: against `hash`, once `claim` is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueCheck<'a> {
    pub hash: &'a str,
    pub claim: Claim,
}

/// What an `allow` granted; its enrollment token carries it, and completing
/// the enrollment grants exactly that, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// The pre-approval (and its groups) applied: the password, if it has one, was right.
    PreApproved,
    /// The device was let in without its pre-approval (the restriction was off).
    OpenEnrollment,
}

/// What vouches for the device beyond its serial and platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// Admission: what comparing the presented password found.
    Password(Compared),
    /// Completion: a valid enrollment token of an admission that granted
    /// this, judged against the very record that is read now (the token's
    /// fingerprint of it matched). A pre-approved token stands for the
    /// password check; an open one proves no password.
    Token(Grant),
}

/// The decision, with its precise reason (for the admin's records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub decision: Verdict,
    pub reason: Reason,
    pub pre_approved: bool,
    /// On allow of a pre-approved device.
    pub groups: Option<Vec<String>>,
    /// Why, when the reason depends on the request alone.
    pub detail: Option<&'static str>,
    pub password: PasswordCheck,
}

/// The answer a caller gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer<'a> {
    pub decision: Verdict,
    pub reason: PublicReason,
    pub pre_approved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
    /// On allow: completes the enrollment once, within 15 minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrollment_token: Option<String>,
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        self.decision == Verdict::Allow
    }

    /// What an `allow` grants (its token carries it); nothing on deny.
    pub fn grant(&self) -> Option<Grant> {
        match (self.decision, self.pre_approved) {
            (Verdict::Deny, _) => None,
            (Verdict::Allow, true) => Some(Grant::PreApproved),
            (Verdict::Allow, false) => Some(Grant::OpenEnrollment),
        }
    }

    /// The answer for the caller: a refusal that depends on what is stored is
    /// `not_allowed` with [`NOT_ALLOWED`], whatever its precise reason.
    pub fn answer(&self, enrollment_token: Option<String>) -> Answer<'_> {
        let reason = self.reason.public();
        Answer {
            decision: self.decision,
            reason,
            pre_approved: self.pre_approved,
            groups: self.groups.as_deref(),
            detail: match reason {
                PublicReason::NotAllowed => Some(NOT_ALLOWED),
                _ => self.detail,
            },
            enrollment_token,
        }
    }

    fn deny(reason: Reason, password: PasswordCheck) -> Self {
        Self {
            decision: Verdict::Deny,
            reason,
            pre_approved: false,
            groups: None,
            detail: None,
            password,
        }
    }

    fn pre_approved(device: &StoredDevice, password: PasswordCheck) -> Self {
        Self {
            decision: Verdict::Allow,
            reason: Reason::PreApproved,
            pre_approved: true,
            groups: Some(device.groups.clone()),
            detail: None,
            password,
        }
    }

    /// Refused with `reason` under the restriction; let in openly without it.
    fn refuse(reason: Reason, restricted: bool, password: PasswordCheck) -> Self {
        if restricted {
            Self::deny(reason, password)
        } else {
            Self::open(password)
        }
    }

    fn deny_method(detail: &'static str) -> Self {
        Self {
            detail: Some(detail),
            ..Self::deny(
                Reason::UnsupportedEnrollmentMethod,
                PasswordCheck::NotChecked,
            )
        }
    }

    /// Open enrollment: the device enrolls without a pre-approval. It says no
    /// more than that, so that it does not tell whether a pre-approval exists.
    fn open(password: PasswordCheck) -> Self {
        Self {
            decision: Verdict::Allow,
            reason: Reason::OpenEnrollment,
            pre_approved: false,
            groups: None,
            detail: None,
            password,
        }
    }
}

/// The seeds' limitations: Android 10+ through a generic method (email or
/// SMS, self enrollment, QR code) and Android 12+ as an Android Enterprise
/// profile owner cannot be pre-approved. An Android request that does not say
/// its version is treated as current (10+): failing closed is the safe side of
/// a security setting, and Android 9 and older are out of support.
fn method_limitation(req: &AdmissionRequest) -> Option<&'static str> {
    if req.platform != RequestedPlatform::Supported(Platform::Android) {
        return None;
    }
    let major = req.os_version.as_ref().map_or(u32::MAX, |v| v.major);
    match req.method.as_ref()? {
        EnrollmentMethod::Email
        | EnrollmentMethod::Sms
        | EnrollmentMethod::SelfService
        | EnrollmentMethod::Qr
            if major >= 10 =>
        {
            Some(
                "Android 10 and later cannot be pre-approved when enrolling by email, SMS, self \
                 enrollment or QR code; enroll through zero-touch or as an Android Enterprise \
                 device owner",
            )
        }
        EnrollmentMethod::ProfileOwner if major >= 12 => Some(
            "Android 12 and later cannot be pre-approved in Android Enterprise profile owner \
             mode; enroll as a device owner or through zero-touch",
        ),
        _ => None,
    }
}

/// Decides at `now` (epoch seconds), on the setting and the record as they are now.
///
/// A token's completion grants exactly what its admission granted, or is
/// refused: a pre-approved token is judged as under the restriction whatever
/// the setting (a pre-approval that no longer applies is refused with its
/// reason, never turned into an open enrollment); an open token completes
/// only while the restriction is off, and only as an open enrollment, never
/// with the pre-approval or its groups.
pub fn decide(
    req: &AdmissionRequest,
    lookup: &Lookup,
    credential: Credential,
    now: u64,
) -> Decision {
    let device = lookup.device.as_ref();
    match credential {
        Credential::Password(_) => judge(req, device, lookup.pre_approved_only, credential, now),
        Credential::Token(Grant::PreApproved) => judge(req, device, true, credential, now),
        Credential::Token(Grant::OpenEnrollment) => {
            let restricted = lookup.pre_approved_only;
            let d = judge(req, device, restricted, credential, now);
            match d.grant() {
                Some(Grant::PreApproved) if restricted => {
                    // A password-less pre-approval that applies now, but not
                    // when the token was issued: the token shows no
                    // pre-approval, and the restriction admits nothing else.
                    Decision::deny(Reason::NotPreApproved, PasswordCheck::NotChecked)
                }
                Some(Grant::PreApproved) => Decision::open(PasswordCheck::NotChecked),
                _ => d,
            }
        }
    }
}

/// The password comparison this admission needs, if any: a pre-approval
/// that applies but for its password, and a password presented. Nothing
/// else is compared, so nothing else is counted: no password (refused as
/// `password_required`), a lock, any other reason the pre-approval does not apply.
pub fn password_due<'a>(
    req: &AdmissionRequest,
    lookup: &'a Lookup,
    now: u64,
) -> Option<DueCheck<'a>> {
    let device = applicable(req, lookup.device.as_ref(), lookup.pre_approved_only, now).ok()?;
    let hash = device.password_hash.as_deref()?;
    req.password.as_ref()?;
    Some(DueCheck {
        hash,
        claim: Claim::next(&device.checks, now)?,
    })
}

/// The rules, with the restriction on or off.
fn judge(
    req: &AdmissionRequest,
    device: Option<&StoredDevice>,
    restricted: bool,
    credential: Credential,
    now: u64,
) -> Decision {
    let device = match applicable(req, device, restricted, now) {
        Ok(device) => device,
        Err(decision) => return decision,
    };
    if device.password_hash.is_none() {
        return Decision::pre_approved(device, PasswordCheck::NotChecked);
    }
    let refuse = |reason, password| Decision::refuse(reason, restricted, password);
    match credential {
        // The password was checked at admission, against this hash.
        Credential::Token(Grant::PreApproved) => {
            Decision::pre_approved(device, PasswordCheck::NotChecked)
        }
        // It was not (or was wrong): the token proves none; nor is it a guess.
        Credential::Token(Grant::OpenEnrollment) => {
            refuse(Reason::PasswordRequired, PasswordCheck::NotChecked)
        }
        Credential::Password(_) if req.password.is_none() => {
            refuse(Reason::PasswordRequired, PasswordCheck::NotChecked)
        }
        Credential::Password(Compared::Right) => {
            Decision::pre_approved(device, PasswordCheck::Right)
        }
        Credential::Password(Compared::Wrong) => {
            refuse(Reason::PasswordMismatch, PasswordCheck::Wrong)
        }
        // Not compared (over the limit): refused unchecked, as while locked.
        Credential::Password(Compared::Refused | Compared::NotDue) => {
            refuse(Reason::Locked, PasswordCheck::NotChecked)
        }
    }
}

/// The device whose pre-approval applies to this request but for its
/// password, or the decision when it cannot (every other rule, in order).
fn applicable<'a>(
    req: &AdmissionRequest,
    device: Option<&'a StoredDevice>,
    restricted: bool,
    now: u64,
) -> Result<&'a StoredDevice, Decision> {
    if req.platform == RequestedPlatform::Windows {
        return Err(Decision {
            detail: Some(WINDOWS),
            ..Decision::deny(Reason::UnsupportedPlatform, PasswordCheck::NotChecked)
        });
    }
    let limitation = method_limitation(req);
    if restricted {
        if let Some(detail) = limitation {
            return Err(Decision::deny_method(detail));
        }
    }
    let refuse = |reason| Decision::refuse(reason, restricted, PasswordCheck::NotChecked);
    let Some(device) = device else {
        return Err(refuse(Reason::NotPreApproved));
    };
    // Enrollment happens once per serial, whatever the setting: the one-time
    // password and the completion endpoint (409) rely on it.
    if device.status == DeviceStatus::Enrolled {
        return Err(Decision::deny(
            Reason::AlreadyEnrolled,
            PasswordCheck::NotChecked,
        ));
    }
    // Lapsed, to the second, whether or not the sweep has marked it yet.
    if device.status == DeviceStatus::Expired || device.expires.is_some_and(|e| e.has_passed(now)) {
        return Err(refuse(Reason::Expired));
    }
    // Locked: refused unchecked, so a guess neither counts nor learns anything.
    if lockout::is_locked(&device.checks, now) {
        return Err(refuse(Reason::Locked));
    }
    if req.platform != RequestedPlatform::Supported(device.platform) {
        return Err(refuse(Reason::PlatformMismatch));
    }
    // Open enrollment (restricted, it was refused above): the device is let in
    // without its pre-approval, so its password is not compared.
    if limitation.is_some() {
        return Err(Decision::open(PasswordCheck::NotChecked));
    }
    Ok(device)
}

#[cfg(test)]
mod tests;
