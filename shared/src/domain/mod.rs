//! Domain types that validate when built, and the options of an import.

pub mod expiry;
pub mod invite_state;
pub mod options;
pub mod values;

pub use expiry::Expiry;
pub use invite_state::InviteState;
pub use options::{
    ExistingPolicy, ImportDefaults, ImportOptions, InviteChannel, OnError, OptionError,
    UploadChoices,
};
pub use values::{
    email_key, Email, IssueKind, Mobile, Ownership, Password, Platform, SerialNumber, ValueError,
};
