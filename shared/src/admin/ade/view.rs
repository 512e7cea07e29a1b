//! An ADE account as the admin page shows it: its settings, its token's
//! public facts and how long it has left, its health at the time of asking
//! with what to do about it, and the last sync's report. Never a secret.

use serde::Serialize;

use crate::ade::account::{AdeAccount, Health, SyncReport, TokenInfo, Unsupported};
use crate::clock::rfc3339;

/// The page warns this many days before the server token expires.
pub const TOKEN_WARNING_DAYS: i64 = 30;

const DAY: i64 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    /// The seeds' "Add as Pre-approved Device".
    pub preapprove: bool,
    pub domain: Option<String>,
    pub groups: Vec<String>,
    /// Devices from Apple Business Manager belong to the organisation.
    pub ownership: &'static str,
    pub created_at: String,
    pub created_by: String,
    /// At the time of asking: an expired token shows before any sync notices.
    pub health: Health,
    /// What the admin should do about the health.
    pub advice: &'static str,
    /// Apple's answer that set the health, when it is not `ok`.
    pub message: Option<String>,
    pub token: Option<TokenView>,
    pub last_sync: Option<ReportView>,
    pub last_success_at: Option<String>,
    /// The last full fetch that completed (the weekly reconcile's clock).
    pub last_full_at: Option<String>,
    /// A full fetch was asked for and has not started yet.
    pub full_requested: bool,
    /// A full fetch stopped for time and goes on with the next run.
    pub fetch_in_progress: bool,
    /// Apple asked to wait (`Retry-After`) until then.
    pub retry_at: Option<String>,
}

/// The server token's public facts; its credentials stay in the secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenView {
    pub consumer_key: String,
    pub access_token_expiry: String,
    /// Whole days left (negative once expired), for the page's banner.
    pub expires_in_days: i64,
    pub expired: bool,
    /// Within [`TOKEN_WARNING_DAYS`] of its expiry: time to download a new one.
    pub renew_soon: bool,
    pub server_name: Option<String>,
    pub server_uuid: Option<String>,
    pub org_name: Option<String>,
    pub admin_id: Option<String>,
    pub uploaded_at: String,
    pub uploaded_by: String,
}

/// One sync run's report, its times in RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportView {
    pub kind: String,
    pub started_at: String,
    pub finished_at: String,
    pub complete: bool,
    pub pages: u64,
    pub requests: u64,
    pub listed: u64,
    pub pre_approved: u64,
    pub not_pre_approved: u64,
    pub removed: u64,
    pub kept: u64,
    pub unsupported: u64,
    pub unsupported_devices: Vec<Unsupported>,
    pub invalid: u64,
}

impl From<&SyncReport> for ReportView {
    fn from(r: &SyncReport) -> Self {
        Self {
            kind: r.kind.clone(),
            started_at: rfc3339(r.started_at),
            finished_at: rfc3339(r.finished_at),
            complete: r.complete,
            pages: r.pages,
            requests: r.requests,
            listed: r.listed,
            pre_approved: r.pre_approved,
            not_pre_approved: r.not_pre_approved,
            removed: r.removed,
            kept: r.kept,
            unsupported: r.unsupported,
            unsupported_devices: r.unsupported_devices.clone(),
            invalid: r.invalid,
        }
    }
}

impl TokenView {
    pub fn at(t: &TokenInfo, now: u64) -> Self {
        let left = i64::try_from(t.expiry_epoch).unwrap_or(i64::MAX)
            - i64::try_from(now).unwrap_or(i64::MAX);
        let expired = left <= 0;
        Self {
            consumer_key: t.consumer_key.clone(),
            access_token_expiry: t.access_token_expiry.clone(),
            expires_in_days: left.div_euclid(DAY),
            expired,
            renew_soon: !expired && left <= TOKEN_WARNING_DAYS * DAY,
            server_name: t.server_name.clone(),
            server_uuid: t.server_uuid.clone(),
            org_name: t.org_name.clone(),
            admin_id: t.admin_id.clone(),
            uploaded_at: t.uploaded_at.clone(),
            uploaded_by: t.uploaded_by.clone(),
        }
    }
}

impl AccountView {
    pub fn at(a: &AdeAccount, now: u64) -> Self {
        let health = a.health_at(now);
        Self {
            id: a.id.clone(),
            name: a.settings.name.clone(),
            preapprove: a.settings.preapprove,
            domain: a.settings.domain.clone(),
            groups: a.settings.groups.clone(),
            ownership: "corporate",
            created_at: a.created_at.clone(),
            created_by: a.created_by.clone(),
            health,
            advice: health.advice(),
            // Apple's words belong to the health a sync saw, not to one the clock decided.
            message: (health == a.sync.health && health != Health::Ok)
                .then(|| a.sync.message.clone())
                .flatten(),
            token: a.token.as_ref().map(|t| TokenView::at(t, now)),
            last_sync: a.sync.last_run.as_ref().map(ReportView::from),
            last_success_at: a.sync.last_success_at.map(rfc3339),
            last_full_at: a.sync.last_full_at.map(rfc3339),
            full_requested: a.full_requested.is_some(),
            fetch_in_progress: a.sync.fetch.is_some(),
            retry_at: a.sync.retry_at.filter(|t| *t > now).map(rfc3339),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ade::account::{AccountSettings, SyncState};

    pub(crate) fn token(expiry_epoch: u64) -> TokenInfo {
        TokenInfo {
            consumer_key: "CK_1".into(),
            access_token_expiry: rfc3339(expiry_epoch),
            expiry_epoch,
            server_name: Some("MDM".into()),
            server_uuid: Some("uuid-1".into()),
            org_name: Some("Org".into()),
            admin_id: Some("admin@org.example".into()),
            uploaded_at: "2026-01-01T00:00:00Z".into(),
            uploaded_by: "ada".into(),
        }
    }

    fn account(token: Option<TokenInfo>, health: Health) -> AdeAccount {
        AdeAccount {
            id: "a1".into(),
            settings: AccountSettings {
                name: "Main".into(),
                preapprove: true,
                domain: None,
                groups: vec![],
            },
            certificate_pem: String::new(),
            created_at: "2026-01-01T00:00:00Z".into(),
            created_by: "ada".into(),
            token,
            full_requested: None,
            sync: SyncState {
                health,
                message: Some("Apple said so".into()),
                ..SyncState::default()
            },
        }
    }

    #[test]
    fn the_token_banner_comes_30_days_before_and_turns_red_once_expired() {
        let now = 1_800_000_000;
        let view = |left: i64| TokenView::at(&token((now as i64 + left) as u64), now);
        let far = view(31 * DAY);
        assert_eq!(
            (far.expires_in_days, far.renew_soon, far.expired),
            (31, false, false)
        );
        let soon = view(30 * DAY);
        assert_eq!(
            (soon.expires_in_days, soon.renew_soon, soon.expired),
            (30, true, false)
        );
        let hours = view(3600);
        assert_eq!(
            (hours.expires_in_days, hours.renew_soon, hours.expired),
            (0, true, false)
        );
        let gone = view(0);
        assert_eq!((gone.renew_soon, gone.expired), (false, true));
        assert_eq!(view(-3600).expires_in_days, -1);
        assert_eq!(view(-2 * DAY).expires_in_days, -2);
    }

    #[test]
    fn health_and_advice_are_those_at_the_time_of_asking() {
        let now = 1_800_000_000;
        let waiting = AccountView::at(&account(None, Health::AwaitingToken), now);
        assert_eq!(waiting.health, Health::AwaitingToken);
        assert!(waiting.advice.contains("certificate"), "{}", waiting.advice);
        let expired = AccountView::at(&account(Some(token(now - 1)), Health::Ok), now);
        assert_eq!(expired.health, Health::TokenExpired);
        assert_eq!(expired.message, None, "no sync said so");
        let terms = AccountView::at(
            &account(Some(token(now + 90 * 86_400)), Health::TermsNotAccepted),
            now,
        );
        assert_eq!(terms.health, Health::TermsNotAccepted);
        assert!(terms.advice.contains("terms"));
        assert_eq!(terms.message.as_deref(), Some("Apple said so"));
        assert_eq!(terms.ownership, "corporate");
    }
}
