//! Admission of enrolling devices: the request, the rules of the seeds
//! (restriction setting, platform, password, one-time enrollment, Android
//! limitations) and the store they read and write through.

mod event;
pub mod grouping;
pub mod lockout;
pub mod request;
pub mod rules;
pub mod store;
pub mod token;

pub use event::decision_event;
pub use request::{
    AdmissionRequest, EnrollmentMethod, RequestError, RequestedPlatform, MAX_BODY_BYTES,
};
pub use rules::{
    decide, password_due, Answer, Compared, Credential, Decision, DueCheck, Grant, Lookup,
    PasswordCheck, PublicReason, Reason, StoredDevice, Verdict, NOT_ALLOWED,
};
pub use store::{AdmissionStore, Denial, Enrolled, Enrollment, Expect, Recorded};
pub use token::{Claims, TokenError, TokenKey, TOKEN_TTL_SECS};
