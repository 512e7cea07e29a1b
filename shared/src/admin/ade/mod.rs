//! Apple ADE accounts from the admin's side (Admin > Apple ADE): create an
//! account (its MDM server's key pair is made here; the private key goes to
//! the secrets and is never shown), hand out its certificate for ABM, take the
//! server token ABM gives back, change the account's settings, ask for a sync
//! and delete it. The sync itself is the `ade-sync` function's
//! ([`crate::ade::sync`]); these use cases only queue its jobs.

mod accounts;
mod input;
mod token_upload;
mod view;

pub use accounts::{
    certificate, create, delete, get, list, sync_now, update, AccountDeleted, Certificate,
    SyncQueued,
};
pub use input::{CreateInput, Groups, SettingsInput, SyncInput};
pub use token_upload::{upload_token, TokenUploaded};
pub use view::{AccountView, ReportView, TokenView, TOKEN_WARNING_DAYS};

use crate::ade::ports::{AdeAccounts, AdeSecrets, DepConnector, SyncJobs};

/// The ports of the ADE use cases: the accounts' records and secrets, the
/// sync function's queue, and Apple (to check an uploaded token).
pub trait AdePorts: Send + Sync {
    type Accounts: AdeAccounts;
    type Secrets: AdeSecrets;
    type Jobs: SyncJobs;
    type Apple: DepConnector;
    fn accounts(&self) -> &Self::Accounts;
    fn secrets(&self) -> &Self::Secrets;
    fn jobs(&self) -> &Self::Jobs;
    fn apple(&self) -> &Self::Apple;
}
