//! Admission Lambda: `POST /v1/admission` answers allow or deny for an
//! enrolling device; `POST /v1/enrollments` completes its enrollment.

pub mod after_response;
pub mod config;
pub mod handler;
