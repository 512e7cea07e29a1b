//! The choices an admin makes per upload (the seeds' step 3), carried as S3
//! object metadata (`x-amz-meta-*`), each defaulting to the stored settings.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::csvfile::{Field, Fill, ManualMapping};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum InviteChannel {
    #[default]
    Email,
    Sms,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExistingPolicy {
    Replace,
    #[default]
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// All-or-nothing: one invalid row rejects the file (the seeds' "correct and re-upload").
    #[default]
    RejectFile,
    SkipInvalidRows,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metadata {key} = '{value}' is not allowed; use {allowed}")]
pub struct OptionError {
    pub key: &'static str,
    pub value: String,
    pub allowed: &'static str,
}

macro_rules! from_str_via_serde {
    ($t:ty, $key:literal, $allowed:literal) => {
        impl FromStr for $t {
            type Err = OptionError;
            fn from_str(s: &str) -> Result<Self, OptionError> {
                serde_json::from_value(serde_json::Value::String(s.trim().to_ascii_lowercase()))
                    .map_err(|_| OptionError {
                        key: $key,
                        value: s.to_owned(),
                        allowed: $allowed,
                    })
            }
        }
    };
}

from_str_via_serde!(InviteChannel, "invite", "email, sms or none");
from_str_via_serde!(ExistingPolicy, "existing-users", "replace or skip");
from_str_via_serde!(OnError, "on-error", "reject-file or skip-invalid-rows");

/// JSON with every character past ASCII written as a `\uXXXX` escape: S3
/// metadata travels in HTTP headers, and a column title such as "Gerätetyp"
/// must come back as it went.
fn ascii_json(value: &impl Serialize) -> String {
    let json = serde_json::to_string(value).unwrap_or_default();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// The serde name of a unit variant (`email`, `skip-invalid-rows`): the value
/// S3 metadata and the settings item carry.
pub fn wire_name(v: &impl Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Everything that decides how one file is imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ImportOptions {
    pub invite: InviteChannel,
    pub existing: ExistingPolicy,
    pub on_error: OnError,
    /// The directory domain the users belong to (the seeds' "Select the Domain").
    pub domain: Option<String>,
    #[serde(default)]
    pub mapping: ManualMapping,
    /// One value for every row of a mandatory column the file lacks
    /// (Ownership or Platform), checked like a cell when it is chosen.
    #[serde(default, skip_serializing_if = "ColumnDefaults::is_empty")]
    pub column_defaults: ColumnDefaults,
    /// Days from the validation's start until the pre-approvals of rows
    /// without their own `Expires` lapse; None: they do not expire.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// The admin's defaults for what an upload leaves unset (the settings item;
/// a fresh deployment's are email, skip and reject-file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImportDefaults {
    pub invite: InviteChannel,
    pub existing: ExistingPolicy,
    pub on_error: OnError,
    /// The settings' `default_expiry_days`.
    pub expires_in_days: Option<u32>,
}

/// What one upload chose, from its S3 metadata or the guided upload's "Send";
/// anything unset falls back to [`ImportDefaults`] in [`ImportOptions::resolve`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UploadChoices {
    pub invite: Option<InviteChannel>,
    pub existing: Option<ExistingPolicy>,
    pub on_error: Option<OnError>,
    pub domain: Option<String>,
    pub mapping: ManualMapping,
    pub column_defaults: ColumnDefaults,
    /// `Some(0)`: no expiry, whatever the settings say.
    pub expires_in_days: Option<u32>,
}

/// `expires-in-days`: 1 to [`MAX_DAYS`](super::expiry::MAX_DAYS), or `never` (0).
fn expiry_days(v: &str) -> Result<u32, OptionError> {
    if matches!(v.to_ascii_lowercase().as_str(), "never" | "none" | "0") {
        return Ok(0);
    }
    v.parse::<u32>()
        .ok()
        .filter(|d| super::expiry::check_days(*d).is_ok())
        .ok_or_else(|| OptionError {
            key: "expires-in-days",
            value: v.to_owned(),
            allowed: "a whole number of days from 1 to 3650, or never",
        })
}

/// `column-defaults`: what fills a mandatory column the file lacks. Only
/// Ownership and Platform can have one (a name, an address or a serial is
/// each row's own). A value is checked as a cell would be: exact,
/// case-sensitive, Windows unsupported. Platform may instead come from
/// another column of the file, each row's proposal as the preview showed it
/// (`{"from": "Device Type"}`): the admin's confirmation, never a guess.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(into = "BTreeMap<Field, Fill>", try_from = "BTreeMap<String, Fill>")]
pub struct ColumnDefaults(BTreeMap<Field, Fill>);

impl From<ColumnDefaults> for BTreeMap<Field, Fill> {
    fn from(d: ColumnDefaults) -> Self {
        d.0
    }
}

/// Read back or sent by the page: checked as the metadata is.
impl TryFrom<BTreeMap<String, Fill>> for ColumnDefaults {
    type Error = OptionError;

    fn try_from(pairs: BTreeMap<String, Fill>) -> Result<Self, OptionError> {
        let mut defaults = Self::default();
        for (field, fill) in &pairs {
            defaults.put(field, fill)?;
        }
        Ok(defaults)
    }
}

impl ColumnDefaults {
    const ALLOWED: &'static str = r#"a JSON object of Ownership or Platform and its value, such as {"Ownership": "corporate", "Platform": "ios"}, or {"Platform": {"from": "Device Type"}} to take each row's platform from that column as the preview proposes it"#;
    /// Longest column title a Platform may be taken from.
    const MAX_TITLE: usize = 256;

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: Field) -> Option<&Fill> {
        self.0.get(&field)
    }

    /// The one value every row gets, when the field has one.
    pub fn value(&self, field: Field) -> Option<&str> {
        match self.0.get(&field)? {
            Fill::Value(v) => Some(v),
            Fill::From { .. } => None,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (Field, &Fill)> {
        self.0.iter().map(|(f, v)| (*f, v))
    }

    fn put(&mut self, field: &str, fill: &Fill) -> Result<(), OptionError> {
        match fill {
            Fill::Value(v) => self.set(field, v),
            Fill::From { from } => self.set_from(field, from),
        }
    }

    /// Sets `field` (a title or key: `Ownership`, `platform`) to `value`, if
    /// it may have a default and the value is one its cells may hold.
    pub fn set(&mut self, field: &str, value: &str) -> Result<(), OptionError> {
        let refused = |allowed: &'static str| OptionError {
            key: "column-defaults",
            value: format!("{field}={value}"),
            allowed,
        };
        let value = value.trim();
        match Field::from_key(field) {
            Some(Field::Ownership) => {
                super::Ownership::parse(value).map_err(|_| {
                    refused("Ownership=personal or Ownership=corporate (case-sensitive)")
                })?;
                self.0
                    .insert(Field::Ownership, Fill::Value(value.to_owned()));
            }
            Some(Field::Platform) => {
                super::Platform::parse(value).map_err(|_| refused("Platform=android, ios, macos, tvos or linux (case-sensitive; Windows is not supported), or Platform taken from a column of the file"))?;
                self.0
                    .insert(Field::Platform, Fill::Value(value.to_owned()));
            }
            _ => return Err(refused(
                "Ownership or Platform: only these columns can have one value for the whole file",
            )),
        }
        Ok(())
    }

    /// Takes `field` (only Platform) from the file's column titled `column`:
    /// each row's proposal. Whether the file has that column, and whether
    /// it can say a platform, is the header's to tell.
    pub fn set_from(&mut self, field: &str, column: &str) -> Result<(), OptionError> {
        let column = column.trim();
        let refused = |allowed: &'static str| OptionError {
            key: "column-defaults",
            value: format!("{field} from '{}'", crate::domain::clip_to(column, 64)),
            allowed,
        };
        if Field::from_key(field) != Some(Field::Platform) {
            return Err(refused(
                "Platform only: it is the one field proposed from another column (Device Type, a model or an operating system)",
            ));
        }
        if column.is_empty() || column.chars().count() > Self::MAX_TITLE {
            return Err(refused(
                "the title of one of the file's columns (at most 256 characters)",
            ));
        }
        self.0.insert(
            Field::Platform,
            Fill::From {
                from: column.to_owned(),
            },
        );
        Ok(())
    }

    /// From the `column-defaults` metadata's JSON object.
    pub fn from_json(json: &str) -> Result<Self, OptionError> {
        let pairs: BTreeMap<String, Fill> =
            serde_json::from_str(json).map_err(|_| OptionError {
                key: "column-defaults",
                value: crate::domain::clip_to(json, 256).into_owned(),
                allowed: Self::ALLOWED,
            })?;
        Self::try_from(pairs)
    }

    /// The metadata's JSON object, keyed by the columns' titles.
    pub fn to_json(&self) -> String {
        let by_title: BTreeMap<&str, &Fill> = self.iter().map(|(f, v)| (f.title(), v)).collect();
        ascii_json(&by_title)
    }
}

impl UploadChoices {
    /// From an object's user metadata (keys without `x-amz-meta-`).
    pub fn from_metadata(meta: &HashMap<String, String>) -> Result<Self, OptionError> {
        let get = |k: &str| meta.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mapping = match get("column-map") {
            None => ManualMapping::new(),
            Some(json) => serde_json::from_str(json).map_err(|_| OptionError {
                key: "column-map",
                value: json.to_owned(),
                allowed: r#"a JSON object such as {"Asset Tag": "serial_number", "Notes": null}"#,
            })?,
        };
        let column_defaults = match get("column-defaults") {
            None => ColumnDefaults::default(),
            Some(json) => ColumnDefaults::from_json(json)?,
        };
        Ok(Self {
            invite: get("invite").map(str::parse).transpose()?,
            existing: get("existing-users").map(str::parse).transpose()?,
            on_error: get("on-error").map(str::parse).transpose()?,
            domain: get("domain").map(str::to_owned),
            mapping,
            column_defaults,
            expires_in_days: get("expires-in-days").map(expiry_days).transpose()?,
        })
    }
}

impl ImportOptions {
    /// The one place where an upload's choices meet the admin's defaults.
    pub fn resolve(choices: UploadChoices, defaults: &ImportDefaults) -> Self {
        Self {
            invite: choices.invite.unwrap_or(defaults.invite),
            existing: choices.existing.unwrap_or(defaults.existing),
            on_error: choices.on_error.unwrap_or(defaults.on_error),
            domain: choices
                .domain
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_owned),
            mapping: choices.mapping,
            column_defaults: choices.column_defaults,
            expires_in_days: match choices.expires_in_days {
                Some(0) => None,
                Some(days) => Some(days),
                None => defaults.expires_in_days,
            },
        }
    }

    /// When rows without their own `Expires` lapse, for a validation started at `now`.
    pub fn default_expiry(&self, now: u64) -> Option<super::Expiry> {
        self.expires_in_days
            .map(|days| super::Expiry::from_epoch(now + u64::from(days) * 86_400))
    }

    /// Options from an object's user metadata, else the defaults.
    pub fn from_metadata(
        meta: &HashMap<String, String>,
        defaults: &ImportDefaults,
    ) -> Result<Self, OptionError> {
        Ok(Self::resolve(UploadChoices::from_metadata(meta)?, defaults))
    }

    /// The options of the file the guided upload publishes: its columns
    /// carry the canonical titles, so the admin's mapping stays behind; but a
    /// column Platform is taken from, written under its own title, is mapped
    /// to nothing when that title would name a field by itself (`OS`).
    pub fn for_final_file(&self) -> Self {
        let mut options = self.clone();
        options.mapping = ManualMapping::new();
        for (_, fill) in self.column_defaults.iter() {
            if let Fill::From { from } = fill {
                if Field::named_by(from).is_some() {
                    options.mapping.insert(from.clone(), None);
                }
            }
        }
        options
    }

    /// The S3 metadata that makes an import of an object run with these options.
    pub fn to_metadata(&self) -> Vec<(&'static str, String)> {
        let mut meta = vec![
            ("invite", wire_name(&self.invite)),
            ("existing-users", wire_name(&self.existing)),
            ("on-error", wire_name(&self.on_error)),
        ];
        if let Some(d) = &self.domain {
            meta.push(("domain", d.clone()));
        }
        if !self.mapping.is_empty() {
            meta.push(("column-map", ascii_json(&self.mapping)));
        }
        if !self.column_defaults.is_empty() {
            meta.push(("column-defaults", self.column_defaults.to_json()));
        }
        // Resolved already: an upload without one must not pick up a later settings default.
        meta.push((
            "expires-in-days",
            self.expires_in_days
                .map_or_else(|| "never".to_owned(), |d| d.to_string()),
        ));
        meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_email_skip_reject() {
        let o = ImportOptions::from_metadata(&meta(&[]), &ImportDefaults::default()).unwrap();
        assert_eq!(
            (o.invite, o.existing, o.on_error),
            (
                InviteChannel::Email,
                ExistingPolicy::Skip,
                OnError::RejectFile
            )
        );
    }

    /// Issue 29: a whole file's Ownership or Platform, checked as a cell is.
    #[test]
    fn column_defaults_take_ownership_or_platform_with_exact_values() {
        let o = ImportOptions::from_metadata(
            &meta(&[(
                "column-defaults",
                r#"{"Ownership": "corporate", "platform": "ios"}"#,
            )]),
            &ImportDefaults::default(),
        )
        .unwrap();
        assert_eq!(o.column_defaults.value(Field::Ownership), Some("corporate"));
        assert_eq!(o.column_defaults.value(Field::Platform), Some("ios"));
        assert!(o.to_metadata().contains(&(
            "column-defaults",
            r#"{"Ownership":"corporate","Platform":"ios"}"#.to_owned()
        )));
        for bad in [
            r#"{"Ownership": "Corporate"}"#,
            r#"{"Platform": "windows"}"#,
            r#"{"Name": "Jane"}"#,
            "corporate",
        ] {
            let e = ImportOptions::from_metadata(
                &meta(&[("column-defaults", bad)]),
                &ImportDefaults::default(),
            )
            .unwrap_err();
            assert_eq!(e.key, "column-defaults", "{bad}");
        }
    }

    /// Issue 29: Platform from a column of the file, as the preview
    /// proposes it: travels as metadata and back; Ownership cannot.
    #[test]
    fn platform_can_be_taken_from_a_column_and_travels_as_metadata() {
        let o = ImportOptions::from_metadata(
            &meta(&[(
                "column-defaults",
                r#"{"Ownership": "corporate", "Platform": {"from": "Device Type"}}"#,
            )]),
            &ImportDefaults::default(),
        )
        .unwrap();
        assert_eq!(
            o.column_defaults.get(Field::Platform),
            Some(&Fill::From {
                from: "Device Type".into()
            })
        );
        assert_eq!(o.column_defaults.value(Field::Platform), None);
        let published: HashMap<String, String> = o
            .to_metadata()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(
            published["column-defaults"],
            r#"{"Ownership":"corporate","Platform":{"from":"Device Type"}}"#
        );
        assert_eq!(
            ImportOptions::from_metadata(&published, &ImportDefaults::default()).unwrap(),
            o
        );
        // Stored with the import's record and read back by a redelivery.
        let stored = serde_json::to_string(&o).unwrap();
        assert!(
            stored.contains(r#""platform":{"from":"Device Type"}"#),
            "{stored}"
        );
        assert_eq!(serde_json::from_str::<ImportOptions>(&stored).unwrap(), o);
        for bad in [
            r#"{"Ownership": {"from": "Device Type"}}"#,
            r#"{"Platform": {"from": " "}}"#,
            r#"{"Platform": {"form": "Device Type"}}"#,
        ] {
            let e = ImportOptions::from_metadata(
                &meta(&[("column-defaults", bad)]),
                &ImportDefaults::default(),
            )
            .unwrap_err();
            assert_eq!(e.key, "column-defaults", "{bad}");
        }
    }

    /// The guided upload's final file has canonical titles: the admin's
    /// mapping stays behind, but a source column titled like a field (`OS`)
    /// is mapped to nothing so that it does not become the Platform column.
    #[test]
    fn the_final_files_options_keep_only_what_its_columns_need() {
        let mut o = ImportOptions::default();
        o.mapping.insert("OS".into(), None);
        o.mapping
            .insert("Asset".into(), Some("serial_number".into()));
        o.column_defaults.set_from("Platform", "OS").unwrap();
        let f = o.for_final_file();
        assert_eq!(f.mapping, ManualMapping::from([("OS".to_owned(), None)]));
        assert!(f
            .to_metadata()
            .contains(&("column-map", r#"{"OS":null}"#.to_owned())));
        o.column_defaults
            .set_from("Platform", "Device Type")
            .unwrap();
        assert!(o.for_final_file().mapping.is_empty());
    }

    /// S3 metadata is ASCII: a title past it travels escaped and comes back whole.
    #[test]
    fn metadata_json_is_ascii_and_reads_back_the_same_titles() {
        let mut o = ImportOptions::default();
        o.column_defaults
            .set_from("Platform", "Gerätetyp 📱")
            .unwrap();
        o.mapping
            .insert("Gerätename".into(), Some("device_name".into()));
        let meta: HashMap<String, String> = o
            .to_metadata()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert!(meta.values().all(|v| v.is_ascii()), "{meta:?}");
        assert_eq!(
            meta["column-defaults"],
            r#"{"Platform":{"from":"Ger\u00e4tetyp \ud83d\udcf1"}}"#
        );
        assert_eq!(
            ImportOptions::from_metadata(&meta, &ImportDefaults::default()).unwrap(),
            o
        );
    }

    #[test]
    fn metadata_beats_settings_which_beat_defaults() {
        let settings = ImportDefaults {
            invite: InviteChannel::Sms,
            existing: ExistingPolicy::Replace,
            on_error: OnError::RejectFile,
            expires_in_days: Some(30),
        };
        let o = ImportOptions::from_metadata(
            &meta(&[("invite", "none"), ("domain", "corp.example")]),
            &settings,
        )
        .unwrap();
        assert_eq!(o.invite, InviteChannel::None);
        assert_eq!(o.existing, ExistingPolicy::Replace);
        assert_eq!(o.domain.as_deref(), Some("corp.example"));
        let o =
            ImportOptions::from_metadata(&meta(&[("on-error", "skip-invalid-rows")]), &settings)
                .unwrap();
        assert_eq!(o.on_error, OnError::SkipInvalidRows);
        assert_eq!(o.expires_in_days, Some(30), "the settings' expiry");
        assert_eq!(
            o.default_expiry(100).map(|e| e.epoch()),
            Some(100 + 30 * 86_400)
        );
        for (v, days) in [("7", Some(7)), ("never", None), (" 0 ", None)] {
            let o =
                ImportOptions::from_metadata(&meta(&[("expires-in-days", v)]), &settings).unwrap();
            assert_eq!(o.expires_in_days, days, "{v}");
        }
        for v in ["-1", "3651", "1.5", "soon"] {
            let e = ImportOptions::from_metadata(&meta(&[("expires-in-days", v)]), &settings)
                .unwrap_err();
            assert_eq!(e.key, "expires-in-days");
        }
    }

    #[test]
    fn resolved_options_travel_as_metadata_unchanged() {
        let choices = UploadChoices {
            existing: Some(ExistingPolicy::Replace),
            domain: Some("  corp.example ".into()),
            ..UploadChoices::default()
        };
        let defaults = ImportDefaults {
            invite: InviteChannel::Sms,
            ..ImportDefaults::default()
        };
        let later = ImportDefaults {
            expires_in_days: Some(9),
            ..defaults
        };
        let o = ImportOptions::resolve(choices, &defaults);
        assert_eq!(
            (o.invite, o.existing, o.domain.as_deref()),
            (
                InviteChannel::Sms,
                ExistingPolicy::Replace,
                Some("corp.example")
            )
        );
        let blank = ImportOptions::resolve(
            UploadChoices {
                domain: Some(" ".into()),
                ..UploadChoices::default()
            },
            &defaults,
        );
        assert_eq!(blank.domain, None);
        // What the guided upload publishes, the import reads back as the same options,
        // whatever the defaults are by then.
        let meta: HashMap<String, String> = o
            .to_metadata()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(ImportOptions::from_metadata(&meta, &later).unwrap(), o);
    }

    #[test]
    fn bad_metadata_says_what_is_allowed() {
        let e = ImportOptions::from_metadata(
            &meta(&[("invite", "pigeon")]),
            &ImportDefaults::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "metadata invite = 'pigeon' is not allowed; use email, sms or none"
        );
        let e =
            ImportOptions::from_metadata(&meta(&[("column-map", "{")]), &ImportDefaults::default())
                .unwrap_err();
        assert_eq!(e.key, "column-map");
    }

    #[test]
    fn column_map_from_metadata() {
        let o = ImportOptions::from_metadata(
            &meta(&[(
                "column-map",
                r#"{"Asset Tag":"serial_number","Notes":null}"#,
            )]),
            &ImportDefaults::default(),
        )
        .unwrap();
        assert_eq!(
            o.mapping.get("Asset Tag"),
            Some(&Some("serial_number".to_string()))
        );
        assert_eq!(o.mapping.get("Notes"), Some(&None));
    }
}
