//! A device as Apple's device-assignment API lists it, and what this product
//! makes of it: a platform, or a reason it cannot be pre-approved.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::domain::expiry::parse_date_time;
use crate::domain::{Platform, SerialNumber};
use crate::records::AdeLink;

/// One device of a fetch or sync page. Every field but the serial is optional:
/// Apple leaves out what it does not know, and an unknown field is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdeDevice {
    pub serial_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_assigned_date: Option<String>,
    /// Only in sync answers; a fetched device has none (it is listed, as if added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_date: Option<String>,
}

/// What a listed device asks of this product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Added, modified (also for a serial not seen before: ABM sends `modified`
    /// when a device moves to this server), or listed by a fetch.
    Listed {
        serial: String,
        platform: Platform,
        link: AdeLink,
    },
    /// Unassigned from this MDM server.
    Deleted { serial: String },
    /// A family this product cannot pre-approve (Vision, Watch, unknown).
    Unsupported { serial: String, family: String },
    /// A serial that is not one (empty, too long, control characters).
    Invalid { serial: String },
}

impl Change {
    pub fn serial(&self) -> &str {
        match self {
            Self::Listed { serial, .. }
            | Self::Deleted { serial }
            | Self::Unsupported { serial, .. }
            | Self::Invalid { serial } => serial,
        }
    }
}

/// iPhone, iPod and iPad enroll as iOS, Mac as macOS, Apple TV as tvOS; the
/// others (Vision, Watch, anything Apple adds) are not pre-approved.
pub fn platform_of(device_family: &str) -> Option<Platform> {
    match device_family {
        "iPhone" | "iPod" | "iPad" => Some(Platform::Ios),
        "Mac" => Some(Platform::Macos),
        "AppleTV" => Some(Platform::Tvos),
        _ => None,
    }
}

impl AdeDevice {
    /// What this entry asks, for the account `account_id`.
    pub fn change(&self, account_id: &str) -> Change {
        let serial = self.serial_number.clone();
        if SerialNumber::parse(&serial).is_err() {
            return Change::Invalid { serial };
        }
        if self.op_type.as_deref() == Some("deleted") {
            return Change::Deleted { serial };
        }
        let family = self.device_family.clone().unwrap_or_default();
        match platform_of(&family) {
            Some(platform) => Change::Listed {
                serial,
                platform,
                link: AdeLink {
                    account: account_id.to_owned(),
                    model: self.model.clone(),
                    description: self.description.clone(),
                    color: self.color.clone(),
                    asset_tag: self.asset_tag.clone(),
                    device_assigned_date: self.device_assigned_date.clone(),
                },
            },
            None => Change::Unsupported { serial, family },
        }
    }
}

/// A page's changes, one per serial: within a page a serial may appear more
/// than once, and the entry with the latest `op_date` wins (the later one in
/// the page on a tie, or when dates are missing). Order is the page's.
pub fn latest_per_serial(devices: Vec<AdeDevice>) -> Vec<AdeDevice> {
    let mut index: HashMap<String, usize> = HashMap::with_capacity(devices.len());
    let mut out: Vec<AdeDevice> = Vec::with_capacity(devices.len());
    for d in devices {
        match index.get(&d.serial_number) {
            Some(&i) => {
                if op_instant(&d) >= op_instant(&out[i]) {
                    out[i] = d;
                }
            }
            None => {
                index.insert(d.serial_number.clone(), out.len());
                out.push(d);
            }
        }
    }
    out
}

/// `op_date` as comparable seconds; Apple writes RFC 3339 (`2026-01-02T03:04:05Z`).
fn op_instant(d: &AdeDevice) -> Option<u64> {
    d.op_date.as_deref().and_then(parse_date_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(serial: &str, family: &str, op: Option<&str>, date: Option<&str>) -> AdeDevice {
        AdeDevice {
            serial_number: serial.into(),
            device_family: Some(family.into()),
            op_type: op.map(Into::into),
            op_date: date.map(Into::into),
            model: Some(format!("{family} model")),
            ..AdeDevice::default()
        }
    }

    #[test]
    fn families_map_to_platforms_and_others_are_unsupported() {
        assert_eq!(platform_of("iPhone"), Some(Platform::Ios));
        assert_eq!(platform_of("iPad"), Some(Platform::Ios));
        assert_eq!(platform_of("iPod"), Some(Platform::Ios));
        assert_eq!(platform_of("Mac"), Some(Platform::Macos));
        assert_eq!(platform_of("AppleTV"), Some(Platform::Tvos));
        for other in ["Vision", "Watch", "", "mac", "HomePod"] {
            assert_eq!(platform_of(other), None, "{other}");
        }
    }

    #[test]
    fn an_entry_becomes_a_change() {
        let listed = dev("C02X1", "Mac", None, None).change("acct");
        match listed {
            Change::Listed {
                serial,
                platform,
                link,
            } => {
                assert_eq!(serial, "C02X1");
                assert_eq!(platform, Platform::Macos);
                assert_eq!(link.account, "acct");
                assert_eq!(link.model.as_deref(), Some("Mac model"));
            }
            other => panic!("{other:?}"),
        }
        // `modified` of a serial never seen is an add: both are Listed.
        assert!(matches!(
            dev("A", "iPad", Some("modified"), None).change("a"),
            Change::Listed { .. }
        ));
        assert!(matches!(
            dev("A", "iPad", Some("added"), None).change("a"),
            Change::Listed { .. }
        ));
        assert_eq!(
            dev("A", "iPad", Some("deleted"), None).change("a"),
            Change::Deleted { serial: "A".into() }
        );
        assert_eq!(
            dev("V1", "Vision", Some("added"), None).change("a"),
            Change::Unsupported {
                serial: "V1".into(),
                family: "Vision".into()
            }
        );
        // A deleted Vision device is still a deletion: nothing of it is stored anyway.
        assert!(matches!(
            dev("V1", "Vision", Some("deleted"), None).change("a"),
            Change::Deleted { .. }
        ));
        assert!(matches!(
            dev("", "Mac", None, None).change("a"),
            Change::Invalid { .. }
        ));
    }

    #[test]
    fn within_a_page_the_latest_op_date_wins() {
        let page = vec![
            dev("A", "Mac", Some("added"), Some("2026-03-01T10:00:00Z")),
            dev("B", "iPad", Some("added"), Some("2026-03-01T10:00:00Z")),
            dev("A", "Mac", Some("deleted"), Some("2026-03-01T09:00:00Z")),
            dev(
                "B",
                "iPad",
                Some("deleted"),
                Some("2026-03-01T11:00:00+01:00"),
            ),
            dev("C", "Mac", Some("added"), Some("2026-03-01T08:00:00Z")),
            dev("C", "Mac", Some("deleted"), Some("2026-03-01T08:00:00Z")),
        ];
        let latest = latest_per_serial(page);
        let ops: Vec<_> = latest
            .iter()
            .map(|d| (d.serial_number.as_str(), d.op_type.as_deref().unwrap()))
            .collect();
        // B's deletion is 10:00Z, the same instant as its add but later in the page.
        assert_eq!(ops, [("A", "added"), ("B", "deleted"), ("C", "deleted")]);
    }
}
