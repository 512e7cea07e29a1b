//! The admission rules: whether an enrolling device may proceed, and why.
//! Pure: the caller fetches the device and the setting (one DynamoDB request)
//! and passes a password check bound to its key.

use serde::Serialize;

use super::request::{AdmissionRequest, EnrollmentMethod, RequestedPlatform};
use crate::domain::Platform;
use crate::records::DeviceStatus;

/// What admission needs of a stored device (never the user's details).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDevice {
    pub status: DeviceStatus,
    pub platform: Platform,
    pub groups: Vec<String>,
    pub password_hash: Option<String>,
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
            Self::UnsupportedPlatform => "unsupported_platform",
            Self::UnsupportedEnrollmentMethod => "unsupported_enrollment_method",
        }
    }

    /// Why, for the enrolling side; names no user data.
    fn detail(self) -> Option<&'static str> {
        Some(match self {
            Self::PreApproved | Self::OpenEnrollment => return None,
            Self::NotPreApproved => {
                "enrollment is restricted to pre-approved devices and this serial number is not \
                 pre-approved (serial numbers are case-sensitive)"
            }
            Self::PlatformMismatch => "the serial number is pre-approved for a different platform",
            Self::PasswordRequired => {
                "this device was pre-approved with an enrollment password; send it"
            }
            Self::PasswordMismatch => "the enrollment password does not match",
            Self::AlreadyEnrolled => {
                "a device with this serial number has already enrolled; an administrator must \
                 remove it before it can enroll again"
            }
            Self::UnsupportedPlatform => {
                "Windows devices are not supported for pre-approved enrollment"
            }
            Self::UnsupportedEnrollmentMethod => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    Deny,
}

/// The answer. Carries device groups only on allow of a pre-approved device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub decision: Verdict,
    pub reason: Reason,
    pub pre_approved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        self.decision == Verdict::Allow
    }

    fn deny(reason: Reason) -> Self {
        Self {
            decision: Verdict::Deny,
            reason,
            pre_approved: false,
            groups: None,
            detail: reason.detail(),
        }
    }

    fn deny_method(detail: &'static str) -> Self {
        Self {
            detail: Some(detail),
            ..Self::deny(Reason::UnsupportedEnrollmentMethod)
        }
    }

    fn open(detail: Option<&'static str>) -> Self {
        Self {
            decision: Verdict::Allow,
            reason: Reason::OpenEnrollment,
            pre_approved: false,
            groups: None,
            detail,
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

/// Why a stored pre-approval does not apply to this request, if it does not.
fn mismatch(
    req: &AdmissionRequest,
    device: &StoredDevice,
    password_matches: impl FnOnce(&str, &str) -> bool,
) -> Option<Reason> {
    if req.platform != RequestedPlatform::Supported(device.platform) {
        return Some(Reason::PlatformMismatch);
    }
    match (&device.password_hash, &req.password) {
        (None, _) => None,
        (Some(_), None) => Some(Reason::PasswordRequired),
        (Some(stored), Some(presented)) if !password_matches(presented, stored) => {
            Some(Reason::PasswordMismatch)
        }
        (Some(_), Some(_)) => None,
    }
}

/// Decides. `password_matches(presented, stored_hash)` must compare in constant time.
pub fn decide(
    req: &AdmissionRequest,
    lookup: &Lookup,
    password_matches: impl FnOnce(&str, &str) -> bool,
) -> Decision {
    if req.platform == RequestedPlatform::Windows {
        return Decision::deny(Reason::UnsupportedPlatform);
    }
    let limitation = method_limitation(req);
    if lookup.pre_approved_only {
        if let Some(detail) = limitation {
            return Decision::deny_method(detail);
        }
    }
    let Some(device) = &lookup.device else {
        return if lookup.pre_approved_only {
            Decision::deny(Reason::NotPreApproved)
        } else {
            Decision::open(None)
        };
    };
    // Enrollment happens once per serial, whatever the setting: the one-time
    // password and the completion endpoint (409) rely on it.
    if device.status == DeviceStatus::Enrolled {
        return Decision::deny(Reason::AlreadyEnrolled);
    }
    match (mismatch(req, device, password_matches), limitation) {
        (None, None) => Decision {
            decision: Verdict::Allow,
            reason: Reason::PreApproved,
            pre_approved: true,
            groups: Some(device.groups.clone()),
            detail: None,
        },
        (Some(reason), _) if lookup.pre_approved_only => Decision::deny(reason),
        // Open enrollment lets the device in; its pre-approval (and groups) do not apply.
        (Some(_), _) => Decision::open(Some(
            "the pre-approval of this serial number does not apply to this request; the device \
             enrolls without its pre-approved groups",
        )),
        (None, Some(detail)) => Decision::open(Some(detail)),
    }
}
