//! An account's life apart from its token: created with its key pair, read,
//! its certificate downloaded, its settings changed, a sync asked for, and
//! deleted with its secret and (by the sync function) its own pre-approvals.

use serde::Serialize;

use super::input::{CreateInput, SettingsInput, SyncInput};
use super::view::AccountView;
use super::AdePorts;
use crate::ade::account::{AdeAccount, FetchReason, FullRequest, Health, SyncState};
use crate::ade::keypair;
use crate::ade::ports::{AdeAccounts, AdeSecrets, SyncJob, SyncJobs};
use crate::admin::{AdminError, Items};
use crate::clock::rfc3339;
use crate::port_error::PortError;

/// X.520's bound on a certificate's common name.
const MAX_COMMON_NAME: usize = 64;

pub(super) fn no_account() -> AdminError {
    AdminError::NotFound("no ADE account has this id; the list shows them all".into())
}

pub(super) async fn account_of(
    accounts: &impl AdeAccounts,
    id: &str,
) -> Result<AdeAccount, AdminError> {
    accounts.get(id).await?.ok_or_else(no_account)
}

/// Makes the MDM server's key pair, keeps the private key in the secrets and
/// the account (with the certificate) in its table. The key is stored first:
/// an account is never without its key; a crash between the two leaves only
/// an unused secret.
pub async fn create(
    ports: &impl AdePorts,
    input: &CreateInput,
    by: &str,
    now: u64,
) -> Result<AccountView, AdminError> {
    let settings = input.settings()?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let common_name: String = settings.name.chars().take(MAX_COMMON_NAME).collect();
    let pair = keypair::generate(&common_name, now)
        .map_err(|e| PortError::new("make the MDM server's key pair", e))?;
    ports.secrets().create(&id, &pair.private_key_pem).await?;
    let account = AdeAccount {
        id: id.clone(),
        settings,
        certificate_pem: pair.certificate_pem,
        created_at: rfc3339(now),
        created_by: by.to_owned(),
        token: None,
        full_requested: None,
        sync: SyncState::default(),
    };
    if let Err(e) = ports.accounts().create(&account).await {
        // Best effort: the key of an account that was never stored is of no use.
        if let Err(cleanup) = ports.secrets().delete(&id).await {
            tracing::warn!(error = %cleanup, "secret of an account not created is left");
        }
        return Err(e.into());
    }
    tracing::info!(by = %by, account = %id, "ade account created");
    Ok(AccountView::at(&account, now))
}

pub async fn list(accounts: &impl AdeAccounts, now: u64) -> Result<Items<AccountView>, AdminError> {
    let mut all = accounts.list().await?;
    all.sort_by(|a, b| a.settings.name.cmp(&b.settings.name).then(a.id.cmp(&b.id)));
    Ok(Items {
        items: all.iter().map(|a| AccountView::at(a, now)).collect(),
    })
}

pub async fn get(
    accounts: &impl AdeAccounts,
    id: &str,
    now: u64,
) -> Result<AccountView, AdminError> {
    Ok(AccountView::at(&account_of(accounts, id).await?, now))
}

/// The MDM server's certificate (PEM), to upload in ABM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub file_name: String,
    pub pem: String,
}

pub async fn certificate(accounts: &impl AdeAccounts, id: &str) -> Result<Certificate, AdminError> {
    let account = account_of(accounts, id).await?;
    Ok(Certificate {
        file_name: format!("{}-mdm-server.pem", file_stem(&account.settings.name)),
        pem: account.certificate_pem,
    })
}

/// The account's name as a file name: letters, digits and dashes only, so
/// that the header needs no quoting rules and no browser renames it.
fn file_stem(name: &str) -> String {
    let mut stem = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            stem.push(c.to_ascii_lowercase());
        } else if !stem.is_empty() && !stem.ends_with('-') {
            stem.push('-');
        }
        if stem.len() >= 48 {
            break;
        }
    }
    let stem = stem.trim_end_matches('-');
    if stem.is_empty() {
        "ade-account".to_owned()
    } else {
        stem.to_owned()
    }
}

/// Changes the settings; turning "Add as Pre-approved Device" on asks the
/// next run for a full fetch (the devices listed while it was off are
/// pre-approved then), and queues that run now when the account can sync.
pub async fn update(
    ports: &impl AdePorts,
    id: &str,
    input: &SettingsInput,
    by: &str,
    now: u64,
) -> Result<AccountView, AdminError> {
    let mut account = account_of(ports.accounts(), id).await?;
    let next = input.apply(&account.settings)?;
    let turned_on = next.preapprove && !account.settings.preapprove;
    let full = turned_on.then_some(FullRequest {
        at: now,
        reason: FetchReason::SettingsChanged,
    });
    if !ports.accounts().put_settings(id, &next, full).await? {
        return Err(no_account());
    }
    tracing::info!(by = %by, account = %id, "ade account settings changed");
    account.settings = next;
    if full.is_some() {
        account.full_requested = full;
        if can_sync(&account, now).is_ok() {
            let job = SyncJob::Sync {
                account: id.to_owned(),
                full: true,
                requested: true,
            };
            // The schedule's next run does it anyway; this only makes it sooner.
            if let Err(e) = ports.jobs().send(&job).await {
                tracing::warn!(error = %e, "ade sync not queued after a settings change");
            }
        }
    }
    Ok(AccountView::at(&account, now))
}

/// Why an account cannot sync now, in the admin's words.
fn can_sync(account: &AdeAccount, now: u64) -> Result<(), AdminError> {
    match account.health_at(now) {
        Health::AwaitingToken => Err(AdminError::Conflict(
            "this account has no server token yet: download its certificate, upload it in \
             Apple Business Manager, then upload the token ABM gives you"
                .into(),
        )),
        Health::TokenExpired => Err(AdminError::Conflict(
            "this account's server token expired: download a new token in Apple Business \
             Manager and upload it here first"
                .into(),
        )),
        _ => Ok(()),
    }
}

/// A sync queued for the `ade-sync` function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncQueued {
    pub account_id: String,
    pub full: bool,
}

/// "Sync now": queues a run that ignores Apple's last `Retry-After`.
pub async fn sync_now(
    ports: &impl AdePorts,
    id: &str,
    input: SyncInput,
    by: &str,
    now: u64,
) -> Result<SyncQueued, AdminError> {
    let account = account_of(ports.accounts(), id).await?;
    can_sync(&account, now)?;
    let job = SyncJob::Sync {
        account: id.to_owned(),
        full: input.full,
        requested: true,
    };
    ports.jobs().send(&job).await?;
    tracing::info!(by = %by, account = %id, full = input.full, "ade sync requested");
    Ok(SyncQueued {
        account_id: id.to_owned(),
        full: input.full,
    })
}

/// A deleted account; its devices are being dealt with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountDeleted {
    pub account_id: String,
    pub devices: &'static str,
}

const PURGE_NOTE: &str = "the pre-approvals this account made that have not enrolled are being \
                          removed; enrolled devices and devices a CSV import pre-approved stay";

/// Queues the purge of the account's devices first, then removes its secret
/// and its record: a failure at any step leaves the account listed, and
/// deleting it again does every step again (each is idempotent).
pub async fn delete(
    ports: &impl AdePorts,
    id: &str,
    by: &str,
) -> Result<AccountDeleted, AdminError> {
    account_of(ports.accounts(), id).await?;
    let purge = SyncJob::Purge {
        account: id.to_owned(),
    };
    ports.jobs().send(&purge).await?;
    ports.secrets().delete(id).await?;
    ports.accounts().delete(id).await?;
    tracing::info!(by = %by, account = %id, "ade account deleted");
    Ok(AccountDeleted {
        account_id: id.to_owned(),
        devices: PURGE_NOTE,
    })
}

#[cfg(test)]
mod tests {
    use super::file_stem;

    #[test]
    fn certificate_file_names_are_plain() {
        assert_eq!(file_stem("ABM Main (EU)"), "abm-main-eu");
        assert_eq!(file_stem("  ../\"x\"\r\n"), "x");
        assert_eq!(file_stem("日本"), "ade-account");
        assert!(file_stem(&"a".repeat(100)).len() <= 48);
    }
}
