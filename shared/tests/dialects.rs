//! Each dialect a spreadsheet export comes in, from committed fixture files.

use std::fs::File;
use std::path::PathBuf;

use shared::csvfile::{BoxRead, TextEncoding};
use shared::domain::ImportOptions;
use shared::import::{scan, FileError, RowPass, Scan};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn scan_fixture(name: &str) -> Result<Scan, FileError> {
    let path = fixture(name);
    scan(
        || File::open(&path).map(|f| Box::new(f) as BoxRead),
        &ImportOptions::default(),
        |_| {},
    )
}

/// The valid rows of a fixture as (row, name, serial, platform).
fn rows(name: &str) -> Vec<(u64, String, String, &'static str)> {
    let s = scan_fixture(name).unwrap();
    let file = File::open(fixture(name)).unwrap();
    let mut pass = RowPass::open(
        Box::new(file),
        Some(s.dialect.encoding),
        &ImportOptions::default(),
        s.now,
    )
    .unwrap();
    let mut out = Vec::new();
    while let Some(row) = pass.next_row().unwrap() {
        if let Ok(r) = pass.check(row, &mut Vec::new()) {
            let r = r.to_device_row();
            out.push((
                row,
                r.name,
                r.serial.as_str().to_owned(),
                r.platform.as_str(),
            ));
        }
    }
    out
}

fn standard_rows() -> Vec<(u64, String, String, &'static str)> {
    vec![
        (2, "Zoë Adams".into(), "C02XK1ABJG5H".into(), "macos"),
        (3, "Jürgen Weiß".into(), "R58N123ABC".into(), "android"),
        (4, "Zoë Adams".into(), "DMPXK2ABC".into(), "ios"),
    ]
}

#[test]
fn every_encoding_and_delimiter_reads_the_same_rows() {
    for (file, encoding, delimiter) in [
        ("utf8.csv", TextEncoding::Utf8, b','),
        ("utf8-bom-crlf.csv", TextEncoding::Utf8Bom, b','),
        ("utf16le-tab.txt", TextEncoding::Utf16le, b'\t'),
        ("utf16be.csv", TextEncoding::Utf16be, b','),
        ("windows1252-semicolon.csv", TextEncoding::Windows1252, b';'),
    ] {
        let s = scan_fixture(file).unwrap();
        assert_eq!(s.dialect.encoding, encoding, "{file}");
        assert_eq!(s.dialect.delimiter, delimiter, "{file}");
        assert!(s.errors.is_empty(), "{file}: {:?}", s.errors);
        assert_eq!(
            s.duplicate_email_groups, 1,
            "{file}: ZOE@ and zoe@ are one user"
        );
        assert_eq!(rows(file), standard_rows(), "{file}");
    }
}

#[test]
fn quoted_cells_with_commas_quotes_and_newlines() {
    let s = scan_fixture("quoted-multiline.csv").unwrap();
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    let r = rows("quoted-multiline.csv");
    assert_eq!(r[0].1, "Adams, Zoë");
    // The multi-line cell is one spreadsheet row: the next record is row 3.
    assert_eq!(r[1].0, 3);
}

#[test]
fn blank_lines_trailing_columns_and_spaces() {
    let s = scan_fixture("blank-lines-whitespace.csv").unwrap();
    // Spaces around a name or email are trimmed with a warning; around a serial
    // they are an error: no device reports them, so it could never enroll.
    let errors: Vec<(u64, &str)> = s
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_str()))
        .collect();
    assert_eq!(errors, [(3, "Serial Number")]);
    assert!(s.errors[0].message.contains("U+0020 SPACE"));
    assert_eq!(s.rows, 2);
    assert!(
        s.columns.ignored.is_empty(),
        "empty trailing headers are not 'unknown columns'"
    );
    let trimmed: Vec<(u64, &str)> = s
        .warnings
        .iter()
        .map(|w| (w.row, w.column.as_str()))
        .collect();
    assert_eq!(trimmed, vec![(3, "Name"), (3, "Email")]);
    assert_eq!(
        rows("blank-lines-whitespace.csv")[0].0,
        5,
        "blank lines still count as rows (row 3, in error, is not among the valid)"
    );
}

#[test]
fn spreadsheet_damage_and_near_misses_are_errors_with_hints() {
    let s = scan_fixture("damaged-serials.csv").unwrap();
    assert_eq!(s.errors.len(), 1);
    assert!(s.errors[0].message.contains("scientific notation"));

    let s = scan_fixture("near-misses.csv").unwrap();
    let got: Vec<(u64, &str)> = s
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, "Ownership"),
            (2, "Platform"),
            (3, "Email"),
            (3, "Platform"),
            (4, "Serial Number")
        ]
    );
    assert!(s.errors[1].message.contains("did you mean 'macos'"));
    assert!(s.errors[3]
        .message
        .contains("Windows devices are not supported"));
    assert!(s.errors[4].message.contains("already on row 2"));
}

#[test]
fn a_missing_mandatory_column_is_a_file_error() {
    let e = scan_fixture("missing-columns.csv").unwrap_err();
    assert!(
        e.to_string().contains("Ownership, Serial Number, Platform"),
        "{e}"
    );
}
