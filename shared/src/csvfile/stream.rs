//! Streams the records of a spreadsheet export: decodes it, detects the
//! delimiter from the header line, and numbers each record the way a
//! spreadsheet shows it (header = row 1, a quoted multi-line cell stays one row,
//! blank lines still count as rows).

use std::io::{self, BufRead, BufReader, Cursor, Read};

use serde::{Deserialize, Serialize};

use super::encoding::{as_not_utf8, DecodingReader, TextEncoding};

/// How a file is written: its encoding and delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dialect {
    pub encoding: TextEncoding,
    #[serde(with = "delimiter_name")]
    pub delimiter: u8,
}

mod delimiter_name {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &u8, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match d {
            b'\t' => "tab",
            b';' => ";",
            _ => ",",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
        Ok(match String::deserialize(d)?.as_str() {
            "tab" | "\t" => b'\t',
            ";" => b';',
            _ => b',',
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not valid in the encoding being read; a UTF-8 guess should be retried as Windows-1252.
    #[error("the file is not valid {encoding} text (byte {offset}); save it as CSV UTF-8 and upload it again")]
    BadEncoding { encoding: &'static str, offset: u64 },
    #[error("the file could not be read: {0}")]
    Io(#[source] io::Error),
    #[error("row {row}: {message}")]
    Malformed { row: u64, message: String },
    #[error(
        "row {row}: the row goes on for more than 1 MB: most likely a quote (\") opens a cell \
         that is never closed, so the rows after it are read as that one cell; check the quotes \
         on this row and export again"
    )]
    RecordTooLong { row: u64 },
}

/// Most bytes one record (row) may take: far more than any real row (the
/// longest cells allowed are a few KB), small enough that a runaway quoted cell
/// stops the pass instead of filling memory with the rest of the file.
pub const MAX_RECORD_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("record too long")]
struct TooLong;

/// Fails a read once the current record has taken more than its allowance
/// (set by [`RecordStream`] after each record). The CSV reader reads ahead by
/// its buffer, so the allowance has that much slack.
struct RecordLimit<R> {
    inner: R,
    read: u64,
    allowed_until: std::cell::Cell<u64>,
}

impl<R: Read> Read for RecordLimit<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.read > self.allowed_until.get() {
            return Err(io::Error::other(TooLong));
        }
        let n = self.inner.read(out)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// The CSV reader's own read-ahead, at most.
const READ_AHEAD_SLACK: u64 = 64 * 1024;

impl ReadError {
    fn from_io(e: io::Error) -> Self {
        match as_not_utf8(&e) {
            Some(n) => ReadError::BadEncoding {
                encoding: n.encoding,
                offset: n.offset,
            },
            None => ReadError::Io(e),
        }
    }

    fn from_csv(e: csv::Error) -> Self {
        let row = e.position().map_or(0, |p| p.line());
        match e.into_kind() {
            csv::ErrorKind::Io(io) => Self::from_io(io),
            other => ReadError::Malformed {
                row,
                message: format!("{other:?}"),
            },
        }
    }
}

fn is_too_long(e: &csv::Error) -> bool {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.get_ref().is_some_and(|inner| inner.is::<TooLong>()),
        _ => false,
    }
}

const SNIFF_BUF: usize = 256 * 1024;

/// The boxed form keeps the concrete reader type out of every signature.
pub type BoxRead = Box<dyn Read + Send>;

/// The layers under the CSV reader: sniffed prefix + rest, decoded, line endings normalised.
type TextLayers =
    RecordLimit<BufReader<LineEndings<DecodingReader<io::Chain<Cursor<Vec<u8>>, BoxRead>>>>>;

pub struct RecordStream {
    reader: csv::Reader<TextLayers>,
    dialect: Dialect,
    record: csv::StringRecord,
    embedded_newlines: u64,
    row: u64,
}

impl RecordStream {
    /// Opens a stream. `encoding`: `None` to detect from the byte-order mark
    /// (UTF-8 when there is none), or the encoding an earlier pass settled on.
    pub fn open(mut inner: BoxRead, encoding: Option<TextEncoding>) -> Result<Self, ReadError> {
        let mut prefix = Vec::with_capacity(4);
        (&mut inner)
            .take(4)
            .read_to_end(&mut prefix)
            .map_err(ReadError::Io)?;
        let encoding = encoding.unwrap_or_else(|| TextEncoding::from_bom(&prefix));
        let decoded = DecodingReader::new(Cursor::new(prefix).chain(inner), encoding);
        let mut buffered = BufReader::with_capacity(SNIFF_BUF, LineEndings::new(decoded));
        let delimiter = sniff_delimiter(buffered.fill_buf().map_err(ReadError::from_io)?);
        let limited = RecordLimit {
            inner: buffered,
            read: 0,
            allowed_until: std::cell::Cell::new(MAX_RECORD_BYTES + READ_AHEAD_SLACK),
        };
        let reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(limited);
        Ok(Self {
            reader,
            dialect: Dialect {
                encoding,
                delimiter,
            },
            record: csv::StringRecord::new(),
            embedded_newlines: 0,
            row: 0,
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Advances to the next non-blank record; returns its spreadsheet row number.
    pub fn next_record(&mut self) -> Result<Option<u64>, ReadError> {
        loop {
            // Where the record starts (before the read: a failed read moves on).
            let next_row = self.reader.position().line() - self.embedded_newlines;
            let read = self.reader.read_record(&mut self.record);
            match read {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) if is_too_long(&e) => {
                    return Err(ReadError::RecordTooLong { row: next_row })
                }
                Err(e) => return Err(ReadError::from_csv(e)),
            }
            let start = self.reader.position().byte();
            self.reader
                .get_ref()
                .allowed_until
                .set(start + MAX_RECORD_BYTES + READ_AHEAD_SLACK);
            // Every record ends in exactly one '\n' (see LineEndings), so the line
            // after it, less one, less its own embedded newlines, is where it starts.
            // The record's cells lie end to end in one buffer: one scan answers both questions.
            let cells = self.record.as_slice();
            let own = memchr::memchr_iter(b'\n', cells.as_bytes()).count() as u64;
            let start_line = self.reader.position().line() - 1 - own;
            self.row = start_line - self.embedded_newlines;
            self.embedded_newlines += own;
            if !cells.trim().is_empty() {
                return Ok(Some(self.row));
            }
        }
    }

    pub fn record(&self) -> &csv::StringRecord {
        &self.record
    }
}

/// Normalises CRLF and lone CR to LF and makes sure the text ends with LF, so
/// that the CSV reader's line count is exact (it is not for CRLF or a last line
/// without a terminator). Inside quoted cells a CRLF also becomes LF.
pub struct LineEndings<R> {
    inner: R,
    after_cr: bool,
    last: Option<u8>,
    done: bool,
}

impl<R: Read> LineEndings<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            after_cr: false,
            last: None,
            done: false,
        }
    }
}

impl<R: Read> Read for LineEndings<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.done || out.is_empty() {
                return Ok(0);
            }
            let n = self.inner.read(out)?;
            if n == 0 {
                self.done = true;
                if self.last.is_some_and(|b| b != b'\n') {
                    out[0] = b'\n';
                    return Ok(1);
                }
                return Ok(0);
            }
            // Most files have no CR at all: nothing to rewrite then.
            if !self.after_cr && !out[..n].contains(&b'\r') {
                self.last = Some(out[n - 1]);
                return Ok(n);
            }
            let mut w = 0;
            for r in 0..n {
                let b = out[r];
                if b == b'\n' && self.after_cr {
                    self.after_cr = false;
                    continue; // the CR already became a LF
                }
                self.after_cr = b == b'\r';
                out[w] = if b == b'\r' { b'\n' } else { b };
                w += 1;
            }
            if w > 0 {
                self.last = Some(out[w - 1]);
                return Ok(w);
            }
        }
    }
}

/// The delimiter used most in the header line, outside quotes: `,`, `;` or tab.
pub fn sniff_delimiter(start: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in start {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let candidates = [b',', b';', b'\t'];
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        candidates[best]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(bytes: &[u8]) -> (Dialect, Vec<(u64, Vec<String>)>) {
        let mut s = RecordStream::open(Box::new(Cursor::new(bytes.to_vec())), None).unwrap();
        let mut out = Vec::new();
        while let Some(row) = s.next_record().unwrap() {
            out.push((row, s.record().iter().map(str::to_owned).collect()));
        }
        (s.dialect(), out)
    }

    /// A stray quote would make the rest of the file one cell: the pass stops
    /// at that row after about a megabyte instead of reading it all into memory.
    #[test]
    fn a_quote_that_never_closes_stops_at_its_row() {
        let mut file = b"Serial,Name\nS1,Ann\nS2,\"Bob\n".to_vec();
        for i in 0..200_000 {
            file.extend_from_slice(format!("S{i},Someone {i}\n").as_bytes());
        }
        let mut s = RecordStream::open(Box::new(Cursor::new(file)), None).unwrap();
        assert_eq!(s.next_record().unwrap(), Some(1));
        assert_eq!(s.next_record().unwrap(), Some(2));
        match s.next_record() {
            Err(e @ ReadError::RecordTooLong { row: 3 }) => {
                assert!(e.to_string().starts_with("row 3: "), "{e}")
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }

    /// The allowance is per record: a long file of ordinary rows is read to its end.
    #[test]
    fn long_files_of_short_rows_are_not_limited() {
        let mut file = b"Serial,Name\n".to_vec();
        for i in 0..200_000 {
            file.extend_from_slice(format!("S{i},\"Someone, {i}\"\n").as_bytes());
        }
        let mut s = RecordStream::open(Box::new(Cursor::new(file)), None).unwrap();
        let mut n = 0;
        while s.next_record().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 200_001);
    }

    #[test]
    fn line_endings_are_normalised() {
        for (input, want) in [
            ("a\r\nb\r\n", "a\nb\n"),
            ("a\rb", "a\nb\n"),
            ("a\nb", "a\nb\n"),
            ("", ""),
            ("a\r\r\nb\n", "a\n\nb\n"),
        ] {
            let mut s = String::new();
            LineEndings::new(input.as_bytes())
                .read_to_string(&mut s)
                .unwrap();
            assert_eq!(s, want, "{input:?}");
        }
    }

    #[test]
    fn row_numbers_hold_for_every_line_ending() {
        for nl in ["\n", "\r\n", "\r"] {
            let data = ["Name", "A", "", "\"B", "b\"", "C"].join(nl);
            let (_, r) = rows(data.as_bytes());
            let numbers: Vec<u64> = r.iter().map(|(n, _)| *n).collect();
            assert_eq!(numbers, vec![1, 2, 4, 5], "{nl:?}");
        }
    }

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter(b"Name,Email,Platform\n"), b',');
        assert_eq!(sniff_delimiter(b"Name;Email;Platform\r\n"), b';');
        assert_eq!(sniff_delimiter(b"Name\tEmail\tPlatform\n"), b'\t');
        assert_eq!(sniff_delimiter(b"\"Last, First\";Email;X\n"), b';');
        assert_eq!(sniff_delimiter(b"Name\n"), b',');
    }

    #[test]
    fn numbers_rows_like_a_spreadsheet() {
        let data =
            b"Name,Note\r\nA,\"two\r\nlines\"\r\n\r\nB,x\r\n,\r\nC,\"a, \"\"quoted\"\" b\"\r\n";
        let (d, r) = rows(data);
        assert_eq!(d.delimiter, b',');
        let numbers: Vec<u64> = r.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, vec![1, 2, 4, 6]);
        assert_eq!(r[1].1[1], "two\nlines");
        assert_eq!(r[3].1[1], "a, \"quoted\" b");
    }

    #[test]
    fn non_utf8_far_into_a_file_is_noticed_mid_stream() {
        let mut bytes = "Name\n".to_string().into_bytes();
        bytes.extend("abc\n".repeat(200_000).bytes());
        bytes.extend_from_slice(b"Jos\xE9\n");
        let mut s = RecordStream::open(Box::new(Cursor::new(bytes)), None).unwrap();
        let err = loop {
            match s.next_record() {
                Err(e) => break e,
                Ok(None) => panic!("a non-UTF-8 byte went unnoticed"),
                Ok(Some(_)) => {}
            }
        };
        assert!(matches!(err, ReadError::BadEncoding { .. }));
    }

    #[test]
    fn decodes_utf16_and_semicolons() {
        let mut bytes = vec![0xFF, 0xFE];
        for u in "Name;Ville\r\nZoë;Besançon\r\n".encode_utf16() {
            bytes.extend(u.to_le_bytes());
        }
        let (d, r) = rows(&bytes);
        assert_eq!(d.encoding, TextEncoding::Utf16le);
        assert_eq!(d.delimiter, b';');
        assert_eq!(r[1].1, vec!["Zoë", "Besançon"]);
    }

    #[test]
    fn non_utf8_is_reported_for_a_retry() {
        let bytes = b"Name\nJos\xE9\n".to_vec();
        // Small files fail while the delimiter is sniffed, large ones on a later read.
        let err = match RecordStream::open(Box::new(Cursor::new(bytes.clone())), None) {
            Err(e) => e,
            Ok(mut s) => loop {
                match s.next_record() {
                    Err(e) => break e,
                    Ok(None) => panic!("a non-UTF-8 byte went unnoticed"),
                    Ok(Some(_)) => {}
                }
            },
        };
        assert!(
            matches!(err, ReadError::BadEncoding { offset: 8, .. }),
            "{err:?}"
        );
        let mut ok = RecordStream::open(
            Box::new(Cursor::new(bytes)),
            Some(TextEncoding::Windows1252),
        )
        .unwrap();
        assert_eq!(ok.next_record().unwrap(), Some(1));
        assert_eq!(ok.next_record().unwrap(), Some(2));
        assert_eq!(&ok.record()[0], "José");
    }
}
