//! The admin's settings: the "Pre-approved Devices Only" enrollment
//! restriction and the defaults of an upload. Changed through a patch that
//! is validated whole and yields the list of changes for the audit trail.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{Email, ExistingPolicy, ImportDefaults, InviteChannel, OnError};
use crate::outbox::InviteOrigin;
use crate::port_error::PortError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Settings {
    /// The seeds' "Pre-approved Devices Only" (Enroll > Settings > Enrollment Restrictions).
    pub pre_approved_only: bool,
    pub default_invite: InviteChannel,
    pub default_existing_users: ExistingPolicy,
    pub default_on_error: OnError,
    /// Overrides the deployment's sender address when set.
    pub invite_sender: Option<String>,
    /// Overrides the deployment's enrollment URL when set.
    pub enrollment_url: Option<String>,
    /// Days a pre-approval lasts when neither its row nor its upload says (none: no expiry).
    #[serde(default)]
    pub default_expiry_days: Option<u32>,
}

/// A PUT body: only the fields given change; `""` clears an address or URL.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub pre_approved_only: Option<bool>,
    pub default_invite: Option<InviteChannel>,
    pub default_existing_users: Option<ExistingPolicy>,
    pub default_on_error: Option<OnError>,
    pub invite_sender: Option<String>,
    pub enrollment_url: Option<String>,
    /// A number of days; `null` or `0`: pre-approvals do not expire.
    #[serde(default, deserialize_with = "present")]
    pub default_expiry_days: Option<Option<u32>>,
}

/// A field that is present, even as `null` (which clears it).
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// One field's change, for the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    pub field: &'static str,
    pub message: String,
}

fn cleared(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

fn check_url(url: &str) -> Result<(), SettingsError> {
    let bad = |message: &str| SettingsError {
        field: "enrollment_url",
        message: message.to_owned(),
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("must start with https:// (the link users open from the invite)"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty()
        || url.len() > 2000
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad(
            "must be a full URL such as https://enroll.example.com/",
        ));
    }
    Ok(())
}

/// The settings and the version they were read at (for an optimistic write).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versioned {
    pub settings: Settings,
    pub version: u64,
}

/// One recorded change of the settings: who, when, old -> new.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub at: String,
    pub by: String,
    pub changes: Vec<Change>,
}

/// Where the settings live, with their audit trail.
pub trait SettingsStore: Send + Sync {
    /// The current settings (defaults when never saved), read consistently.
    fn load(&self) -> impl Future<Output = Result<Versioned, PortError>> + Send;

    /// Saves `next` and an audit entry of `changes` together; Ok(false) when
    /// someone else saved since `read_version` (reload and retry).
    fn save(
        &self,
        next: &Settings,
        read_version: u64,
        changes: &[Change],
        by: &str,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// The newest `limit` changes, newest first.
    fn history(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, PortError>> + Send;
}

impl Settings {
    /// What an upload that chose nothing gets.
    pub fn import_defaults(&self) -> ImportDefaults {
        ImportDefaults {
            invite: self.default_invite,
            existing: self.default_existing_users,
            on_error: self.default_on_error,
            expires_in_days: self.default_expiry_days,
        }
    }

    /// The admin's sender and enrollment URL where set, else the deployment's.
    pub fn invite_origin(&self, deployment: &InviteOrigin) -> InviteOrigin {
        InviteOrigin {
            sender: self
                .invite_sender
                .clone()
                .unwrap_or_else(|| deployment.sender.clone()),
            enrollment_url: self
                .enrollment_url
                .clone()
                .unwrap_or_else(|| deployment.enrollment_url.clone()),
        }
    }

    /// The settings after `patch`, and what changed (empty when nothing did).
    pub fn apply(&self, patch: &SettingsPatch) -> Result<(Settings, Vec<Change>), SettingsError> {
        let mut next = self.clone();
        if let Some(v) = patch.pre_approved_only {
            next.pre_approved_only = v;
        }
        if let Some(v) = patch.default_invite {
            next.default_invite = v;
        }
        if let Some(v) = patch.default_existing_users {
            next.default_existing_users = v;
        }
        if let Some(v) = patch.default_on_error {
            next.default_on_error = v;
        }
        if let Some(v) = &patch.invite_sender {
            next.invite_sender = cleared(v);
            if let Some(addr) = &next.invite_sender {
                Email::parse(addr).map_err(|e| SettingsError {
                    field: "invite_sender",
                    message: e.to_string(),
                })?;
            }
        }
        if let Some(v) = &patch.enrollment_url {
            next.enrollment_url = cleared(v);
            if let Some(url) = &next.enrollment_url {
                check_url(url)?;
            }
        }
        if let Some(days) = patch.default_expiry_days {
            next.default_expiry_days = days.filter(|d| *d != 0);
            if let Some(d) = next.default_expiry_days {
                crate::domain::expiry::check_days(d).map_err(|e| SettingsError {
                    field: "default_expiry_days",
                    message: e.message,
                })?;
            }
        }
        let (old, new) = (json(self), json(&next));
        let changes = new
            .iter()
            .filter(|(k, v)| old.get(*k) != Some(*v))
            .map(|(k, v)| Change {
                field: k.clone(),
                old: old.get(k).cloned().unwrap_or(Value::Null),
                new: v.clone(),
            })
            .collect();
        Ok((next, changes))
    }
}

fn json(s: &Settings) -> serde_json::Map<String, Value> {
    match serde_json::to_value(s) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(json: &str) -> SettingsPatch {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_patch_changes_only_its_fields_and_lists_them() {
        let s = Settings::default();
        let (next, changes) = s
            .apply(&patch(
                r#"{"pre_approved_only": true, "default_invite": "sms"}"#,
            ))
            .unwrap();
        assert!(next.pre_approved_only);
        assert_eq!(next.default_invite, InviteChannel::Sms);
        assert_eq!(next.default_existing_users, ExistingPolicy::Skip);
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["default_invite", "pre_approved_only"]);
        assert_eq!(changes[1].old, Value::Bool(false));
        assert_eq!(changes[1].new, Value::Bool(true));
        let (_, none) = next
            .apply(&patch(r#"{"pre_approved_only": true}"#))
            .unwrap();
        assert!(none.is_empty(), "setting a value to itself is no change");
    }

    #[test]
    fn addresses_and_urls_are_validated_and_cleared_by_empty_strings() {
        let s = Settings::default();
        let (next, _) = s
            .apply(&patch(r#"{"invite_sender": " it@example.com ", "enrollment_url": "https://enroll.example.com/x"}"#))
            .unwrap();
        assert_eq!(next.invite_sender.as_deref(), Some("it@example.com"));
        let (cleared, changes) = next.apply(&patch(r#"{"invite_sender": ""}"#)).unwrap();
        assert_eq!(cleared.invite_sender, None);
        assert_eq!(changes[0].new, Value::Null);
        assert_eq!(
            s.apply(&patch(r#"{"invite_sender": "not an address"}"#))
                .unwrap_err()
                .field,
            "invite_sender"
        );
        for url in ["ftp://x", "https://", "enroll.example.com", "https://a b"] {
            let body = serde_json::json!({ "enrollment_url": url }).to_string();
            assert_eq!(
                s.apply(&patch(&body)).unwrap_err().field,
                "enrollment_url",
                "{url}"
            );
        }
    }

    #[test]
    fn an_expiry_default_is_a_bounded_number_of_days_that_null_clears() {
        let (next, changes) = Settings::default()
            .apply(&patch(r#"{"default_expiry_days": 90}"#))
            .unwrap();
        assert_eq!(next.import_defaults().expires_in_days, Some(90));
        assert_eq!(changes[0].field, "default_expiry_days");
        for clear in [
            r#"{"default_expiry_days": null}"#,
            r#"{"default_expiry_days": 0}"#,
        ] {
            assert_eq!(
                next.apply(&patch(clear)).unwrap().0.default_expiry_days,
                None
            );
        }
        let (same, _) = next.apply(&patch("{}")).unwrap();
        assert_eq!(same.default_expiry_days, Some(90), "absent is no change");
        let e = next
            .apply(&patch(r#"{"default_expiry_days": 4000}"#))
            .unwrap_err();
        assert_eq!(e.field, "default_expiry_days");
        assert!(serde_json::from_str::<SettingsPatch>(r#"{"default_expiry_days": -1}"#).is_err());
    }

    #[test]
    fn the_admins_sender_and_url_win_over_the_deployments() {
        let deployment = InviteOrigin {
            sender: "noreply@deploy.example".into(),
            enrollment_url: "https://deploy.example/enroll".into(),
        };
        assert_eq!(Settings::default().invite_origin(&deployment), deployment);
        let (mine, _) = Settings::default()
            .apply(&patch(r#"{"invite_sender": "it@corp.example"}"#))
            .unwrap();
        let origin = mine.invite_origin(&deployment);
        assert_eq!(origin.sender, "it@corp.example");
        assert_eq!(origin.enrollment_url, deployment.enrollment_url);
    }

    #[test]
    fn unknown_fields_and_values_are_refused() {
        assert!(serde_json::from_str::<SettingsPatch>(r#"{"pre_approved": true}"#).is_err());
        assert!(serde_json::from_str::<SettingsPatch>(r#"{"default_invite": "Email"}"#).is_err());
        assert!(serde_json::from_str::<SettingsPatch>(
            r#"{"default_on_error": "skip-invalid-rows"}"#
        )
        .is_ok());
    }
}
