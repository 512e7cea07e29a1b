//! What the ADE use cases need from the outside: Apple's device-assignment
//! API, the accounts' records, their secrets, and the devices table.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::account::{AccountSettings, AdeAccount, FullRequest, SyncState, TokenInfo};
use super::device::AdeDevice;
use super::token::ServerToken;
use crate::domain::Platform;
use crate::port_error::PortError;
use crate::records::AdeLink;

/// One page of `POST /server/devices` (fetch) or `POST /devices/sync`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePage {
    #[serde(default)]
    pub devices: Vec<AdeDevice>,
    pub cursor: Option<String>,
    #[serde(default)]
    pub more_to_follow: bool,
}

/// What Apple's `GET /account` says of the MDM server (the fields kept).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppleAccount {
    pub server_name: Option<String>,
    pub server_uuid: Option<String>,
    pub admin_id: Option<String>,
    pub org_name: Option<String>,
}

/// How a call to Apple failed, as far as the sync cares. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DepError {
    /// 401 again after one new session: the token is expired, revoked or not Apple's.
    #[error("Apple refused the server token (401): {0}")]
    Unauthorized(String),
    /// 403 `T_C_NOT_SIGNED`.
    #[error("Apple Business Manager's terms and conditions must be accepted (403 T_C_NOT_SIGNED)")]
    TermsNotSigned,
    /// 403 otherwise (`ACCESS_DENIED`).
    #[error("Apple denied access (403): {0}")]
    AccessDenied(String),
    /// 400 `EXPIRED_CURSOR`.
    #[error("Apple says the cursor expired")]
    CursorExpired,
    /// 400 `INVALID_CURSOR` (or `CURSOR_REQUIRED`).
    #[error("Apple says the cursor is invalid")]
    CursorInvalid,
    /// 400 `EXHAUSTED_CURSOR`: a fetch has nothing more.
    #[error("Apple says the fetch cursor is exhausted")]
    CursorExhausted,
    /// 429, with Apple's `Retry-After` when it sent one.
    #[error("Apple is throttling (429)")]
    Throttled { retry_after: Option<Duration> },
    /// 5xx, or no answer at all (connection, timeout).
    #[error("Apple's service is unavailable: {message}")]
    Unavailable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Any other answer this client does not expect (a 400 it did not cause knowingly, bad JSON).
    #[error("Apple's answer was not understood: {0}")]
    Protocol(String),
}

/// A client of Apple's API for one server token; it keeps its session
/// (`X-ADM-Auth-Session`) between calls and re-authenticates once on a 401.
pub trait DepSession: Send + Sync {
    fn account(&self) -> impl Future<Output = Result<AppleAccount, DepError>> + Send;
    fn fetch(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<DevicePage, DepError>> + Send;
    fn sync(
        &self,
        cursor: &str,
        limit: u32,
    ) -> impl Future<Output = Result<DevicePage, DepError>> + Send;
    /// Requests sent so far (sessions included), for the run's report.
    fn requests(&self) -> u64;
}

/// Makes a [`DepSession`] for a token (the base URL is the adapter's configuration).
pub trait DepConnector: Send + Sync {
    type Session: DepSession;
    fn connect(&self, token: &ServerToken) -> Self::Session;
}

/// A lease on an account's sync was lost (another run took it over).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("another run holds this account's sync")]
    LeaseLost,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The accounts' records.
pub trait AdeAccounts: Send + Sync {
    fn get(&self, id: &str) -> impl Future<Output = Result<Option<AdeAccount>, PortError>> + Send;
    /// Every account (an organisation has a handful).
    fn list(&self) -> impl Future<Output = Result<Vec<AdeAccount>, PortError>> + Send;
    /// Stores a new account; refuses an id that exists.
    fn create(&self, account: &AdeAccount) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Replaces the settings (and asks for a full fetch when given one);
    /// `false` when the account does not exist.
    fn put_settings(
        &self,
        id: &str,
        settings: &AccountSettings,
        full: Option<FullRequest>,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// Records a new (or renewed) token's facts; the cursor and settings stay,
    /// unless `new_server` (the token is another MDM server's: fetch afresh).
    fn put_token(
        &self,
        id: &str,
        token: &TokenInfo,
        new_server: bool,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// Asks the next run for a full fetch; `false` when the account does not exist.
    fn request_full(
        &self,
        id: &str,
        request: FullRequest,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    fn delete(&self, id: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Takes the account's sync lease until `until` if it is free (or lapsed, or ours).
    fn lease(
        &self,
        id: &str,
        owner: &str,
        now: u64,
        until: u64,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
    fn release(&self, id: &str, owner: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Saves the sync state, only while `owner` holds the lease.
    fn save_sync(
        &self,
        id: &str,
        owner: &str,
        sync: &SyncState,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The accounts' secrets: the MDM server's private key and the server token's credentials.
pub trait AdeSecrets: Send + Sync {
    fn create(
        &self,
        id: &str,
        private_key_pem: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    fn private_key(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<String>, PortError>> + Send;
    fn put_token(
        &self,
        id: &str,
        token: &ServerToken,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    fn token(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<ServerToken>, PortError>> + Send;
    fn delete(&self, id: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// A device Apple lists, to be pre-approved (or linked beside a CSV pre-approval).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedDevice {
    pub serial: String,
    pub platform: Platform,
    pub link: AdeLink,
}

/// What a removal did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removal {
    /// Pre-approvals this account made, never enrolled, no CSV row behind them: deleted.
    pub removed: u64,
    /// Enrolled, or pre-approved by a CSV import too: kept, only unlinked from the account.
    pub kept: u64,
}

/// The devices table, as the ADE sync writes it. Every write holds the rules
/// at the write itself (conditions), not only at a read before it.
pub trait AdeDevices: Send + Sync {
    /// Pre-approves each device for the account (one entry per serial): a new
    /// serial becomes a pre-approved, corporate device of the account; an
    /// existing one keeps its status, user, password, groups and domain and
    /// gets the account's link beside them. `run` marks them seen by a full fetch.
    fn upsert(
        &self,
        settings: &AccountSettings,
        devices: &[ListedDevice],
        run: Option<&str>,
        now: u64,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Apple no longer assigns these serials to the account.
    fn remove(
        &self,
        account_id: &str,
        serials: &[String],
    ) -> impl Future<Output = Result<Removal, PortError>> + Send;
    /// After a complete full fetch marked `run`: the account's devices it did
    /// not list are removed as by [`AdeDevices::remove`].
    fn remove_unseen(
        &self,
        account_id: &str,
        run: &str,
    ) -> impl Future<Output = Result<Removal, PortError>> + Send;
    /// Every device the account lists is unlinked, its own pre-approvals removed (account deleted).
    fn remove_all(
        &self,
        account_id: &str,
    ) -> impl Future<Output = Result<Removal, PortError>> + Send;
}

/// What the ADE sync function is asked to do (a queue message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SyncJob {
    /// Sync one account now (an admin's "Sync now", a token upload, the schedule's fan-out).
    Sync {
        account: String,
        #[serde(default)]
        full: bool,
        #[serde(default)]
        requested: bool,
    },
    /// A deleted account: unlink its devices and remove its own pre-approvals.
    Purge { account: String },
}

/// The queue the ADE sync function reads.
pub trait SyncJobs: Send + Sync {
    fn send(&self, job: &SyncJob) -> impl Future<Output = Result<(), PortError>> + Send;
}
