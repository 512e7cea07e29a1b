//! Reading spreadsheet exports: encodings, delimiters, row numbers, header mapping.

pub mod encoding;
pub mod formats;
pub mod formula;
pub mod header;
pub mod stream;

pub use encoding::TextEncoding;
pub use header::{Ambiguous, ColumnMap, Field, HeaderError, ManualMapping};
pub use stream::{BoxRead, Dialect, ReadError, RecordStream};
