//! Which devices an export holds, as the admin asked for them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::invisible_in_serial;
use crate::domain::{Platform, SerialNumber};
use crate::records::{DeviceRecord, DeviceSource, DeviceStatus};

/// Every filter is optional; none means every device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DeviceStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
    /// Where the pre-approval came from (CSV import, ADE account, open enrollment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<DeviceSource>,
    /// An ADE account's id: the devices it lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// A filter the request got wrong: `field` names it, `message` says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    pub field: &'static str,
    pub message: String,
}

fn wrong(field: &'static str, message: impl Into<String>) -> FilterError {
    FilterError {
        field,
        message: message.into(),
    }
}

const FIELDS: [&str; 6] = [
    "status",
    "platform",
    "serial_prefix",
    "import_id",
    "source",
    "account",
];

/// Longer than any ADE account id (32 hex digits).
const MAX_ACCOUNT_ID: usize = 64;

/// Longer than any import id (`<bucket>/<key>#<version>` is at most ~1.2 KB).
const MAX_IMPORT_ID: usize = 2048;

impl ExportFilter {
    /// The request body: `{"status", "platform", "serial_prefix", "import_id",
    /// "source", "account"}`, each optional; `status` may also be `"all"`.
    pub fn from_json(body: &Value) -> Result<Self, FilterError> {
        let Some(fields) = body.as_object() else {
            return Err(wrong(
                "body",
                "send a JSON object of filters, e.g. {\"status\": \"pre_approved\"} ({} for every device)",
            ));
        };
        if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(wrong(
                "body",
                format!(
                    "'{}' is not a filter; the filters are {}",
                    crate::domain::clip_to(unknown, 40),
                    FIELDS.join(", ")
                ),
            ));
        }
        let text = |field: &'static str| -> Result<Option<&str>, FilterError> {
            match fields.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(wrong(field, format!("{field} must be a string"))),
            }
        };
        let status = match text("status")? {
            None | Some("all") => None,
            Some(s) => Some(DeviceStatus::parse(s).ok_or_else(|| {
                wrong(
                    "status",
                    "status must be pre_approved, enrolled, expired or all (or left out)",
                )
            })?),
        };
        let platform = text("platform")?
            .map(Platform::parse)
            .transpose()
            .map_err(|e| wrong("platform", e.message))?;
        let serial_prefix = text("serial_prefix")?
            .map(|p| {
                if p.len() > SerialNumber::MAX_LEN {
                    Err(wrong(
                        "serial_prefix",
                        format!(
                            "the serial prefix is longer than a serial number ({} characters)",
                            SerialNumber::MAX_LEN
                        ),
                    ))
                } else if let Some(found) = invisible_in_serial(p) {
                    Err(wrong(
                        "serial_prefix",
                        format!("the serial prefix has {found}, which no serial number holds"),
                    ))
                } else {
                    Ok(p.to_owned())
                }
            })
            .transpose()?;
        let import_id = text("import_id")?
            .map(|i| {
                if i.len() > MAX_IMPORT_ID {
                    Err(wrong(
                        "import_id",
                        "that is not an import id; copy it from the import's page",
                    ))
                } else {
                    Ok(i.to_owned())
                }
            })
            .transpose()?;
        let source = text("source")?
            .map(|s| {
                DeviceSource::parse(s)
                    .ok_or_else(|| wrong("source", "source must be csv, ade or enrollment"))
            })
            .transpose()?;
        let account = text("account")?
            .map(|a| match a.len() <= MAX_ACCOUNT_ID {
                true => Ok(a.to_owned()),
                false => Err(wrong(
                    "account",
                    "that is not an ADE account's id; copy it from Admin > Apple ADE",
                )),
            })
            .transpose()?;
        Ok(Self {
            status,
            platform,
            serial_prefix,
            import_id,
            source,
            account,
        })
    }

    /// The statuses to read, in the file's order.
    pub fn statuses(&self) -> Vec<DeviceStatus> {
        match self.status {
            Some(s) => vec![s],
            None => DeviceStatus::ALL.to_vec(),
        }
    }

    /// Whether only status and platform filter (the device totals then say
    /// how many rows the export will have).
    pub fn counted(&self) -> bool {
        self.serial_prefix.is_none()
            && self.import_id.is_none()
            && self.source.is_none()
            && self.account.is_none()
    }

    pub fn matches(&self, d: &DeviceRecord) -> bool {
        self.status.is_none_or(|s| d.status == s)
            && self.platform.is_none_or(|p| d.platform == p)
            && self
                .serial_prefix
                .as_deref()
                .is_none_or(|p| d.serial.starts_with(p))
            && self.import_id.as_deref().is_none_or(|i| d.import_id == i)
            && self.source.is_none_or(|s| d.source() == s)
            && self
                .account
                .as_deref()
                .is_none_or(|a| d.ade.as_ref().is_some_and(|l| l.account == a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_body_is_every_device() {
        let f = ExportFilter::from_json(&json!({})).unwrap();
        assert_eq!(f, ExportFilter::default());
        assert_eq!(f.statuses(), DeviceStatus::ALL.to_vec());
        assert!(f.counted());
        let all = ExportFilter::from_json(&json!({"status": "all", "platform": ""})).unwrap();
        assert_eq!(all, ExportFilter::default());
    }

    #[test]
    fn every_filter_is_read() {
        let f = ExportFilter::from_json(&json!({
            "status": "enrolled", "platform": "android", "serial_prefix": "C02", "import_id": "b/k#v"
        }))
        .unwrap();
        assert_eq!(f.status, Some(DeviceStatus::Enrolled));
        assert_eq!(f.platform, Some(Platform::Android));
        assert_eq!(f.serial_prefix.as_deref(), Some("C02"));
        assert_eq!(f.import_id.as_deref(), Some("b/k#v"));
        assert!(!f.counted());
        let ade = ExportFilter::from_json(&json!({"source": "ade", "account": "a1"})).unwrap();
        assert_eq!(ade.source, Some(DeviceSource::Ade));
        assert_eq!(ade.account.as_deref(), Some("a1"));
        assert!(!ade.counted(), "the totals do not count by source");
    }

    #[test]
    fn wrong_filters_name_the_field_and_the_fix() {
        let cases = [
            (json!([]), "body"),
            (json!({"owner": "a@b.c"}), "body"),
            (json!({"status": "lost"}), "status"),
            (json!({"status": 3}), "status"),
            (json!({"platform": "windows"}), "platform"),
            (json!({"serial_prefix": "C0\u{200b}"}), "serial_prefix"),
            (json!({"serial_prefix": "x".repeat(129)}), "serial_prefix"),
            (json!({"import_id": "x".repeat(3000)}), "import_id"),
            (json!({"source": "abm"}), "source"),
            (json!({"account": "x".repeat(65)}), "account"),
        ];
        for (body, field) in cases {
            let e = ExportFilter::from_json(&body).unwrap_err();
            assert_eq!(e.field, field, "{body}: {e}");
            assert!(!e.message.is_empty());
        }
        let long_key = ExportFilter::from_json(&json!({"x".repeat(5000): 1})).unwrap_err();
        assert!(long_key.message.len() < 200, "{}", long_key.message);
    }
}
