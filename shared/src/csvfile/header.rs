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

    /// The column titles (normalised) this field is known by, best first:
    /// this product's and the seeds' own titles, then those of the device
    /// lists admins bring from other tools (Jamf Pro's Inventory Preload,
    /// Apple Business Manager's and Google Workspace's exports, Workspace
    /// ONE's and Hexnode's templates). Where two columns of a file name one
    /// field, the better-named one is used and the other ignored.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Name => &[
                "name",
                "displayname",
                "fullname",
                "employeename",
                "ownername",
            ],
            Field::Email => &[
                "email",
                "emailaddress",
                "useremail",
                "useremailaddress",
                "primaryemail",
                "owneremail",
                "emailid",
                "mail",
            ],
            Field::Ownership => &["ownership", "deviceownership", "ownershiptype"],
            Field::SerialNumber => &[
                "serialnumber",
                "deviceserialnumber",
                "serial",
                "serialno",
                "hardwareserialnumber",
            ],
            Field::Platform => &[
                "platform",
                "deviceplatform",
                "osplatform",
                "os",
                "operatingsystem",
                "ostype",
            ],
            // A login, not a person's name (Jamf's `Username`, Workspace ONE's
            // `Enrollment User`): what the seeds call SAMAccountName.
            Field::SamAccountName => &[
                "samaccountname",
                "samaccount",
                "sam",
                "username",
                "login",
                "loginname",
                "userid",
                "enrollmentuser",
            ],
            Field::Mobile => &[
                "mobile",
                "mobilenumber",
                "mobileno",
                "mobilephone",
                "mobilephonenumber",
                "cellphone",
                "cellphonenumber",
                "phone",
                "phonenumber",
            ],
            Field::DeviceName => &["devicename", "friendlyname", "computername"],
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

    /// The field a column title names, and how well (0 is its best title).
    fn from_header(header: &str) -> Option<(Field, usize)> {
        let n = normalise(header);
        Field::ALL.into_iter().find_map(|f| {
            let rank = f.aliases().iter().position(|a| *a == n)?;
            Some((f, rank))
        })
    }

    /// Whether a normalised title is one any field is known by.
    pub(super) fn is_known_title(normalised: &str) -> bool {
        Field::ALL
            .into_iter()
            .any(|f| f.aliases().contains(&normalised))
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
    /// The first row is data, not titles: serial-shaped values and no title
    /// any field is known by.
    #[error("{}", no_header_message(.first_row, .suggested))]
    NoHeaderRow {
        first_row: Vec<String>,
        /// A header line to add above it, a title per column.
        suggested: Vec<String>,
    },
    /// Everything wrong with the header row, in one message, so that one
    /// round of fixes is enough.
    #[error("{}", columns_message(.missing, .ambiguous, .unknown, .found))]
    Columns {
        missing: Vec<Field>,
        ambiguous: Vec<Ambiguous>,
        /// Titles no field is known by (ignored unless mapped).
        unknown: Vec<String>,
        found: Vec<String>,
    },
    #[error("the manual mapping names '{0}', which is not a field; use one of: {keys}", keys = Field::ALL.map(|f| f.key()).join(", "))]
    UnknownField(String),
    #[error("the manual mapping names column '{0}', which is not in the header row")]
    UnknownColumn(String),
    #[error("the file has a '{column}' column and the upload gives {field} one value for every row; drop the column or the value")]
    DefaultForColumn { field: Field, column: String },
}

/// Columns that name one field equally well: which one is meant cannot be told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ambiguous {
    pub field: Field,
    pub columns: Vec<String>,
}

fn quoted(titles: &[String]) -> String {
    titles
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(" and ")
}

fn columns_message(
    missing: &[Field],
    ambiguous: &[Ambiguous],
    unknown: &[String],
    found: &[String],
) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|f| f.title()).collect();
        parts.push(format!(
            "missing mandatory column(s): {}; the header row has: {}. Rename the columns or map them \
             manually",
            names.join(", "),
            found.join(", ")
        ));
    }
    for a in ambiguous {
        parts.push(format!(
            "columns {} both map to {}; keep one or map the other to nothing",
            quoted(&a.columns),
            a.field
        ));
    }
    if !unknown.is_empty() {
        // A runaway header row must not make a runaway message.
        const SHOWN: usize = 20;
        let mut names = unknown
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if unknown.len() > SHOWN {
            names.push_str(&format!(" and {} more", unknown.len() - SHOWN));
        }
        parts.push(format!("not recognised, ignored unless mapped: {names}"));
    }
    parts.join(". ")
}

fn no_header_message(first_row: &[String], suggested: &[String]) -> String {
    let shown: Vec<&str> = first_row.iter().take(8).map(String::as_str).collect();
    format!(
        "the file has no header row: its first row ({}) is a device, not column titles. Add a \
         first line that names the columns, e.g. `{}`, and the mandatory ones it lacks ({})",
        shown.join(", "),
        suggested.join(","),
        Field::MANDATORY.map(|f| f.title()).join(", ")
    )
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
    /// Why a column that names a field was ignored all the same (another
    /// column names it better): warnings for the preview and the report.
    pub notes: Vec<String>,
    /// The tool whose device list this header row is, when it is one we know.
    pub format: Option<&'static str>,
    /// One value for every row of a field the file has no column for.
    #[serde(skip)]
    defaults: BTreeMap<Field, String>,
}

impl ColumnMap {
    pub fn build(headers: &[String], manual: &ManualMapping) -> Result<Self, HeaderError> {
        Self::build_with(headers, manual, [])
    }

    /// [`build`](Self::build), with a value for every row of fields the file
    /// has no column for (the upload's `column-defaults`, checked already).
    pub fn build_with<'d>(
        headers: &[String],
        manual: &ManualMapping,
        defaults: impl IntoIterator<Item = (Field, &'d str)>,
    ) -> Result<Self, HeaderError> {
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

        // Each field's candidate columns, by how well they name it: a manual
        // choice (0) beats any title (1 + its rank among the field's titles).
        let mut candidates: BTreeMap<Field, Vec<(usize, usize)>> = BTreeMap::new();
        let mut ignored: Vec<usize> = Vec::new();
        let mut unknown = Vec::new();
        for (i, h) in trimmed.iter().enumerate() {
            if h.is_empty() {
                continue; // trailing empty columns of a spreadsheet export
            }
            let choice = match manual_norm.get(&normalise(h)) {
                Some(choice) => choice.map(|f| (f, 0)),
                None => Field::from_header(h).map(|(f, rank)| (f, rank + 1)),
            };
            match choice {
                Some((field, rank)) => candidates.entry(field).or_default().push((rank, i)),
                None => {
                    if !manual_norm.contains_key(&normalise(h)) {
                        unknown.push(h.clone());
                    }
                    ignored.push(i);
                }
            }
        }
        if candidates.is_empty() && manual.is_empty() {
            if let Some(suggested) = super::formats::header_for_data(&trimmed) {
                return Err(HeaderError::NoHeaderRow {
                    first_row: trimmed.into_iter().filter(|h| !h.is_empty()).collect(),
                    suggested,
                });
            }
        }

        let mut map = ColumnMap {
            index: [None; Field::ALL.len()],
            headers: trimmed.clone(),
            mapping: BTreeMap::new(),
            ignored: Vec::new(),
            notes: Vec::new(),
            format: None,
            defaults: BTreeMap::new(),
        };
        let mut ambiguous = Vec::new();
        for (field, mut found) in candidates {
            found.sort_unstable();
            let best = found[0].0;
            let tied: Vec<String> = found
                .iter()
                .filter(|(rank, _)| *rank == best)
                .map(|(_, i)| trimmed[*i].clone())
                .collect();
            if tied.len() > 1 {
                ambiguous.push(Ambiguous {
                    field,
                    columns: tied,
                });
                continue;
            }
            let winner = found[0].1;
            map.index[field as usize] = Some(winner);
            map.mapping.insert(field, trimmed[winner].clone());
            for (_, other) in &found[1..] {
                ignored.push(*other);
                map.notes.push(format!(
                    "column '{}' also names {field}; '{}' is used and '{}' ignored",
                    trimmed[*other], trimmed[winner], trimmed[*other]
                ));
            }
        }
        ignored.sort_unstable();
        map.ignored = ignored.into_iter().map(|i| trimmed[i].clone()).collect();
        for (field, value) in defaults {
            if let Some(i) = map.index[field as usize] {
                return Err(HeaderError::DefaultForColumn {
                    field,
                    column: trimmed[i].clone(),
                });
            }
            map.defaults.insert(field, value.to_owned());
        }
        let missing: Vec<Field> = Field::MANDATORY
            .into_iter()
            .filter(|f| map.index[*f as usize].is_none() && !map.defaults.contains_key(f))
            .filter(|f| !ambiguous.iter().any(|a| a.field == *f))
            .collect();
        if !missing.is_empty() || !ambiguous.is_empty() {
            return Err(HeaderError::Columns {
                missing,
                ambiguous,
                unknown,
                found: trimmed.into_iter().filter(|h| !h.is_empty()).collect(),
            });
        }
        map.format = super::formats::recognise(&trimmed);
        Ok(map)
    }

    pub fn column(&self, field: Field) -> Option<usize> {
        self.index[field as usize]
    }

    /// The field's cell in `record`, without the apostrophe a formula cell
    /// was escaped with ([`formula::unescape`](super::formula::unescape)).
    /// A field the file has no column for reads the upload's value for every row.
    pub fn cell<'r>(&'r self, record: &'r csv::StringRecord, field: Field) -> Option<&'r str> {
        match self.column(field) {
            Some(i) => record.get(i).map(super::formula::unescape),
            None => self.defaults.get(&field).map(String::as_str),
        }
    }

    /// The values the upload gives fields the file has no column for.
    pub fn defaults(&self) -> impl Iterator<Item = (Field, &str)> {
        self.defaults.iter().map(|(f, v)| (*f, v.as_str()))
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

    /// Issue 29: two titles for one field are no longer a refusal when one
    /// is the better name; equally good ones still are.
    #[test]
    fn the_better_named_of_two_columns_wins_and_equal_ones_are_ambiguous() {
        let m = ColumnMap::build(
            &h(&[
                "Display Name",
                "Name",
                "Email",
                "Ownership",
                "Serial",
                "Platform",
            ]),
            &ManualMapping::new(),
        )
        .unwrap();
        assert_eq!(m.column(Field::Name), Some(1));
        assert_eq!(m.ignored, vec!["Display Name"]);
        assert_eq!(
            m.notes,
            vec![
                "column 'Display Name' also names Name; 'Name' is used and 'Display Name' ignored"
            ]
        );

        let e = ColumnMap::build(
            &h(&["Name", "Email", "E-mail", "Ownership", "Serial", "Platform"]),
            &ManualMapping::new(),
        )
        .unwrap_err();
        assert!(
            matches!(&e, HeaderError::Columns { ambiguous, missing, .. }
            if missing.is_empty() && ambiguous == &[Ambiguous {
                field: Field::Email,
                columns: vec!["Email".into(), "E-mail".into()],
            }]),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("columns 'Email' and 'E-mail' both map to Email"),
            "{e}"
        );
    }

    /// Issue 29: Jamf Pro's Inventory Preload template maps in one step
    /// (`Username` is a login, `Full Name` the person), and what it lacks is
    /// said once, with every other problem.
    #[test]
    fn jamf_inventory_preload_maps_and_names_all_it_lacks_at_once() {
        let jamf = h(&[
            "Serial Number",
            "Device Type",
            "Username",
            "Full Name",
            "Email Address",
            "Phone Number",
            "Position",
            "Department",
            "Building",
            "Room",
            "PO Number",
            "Vendor",
            "Asset Tag",
        ]);
        let e = ColumnMap::build(&jamf, &ManualMapping::new()).unwrap_err();
        let HeaderError::Columns {
            missing,
            ambiguous,
            unknown,
            ..
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!(missing, &[Field::Ownership, Field::Platform]);
        assert!(ambiguous.is_empty());
        assert!(
            unknown.contains(&"Device Type".to_owned()) && unknown.contains(&"Room".to_owned())
        );
        let msg = e.to_string();
        assert!(
            msg.contains("missing mandatory column(s): Ownership, Platform"),
            "{msg}"
        );
        assert!(
            msg.contains("not recognised, ignored unless mapped: Device Type, Position"),
            "{msg}"
        );

        let mut with_both = jamf.clone();
        with_both.extend(h(&["Ownership", "Platform"]));
        let m = ColumnMap::build(&with_both, &ManualMapping::new()).unwrap();
        assert_eq!(m.title(Field::Name), "Full Name");
        assert_eq!(m.title(Field::SamAccountName), "Username");
        assert_eq!(m.title(Field::Email), "Email Address");
        assert_eq!(m.title(Field::Mobile), "Phone Number");
        assert_eq!(m.format, Some("Jamf Pro Inventory Preload"));
    }

    /// Issue 29: missing, ambiguous and unknown columns in one message.
    #[test]
    fn every_header_problem_is_in_one_report() {
        let e = ColumnMap::build(
            &h(&["Name", "Mail", "Email ID", "Serial", "Cost Centre"]),
            &ManualMapping::new(),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("missing mandatory column(s): Ownership, Platform"),
            "{msg}"
        );
        assert!(!msg.contains("both map"), "Email ID outranks Mail: {msg}");
        assert!(msg.contains("ignored unless mapped: Cost Centre"), "{msg}");
    }

    /// Issue 29: an upload's value for every row stands in for a missing
    /// column, and is refused beside a column of the file.
    #[test]
    fn a_default_fills_a_missing_column_and_never_overrides_one() {
        let cols = h(&["Name", "Email", "Serial Number", "Platform"]);
        let m = ColumnMap::build_with(
            &cols,
            &ManualMapping::new(),
            [(Field::Ownership, "corporate")],
        )
        .unwrap();
        let record = csv::StringRecord::from(vec!["Jane", "jane@example.com", "C02X1234", "ios"]);
        assert_eq!(m.cell(&record, Field::Ownership), Some("corporate"));
        assert_eq!(m.cell(&record, Field::Platform), Some("ios"));
        assert_eq!(
            ColumnMap::build_with(&cols, &ManualMapping::new(), [(Field::Platform, "macos")]),
            Err(HeaderError::DefaultForColumn {
                field: Field::Platform,
                column: "Platform".into()
            })
        );
    }

    /// Adversary 3: a header row of ten thousand unknown titles names twenty.
    #[test]
    fn a_runaway_header_row_makes_a_short_message_about_unknown_titles() {
        let mut cols = h(&["Name", "Email", "Ownership", "Serial Number"]);
        cols.extend((0..10_000).map(|i| format!("Extra {i}")));
        let e = ColumnMap::build(&cols, &ManualMapping::new()).unwrap_err();
        let msg = e.to_string();
        let unknown = msg.split("ignored unless mapped: ").nth(1).unwrap();
        assert!(unknown.ends_with("Extra 19 and 9980 more"), "{unknown}");
    }

    /// Issue 29: Intune's corporate identifiers have no header row.
    #[test]
    fn a_file_without_a_header_row_is_told_so_with_the_line_to_add() {
        let e = ColumnMap::build(
            &h(&["C02XK1ABJGH5", "Apple", "MacBook Pro"]),
            &ManualMapping::new(),
        )
        .unwrap_err();
        assert_eq!(
            e,
            HeaderError::NoHeaderRow {
                first_row: h(&["C02XK1ABJGH5", "Apple", "MacBook Pro"]),
                suggested: h(&["Serial Number", "Manufacturer", "Model"]),
            }
        );
        let msg = e.to_string();
        assert!(msg.contains("the file has no header row"), "{msg}");
        assert!(msg.contains("`Serial Number,Manufacturer,Model`"), "{msg}");
        assert!(!msg.contains("the header row has"), "{msg}");
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
