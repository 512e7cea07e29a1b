//! What the admin sends to create an account or change its settings, and the
//! rules each field must meet (the import's own for the device groups).

use serde::Deserialize;

use crate::ade::account::AccountSettings;
use crate::admin::AdminError;
use crate::domain::parse_groups;
use crate::settings::present;

/// The account's name: long enough for ABM's MDM server names.
pub const MAX_NAME_CHARS: usize = 100;
/// A directory domain (a DNS name is at most 253 characters).
pub const MAX_DOMAIN_CHARS: usize = 255;

/// Device groups as a `;`-separated text (as in a CSV cell) or a list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Groups {
    Text(String),
    List(Vec<String>),
}

/// The body of `POST /v1/ade/accounts`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateInput {
    pub name: String,
    /// The seeds' "Add as Pre-approved Device"; on unless the admin says otherwise.
    #[serde(default)]
    pub preapprove: Option<bool>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub groups: Option<Groups>,
}

/// The body of `PUT /v1/ade/accounts/{id}`: only the fields given change;
/// a `null` or empty domain clears it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    pub name: Option<String>,
    pub preapprove: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub domain: Option<Option<String>>,
    pub groups: Option<Groups>,
}

/// The body of `POST /v1/ade/accounts/{id}/sync` (optional).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncInput {
    /// Fetch every device Apple assigns to the server, and remove the
    /// account's pre-approvals it no longer lists (not only the changes).
    #[serde(default)]
    pub full: bool,
}

pub(super) fn name(raw: &str) -> Result<String, AdminError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AdminError::bad(
            "name",
            format!(
                "give the account a name of 1 to {MAX_NAME_CHARS} characters without control \
                 characters (e.g. the MDM server's name in Apple Business Manager)"
            ),
        ));
    }
    Ok(name.to_owned())
}

pub(super) fn domain(raw: Option<&str>) -> Result<Option<String>, AdminError> {
    let Some(domain) = raw.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    if domain.chars().count() > MAX_DOMAIN_CHARS || domain.chars().any(char::is_control) {
        return Err(AdminError::bad(
            "domain",
            format!(
                "the domain must be at most {MAX_DOMAIN_CHARS} characters, without control \
                 characters (e.g. corp.example.com), or empty for none"
            ),
        ));
    }
    Ok(Some(domain.to_owned()))
}

pub(super) fn groups(raw: Option<&Groups>) -> Result<Vec<String>, AdminError> {
    let text = match raw {
        None => return Ok(Vec::new()),
        Some(Groups::Text(t)) => t.clone(),
        // One cell's rules for the whole list; a name holding ';' becomes two, as in a CSV.
        Some(Groups::List(l)) => l.join(";"),
    };
    parse_groups(&text).map_err(|e| AdminError::bad("groups", e.message))
}

impl CreateInput {
    pub(super) fn settings(&self) -> Result<AccountSettings, AdminError> {
        Ok(AccountSettings {
            name: name(&self.name)?,
            preapprove: self.preapprove.unwrap_or(true),
            domain: domain(self.domain.as_deref())?,
            groups: groups(self.groups.as_ref())?,
        })
    }
}

impl SettingsInput {
    /// `current` with the given fields changed, each validated.
    pub(super) fn apply(&self, current: &AccountSettings) -> Result<AccountSettings, AdminError> {
        Ok(AccountSettings {
            name: match &self.name {
                Some(n) => name(n)?,
                None => current.name.clone(),
            },
            preapprove: self.preapprove.unwrap_or(current.preapprove),
            domain: match &self.domain {
                Some(d) => domain(d.as_deref())?,
                None => current.domain.clone(),
            },
            groups: match &self.groups {
                Some(g) => groups(Some(g))?,
                None => current.groups.clone(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(body: serde_json::Value) -> Result<AccountSettings, AdminError> {
        serde_json::from_value::<CreateInput>(body)
            .unwrap()
            .settings()
    }

    fn field_of(r: Result<AccountSettings, AdminError>) -> Option<&'static str> {
        match r {
            Err(AdminError::BadRequest { field, .. }) => field,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn preapprove_is_on_unless_turned_off_and_values_are_trimmed() {
        let s = create(json!({"name": " ABM Main ", "domain": " corp.example ",
                              "groups": "Sales; Field ;Sales"}))
        .unwrap();
        assert_eq!(s.name, "ABM Main");
        assert!(
            s.preapprove,
            "the seeds' Add as Pre-approved Device is on by default"
        );
        assert_eq!(s.domain.as_deref(), Some("corp.example"));
        assert_eq!(s.groups, ["Sales", "Field"]);
        let off = create(json!({"name": "x", "preapprove": false, "domain": " ",
                                "groups": ["A", "B", "A"]}))
        .unwrap();
        assert!(!off.preapprove);
        assert_eq!(off.domain, None);
        assert_eq!(off.groups, ["A", "B"]);
    }

    #[test]
    fn wrong_values_name_their_field() {
        assert_eq!(field_of(create(json!({"name": "  "}))), Some("name"));
        assert_eq!(
            field_of(create(json!({"name": "x".repeat(101)}))),
            Some("name")
        );
        assert!(
            create(json!({"name": "é".repeat(100)})).is_ok(),
            "characters, not bytes"
        );
        assert_eq!(field_of(create(json!({"name": "a\u{7}b"}))), Some("name"));
        assert_eq!(
            field_of(create(json!({"name": "x", "domain": "d".repeat(256)}))),
            Some("domain")
        );
        assert_eq!(
            field_of(create(json!({"name": "x", "groups": "g".repeat(129)}))),
            Some("groups")
        );
        assert!(serde_json::from_value::<CreateInput>(json!({"name": "x", "owner": "y"})).is_err());
    }

    #[test]
    fn a_settings_change_keeps_what_it_does_not_name() {
        let current = create(json!({"name": "Main", "domain": "corp", "groups": "A"})).unwrap();
        let only_name: SettingsInput = serde_json::from_value(json!({"name": "Renamed"})).unwrap();
        let next = only_name.apply(&current).unwrap();
        assert_eq!(next.name, "Renamed");
        assert_eq!(
            (next.domain.as_deref(), &next.groups[..]),
            (Some("corp"), &["A".to_owned()][..])
        );
        let cleared: SettingsInput =
            serde_json::from_value(json!({"domain": null, "groups": "", "preapprove": false}))
                .unwrap();
        let next = cleared.apply(&current).unwrap();
        assert_eq!(
            (next.domain, next.groups.len(), next.preapprove),
            (None, 0, false)
        );
    }
}
