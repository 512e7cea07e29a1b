//! Every decision as an Amazon EventBridge event (source `preapprove`), for
//! one rule to route to e-mail, chat or a SIEM. Details carry no PII beyond
//! the serial and the e-mail of the device's own user, and never a password.
//! Delivery is at least once (EventBridge's own promise): every detail has a
//! field a consumer can deduplicate on (the denial's record id, the import
//! id, the serial with its time).

use std::future::Future;
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::clock::rfc3339;
use crate::port_error::PortError;

pub const SOURCE: &str = "preapprove";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetailType {
    AdmissionDenied,
    AdmissionAllowed,
    DeviceEnrolled,
    ImportFinished,
    ImportUndone,
    PreApprovalExpired,
}

impl DetailType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AdmissionDenied => "Admission Denied",
            Self::AdmissionAllowed => "Admission Allowed",
            Self::DeviceEnrolled => "Device Enrolled",
            Self::ImportFinished => "Import Finished",
            Self::ImportUndone => "Import Undone",
            Self::PreApprovalExpired => "Pre-approval Expired",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub detail_type: DetailType,
    pub detail: Value,
}

pub trait EventPublisher: Send + Sync {
    /// Publishes every event (retrying what the bus refused); Err when some could not be.
    fn publish(&self, events: &[Event]) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Events a handler produced, published once its caller has the answer.
#[derive(Debug, Default)]
pub struct Outgoing(Mutex<Vec<Event>>);

impl Outgoing {
    pub fn push(&self, event: Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(event);
        }
    }

    pub fn take(&self) -> Vec<Event> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// Sets `key` when there is a value: an absent fact is left out, not null.
pub(crate) fn put(detail: &mut Value, key: &str, value: Option<String>) {
    if let (Some(v), Some(map)) = (value, detail.as_object_mut()) {
        map.insert(key.to_owned(), Value::String(v));
    }
}

impl Event {
    /// What a change of a device record means, from its stream images
    /// (DynamoDB JSON): enrolled, or lapsed; None for any other change.
    pub fn from_device_change(old: Option<&Value>, new: Option<&Value>) -> Option<Self> {
        let s = |image: Option<&Value>, k: &str| {
            image
                .and_then(|i| i.get(k))
                .and_then(|a| a.get("S"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (before, after) = (s(old, "status"), s(new, "status"));
        let detail_type = match (before.as_deref(), after.as_deref()) {
            (Some(b), Some("enrolled")) if b != "enrolled" => DetailType::DeviceEnrolled,
            (None, Some("enrolled")) => DetailType::DeviceEnrolled,
            (Some("pre_approved"), Some("expired")) => DetailType::PreApprovalExpired,
            _ => return None,
        };
        let mut detail = json!({ "serial_number": s(new, "serial")? });
        put(&mut detail, "platform", s(new, "platform"));
        // The device's own user, and only theirs.
        put(
            &mut detail,
            "email",
            s(new, "email").filter(|e| !e.is_empty()),
        );
        put(&mut detail, "import_id", s(new, "import_id"));
        put(&mut detail, "at", s(new, "updated_at"));
        match detail_type {
            DetailType::DeviceEnrolled => {
                put(
                    &mut detail,
                    "enrollment_method",
                    s(new, "enrollment_method"),
                );
                put(&mut detail, "os_version", s(new, "os_version"));
                let applied = new
                    .and_then(|i| i.get("pre_approval_applied"))
                    .and_then(|a| a.get("BOOL"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                detail["pre_approved"] = Value::Bool(applied);
            }
            _ => {
                let expired = old
                    .and_then(|i| i.get("expires_at"))
                    .and_then(|a| a.get("N"))
                    .and_then(Value::as_str)
                    .and_then(|n| n.parse().ok())
                    .map(rfc3339);
                put(&mut detail, "expires_at", expired);
            }
        }
        Some(Self {
            detail_type,
            detail,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(pairs: &[(&str, &str)]) -> Value {
        let mut m = serde_json::Map::new();
        for (k, v) in pairs {
            m.insert((*k).to_owned(), json!({ "S": v }));
        }
        Value::Object(m)
    }

    #[test]
    fn device_changes_that_are_decisions() {
        let pre = {
            let mut i = image(&[
                ("serial", "C02"),
                ("status", "pre_approved"),
                ("platform", "ios"),
                ("email", "ann@example.com"),
                ("password_hash", "v1$x"),
            ]);
            i["expires_at"] = json!({"N": "1806537600"});
            i
        };
        let expired = image(&[
            ("serial", "C02"),
            ("status", "expired"),
            ("platform", "ios"),
            ("email", "ann@example.com"),
        ]);
        let e = Event::from_device_change(Some(&pre), Some(&expired)).unwrap();
        assert_eq!(e.detail_type.as_str(), "Pre-approval Expired");
        assert_eq!(e.detail["expires_at"], "2027-04-01T00:00:00Z");
        assert_eq!(e.detail["email"], "ann@example.com");
        assert!(
            !e.detail.to_string().contains("v1$x"),
            "never a password hash"
        );

        let mut enrolled = image(&[
            ("serial", "C02"),
            ("status", "enrolled"),
            ("platform", "ios"),
            ("enrollment_method", "ade"),
        ]);
        enrolled["pre_approval_applied"] = json!({"BOOL": true});
        let e = Event::from_device_change(Some(&pre), Some(&enrolled)).unwrap();
        assert_eq!(
            (e.detail_type, e.detail["pre_approved"].as_bool()),
            (DetailType::DeviceEnrolled, Some(true))
        );
        assert!(e.detail.get("email").is_none(), "no owner, no e-mail");
        // Open enrollment of a device never imported: a new record, enrolled.
        assert!(Event::from_device_change(None, Some(&enrolled)).is_some());
        // Anything else is no decision: an import, a renewal, a removal, a failure count.
        assert!(Event::from_device_change(None, Some(&pre)).is_none());
        assert!(Event::from_device_change(Some(&expired), Some(&pre)).is_none());
        assert!(Event::from_device_change(Some(&pre), None).is_none());
        assert!(Event::from_device_change(Some(&pre), Some(&pre)).is_none());
        assert!(Event::from_device_change(Some(&enrolled), Some(&enrolled)).is_none());
    }

    #[test]
    fn outgoing_events_are_taken_once() {
        let out = Outgoing::default();
        out.push(Event {
            detail_type: DetailType::AdmissionDenied,
            detail: json!({}),
        });
        assert_eq!(out.take().len(), 1);
        assert!(out.take().is_empty());
    }
}
