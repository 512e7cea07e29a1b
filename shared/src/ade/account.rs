//! An ADE account as stored: the admin's settings, the MDM server's public
//! certificate, what the uploaded server token says of itself (never its
//! secrets, which are in Secrets Manager) and where its sync stands.

use serde::{Deserialize, Serialize};

/// What the admin chose for the devices this account lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSettings {
    pub name: String,
    /// The seeds' "Add as Pre-approved Device" (on by default).
    pub preapprove: bool,
    pub domain: Option<String>,
    pub groups: Vec<String>,
}

/// The uploaded server token's public facts and what Apple's `GET /account` said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub consumer_key: String,
    pub access_token_expiry: String,
    pub expiry_epoch: u64,
    pub server_name: Option<String>,
    pub server_uuid: Option<String>,
    pub org_name: Option<String>,
    pub admin_id: Option<String>,
    pub uploaded_at: String,
    pub uploaded_by: String,
}

/// Where an account's connection to Apple stands, as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Created; the server token is not uploaded yet.
    AwaitingToken,
    Ok,
    /// The token's `access_token_expiry` passed: download a new one in ABM.
    TokenExpired,
    /// Apple refused the token (401 after one new session): download a new one.
    TokenRejected,
    /// Apple answered 403 `T_C_NOT_SIGNED`: an ABM administrator must accept the new terms.
    TermsNotAccepted,
    /// Apple answered 403 `ACCESS_DENIED`.
    AccessDenied,
    /// Apple was unreachable, throttled or failing; retried on a later run.
    AppleUnavailable,
}

impl Health {
    /// What the admin should do about it, in the page's words.
    pub fn advice(self) -> &'static str {
        match self {
            Self::AwaitingToken => "download this account's certificate, upload it in Apple Business Manager (Preferences > Your MDM Servers), then upload the server token ABM gives you",
            Self::Ok => "connected",
            Self::TokenExpired => "the server token expired: in Apple Business Manager download a new token for this MDM server and upload it here (the account keeps its settings and devices)",
            Self::TokenRejected => "Apple refused the server token: download a new token for this MDM server in Apple Business Manager and upload it here",
            Self::TermsNotAccepted => "accept the new terms and conditions in Apple Business Manager (an administrator must sign in to ABM); the sync resumes on its next run",
            Self::AccessDenied => "Apple denied access to this MDM server: check in Apple Business Manager that the server still exists, then upload a new token",
            Self::AppleUnavailable => "Apple's service did not answer; the sync is retried on its next run",
        }
    }
}

/// Why the last run was a full fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchReason {
    /// No cursor yet: the account's first sync (or its token was replaced by another server's).
    First,
    /// An admin asked for one.
    Requested,
    /// Apple said the cursor expired or is invalid.
    CursorRefused,
    /// The weekly reconcile: ABM sends no `deleted` when a device is released.
    Weekly,
    /// The account's settings changed (e.g. "Add as Pre-approved Device" turned on).
    SettingsChanged,
}

/// A full fetch under way: resumed where it stopped when a run runs out of time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchProgress {
    /// Marks every device this fetch lists; the reconcile removes the others.
    pub run: String,
    pub cursor: Option<String>,
    pub reason: FetchReason,
    pub started_at: u64,
}

/// One device Apple lists that this product cannot pre-approve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsupported {
    pub serial: String,
    pub family: String,
}

/// What one run did, for the account's page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// `fetch` (a full fetch, whole or in part) or `sync` (changes since the cursor).
    pub kind: String,
    pub started_at: u64,
    pub finished_at: u64,
    /// False when the run stopped for time and the next one goes on.
    pub complete: bool,
    pub pages: u64,
    /// Requests made to Apple (sessions included).
    pub requests: u64,
    /// Entries Apple listed as added, modified or fetched (after duplicates).
    pub listed: u64,
    /// Of those, written as (or kept) pre-approved, or linked beside an existing device.
    pub pre_approved: u64,
    /// Listed but not pre-approved: the account's "Add as Pre-approved Device" is off.
    pub not_pre_approved: u64,
    /// Deleted by Apple (or, after a full fetch, no longer listed) and removed.
    pub removed: u64,
    /// Deleted by Apple but kept: enrolled, or pre-approved by a CSV import too.
    pub kept: u64,
    pub unsupported: u64,
    /// The first of them (the report stays small whatever Apple lists).
    pub unsupported_devices: Vec<Unsupported>,
    /// Entries whose serial number is not one.
    pub invalid: u64,
}

/// At most this many unsupported devices are listed by serial in a report.
pub const UNSUPPORTED_LISTED: usize = 100;

/// Where the account's sync stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    pub health: Health,
    /// Apple's answer that set the health, when it is not `ok` (never a secret).
    pub message: Option<String>,
    /// The cursor to sync from (set once a full fetch completed).
    pub cursor: Option<String>,
    pub fetch: Option<FetchProgress>,
    pub last_full_at: Option<u64>,
    /// A scheduled run waits until then (Apple's `Retry-After`).
    pub retry_at: Option<u64>,
    pub last_run: Option<SyncReport>,
    pub last_success_at: Option<u64>,
}

impl Default for SyncState {
    fn default() -> Self {
        Self {
            health: Health::AwaitingToken,
            message: None,
            cursor: None,
            fetch: None,
            last_full_at: None,
            retry_at: None,
            last_run: None,
            last_success_at: None,
        }
    }
}

/// An ADE account (one MDM server in Apple Business Manager).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdeAccount {
    pub id: String,
    pub settings: AccountSettings,
    /// The MDM server's certificate (public), uploaded in ABM by the admin.
    pub certificate_pem: String,
    pub created_at: String,
    pub created_by: String,
    pub token: Option<TokenInfo>,
    /// A full fetch asked for (by an admin or a settings change); done by the
    /// first full fetch that starts after it. Kept apart from `sync`, which a
    /// running sync rewrites.
    pub full_requested: Option<FullRequest>,
    pub sync: SyncState,
}

/// A full fetch asked for at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullRequest {
    pub at: u64,
    pub reason: FetchReason,
}

impl AdeAccount {
    /// The health at `now`: an expired token shows as expired before any run
    /// notices, and a live token (one Apple accepted at its upload) is not
    /// awaited or expired, whatever a run saved before it came.
    pub fn health_at(&self, now: u64) -> Health {
        match &self.token {
            None => Health::AwaitingToken,
            Some(t) if t.expiry_epoch <= now => Health::TokenExpired,
            Some(_) => match self.sync.health {
                Health::AwaitingToken | Health::TokenExpired => Health::Ok,
                saved => saved,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_token_is_neither_awaited_nor_expired_whatever_a_run_saved() {
        let now = 1_800_000_000;
        let mut a = AdeAccount {
            id: "a".into(),
            settings: AccountSettings {
                name: "n".into(),
                preapprove: true,
                domain: None,
                groups: vec![],
            },
            certificate_pem: String::new(),
            created_at: String::new(),
            created_by: String::new(),
            token: None,
            full_requested: None,
            sync: SyncState::default(),
        };
        assert_eq!(a.health_at(now), Health::AwaitingToken);
        a.token = Some(TokenInfo {
            consumer_key: "CK".into(),
            access_token_expiry: String::new(),
            expiry_epoch: now + 60,
            server_name: None,
            server_uuid: None,
            org_name: None,
            admin_id: None,
            uploaded_at: String::new(),
            uploaded_by: String::new(),
        });
        assert_eq!(
            a.health_at(now),
            Health::Ok,
            "the first token, before any run"
        );
        assert_eq!(a.health_at(now + 60), Health::TokenExpired);
        a.sync.health = Health::TokenExpired;
        assert_eq!(
            a.health_at(now),
            Health::Ok,
            "renewed after a run saw it expired"
        );
        a.sync.health = Health::TermsNotAccepted;
        assert_eq!(
            a.health_at(now),
            Health::TermsNotAccepted,
            "Apple's answers stay"
        );
    }
}
