//! A decision as the event consumers read (`crate::events`).

use serde_json::json;

use super::{AdmissionRequest, Decision};
use crate::clock::rfc3339;
use crate::events::{put, DetailType, Event};

/// An admission or enrollment-completion decision, with its precise
/// reason (the caller was told less).
pub fn decision_event(
    decision: &Decision,
    request: &AdmissionRequest,
    endpoint: &str,
    at: u64,
) -> Event {
    let mut detail = json!({
        "serial_number": request.serial,
        "platform": request.platform.as_str(),
        "reason": decision.reason.as_str(),
        "pre_approved": decision.pre_approved,
        "endpoint": endpoint,
        "at": rfc3339(at),
    });
    put(&mut detail, "enrollment_method", request.method_name());
    put(&mut detail, "os_version", request.os_version_text());
    Event {
        detail_type: if decision.is_allow() {
            DetailType::AdmissionAllowed
        } else {
            DetailType::AdmissionDenied
        },
        detail,
    }
}
