//! What an import leaves behind for the admin: the JSON report and the
//! annotated errors CSV (safe to open in Excel).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::row::RowIssue;
use super::scan::{FileError, IssueTotals, RowPass, Scan};
use crate::csvfile::{BoxRead, Dialect};
use crate::domain::{ImportOptions, IssueKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Validating,
    Writing,
    Completed,
    Rejected,
    Failed,
    /// Taken back by an undo (`POST /v1/imports/{id}/undo`).
    Undone,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validating => "validating",
            Self::Writing => "writing",
            Self::Completed => "completed",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Undone => "undone",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }

    /// A finished import is never run again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Rejected | Self::Failed | Self::Undone
        )
    }
}

/// A row that was valid but not written, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub row: u64,
    pub serial_number: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub rows: u64,
    pub valid_rows: u64,
    pub devices_written: u64,
    pub users_written: u64,
    /// Invites recorded in the outbox for the sender; where each one stands
    /// is counted there (`crate::outbox::InviteTally`).
    #[serde(default)]
    pub invites_queued: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub import_id: String,
    pub status: ImportStatus,
    pub key: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub skipped: Vec<Skipped>,
    pub skipped_total: u64,
    /// The first 1,000 errors by row; the errors CSV has every row in error.
    pub errors: Vec<RowIssue>,
    pub errors_total: u64,
    pub error_totals: IssueTotals,
    pub warnings: Vec<RowIssue>,
    pub warnings_total: u64,
    pub ignored_columns: Vec<String>,
    /// Why a column that names a field was ignored (another names it better).
    pub column_notes: Vec<String>,
    /// The tool whose device list the file is, when its header row says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    pub mapping: BTreeMap<String, String>,
    /// When Platform was taken from another column (the upload's
    /// `column-defaults` says which): what each row proposed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_proposals: Option<super::proposals::ProposalTotals>,
    pub dialect: Option<Dialect>,
    pub duplicate_email_groups: u64,
    pub options: ImportOptions,
    /// Why a `failed` import stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl Report {
    pub fn new(import_id: &str, key: &str, options: &ImportOptions) -> Self {
        Self {
            import_id: import_id.to_owned(),
            status: ImportStatus::Validating,
            key: key.to_owned(),
            counts: Counts::default(),
            skipped: Vec::new(),
            skipped_total: 0,
            errors: Vec::new(),
            errors_total: 0,
            error_totals: IssueTotals::default(),
            warnings: Vec::new(),
            warnings_total: 0,
            ignored_columns: Vec::new(),
            column_notes: Vec::new(),
            format: None,
            mapping: BTreeMap::new(),
            platform_proposals: None,
            dialect: None,
            duplicate_email_groups: 0,
            options: options.clone(),
            failure: None,
        }
    }

    pub fn with_scan(mut self, scan: &Scan) -> Self {
        self.counts.rows = scan.rows;
        self.counts.valid_rows = scan.valid_rows;
        self.errors = scan.errors.clone();
        self.errors_total = scan.errors_total;
        self.error_totals = scan.error_totals.clone();
        self.warnings = scan.warnings.clone();
        self.warnings_total = scan.warnings_total;
        self.ignored_columns = scan.columns.ignored.clone();
        self.column_notes = scan.columns.notes.clone();
        self.format = scan.columns.format.map(str::to_owned);
        self.mapping = scan
            .columns
            .mapping
            .iter()
            .map(|(f, h)| (f.key().to_owned(), h.clone()))
            .collect();
        self.platform_proposals = scan.platform_proposals.clone();
        self.dialect = Some(scan.dialect);
        self.duplicate_email_groups = scan.duplicate_email_groups;
        self
    }

    /// A file that could not be read at all (header, encoding): one error on row 1.
    pub fn file_error(mut self, e: &FileError) -> Self {
        self.status = ImportStatus::Rejected;
        self.errors.clear();
        self.add_file_error(RowIssue {
            row: 1,
            column: String::new(),
            value: String::new(),
            message: e.to_string(),
            kind: IssueKind::File,
        });
        self
    }

    /// An error about the whole file or upload (counted like a row's).
    pub fn add_file_error(&mut self, issue: RowIssue) {
        self.errors_total += 1;
        self.error_totals.count(&issue);
        self.errors.push(issue);
    }
}

/// `reports/<key without imports/>/<import id>.json` and `.errors.csv`: per
/// import, so a re-upload under the same key never shows the previous import's
/// errors, and still found by listing the upload's own key. A key too long to
/// carry the suffix within S3's 1,024 bytes gets `reports/<import id>.…`.
pub fn report_keys(key: &str, import_id: &str) -> (String, String) {
    const S3_KEY_LIMIT: usize = 1024;
    let rest = key.strip_prefix("imports/").unwrap_or(key);
    let base = format!("reports/{rest}/{import_id}");
    let base = if base.len() + ".errors.csv".len() <= S3_KEY_LIMIT {
        base
    } else {
        format!("reports/{import_id}")
    };
    (format!("{base}.json"), format!("{base}.errors.csv"))
}

/// What stands in the errors file for a password.
const MASKED: &str = "***";

/// Writes the header and every row with an error, each with an added `Error`
/// column, as UTF-8 with a byte-order mark (so Excel opens it with the right
/// encoding); returns how many rows it wrote. Reads the file once more and
/// finds each bad row's errors again ([`Scan::row_errors`]), so it holds one
/// row at a time however many are wrong.
pub fn write_errors_csv(
    input: BoxRead,
    scan: &Scan,
    options: &ImportOptions,
    out: impl std::io::Write,
) -> Result<u64, FileError> {
    let io_error = |e: std::io::Error| FileError::Read(crate::csvfile::ReadError::Io(e));
    let mut out = out;
    out.write_all(b"\xEF\xBB\xBF").map_err(io_error)?;
    let mut pass = RowPass::open(input, Some(scan.dialect.encoding), options, scan.now)?;
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(out);
    let mut header: Vec<String> = pass.columns.headers.clone();
    while header.last().is_some_and(String::is_empty) {
        header.pop();
    }
    let width = header.len();
    let password = pass.columns.column(crate::csvfile::Field::Password);
    header.push("Error".into());
    write_record(&mut w, header.iter().map(String::as_str))?;
    let mut written = 0;
    while let Some(row) = pass.next_row()? {
        if scan.is_row_valid(row) {
            continue;
        }
        let errors = scan.row_errors(row, pass.record());
        let joined = errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        // The file is shared to get rows fixed: a password never leaves the upload.
        let cells = pass
            .record()
            .iter()
            .chain(std::iter::repeat(""))
            .take(width)
            .enumerate()
            .map(|(i, c)| {
                if Some(i) == password && !c.is_empty() {
                    MASKED
                } else {
                    c
                }
            });
        write_record(&mut w, cells.chain(std::iter::once(joined.as_str())))?;
        written += 1;
    }
    w.flush().map_err(io_error)?;
    Ok(written)
}

fn write_record<'a, W: std::io::Write>(
    w: &mut csv::Writer<W>,
    cells: impl Iterator<Item = &'a str>,
) -> Result<(), FileError> {
    w.write_record(cells.map(|c| crate::csvfile::formula::escape(c).into_owned()))
        .map_err(|e| FileError::Read(crate::csvfile::ReadError::Io(std::io::Error::other(e))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::scan::scan;
    use std::io::Cursor;

    /// The errors file of a small file, validated with the default options.
    fn errors_file_of(data: Vec<u8>) -> String {
        let opts = ImportOptions::default();
        let s = scan(
            || Ok(Box::new(Cursor::new(data.clone())) as BoxRead),
            &opts,
            |_| {},
        )
        .unwrap();
        let mut out = Vec::new();
        write_errors_csv(Box::new(Cursor::new(data)), &s, &opts, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn report_keys_are_per_import_under_the_upload_key() {
        assert_eq!(
            report_keys("imports/2026/devices.csv", "ab12"),
            (
                "reports/2026/devices.csv/ab12.json".into(),
                "reports/2026/devices.csv/ab12.errors.csv".into()
            )
        );
        assert_ne!(
            report_keys("imports/a.csv", "first").0,
            report_keys("imports/a.csv", "second").0
        );
        let long = format!("imports/{}", "k".repeat(1010));
        let (json, csv) = report_keys(&long, "ab12");
        assert_eq!(
            (json.as_str(), csv.as_str()),
            ("reports/ab12.json", "reports/ab12.errors.csv")
        );
    }

    #[test]
    fn errors_csv_has_only_bad_rows_with_their_messages() {
        let data = "Name;Email;Ownership;Serial Number;Platform;;\n\
                    Ann;a@x.com;corporate;S1;ios;;\n\
                    =cmd;bad;corporate;S2;ios;;\n"
            .as_bytes()
            .to_vec();
        let text = errors_file_of(data);
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(
            lines[0],
            "Name,Email,Ownership,Serial Number,Platform,Error"
        );
        assert_eq!(lines.len(), 2);
        assert!(
            lines[1].starts_with("'=cmd,bad,corporate,S2,ios,"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains("not a valid email"));
    }

    #[test]
    fn the_errors_file_never_shows_a_password() {
        let data = "Name,Email,Ownership,Serial Number,Platform,Password\n\
                    Ann,bad,corporate,S1,ios,Sup3r-Secret\n\
                    Bob,also-bad,corporate,S2,ios,\n"
            .as_bytes()
            .to_vec();
        let text = errors_file_of(data);
        assert!(!text.contains("Sup3r-Secret"), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].starts_with("Ann,bad,corporate,S1,ios,***,"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("Bob,also-bad,corporate,S2,ios,,"),
            "an empty cell stays empty: {}",
            lines[2]
        );
    }
}
