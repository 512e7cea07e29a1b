//! `preapprove validate FILE [--json] [--errors-csv OUT] [--on-error skip-invalid-rows] [--invite email|sms|none] [--map HEADER=FIELD]... [--defaults FIELD=VALUE,...]...`
//!
//! `--defaults 'Platform=from:Device Type'` takes each row's platform from
//! that column as the upload's `{"Platform": {"from": "Device Type"}}` does.
//!
//! Runs the import's own parse and validation on a local file, with no AWS,
//! and prints the report. Exit status: 0 valid, 1 invalid rows, 2 unreadable file.
//!
//! `preapprove ade-token` and `preapprove ade-keypair`: Apple ADE's server
//! token and key pair, offline (`ade.rs`).

mod ade;

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::process::ExitCode;

use shared::csvfile::{BoxRead, Fill};
use shared::domain::{ImportOptions, InviteChannel, OnError};
use shared::import::{scan, ImportStatus, Report};

const USAGE: &str =
    "usage: preapprove validate FILE [--json] [--errors-csv OUT] [--on-error reject-file|skip-invalid-rows] \
                     [--invite email|sms|none] [--map 'HEADER=FIELD']... \
                     [--defaults 'Ownership=corporate,Platform=ios' | 'Platform=from:Device Type']...";

#[derive(Debug)]
struct Args {
    file: String,
    json: bool,
    /// Where to write every row in error (the import's errors file).
    errors_csv: Option<String>,
    options: ImportOptions,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    match args.next().as_deref() {
        Some("validate") => {}
        Some("-h" | "--help") | None => return Err(format!("{USAGE}\n       {}", ade::COMMANDS)),
        Some(other) => {
            return Err(format!(
                "unknown command '{other}'\n{USAGE}\n       {}",
                ade::COMMANDS
            ))
        }
    }
    let mut file = None;
    let mut json = false;
    let mut errors_csv = None;
    let mut options = ImportOptions::default();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--json" => json = true,
            "--errors-csv" => errors_csv = Some(value("--errors-csv")?),
            "--on-error" => {
                options.on_error = value("--on-error")?
                    .parse::<OnError>()
                    .map_err(|e| e.to_string())?
            }
            "--invite" => {
                options.invite = value("--invite")?
                    .parse::<InviteChannel>()
                    .map_err(|e| e.to_string())?
            }
            "--map" => {
                let m = value("--map")?;
                let (header, field) = m.split_once('=').ok_or_else(|| {
                    format!(
                        "--map takes HEADER=FIELD (FIELD empty to ignore the column), got '{m}'"
                    )
                })?;
                let field = (!field.trim().is_empty()).then(|| field.trim().to_owned());
                options.mapping.insert(header.trim().to_owned(), field);
            }
            // What fills a column the file lacks, as the upload's
            // `column-defaults` metadata gives it: one value for every row,
            // or `from:TITLE`, Platform proposed from that column.
            "--defaults" => {
                let pairs = value("--defaults")?;
                for pair in pairs.split(',').filter(|p| !p.trim().is_empty()) {
                    let (field, v) = pair.split_once('=').ok_or_else(|| {
                        format!("--defaults takes FIELD=VALUE pairs such as 'Ownership=corporate' or 'Platform=from:Device Type', got '{pair}'")
                    })?;
                    let defaults = &mut options.column_defaults;
                    match v.trim_start().strip_prefix("from:") {
                        Some(column) => defaults.set_from(field.trim(), column),
                        None => defaults.set(field.trim(), v),
                    }
                    .map_err(|e| e.to_string())?;
                }
            }
            "-h" | "--help" => return Err(USAGE.into()),
            s if s.starts_with("--") => return Err(format!("unknown option '{s}'\n{USAGE}")),
            _ if file.is_none() => file = Some(arg),
            _ => return Err(format!("only one file at a time\n{USAGE}")),
        }
    }
    Ok(Args {
        file: file.ok_or_else(|| format!("which file?\n{USAGE}"))?,
        json,
        errors_csv,
        options,
    })
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1).peekable();
    match argv.peek().map(String::as_str) {
        Some("ade-token") => return ade::check_token(argv.skip(1)),
        Some("ade-keypair") => return ade::write_keypair(argv.skip(1)),
        _ => {}
    }
    let args = match parse_args(argv) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let path = args.file.clone();
    let open =
        || File::open(&path).map(|f| Box::new(BufReader::with_capacity(256 * 1024, f)) as BoxRead);
    let report = Report::new("", &args.file, &args.options);
    let (report, code) = match scan(open, &args.options, |_| {}) {
        Ok(s) => {
            let mut report = report.with_scan(&s);
            let invalid = s.has_errors();
            if let (true, Some(out)) = (invalid, &args.errors_csv) {
                if let Err(e) = write_errors(open, &s, &args.options, out) {
                    eprintln!("{out}: {e}");
                    return ExitCode::from(2);
                }
            }
            report.status = if invalid && args.options.on_error == OnError::RejectFile {
                ImportStatus::Rejected
            } else {
                ImportStatus::Completed
            };
            (report, if invalid { 1 } else { 0 })
        }
        Err(e) => (report.file_error(&e), 2),
    };
    let mut out = io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(io::Error::other)
            .and_then(|_| writeln!(out))
    } else {
        print_human(&mut out, &report)
    };
    if written.is_err() {
        return ExitCode::from(2);
    }
    ExitCode::from(code)
}

/// Streams every row in error to `out`, one row in memory at a time.
fn write_errors(
    open: impl Fn() -> io::Result<BoxRead>,
    scan: &shared::import::Scan,
    options: &ImportOptions,
    out: &str,
) -> Result<u64, String> {
    let file = File::create(out).map_err(|e| e.to_string())?;
    let mut w = io::BufWriter::with_capacity(256 * 1024, file);
    let input = open().map_err(|e| e.to_string())?;
    let rows = shared::import::report::write_errors_csv(input, scan, options, &mut w)
        .map_err(|e| e.to_string())?;
    w.flush().map_err(|e| e.to_string())?;
    Ok(rows)
}

fn print_human(out: &mut impl Write, r: &Report) -> io::Result<()> {
    let c = &r.counts;
    match r.dialect {
        Some(d) => writeln!(
            out,
            "{}: {} rows, {} valid, {} invalid ({}, delimiter {})",
            r.key,
            c.rows,
            c.valid_rows,
            c.rows - c.valid_rows,
            d.encoding.label(),
            match d.delimiter {
                b'\t' => "tab".to_owned(),
                b => format!("'{}'", b as char),
            }
        )?,
        None => writeln!(out, "{}: could not be read", r.key)?,
    }
    if let Some(format) = &r.format {
        writeln!(out, "recognised: a {format} file")?;
    }
    if !r.mapping.is_empty() {
        let cols: Vec<String> = r
            .mapping
            .iter()
            .map(|(f, h)| format!("{f} <- \"{h}\""))
            .collect();
        writeln!(out, "columns: {}", cols.join(", "))?;
    }
    let filled: Vec<String> = r
        .options
        .column_defaults
        .iter()
        .filter_map(|(f, fill)| match fill {
            Fill::Value(v) => Some(format!("{f} = {v}")),
            Fill::From { .. } => None,
        })
        .collect();
    if !filled.is_empty() {
        writeln!(out, "filled for every row: {}", filled.join(", "))?;
    }
    if let Some(p) = &r.platform_proposals {
        let mut values: Vec<String> = p
            .values
            .iter()
            .map(|v| {
                format!(
                    "'{}' -> {} ({} row(s))",
                    v.value,
                    v.platform.unwrap_or("no proposal"),
                    v.rows
                )
            })
            .collect();
        if p.other_rows > 0 {
            values.push(format!("other values ({} row(s))", p.other_rows));
        }
        writeln!(
            out,
            "Platform proposed from '{}': {}; {} row(s) without one",
            p.column,
            values.join(", "),
            p.without
        )?;
    }
    if !r.ignored_columns.is_empty() {
        writeln!(out, "ignored columns: {}", r.ignored_columns.join(", "))?;
    }
    for note in &r.column_notes {
        writeln!(out, "note: {note}")?;
    }
    if r.duplicate_email_groups > 0 {
        writeln!(
            out,
            "{} email(s) appear on several rows: the last row's details are kept, and every row gets its own invite",
            r.duplicate_email_groups
        )?;
    }
    for e in &r.errors {
        let at = if e.column.is_empty() {
            String::new()
        } else {
            format!(", {}", e.column)
        };
        writeln!(out, "error   row {}{at}: {}", e.row, e.message)?;
    }
    if r.errors_total > r.errors.len() as u64 {
        writeln!(
            out,
            "... and {} more errors (--errors-csv FILE writes every row in error); by column: {}",
            r.errors_total - r.errors.len() as u64,
            r.error_totals
                .by_column
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    for w in &r.warnings {
        writeln!(out, "warning row {}, {}: {}", w.row, w.column, w.message)?;
    }
    if r.warnings_total > r.warnings.len() as u64 {
        writeln!(
            out,
            "... and {} more warnings",
            r.warnings_total - r.warnings.len() as u64
        )?;
    }
    let verdict = match (r.status, r.errors_total == 0) {
        (ImportStatus::Completed, true) => "valid: ready to upload".to_owned(),
        (ImportStatus::Completed, false) => format!(
            "{} valid rows would be imported; the invalid ones would be skipped",
            c.valid_rows
        ),
        _ => "rejected: fix the rows above and validate again (or import with --on-error skip-invalid-rows)".into(),
    };
    writeln!(out, "{verdict}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_options() {
        let a = args(&[
            "validate",
            "f.csv",
            "--json",
            "--on-error",
            "skip-invalid-rows",
            "--map",
            "Asset Tag=serial_number",
            "--map",
            "Notes=",
        ])
        .unwrap();
        assert_eq!(a.file, "f.csv");
        assert!(a.json);
        assert_eq!(a.options.on_error, OnError::SkipInvalidRows);
        assert_eq!(
            a.options.mapping["Asset Tag"].as_deref(),
            Some("serial_number")
        );
        assert_eq!(a.options.mapping["Notes"], None);
    }

    #[test]
    fn refuses_bad_usage() {
        assert!(args(&[]).is_err());
        assert!(args(&["check", "f"]).is_err());
        assert!(args(&["validate"]).is_err());
        assert!(args(&["validate", "a", "b"]).is_err());
        assert!(args(&["validate", "a", "--on-error", "maybe"])
            .unwrap_err()
            .contains("skip-invalid-rows"));
        assert!(args(&["validate", "a", "--nope"]).is_err());
    }
}
