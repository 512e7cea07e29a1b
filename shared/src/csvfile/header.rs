//! Maps a file's header row to the fields of a device row.
//!
//! Header names are matched case-insensitively, ignoring spaces, underscores,
//! hyphens and a stray byte-order mark, so "Serial Number", "serial_number" and
//! "SERIAL-NUMBER" all map. A manual mapping, given per upload, wins.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::proposals::{propose, PlatformSource, Proposal};

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

    /// The field a column title names by itself, if any.
    pub fn named_by(title: &str) -> Option<Field> {
        Self::from_header(title).map(|(f, _)| f)
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

/// What an upload gives a field the file has no column for (its
/// `column-defaults`): one value for every row, or, for Platform, each row's
/// proposal from another column of the file (`{"from": "Device Type"}`), as
/// the preview showed it. Either is the admin's choice; nothing is guessed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Fill {
    Value(String),
    From { from: String },
}

impl Fill {
    pub const SHAPES: &'static str =
        r#"a value such as "corporate", or {"from": "<a column of the file>"} for Platform"#;
}

/// A value, or an object with `from` and nothing else; any other shape is
/// told what the two shapes are.
impl<'de> Deserialize<'de> for Fill {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Source {
            from: String,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Value(String),
            From(Source),
        }
        match Wire::deserialize(d) {
            Ok(Wire::Value(v)) => Ok(Fill::Value(v)),
            Ok(Wire::From(s)) => Ok(Fill::From { from: s.from }),
            Err(_) => Err(serde::de::Error::custom(format!("use {}", Fill::SHAPES))),
        }
    }
}

/// How a field the file has no column for gets each row's cell.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CellFill {
    Value(String),
    /// The proposal of this column's cell.
    From {
        column: usize,
        source: PlatformSource,
    },
}

/// Why a field cannot be proposed from the column an upload names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceProblem {
    NotInFile,
    /// The column is the file's column of this field already.
    UsedBy(Field),
    /// Its title says nothing a platform can be told from.
    Unknown,
    /// Only Platform can be proposed.
    NotProposable,
}

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
    #[error("{}", columns_message(*.format, .missing, .ambiguous, .unknown, .seen))]
    Columns {
        /// The tool whose device list the header row is, when it is one we know.
        format: Option<&'static str>,
        missing: Vec<Field>,
        ambiguous: Vec<Ambiguous>,
        /// Titles no field is known by (ignored unless mapped).
        unknown: Vec<String>,
        seen: Box<HeaderSeen>,
    },
    #[error("the manual mapping names '{0}', which is not a field; use one of: {keys}", keys = Field::ALL.map(|f| f.key()).join(", "))]
    UnknownField(String),
    #[error("the manual mapping names column '{0}', which is not in the header row")]
    UnknownColumn(String),
    #[error("the file has a '{column}' column and the upload gives {field} one value for every row; drop the column or the value")]
    DefaultForColumn { field: Field, column: String },
    #[error("the file has a '{column}' column and the upload takes {field} from '{from}'; map '{column}' to nothing or take {field} from the file")]
    ProposalForColumn {
        field: Field,
        column: String,
        from: String,
    },
    /// The column an upload takes a field from cannot give it.
    #[error("{}", source_message(*.field, .column, *.problem, &.seen.sources))]
    Source {
        field: Field,
        column: String,
        problem: SourceProblem,
        seen: Box<HeaderSeen>,
    },
}

/// What a refused header row does have, for the admin to map by hand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderSeen {
    /// The file's column titles.
    pub found: Vec<String>,
    /// What the header row maps by itself: the start of a manual mapping.
    pub mapped: BTreeMap<Field, String>,
    /// Columns that can propose each row's platform (Jamf Pro's `Device
    /// Type`, a model column), for a file without a Platform column.
    pub sources: Vec<String>,
}

fn source_message(
    field: Field,
    column: &str,
    problem: SourceProblem,
    sources: &[String],
) -> String {
    let why = match problem {
        SourceProblem::NotInFile => {
            format!("the upload takes {field} from column '{column}', which is not in the header row")
        }
        SourceProblem::UsedBy(other) => format!(
            "{field} cannot be proposed from column '{column}': it is the file's {other} column; map it \
             to nothing first"
        ),
        SourceProblem::Unknown => format!(
            "{field} cannot be proposed from column '{column}': its title says nothing a platform can \
             be told from"
        ),
        SourceProblem::NotProposable => {
            return format!(
                "only Platform can be proposed from a column of the file; give {field} one value for \
                 every row or a column of its own"
            )
        }
    };
    if sources.is_empty() {
        format!(
            "{why}. Platforms can be proposed from Jamf Pro's Device Type, a model column (Device \
             Model, Model) or an operating-system column (OS, Operating System, Type)"
        )
    } else {
        format!(
            "{why}. This file can propose it from: {}",
            sources.join(", ")
        )
    }
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
    format: Option<&str>,
    missing: &[Field],
    ambiguous: &[Ambiguous],
    unknown: &[String],
    seen: &HeaderSeen,
) -> String {
    let (found, sources) = (&seen.found, &seen.sources);
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
    if let (true, Some(first)) = (missing.contains(&Field::Platform), sources.first()) {
        parts.push(format!(
            "each row's platform can be proposed from {}: take Platform from it (column-defaults \
             {{\"Platform\": {{\"from\": \"{first}\"}}}}) and check the proposals in the preview",
            sources
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(" or ")
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
    let message = parts.join(". ");
    match format {
        Some(format) => format!("recognised as a {format} file; {message}"),
        None => message,
    }
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

/// A row's proposal for a field taken from another column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proposed<'r> {
    pub proposal: Proposal,
    /// The cell it comes from, trimmed, as the file has it.
    pub cell: &'r str,
    pub source: PlatformSource,
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
    /// Fields each row's cell is proposed for from another column (the
    /// upload took Platform from it): field -> that column's title.
    pub proposed_from: BTreeMap<Field, String>,
    /// Columns no field uses that can propose each row's platform: what the
    /// admin may take Platform from.
    pub platform_sources: Vec<String>,
    /// How fields the file has no column for get their cells.
    #[serde(skip)]
    fills: BTreeMap<Field, CellFill>,
}

impl ColumnMap {
    pub fn build(headers: &[String], manual: &ManualMapping) -> Result<Self, HeaderError> {
        Self::build_with(headers, manual, [])
    }

    /// [`build`](Self::build), with what the upload gives fields the file
    /// has no column for (its `column-defaults`, values checked already).
    pub fn build_with<'d>(
        headers: &[String],
        manual: &ManualMapping,
        defaults: impl IntoIterator<Item = (Field, &'d Fill)>,
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
            proposed_from: BTreeMap::new(),
            platform_sources: Vec::new(),
            fills: BTreeMap::new(),
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
        map.platform_sources = ignored
            .iter()
            .filter(|i| PlatformSource::of_title(&trimmed[**i]).is_some())
            .map(|i| trimmed[*i].clone())
            .collect();
        let found =
            || -> Vec<String> { trimmed.iter().filter(|h| !h.is_empty()).cloned().collect() };
        for (field, fill) in defaults {
            if let Some(i) = map.index[field as usize] {
                let column = trimmed[i].clone();
                return Err(match fill {
                    Fill::Value(_) => HeaderError::DefaultForColumn { field, column },
                    Fill::From { from } => HeaderError::ProposalForColumn {
                        field,
                        column,
                        from: from.clone(),
                    },
                });
            }
            let cell = match fill {
                Fill::Value(v) => CellFill::Value(v.clone()),
                Fill::From { from } => {
                    let refused = |problem| HeaderError::Source {
                        field,
                        column: from.clone(),
                        problem,
                        seen: Box::new(HeaderSeen {
                            found: found(),
                            mapped: map.mapping.clone(),
                            sources: map.platform_sources.clone(),
                        }),
                    };
                    if field != Field::Platform {
                        return Err(refused(SourceProblem::NotProposable));
                    }
                    let n = normalise(from);
                    let Some(column) = trimmed
                        .iter()
                        .position(|h| !h.is_empty() && normalise(h) == n)
                    else {
                        return Err(refused(SourceProblem::NotInFile));
                    };
                    if let Some(other) = Field::ALL
                        .into_iter()
                        .find(|f| map.index[*f as usize] == Some(column))
                    {
                        return Err(refused(SourceProblem::UsedBy(other)));
                    }
                    let Some(source) = PlatformSource::of_title(&trimmed[column]) else {
                        return Err(refused(SourceProblem::Unknown));
                    };
                    // Used now: neither ignored nor unknown.
                    ignored.retain(|i| *i != column);
                    unknown.retain(|u| *u != trimmed[column]);
                    map.proposed_from.insert(field, trimmed[column].clone());
                    CellFill::From { column, source }
                }
            };
            map.fills.insert(field, cell);
        }
        map.ignored = ignored.into_iter().map(|i| trimmed[i].clone()).collect();
        let missing: Vec<Field> = Field::MANDATORY
            .into_iter()
            .filter(|f| map.index[*f as usize].is_none() && !map.fills.contains_key(f))
            .filter(|f| !ambiguous.iter().any(|a| a.field == *f))
            .collect();
        if !missing.is_empty() || !ambiguous.is_empty() {
            return Err(HeaderError::Columns {
                format: super::formats::recognise(&trimmed),
                missing,
                ambiguous,
                unknown,
                seen: Box::new(HeaderSeen {
                    found: found(),
                    mapped: map.mapping,
                    sources: map.platform_sources,
                }),
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
    /// A field the file has no column for reads the upload's value for every
    /// row, or the row's proposal (None when its cell proposes nothing).
    pub fn cell<'r>(&'r self, record: &'r csv::StringRecord, field: Field) -> Option<&'r str> {
        match self.column(field) {
            Some(i) => record.get(i).map(super::formula::unescape),
            None => match self.fills.get(&field)? {
                CellFill::Value(v) => Some(v.as_str()),
                CellFill::From { .. } => self.proposed(record, field)?.proposal.platform(),
            },
        }
    }

    /// For a field taken from another column: what the row's cell there
    /// proposes.
    pub fn proposed<'r>(
        &self,
        record: &'r csv::StringRecord,
        field: Field,
    ) -> Option<Proposed<'r>> {
        let CellFill::From { column, source } = self.fills.get(&field)? else {
            return None;
        };
        let cell = record
            .get(*column)
            .map(super::formula::unescape)
            .unwrap_or_default()
            .trim();
        Some(Proposed {
            proposal: propose(*source, cell),
            cell,
            source: *source,
        })
    }

    /// The columns fields are proposed from, by index, with what they hold.
    pub fn proposal_columns(&self) -> impl Iterator<Item = (Field, usize, PlatformSource)> + '_ {
        self.fills.iter().filter_map(|(f, fill)| match fill {
            CellFill::From { column, source } => Some((*f, *column, *source)),
            CellFill::Value(_) => None,
        })
    }

    /// The column title as the file spells it, for messages: for a field
    /// taken from another column, that column's.
    pub fn title(&self, field: Field) -> &str {
        let column = self.column(field).or_else(|| match self.fills.get(&field) {
            Some(CellFill::From { column, .. }) => Some(*column),
            _ => None,
        });
        column.map_or(field.title(), |i| self.headers[i].as_str())
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
        let corporate = Fill::Value("corporate".into());
        let m = ColumnMap::build_with(
            &cols,
            &ManualMapping::new(),
            [(Field::Ownership, &corporate)],
        )
        .unwrap();
        let record = csv::StringRecord::from(vec!["Jane", "jane@example.com", "C02X1234", "ios"]);
        assert_eq!(m.cell(&record, Field::Ownership), Some("corporate"));
        assert_eq!(m.cell(&record, Field::Platform), Some("ios"));
        assert_eq!(
            ColumnMap::build_with(
                &cols,
                &ManualMapping::new(),
                [(Field::Platform, &Fill::Value("macos".into()))]
            ),
            Err(HeaderError::DefaultForColumn {
                field: Field::Platform,
                column: "Platform".into()
            })
        );
    }

    fn from(column: &str) -> Fill {
        Fill::From {
            from: column.into(),
        }
    }

    fn jamf_template() -> Vec<String> {
        h(&[
            "Serial Number",
            "Device Type",
            "Username",
            "Full Name",
            "Email Address",
            "Phone Number",
            "Position",
            "Asset Tag",
        ])
    }

    /// Issue 29: a file whose Platform column is missing but whose Device
    /// Type says it is told so, with the option that takes it from there;
    /// nothing is proposed until the upload asks for it.
    #[test]
    fn a_missing_platform_names_the_columns_it_can_be_proposed_from() {
        let e = ColumnMap::build_with(
            &jamf_template(),
            &ManualMapping::new(),
            [(Field::Ownership, &Fill::Value("corporate".into()))],
        )
        .unwrap_err();
        let HeaderError::Columns { missing, seen, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(missing, &[Field::Platform]);
        assert_eq!(seen.sources, ["Device Type"]);
        let msg = e.to_string();
        assert!(
            msg.contains(
                r#"each row's platform can be proposed from 'Device Type': take Platform from it (column-defaults {"Platform": {"from": "Device Type"}})"#
            ),
            "{msg}"
        );
    }

    /// Issue 29: Platform taken from Jamf's Device Type: each row's proposal,
    /// none for a word it does not know, and that column's title in messages.
    #[test]
    fn platform_taken_from_device_type_is_each_rows_proposal() {
        let corporate = Fill::Value("corporate".into());
        let device_type = from("device type");
        let m = ColumnMap::build_with(
            &jamf_template(),
            &ManualMapping::new(),
            [
                (Field::Ownership, &corporate),
                (Field::Platform, &device_type),
            ],
        )
        .unwrap();
        assert_eq!(m.format, Some("Jamf Pro Inventory Preload"));
        assert_eq!(m.proposed_from[&Field::Platform], "Device Type");
        assert!(!m.ignored.contains(&"Device Type".to_owned()), "it is used");
        assert_eq!(m.title(Field::Platform), "Device Type");
        let row = |t: &str| {
            csv::StringRecord::from(vec![
                "S1",
                t,
                "jdoe",
                "Jane Doe",
                "j@example.com",
                "",
                "",
                "",
            ])
        };
        let (computer, ipad, printer) = (row("Computer"), row("Mobile Device"), row("Printer"));
        assert_eq!(m.cell(&computer, Field::Platform), Some("macos"));
        assert_eq!(m.cell(&ipad, Field::Platform), Some("ios"));
        assert_eq!(m.cell(&printer, Field::Platform), None);
        let p = m.proposed(&printer, Field::Platform).unwrap();
        assert_eq!((p.proposal, p.cell), (Proposal::Nothing, "Printer"));
        assert_eq!(
            m.proposed(&printer, Field::Ownership),
            None,
            "a value, not a proposal"
        );
    }

    /// Issue 29: a column Platform cannot come from is refused, saying why
    /// and which columns of the file could give it.
    #[test]
    fn platform_cannot_come_from_a_missing_used_or_unrelated_column() {
        let cols = jamf_template();
        let build = |field, fill: &Fill| {
            ColumnMap::build_with(&cols, &ManualMapping::new(), [(field, fill)]).unwrap_err()
        };
        let problem = |e: &HeaderError| match e {
            HeaderError::Source { problem, .. } => *problem,
            other => panic!("{other:?}"),
        };
        let e = build(Field::Platform, &from("Model"));
        assert_eq!(problem(&e), SourceProblem::NotInFile);
        assert!(
            e.to_string()
                .ends_with("This file can propose it from: Device Type"),
            "{e}"
        );
        let e = build(Field::Platform, &from("Full Name"));
        assert_eq!(problem(&e), SourceProblem::UsedBy(Field::Name));
        let e = build(Field::Platform, &from("Position"));
        assert_eq!(problem(&e), SourceProblem::Unknown);
        let e = build(Field::Ownership, &from("Device Type"));
        assert_eq!(problem(&e), SourceProblem::NotProposable);

        let mut with_platform = cols.clone();
        with_platform.push("Platform".into());
        let e = ColumnMap::build_with(
            &with_platform,
            &ManualMapping::new(),
            [(Field::Platform, &from("Device Type"))],
        )
        .unwrap_err();
        assert!(matches!(e, HeaderError::ProposalForColumn { .. }), "{e:?}");
        // Mapped to nothing, the tool's own Platform column can propose.
        let mut manual = ManualMapping::new();
        manual.insert("Platform".into(), None);
        let m = ColumnMap::build_with(
            &with_platform,
            &manual,
            [
                (Field::Platform, &from("Platform")),
                (Field::Ownership, &Fill::Value("corporate".into())),
            ],
        )
        .unwrap();
        assert_eq!(m.platform_sources, ["Device Type", "Platform"]);
    }

    #[test]
    fn a_fill_is_a_value_or_a_column_and_nothing_else() {
        let fill: Fill = serde_json::from_str(r#""corporate""#).unwrap();
        assert_eq!(fill, Fill::Value("corporate".into()));
        let fill: Fill = serde_json::from_str(r#"{"from": "Device Type"}"#).unwrap();
        assert_eq!(fill, from("Device Type"));
        assert_eq!(
            serde_json::to_string(&fill).unwrap(),
            r#"{"from":"Device Type"}"#
        );
        for bad in [
            r#"{"form": "Device Type"}"#,
            r#"{"from": "A", "x": 1}"#,
            "3",
        ] {
            let e = serde_json::from_str::<Fill>(bad).unwrap_err();
            assert!(e.to_string().contains(r#"{"from": "#), "{bad}: {e}");
        }
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
