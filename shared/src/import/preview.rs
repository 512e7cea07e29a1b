//! The guided upload's preview (the seeds' step 2): the import's own
//! validation pass over the staged file, then one page of its rows with their
//! errors and the groups of rows sharing an email. Also the final file the
//! commit writes: the rows the admin kept, under canonical column titles.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use serde::Serialize;

use super::row::RowIssue;
use super::scan::{scan, FileError, Scan};
use crate::csvfile::{BoxRead, Field, ReadError, RecordStream};
use crate::domain::ImportOptions;

/// Past this, a file belongs in `imports/` directly rather than in the guided upload.
pub const MAX_PREVIEW_ROWS: u64 = 200_000;
/// Page size, groups and cut cells keep a preview response well under 1 MB,
/// whatever the file holds (a test builds the worst file).
pub const MAX_PAGE_SIZE: usize = 100;
/// Duplicate-email groups listed (all are counted).
const MAX_GROUPS: usize = 100;
/// Rows named per duplicate-email group.
const MAX_GROUP_ROWS: usize = 20;
/// Characters of a cell shown (the page cuts what it cannot show anyway).
const CELL_CHARS: usize = 128;

#[derive(Debug, Clone, Serialize)]
pub struct PreviewRow {
    pub row: u64,
    /// Mapped cells by field key (`serial_number`), as the file has them; never the password.
    pub cells: BTreeMap<&'static str, String>,
    pub has_password: bool,
    pub valid: bool,
    pub errors: Vec<RowIssue>,
    /// False when a later row with the same email supplies the user's details.
    pub carries_user_details: bool,
    /// When the upload takes Platform from another column: this row's cell
    /// there and what it proposes (`cells.platform` is the proposal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal: Option<RowProposal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RowProposal {
    pub value: String,
    /// None: nothing recognisable, or a Windows device (the row's errors say which).
    pub platform: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DuplicateEmail {
    pub email: String,
    pub count: u64,
    pub rows: Vec<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub scan: Scan,
    pub page: usize,
    pub page_size: usize,
    pub pages: usize,
    pub rows: Vec<PreviewRow>,
    pub duplicate_emails: Vec<DuplicateEmail>,
}

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("the file has more than {MAX_PREVIEW_ROWS} rows; upload it to imports/ in the bucket instead of through the page")]
    TooLarge,
}

/// Validates the whole file (as the import will) and returns one page of rows.
pub fn preview(
    mut open: impl FnMut() -> io::Result<BoxRead>,
    options: &ImportOptions,
    page: usize,
    page_size: usize,
) -> Result<Preview, PreviewError> {
    let page = page.max(1);
    let page_size = page_size.clamp(1, MAX_PAGE_SIZE);
    let mut too_large = false;
    let scanned = scan(&mut open, options, |rows| {
        too_large |= rows > MAX_PREVIEW_ROWS
    })?;
    if too_large || scanned.rows > MAX_PREVIEW_ROWS {
        return Err(PreviewError::TooLarge);
    }
    let mut stream = RecordStream::open(
        open().map_err(ReadError::Io).map_err(FileError::from)?,
        Some(scanned.dialect.encoding),
    )
    .map_err(FileError::from)?;
    stream.next_record().map_err(FileError::from)?; // the header
    let first = (page - 1) * page_size;
    let mut groups: HashMap<String, DuplicateEmail> = HashMap::new();
    let mut rows = Vec::new();
    let mut index = 0usize;
    while let Some(row) = stream.next_record().map_err(FileError::from)? {
        let record = stream.record();
        if let Some(email) = scanned
            .columns
            .cell(record, Field::Email)
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let g = groups
                .entry(crate::domain::email_key(email))
                .or_insert_with(|| DuplicateEmail {
                    email: crate::domain::clip_to(email, CELL_CHARS).into_owned(),
                    count: 0,
                    rows: Vec::new(),
                });
            g.count += 1;
            if g.rows.len() < MAX_GROUP_ROWS {
                g.rows.push(row);
            }
        }
        if index >= first && rows.len() < page_size {
            rows.push(page_row(&scanned, row, record));
        }
        index += 1;
    }
    let mut duplicate_emails: Vec<DuplicateEmail> =
        groups.into_values().filter(|g| g.count > 1).collect();
    duplicate_emails.sort_by_key(|g| g.rows.first().copied());
    duplicate_emails.truncate(MAX_GROUPS);
    let pages = index.div_ceil(page_size).max(1);
    Ok(Preview {
        scan: scanned,
        page,
        page_size,
        pages,
        rows,
        duplicate_emails,
    })
}

fn page_row(scanned: &Scan, row: u64, record: &csv::StringRecord) -> PreviewRow {
    let mut cells = BTreeMap::new();
    let mut has_password = false;
    for field in Field::ALL {
        let Some(value) = scanned.columns.cell(record, field) else {
            continue;
        };
        if field == Field::Password {
            has_password = !value.trim().is_empty();
            continue;
        }
        let shown = crate::domain::clip_to(value, CELL_CHARS);
        cells.insert(field.key(), shown.into_owned());
    }
    let proposal = scanned
        .columns
        .proposed(record, Field::Platform)
        .map(|p| RowProposal {
            value: crate::domain::clip_to(p.cell, CELL_CHARS).into_owned(),
            platform: p.proposal.platform(),
        });
    PreviewRow {
        row,
        cells,
        has_password,
        valid: scanned.is_row_valid(row),
        errors: scanned.row_errors(row, record),
        carries_user_details: scanned.carries_user_details(row),
        proposal,
    }
}

/// Writes the rows the admin kept as a UTF-8 CSV under canonical column titles
/// (so no column mapping travels with it), and, under the title the upload
/// names it by, a column Platform is taken from (its options travel:
/// [`ImportOptions::for_final_file`]); returns how many rows were written.
pub fn write_final(
    input: BoxRead,
    options: &ImportOptions,
    encoding: Option<crate::csvfile::TextEncoding>,
    excluded: &[u64],
    out: impl Write,
) -> Result<u64, FileError> {
    let mut stream = RecordStream::open(input, encoding)?;
    if stream.next_record()?.is_none() {
        return Err(crate::csvfile::HeaderError::Empty.into());
    }
    let headers: Vec<String> = stream.record().iter().map(str::to_owned).collect();
    let columns = crate::csvfile::ColumnMap::build_with(
        &headers,
        &options.mapping,
        options.column_defaults.iter(),
    )?;
    let mut fields: Vec<(&str, usize)> = Field::ALL
        .into_iter()
        .filter_map(|f| columns.column(f).map(|i| (f.title(), i)))
        .collect();
    for (field, i, _) in columns.proposal_columns() {
        if let Some(crate::csvfile::Fill::From { from }) = options.column_defaults.get(field) {
            fields.push((from.as_str(), i));
        }
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    let io_err = |e: csv::Error| FileError::Read(ReadError::Io(io::Error::other(e)));
    w.write_record(fields.iter().map(|(title, _)| title))
        .map_err(io_err)?;
    let mut written = 0;
    while let Some(row) = stream.next_record()? {
        if excluded.binary_search(&row).is_ok() {
            continue;
        }
        let record = stream.record();
        w.write_record(fields.iter().map(|(_, i)| record.get(*i).unwrap_or("")))
            .map_err(io_err)?;
        written += 1;
    }
    w.flush().map_err(|e| FileError::Read(ReadError::Io(e)))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn opener(text: &str) -> impl FnMut() -> io::Result<BoxRead> {
        let bytes = text.as_bytes().to_vec();
        move || Ok(Box::new(Cursor::new(bytes.clone())) as BoxRead)
    }

    const FILE: &str = "Display Name;E-mail;Ownership;Serial Number;Platform;Password;Notes\r\n\
        Ann;ann@example.com;corporate;S1;ios;pw1;x\r\n\
        Bob;bob@example.com;Corporate;S2;android;;\r\n\
        Ann Again;ANN@example.com;personal;S3;macos;;\r\n";

    #[test]
    fn pages_rows_with_their_errors_and_groups_duplicate_emails() {
        let p = preview(opener(FILE), &ImportOptions::default(), 1, 2).unwrap();
        assert_eq!((p.scan.rows, p.scan.valid_rows, p.pages), (3, 2, 2));
        assert_eq!(p.rows.len(), 2);
        let ann = &p.rows[0];
        assert_eq!((ann.row, ann.valid, ann.has_password), (2, true, true));
        assert_eq!(ann.cells["serial_number"], "S1");
        assert!(
            !ann.cells.contains_key("password"),
            "passwords never leave the file"
        );
        assert!(!ann.carries_user_details, "row 4 has the same email");
        let bob = &p.rows[1];
        assert!(!bob.valid);
        assert_eq!(bob.errors[0].column, "Ownership");
        assert!(bob.errors[0].message.contains("'corporate'"));
        assert_eq!(p.duplicate_emails.len(), 1);
        assert_eq!(
            (p.duplicate_emails[0].count, &p.duplicate_emails[0].rows),
            (2, &vec![2, 4])
        );
        let page2 = preview(opener(FILE), &ImportOptions::default(), 2, 2).unwrap();
        assert_eq!(page2.rows.iter().map(|r| r.row).collect::<Vec<_>>(), [4]);
    }

    #[test]
    fn the_final_file_keeps_the_chosen_rows_under_canonical_titles() {
        let mut out = Vec::new();
        let n = write_final(
            opener(FILE)().unwrap(),
            &ImportOptions::default(),
            None,
            &[3],
            &mut out,
        )
        .unwrap();
        assert_eq!(n, 2);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "Name,Email,Ownership,Serial Number,Platform,Password\r\n\
             Ann,ann@example.com,corporate,S1,ios,pw1\r\n\
             Ann Again,ANN@example.com,personal,S3,macos,\r\n"
        );
        // And the import accepts it as is.
        let again = scan(opener(&text), &ImportOptions::default(), |_| {}).unwrap();
        assert_eq!((again.rows, again.valid_rows), (2, 2));
    }
}
