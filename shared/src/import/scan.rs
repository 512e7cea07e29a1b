//! The validation pass over a whole file, and the row pass that follows it.
//!
//! Nothing is buffered but a few bytes per row: 64-bit hashes of serials and
//! emails (to find duplicates across the file) and the row numbers that end up
//! invalid or superseded. The write pass reads the file again.

use std::collections::BTreeMap;
use std::io;

use serde::{Deserialize, Serialize};

use super::proposals::{ProposalTally, ProposalTotals};
use super::row::{check_row, CheckedRow, RowIssue, RowRules};
use crate::csvfile::{
    BoxRead, ColumnMap, Dialect, Field, HeaderError, ReadError, RecordStream, TextEncoding,
};
use crate::domain::{Email, ImportOptions, InviteChannel, IssueKind};

/// Errors kept in a report (the first, by row); the totals are always exact.
pub const MAX_ERRORS: usize = 1000;
/// Warnings kept in a report; the total is always counted.
pub const MAX_WARNINGS: usize = 200;
/// Rows named per suspicious serial length for the leading-zeros warning.
const MAX_SHORT_SERIAL_ROWS: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("the file has more than {max} rows; split it into several files")]
    TooManyRows { max: u64 },
    #[error("the file has no device rows: only a header; add a row per device under it")]
    NoRows,
}

/// How many issues a file has per column title and per kind: a file wrong on
/// every row is summed up in a few lines rather than listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueTotals {
    pub by_column: BTreeMap<String, u64>,
    pub by_kind: BTreeMap<IssueKind, u64>,
}

impl IssueTotals {
    pub(crate) fn count(&mut self, issue: &RowIssue) {
        self.count_of(&issue.column, issue.kind);
    }

    fn count_of(&mut self, column: &str, kind: IssueKind) {
        match self.by_column.get_mut(column) {
            Some(n) => *n += 1,
            None => {
                self.by_column.insert(column.to_owned(), 1);
            }
        }
        *self.by_kind.entry(kind).or_default() += 1;
    }
}

/// The first [`MAX_ERRORS`] errors by row, and exact totals of all of them.
#[derive(Debug, Default)]
struct ErrorSample {
    kept: Vec<RowIssue>,
    total: u64,
    totals: IssueTotals,
}

impl ErrorSample {
    /// `kept` stays sorted by row. Issues come in row order (the pass, then the
    /// repeated serials), so an insertion is nearly always at the end, and once
    /// the sample is full a later row is only counted.
    fn add(&mut self, issue: RowIssue) {
        self.total += 1;
        self.totals.count(&issue);
        if self.is_full_before(issue.row) {
            return;
        }
        let at = self.kept.partition_point(|k| k.row <= issue.row);
        self.kept.insert(at, issue);
        self.kept.truncate(MAX_ERRORS);
    }

    /// An error past the sample: counted, never built.
    fn count_only(&mut self, column: &str, kind: IssueKind) {
        self.total += 1;
        self.totals.count_of(column, kind);
    }

    fn is_full_before(&self, row: u64) -> bool {
        self.kept.len() >= MAX_ERRORS && self.kept.last().is_some_and(|k| k.row <= row)
    }
}

/// The error a repeated serial number gets; the first row keeps the serial.
pub(crate) fn duplicate_serial_issue(row: u64, first: u64, column: &str) -> RowIssue {
    RowIssue {
        row,
        column: column.to_owned(),
        value: String::new(),
        message: format!(
            "this serial number is already on row {first}; a device can be listed only once per file"
        ),
        kind: IssueKind::Duplicate,
    }
}

/// What the validation pass learnt about a file.
#[derive(Debug, Clone, Serialize)]
pub struct Scan {
    pub dialect: Dialect,
    pub columns: ColumnMap,
    /// Data rows (blank rows are not counted).
    pub rows: u64,
    pub valid_rows: u64,
    /// The first [`MAX_ERRORS`] errors by row; the errors CSV has every row in error.
    pub errors: Vec<RowIssue>,
    pub errors_total: u64,
    pub error_totals: IssueTotals,
    pub warnings: Vec<RowIssue>,
    pub warnings_total: u64,
    /// Groups of two or more rows sharing one email.
    pub duplicate_email_groups: u64,
    #[serde(skip)]
    invalid_rows: Vec<u64>,
    #[serde(skip)]
    superseded_rows: Vec<u64>,
    /// (row, first row with that serial) for each repeated serial, by row.
    #[serde(skip)]
    duplicate_serials: Vec<(u64, u64)>,
    #[serde(skip)]
    invite: InviteChannel,
    /// When validation started: an `Expires` before it is an error (every
    /// pass over this file judges rows at this same moment).
    pub now: u64,
    /// When the upload took Platform from another column: what its rows proposed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_proposals: Option<ProposalTotals>,
}

impl Scan {
    fn rules(&self) -> RowRules {
        RowRules {
            invite: self.invite,
            now: self.now,
        }
    }

    pub fn has_errors(&self) -> bool {
        self.errors_total > 0
    }

    /// Every error of one row, found again from its record: the scan keeps
    /// only a sample, so the errors file and the preview ask row by row.
    pub fn row_errors(&self, row: u64, record: &csv::StringRecord) -> Vec<RowIssue> {
        if self.is_row_valid(row) {
            return Vec::new();
        }
        let mut errors = check_row(row, record, &self.columns, self.rules(), &mut Vec::new())
            .err()
            .unwrap_or_default();
        if let Ok(i) = self
            .duplicate_serials
            .binary_search_by_key(&row, |&(r, _)| r)
        {
            let title = self.columns.title(Field::SerialNumber);
            errors.push(duplicate_serial_issue(
                row,
                self.duplicate_serials[i].1,
                title,
            ));
        }
        errors
    }

    pub fn is_row_valid(&self, row: u64) -> bool {
        self.invalid_rows.binary_search(&row).is_err()
    }

    /// False when a later valid row has the same email: its details win (the seeds' rule).
    pub fn carries_user_details(&self, row: u64) -> bool {
        self.superseded_rows.binary_search(&row).is_err()
    }
}

/// A 64-bit fingerprint: over a million values the chance that two different
/// ones collide (and a row is wrongly called a duplicate) is about 1 in 30 million.
fn hash64(s: &str) -> u64 {
    use std::hash::BuildHasher;
    // Fixed seed: the same file gives the same answer on every run and machine.
    foldhash::quality::FixedState::with_seed(0x05EE_DDE7_1CE5).hash_one(s)
}

/// `hash64` of the email's user key (see [`Email::key`]), without allocating for ASCII addresses.
fn email_key_hash(email: &str) -> u64 {
    if !email.is_ascii() || email.len() > Email::MAX_LEN {
        return hash64(&crate::domain::email_key(email));
    }
    let mut buf = [0u8; Email::MAX_LEN];
    let lower = &mut buf[..email.len()];
    lower.copy_from_slice(email.as_bytes());
    lower.make_ascii_lowercase();
    // Lowercasing ASCII keeps it ASCII, so this is valid UTF-8.
    hash64(std::str::from_utf8(lower).unwrap_or(email))
}

/// Accumulates per-row facts during the pass.
#[derive(Default)]
struct Tally {
    rows: u64,
    errors: ErrorSample,
    warnings: Vec<RowIssue>,
    warnings_total: u64,
    invalid: Vec<u64>,
    serials: Vec<(u64, u64)>,
    emails: Vec<(u64, u64)>,
    digit_serial_lengths: BTreeMap<usize, (u64, Vec<u64>)>,
}

impl Tally {
    /// Takes the issues out of `issues`, keeping at most [`MAX_WARNINGS`] in all.
    fn warn(&mut self, issues: &mut Vec<RowIssue>) {
        self.warnings_total += issues.len() as u64;
        let room = MAX_WARNINGS.saturating_sub(self.warnings.len());
        issues.truncate(room);
        self.warnings.append(issues);
    }

    /// `serial` is the row's serial cell even when the row is invalid, so a
    /// duplicate is reported now rather than after the first row is fixed.
    fn add(&mut self, row: u64, result: Result<CheckedRow, Vec<RowIssue>>, serial: Option<&str>) {
        self.rows += 1;
        if let Some(serial) = serial.filter(|s| !s.is_empty()) {
            self.serials.push((hash64(serial), row));
        }
        match result {
            Ok(r) => {
                self.emails.push((email_key_hash(r.email), row));
                // Only all-digit serials can lose leading zeros in a spreadsheet.
                if r.serial.bytes().all(|b| b.is_ascii_digit()) {
                    let e = self.digit_serial_lengths.entry(r.serial.len()).or_default();
                    e.0 += 1;
                    if e.1.len() < MAX_SHORT_SERIAL_ROWS {
                        e.1.push(row);
                    }
                }
            }
            Err(issues) => {
                self.invalid.push(row);
                for issue in issues {
                    self.errors.add(issue);
                }
            }
        }
    }

    fn finish(mut self, dialect: Dialect, columns: ColumnMap, rules: RowRules) -> Scan {
        // Duplicate serials: the first row keeps it, every later one is an error naming it.
        // Sorting by hash alone is quicker; the rare groups are put in row order afterwards.
        self.serials.sort_unstable_by_key(|&(hash, _)| hash);
        let serial_col = columns
            .title(crate::csvfile::Field::SerialNumber)
            .to_owned();
        let mut duplicate_serials = Vec::new();
        for group in self.serials.chunk_by_mut(|a, b| a.0 == b.0) {
            if group.len() < 2 {
                continue;
            }
            group.sort_unstable();
            let first = group[0].1;
            for &(_, row) in &group[1..] {
                self.invalid.push(row);
                duplicate_serials.push((row, first));
            }
        }
        self.serials = Vec::new();
        duplicate_serials.sort_unstable();
        for &(row, first) in &duplicate_serials {
            // Counted always; built only when the sample can still take it.
            if self.errors.is_full_before(row) {
                self.errors.count_only(&serial_col, IssueKind::Duplicate);
            } else {
                self.errors
                    .add(duplicate_serial_issue(row, first, &serial_col));
            }
        }
        self.invalid.sort_unstable();
        self.invalid.dedup();

        // Duplicate emails: the last valid row's details win; every row keeps its invite.
        let invalid = &self.invalid;
        self.emails
            .retain(|(_, row)| invalid.binary_search(row).is_err());
        self.emails.sort_unstable_by_key(|&(hash, _)| hash);
        let mut superseded = Vec::new();
        let mut duplicate_email_groups = 0;
        for group in self.emails.chunk_by_mut(|a, b| a.0 == b.0) {
            if group.len() > 1 {
                group.sort_unstable();
                duplicate_email_groups += 1;
                superseded.extend(group[..group.len() - 1].iter().map(|(_, row)| *row));
            }
        }
        superseded.sort_unstable();

        self.leading_zero_warnings(&serial_col);
        self.warnings.sort_by_key(|i| i.row);
        let valid_rows = self.rows - self.invalid.len() as u64;
        Scan {
            dialect,
            columns,
            rows: self.rows,
            valid_rows,
            errors: self.errors.kept,
            errors_total: self.errors.total,
            error_totals: self.errors.totals,
            warnings: self.warnings,
            warnings_total: self.warnings_total,
            duplicate_email_groups,
            invalid_rows: self.invalid,
            superseded_rows: superseded,
            duplicate_serials,
            invite: rules.invite,
            now: rules.now,
            platform_proposals: None,
        }
    }

    /// When nearly all numeric serials share one length, shorter ones probably
    /// lost leading zeros in a spreadsheet. A heuristic, so a warning.
    fn leading_zero_warnings(&mut self, serial_col: &str) {
        let total: u64 = self.digit_serial_lengths.values().map(|(n, _)| n).sum();
        let Some((&common, &(count, _))) = self
            .digit_serial_lengths
            .iter()
            .max_by_key(|(_, (n, _))| *n)
        else {
            return;
        };
        if total < 5 || count * 10 < total * 9 {
            return;
        }
        let short: Vec<(usize, Vec<u64>)> = self
            .digit_serial_lengths
            .range(..common)
            .map(|(len, (_, rows))| (*len, rows.clone()))
            .collect();
        for (len, rows) in short {
            let mut issues = rows
                .into_iter()
                .map(|row| RowIssue {
                    row,
                    column: serial_col.to_owned(),
                    value: String::new(),
                    message: format!(
                        "this serial has {len} digits where most have {common}: a spreadsheet may have removed \
                         leading zeros; check it, and format the column as Text before exporting"
                    ),
                    kind: IssueKind::LeadingZeros,
                })
                .collect();
            self.warn(&mut issues);
        }
    }
}

/// Most rows a file may have; bounds the per-row bookkeeping.
pub const MAX_ROWS: u64 = 5_000_000;

/// Runs the validation pass. `open` is called again (as Windows-1252) when a
/// file without byte-order mark turns out not to be UTF-8.
pub fn scan(
    mut open: impl FnMut() -> io::Result<BoxRead>,
    options: &ImportOptions,
    mut progress: impl FnMut(u64),
) -> Result<Scan, FileError> {
    let now = crate::clock::epoch_now();
    match scan_as(
        open().map_err(ReadError::Io)?,
        None,
        options,
        now,
        &mut progress,
    ) {
        Err(FileError::Read(ReadError::BadEncoding { .. })) => scan_as(
            open().map_err(ReadError::Io)?,
            Some(TextEncoding::Windows1252),
            options,
            now,
            &mut progress,
        ),
        other => other,
    }
}

fn scan_as(
    input: BoxRead,
    encoding: Option<TextEncoding>,
    options: &ImportOptions,
    now: u64,
    progress: &mut impl FnMut(u64),
) -> Result<Scan, FileError> {
    let mut pass = RowPass::open(input, encoding, options, now)?;
    let mut tally = Tally::default();
    let mut proposals = ProposalTally::for_columns(&pass.columns);
    let mut warnings = Vec::new();
    while let Some(row) = pass.next_row()? {
        if let Some(p) = proposals.as_mut() {
            if let Some(proposed) = pass.columns.proposed(pass.record(), Field::Platform) {
                p.add(proposed);
            }
        }
        let result = pass.check(row, &mut warnings);
        let serial = pass
            .columns
            .cell(pass.record(), Field::SerialNumber)
            .map(str::trim);
        tally.add(row, result, serial);
        tally.warn(&mut warnings);
        if tally.rows > MAX_ROWS {
            return Err(FileError::TooManyRows { max: MAX_ROWS });
        }
        if tally.rows % 10_000 == 0 {
            progress(tally.rows);
        }
    }
    progress(tally.rows);
    if tally.rows == 0 {
        return Err(FileError::NoRows);
    }
    let (dialect, columns) = (pass.dialect(), pass.columns.clone());
    let mut scanned = tally.finish(dialect, columns, pass.rules);
    scanned.platform_proposals = proposals.map(ProposalTally::finish);
    Ok(scanned)
}

/// Reads a file row by row with the header mapped, validating each row.
pub struct RowPass {
    stream: RecordStream,
    pub columns: ColumnMap,
    rules: RowRules,
}

impl RowPass {
    pub fn open(
        input: BoxRead,
        encoding: Option<TextEncoding>,
        options: &ImportOptions,
        now: u64,
    ) -> Result<Self, FileError> {
        let mut stream = RecordStream::open(input, encoding)?;
        if stream.next_record()?.is_none() {
            return Err(HeaderError::Empty.into());
        }
        let headers: Vec<String> = stream.record().iter().map(str::to_owned).collect();
        let columns =
            ColumnMap::build_with(&headers, &options.mapping, options.column_defaults.iter())?;
        Ok(Self {
            stream,
            columns,
            rules: RowRules {
                invite: options.invite,
                now,
            },
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.stream.dialect()
    }

    /// Moves to the next data row and returns its number; its cells are then
    /// [`record`](Self::record), checked on request with [`check`](Self::check).
    pub fn next_row(&mut self) -> Result<Option<u64>, FileError> {
        Ok(self.stream.next_record()?)
    }

    /// Validates the current row (number `row`); warnings go to `warnings` either way.
    pub fn check(
        &self,
        row: u64,
        warnings: &mut Vec<RowIssue>,
    ) -> Result<CheckedRow<'_>, Vec<RowIssue>> {
        check_row(
            row,
            self.stream.record(),
            &self.columns,
            self.rules,
            warnings,
        )
    }

    /// The raw cells of the current record.
    pub fn record(&self) -> &csv::StringRecord {
        self.stream.record()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OnError;
    use std::io::Cursor;

    /// The allocation-free fast path folds addresses exactly as `email_key` does.
    #[test]
    fn duplicate_detection_folds_emails_like_the_user_key() {
        for address in [
            "Ann@Example.COM",
            "ann@example.com",
            "Zoë@Exämple.de",
            "ÅSA@x.se",
        ] {
            assert_eq!(
                email_key_hash(address),
                hash64(&crate::domain::email_key(address)),
                "{address}"
            );
        }
    }

    const HEADER: &str = "Name,Email,Ownership,Serial Number,Platform,Mobile\n";

    fn run(body: &str) -> Scan {
        run_bytes(
            format!("{HEADER}{body}").into_bytes(),
            &ImportOptions::default(),
        )
    }

    fn run_bytes(bytes: Vec<u8>, options: &ImportOptions) -> Scan {
        scan(
            || Ok(Box::new(Cursor::new(bytes.clone())) as BoxRead),
            options,
            |_| {},
        )
        .unwrap()
    }

    #[test]
    fn counts_and_errors_for_every_row() {
        let s = run("A,a@x.com,corporate,S1,ios,\nB,bad,corporate,S2,iOS,\n\nC,c@x.com,Personal,S3,android,\n");
        assert_eq!((s.rows, s.valid_rows), (3, 1));
        let rows: Vec<(u64, &str)> = s
            .errors
            .iter()
            .map(|e| (e.row, e.column.as_str()))
            .collect();
        assert_eq!(rows, vec![(3, "Email"), (3, "Platform"), (5, "Ownership")]);
        assert!(!s.is_row_valid(3));
        assert!(s.is_row_valid(2));
    }

    #[test]
    fn duplicate_serials_name_the_first_row() {
        let s = run("A,a@x.com,corporate,S1,ios,\nB,b@x.com,corporate,S2,ios,\nC,c@x.com,corporate,S1,ios,\n");
        assert_eq!(s.errors.len(), 1);
        assert_eq!(s.errors[0].row, 4);
        assert!(s.errors[0].message.contains("already on row 2"));
        // Case matters: abc and ABC are different devices.
        let s = run("A,a@x.com,corporate,abc,ios,\nB,b@x.com,corporate,ABC,ios,\n");
        assert!(s.errors.is_empty());
    }

    /// `times` copies of `rows` lines, one after the other: `line(copy, i)`.
    fn copies(times: usize, rows: usize, line: impl Fn(usize, usize) -> String) -> String {
        (0..times)
            .flat_map(|copy| (0..rows).map(move |i| (copy, i)))
            .map(|(copy, i)| line(copy, i) + "\n")
            .collect()
    }

    /// Large enough that the hash sort's order within a group is arbitrary.
    #[test]
    fn duplicates_in_a_large_file_keep_file_order() {
        let s = run(&copies(3, 3000, |_, i| {
            format!("U,u{i}@x.com,corporate,S{i},ios,")
        }));
        assert_eq!(s.errors_total, 6000);
        assert_eq!(s.error_totals.by_kind[&IssueKind::Duplicate], 6000);
        assert_eq!(s.errors.len(), MAX_ERRORS, "the first errors by row");
        assert_eq!(s.errors[0].row, 3002);
        assert_eq!(s.errors[MAX_ERRORS - 1].row, 3002 + MAX_ERRORS as u64 - 1);
        for e in &s.errors {
            let first = (e.row - 2) % 3000 + 2;
            assert!(e.row > first);
            assert!(
                e.message.contains(&format!("already on row {first};")),
                "{e:?}"
            );
        }
        // The emails of the later copies are invalid rows, so the first copies carry the details.
        assert!((2..3002).all(|row| s.carries_user_details(row)));
    }

    /// Every row wrong, several ways: the scan keeps the first errors by row
    /// (row errors and repeated serials merged), counts every one exactly per
    /// column and kind, and still finds each row's errors for the errors file.
    #[test]
    fn a_file_wrong_on_every_row_is_counted_exactly_and_sampled() {
        let rows = 5000;
        let s = run(&copies(1, rows, |_, i| match i % 3 {
            0 => format!("U,u{i}@x.com,Corporate,S{},ios,", i % 100),
            1 => format!("U,not-an-email,corporate,T{i},windows,"),
            _ => format!(",u{i}@x.com,corporate,S{},iOS,", i % 100),
        }));
        assert_eq!(s.valid_rows, 0);
        // Rows 0 mod 3: ownership. 1 mod 3: email, platform. 2 mod 3: name, platform; and
        // serials S0..S99 repeat on rows 0 and 2 mod 3 after their first appearance.
        let (a, b, c) = (1667u64, 1667u64, 1666u64);
        let repeats = (a + c) - 100;
        assert_eq!(s.errors_total, a + 2 * b + 2 * c + repeats);
        let by = |k| s.error_totals.by_kind.get(&k).copied().unwrap_or(0);
        assert_eq!(by(IssueKind::NotAllowed), a + c);
        assert_eq!(by(IssueKind::Malformed), b);
        assert_eq!(by(IssueKind::Unsupported), b);
        assert_eq!(by(IssueKind::Missing), c);
        assert_eq!(by(IssueKind::Duplicate), repeats);
        assert_eq!(s.error_totals.by_column["Serial Number"], repeats);
        assert_eq!(s.error_totals.by_column["Platform"], b + c);
        assert_eq!(s.errors.len(), MAX_ERRORS);
        assert!(s.errors.windows(2).all(|w| w[0].row <= w[1].row));
        // The sample is exactly the first errors of the full list, row by row.
        let bytes = format!(
            "{HEADER}{}",
            copies(1, rows, |_, i| match i % 3 {
                0 => format!("U,u{i}@x.com,Corporate,S{},ios,", i % 100),
                1 => format!("U,not-an-email,corporate,T{i},windows,"),
                _ => format!(",u{i}@x.com,corporate,S{},iOS,", i % 100),
            })
        );
        let mut pass = RowPass::open(
            Box::new(Cursor::new(bytes.into_bytes())),
            None,
            &ImportOptions::default(),
            s.now,
        )
        .unwrap();
        let mut all = Vec::new();
        while let Some(row) = pass.next_row().unwrap() {
            all.extend(s.row_errors(row, pass.record()));
        }
        assert_eq!(all.len() as u64, s.errors_total);
        let mut sorted = all.clone();
        sorted.sort_by_key(|e| e.row);
        let key = |e: &RowIssue| (e.row, e.column.clone(), e.message.clone());
        let mut want: Vec<_> = sorted.iter().map(key).collect();
        want.truncate(MAX_ERRORS);
        let mut got: Vec<_> = s.errors.iter().map(key).collect();
        // Within one row the order of a row's errors is not part of the contract.
        want.sort();
        got.sort();
        // The cut may fall inside a row: compare whole rows before it.
        let last = got.last().unwrap().0;
        want.retain(|k| k.0 < last);
        got.retain(|k| k.0 < last);
        assert_eq!(got, want);
    }

    #[test]
    fn duplicate_emails_in_a_large_file_last_row_wins() {
        let s = run(&copies(3, 3000, |copy, i| {
            format!("U,u{i}@x.com,corporate,S{copy}-{i},ios,")
        }));
        assert!(s.errors.is_empty());
        assert_eq!(s.duplicate_email_groups, 3000);
        assert!((2..6002).all(|row| !s.carries_user_details(row)));
        assert!((6002..9002).all(|row| s.carries_user_details(row)));
    }

    #[test]
    fn duplicate_emails_last_valid_row_wins() {
        let s = run(
            "A,a@x.com,corporate,S1,ios,\nA2,A@X.com,corporate,S2,ios,\nA3,a@x.com,corporate,S3,windows,\nB,b@x.com,personal,S4,ios,\n",
        );
        assert_eq!(s.duplicate_email_groups, 1);
        assert!(!s.carries_user_details(2));
        assert!(s.carries_user_details(3));
        assert!(s.carries_user_details(5));
    }

    #[test]
    fn windows_1252_is_detected_after_a_utf8_attempt() {
        let mut bytes = HEADER.as_bytes().to_vec();
        bytes.extend_from_slice(b"Jos\xE9,j@x.com,corporate,S1,ios,\n");
        let s = run_bytes(bytes, &ImportOptions::default());
        assert_eq!(s.dialect.encoding, TextEncoding::Windows1252);
        assert_eq!(s.valid_rows, 1);
    }

    #[test]
    fn lost_leading_zeros_are_flagged() {
        let mut body = String::new();
        for i in 0..9 {
            body.push_str(&format!("U,u{i}@x.com,corporate,0012345{i},android,\n"));
        }
        body.push_str("V,v@x.com,corporate,123459,android,\n");
        let s = run(&body);
        assert!(s.errors.is_empty());
        assert_eq!(s.warnings.len(), 1);
        assert_eq!(s.warnings[0].row, 11);
        assert!(s.warnings[0].message.contains("leading zeros"));
    }

    #[test]
    fn header_problems_are_file_errors() {
        let e = scan(
            || Ok(Box::new(Cursor::new(b"Name,Email\nA,a@x.com\n".to_vec())) as BoxRead),
            &ImportOptions::default(),
            |_| {},
        )
        .unwrap_err();
        assert!(matches!(e, FileError::Header(HeaderError::Columns { .. })));
        let e = scan(
            || Ok(Box::new(Cursor::new(Vec::new())) as BoxRead),
            &ImportOptions::default(),
            |_| {},
        )
        .unwrap_err();
        assert!(matches!(e, FileError::Header(HeaderError::Empty)));
        // A header and blank lines: nothing to import is an error, not a valid file.
        let header_only = b"Name,Email,Ownership,Serial Number,Platform\r\n\r\n,,,,\r\n".to_vec();
        let e = scan(
            || Ok(Box::new(Cursor::new(header_only.clone())) as BoxRead),
            &ImportOptions::default(),
            |_| {},
        )
        .unwrap_err();
        assert!(matches!(e, FileError::NoRows));
        assert_eq!(
            e.to_string(),
            "the file has no device rows: only a header; add a row per device under it"
        );
    }

    #[test]
    fn options_do_not_change_validation_except_sms() {
        let o = ImportOptions {
            invite: InviteChannel::Sms,
            on_error: OnError::SkipInvalidRows,
            ..Default::default()
        };
        let s = run_bytes(
            format!(
                "{HEADER}A,a@x.com,corporate,S1,ios,+14155552671\nB,b@x.com,corporate,S2,ios,\n"
            )
            .into_bytes(),
            &o,
        );
        assert_eq!(s.valid_rows, 1);
        assert_eq!(s.errors[0].row, 3);
    }
}
