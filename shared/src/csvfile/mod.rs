//! Reading spreadsheet exports: encodings, delimiters, row numbers, header mapping.

pub mod encoding;
pub mod formats;
pub mod formula;
pub mod header;
pub mod proposals;
pub mod stream;

pub use encoding::TextEncoding;
pub use header::{
    Ambiguous, ColumnMap, Field, Fill, HeaderError, HeaderSeen, ManualMapping, Proposed,
    SourceProblem,
};
pub use proposals::{PlatformSource, Proposal};
pub use stream::{BoxRead, Dialect, ReadError, RecordStream};
