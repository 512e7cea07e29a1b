//! Admission of enrolling devices: the request, the rules of the seeds
//! (restriction setting, platform, password, one-time enrollment, Android
//! limitations) and the store they read and write through.

pub mod request;
pub mod rules;
#[cfg(test)]
mod rules_tests;
pub mod store;

pub use request::{
    AdmissionRequest, EnrollmentMethod, RequestError, RequestedPlatform, MAX_BODY_BYTES,
};
pub use rules::{decide, Decision, Lookup, Reason, StoredDevice, Verdict};
pub use store::{AdmissionStore, Denial, Enrolled, Enrollment, Expect};
