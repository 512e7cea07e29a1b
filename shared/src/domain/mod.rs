//! Domain types that validate when built (one file each: every field rule of
//! the seeds lives in them: fields are case-sensitive, ownership and platform
//! take fixed values, the serial number is kept byte for byte), and the
//! options of an import.

pub mod issue;

pub mod email;
pub mod groups;
pub mod mobile;
pub mod ownership;
pub mod password;
pub mod platform;
pub mod serial_number;

pub mod expiry;
pub mod invite_state;
pub mod options;

pub use email::{email_key, Email};
pub use expiry::Expiry;
pub use groups::{check_groups, parse_groups};
pub use invite_state::InviteState;
pub use issue::{clip_to, IssueKind, ValueError};
pub use mobile::Mobile;
pub use options::{
    ColumnDefaults, ExistingPolicy, ImportDefaults, ImportOptions, InviteChannel, OnError,
    OptionError, UploadChoices,
};
pub use ownership::Ownership;
pub use password::Password;
pub use platform::Platform;
pub use serial_number::{invisible_in_serial, SerialNumber};
