//! Maps a file's header row to the fields of a device row.
//!
//! Header names are matched case-insensitively, ignoring spaces, underscores,
//! hyphens and a stray byte-order mark, so "Serial Number", "serial_number" and
//! "SERIAL-NUMBER" all map. A manual mapping, given per upload, wins.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Name,
    Email,
    Ownership,
    SerialNumber,
    Platform,
    SamAccountName,
    Mobile,
    DeviceName,
    Password,
    DeviceGroup,
    /// When the pre-approval lapses (optional; see [`crate::domain::Expiry`]).
    Expires,
}

impl Field {
    pub const ALL: [Field; 11] = [
        Field::Name,
        Field::Email,
        Field::Ownership,
        Field::SerialNumber,
        Field::Platform,
        Field::SamAccountName,
        Field::Mobile,
        Field::DeviceName,
        Field::Password,
        Field::DeviceGroup,
        Field::Expires,
    ];
    pub const MANDATORY: [Field; 5] = [
        Field::Name,
        Field::Email,
        Field::Ownership,
        Field::SerialNumber,
        Field::Platform,
    ];

    /// The column title used in the sample file and in messages.
    pub fn title(self) -> &'static str {
        match self {
            Field::Name => "Name",
            Field::Email => "Email",
            Field::Ownership => "Ownership",
            Field::SerialNumber => "Serial Number",
            Field::Platform => "Platform",
            Field::SamAccountName => "SAMAccountName",
            Field::Mobile => "Mobile",
            Field::DeviceName => "Device Name",
            Field::Password => "Password",
            Field::DeviceGroup => "Device Group",
            Field::Expires => "Expires",
        }
    }

    /// The machine name used in manual mappings and JSON (`serial_number`).
    pub fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Email => "email",
            Field::Ownership => "ownership",
            Field::SerialNumber => "serial_number",
            Field::Platform => "platform",
            Field::SamAccountName => "sam_account_name",
            Field::Mobile => "mobile",
            Field::DeviceName => "device_name",
            Field::Password => "password",
            Field::DeviceGroup => "device_group",
            Field::Expires => "expires",
        }
    }

    fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Name => &["name", "displayname", "fullname", "username"],
            Field::Email => &["email", "emailaddress", "emailid", "mail", "useremail"],
            Field::Ownership => &["ownership", "deviceownership"],
            Field::SerialNumber => &["serialnumber", "serial", "serialno", "deviceserialnumber"],
            Field::Platform => &["platform", "os", "osplatform", "deviceplatform"],
            Field::SamAccountName => &["samaccountname", "samaccount", "sam"],
            Field::Mobile => &[
                "mobile",
                "mobilenumber",
                "mobileno",
                "phone",
                "phonenumber",
                "mobilephone",
            ],
            Field::DeviceName => &["devicename"],
            Field::Password => &["password", "enrollmentpassword"],
            Field::DeviceGroup => &["devicegroup", "devicegroups", "group", "groups"],
            Field::Expires => &[
                "expires",
                "expiry",
                "expirydate",
                "expireson",
                "expiresat",
                "expiration",
                "expirationdate",
                "validuntil",
            ],
        }
    }

    pub fn from_key(key: &str) -> Option<Field> {
        let n = normalise(key);
        Field::ALL.into_iter().find(|f| normalise(f.key()) == n)
    }

    fn from_header(header: &str) -> Option<Field> {
        let n = normalise(header);
        Field::ALL
            .into_iter()
            .find(|f| f.aliases().contains(&n.as_str()))
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// Lower case, without BOM, whitespace, `_`, `-` or `.`.
pub fn normalise(header: &str) -> String {
    header
        .chars()
        .filter(|c| !matches!(c, '\u{feff}' | '_' | '-' | '.') && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A manual mapping: header text as in the file -> field key, or `null` to ignore the column.
pub type ManualMapping = BTreeMap<String, Option<String>>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error(
        "the file has no header row; the first row must name the columns (download the sample CSV)"
    )]
    Empty,
    #[error(
        "missing mandatory column(s): {}; the header row has: {}. Rename the columns or map them manually",
        .missing.iter().map(|f| f.title()).collect::<Vec<_>>().join(", "),
        .found.join(", ")
    )]
    Missing {
        missing: Vec<Field>,
        found: Vec<String>,
    },
    #[error("columns '{first}' and '{second}' both map to {field}; keep one or map the other to nothing")]
    Duplicate {
        field: Field,
        first: String,
        second: String,
    },
    #[error("the manual mapping names '{0}', which is not a field; use one of: {keys}", keys = Field::ALL.map(|f| f.key()).join(", "))]
    UnknownField(String),
    #[error("the manual mapping names column '{0}', which is not in the header row")]
    UnknownColumn(String),
}

/// Which column index holds each field, and what was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnMap {
    #[serde(skip)]
    index: [Option<usize>; Field::ALL.len()],
    pub headers: Vec<String>,
    pub mapping: BTreeMap<Field, String>,
    /// Columns with a title that map to no field: reported, not fatal.
    pub ignored: Vec<String>,
}

impl ColumnMap {
    pub fn build(headers: &[String], manual: &ManualMapping) -> Result<Self, HeaderError> {
        let trimmed: Vec<String> = headers
            .iter()
            .map(|h| {
                h.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
                    .to_owned()
            })
            .collect();
        if trimmed.iter().all(String::is_empty) {
            return Err(HeaderError::Empty);
        }
        let mut manual_norm: BTreeMap<String, Option<Field>> = BTreeMap::new();
        for (column, field) in manual {
            let field = match field.as_deref() {
                None | Some("") => None,
                Some(k) => Some(
                    Field::from_key(k).ok_or_else(|| HeaderError::UnknownField(k.to_owned()))?,
                ),
            };
            let n = normalise(column);
            if !trimmed.iter().any(|h| normalise(h) == n) {
                return Err(HeaderError::UnknownColumn(column.clone()));
            }
            manual_norm.insert(n, field);
        }

        let mut map = ColumnMap {
            index: [None; Field::ALL.len()],
            headers: trimmed.clone(),
            mapping: BTreeMap::new(),
            ignored: Vec::new(),
        };
        for (i, h) in trimmed.iter().enumerate() {
            if h.is_empty() {
                continue; // trailing empty columns of a spreadsheet export
            }
            let field = match manual_norm.get(&normalise(h)) {
                Some(choice) => *choice,
                None => Field::from_header(h),
            };
            let Some(field) = field else {
                map.ignored.push(h.clone());
                continue;
            };
            let slot = &mut map.index[field as usize];
            if let Some(prev) = *slot {
                return Err(HeaderError::Duplicate {
                    field,
                    first: trimmed[prev].clone(),
                    second: h.clone(),
                });
            }
            *slot = Some(i);
            map.mapping.insert(field, h.clone());
        }
        let missing: Vec<Field> = Field::MANDATORY
            .into_iter()
            .filter(|f| map.index[*f as usize].is_none())
            .collect();
        if !missing.is_empty() {
            return Err(HeaderError::Missing {
                missing,
                found: trimmed.into_iter().filter(|h| !h.is_empty()).collect(),
            });
        }
        Ok(map)
    }

    pub fn column(&self, field: Field) -> Option<usize> {
        self.index[field as usize]
    }

    /// The field's cell in `record`, without the apostrophe a formula cell
    /// was escaped with ([`formula::unescape`](super::formula::unescape)).
    pub fn cell<'r>(&self, record: &'r csv::StringRecord, field: Field) -> Option<&'r str> {
        self.column(field)
            .and_then(|i| record.get(i))
            .map(super::formula::unescape)
    }

    /// The column title as the file spells it, for messages.
    pub fn title(&self, field: Field) -> &str {
        self.column(field)
            .map_or(field.title(), |i| self.headers[i].as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(cols: &[&str]) -> Vec<String> {
        cols.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn auto_maps_tolerant_names() {
        let m = ColumnMap::build(
            &h(&[
                "\u{feff}Display Name",
                "E-mail",
                " ownership ",
                "SERIAL_NUMBER",
                "Platform",
                "SAMAccountName",
                "Mobile",
                "device-name",
                "Password",
                "Device Group",
                "Cost Centre",
                "",
                "",
            ]),
            &ManualMapping::new(),
        )
        .unwrap();
        assert_eq!(m.column(Field::Name), Some(0));
        assert_eq!(m.column(Field::Email), Some(1));
        assert_eq!(m.column(Field::SerialNumber), Some(3));
        assert_eq!(m.column(Field::DeviceGroup), Some(9));
        assert_eq!(m.ignored, vec!["Cost Centre"]);
        assert_eq!(m.title(Field::Name), "Display Name");
    }

    #[test]
    fn missing_mandatory_columns_are_named() {
        let e = ColumnMap::build(&h(&["Name", "Email"]), &ManualMapping::new()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("Ownership, Serial Number, Platform"), "{msg}");
        assert!(msg.contains("the header row has: Name, Email"), "{msg}");
    }

    #[test]
    fn two_columns_for_one_field_is_an_error() {
        let e = ColumnMap::build(
            &h(&[
                "Name",
                "Display Name",
                "Email",
                "Ownership",
                "Serial",
                "Platform",
            ]),
            &ManualMapping::new(),
        )
        .unwrap_err();
        assert!(matches!(
            e,
            HeaderError::Duplicate {
                field: Field::Name,
                ..
            }
        ));
    }

    #[test]
    fn manual_mapping_overrides() {
        let mut manual = ManualMapping::new();
        manual.insert("Asset Tag".into(), Some("serial_number".into()));
        manual.insert("Serial".into(), None);
        let m = ColumnMap::build(
            &h(&[
                "Name",
                "Email",
                "Ownership",
                "Serial",
                "Asset Tag",
                "Platform",
            ]),
            &manual,
        )
        .unwrap();
        assert_eq!(m.column(Field::SerialNumber), Some(4));
        assert_eq!(m.ignored, vec!["Serial"]);

        manual.insert("Nope".into(), Some("email".into()));
        assert!(matches!(
            ColumnMap::build(&h(&["Name", "Asset Tag", "Serial"]), &manual),
            Err(HeaderError::UnknownColumn(_))
        ));
        let mut bad = ManualMapping::new();
        bad.insert("Name".into(), Some("shoe_size".into()));
        assert!(matches!(
            ColumnMap::build(&h(&["Name"]), &bad),
            Err(HeaderError::UnknownField(_))
        ));
    }

    #[test]
    fn empty_header_is_refused() {
        assert_eq!(
            ColumnMap::build(&h(&["", " "]), &ManualMapping::new()),
            Err(HeaderError::Empty)
        );
    }
}
