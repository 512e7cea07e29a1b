//! The server token ABM gives for the account's MDM server: decrypted with
//! the account's private key, checked with Apple (`GET /account`), then kept:
//! its credentials only in the secrets, its public facts on the account.
//! A token of the same MDM server renews the account in place (same cursor,
//! same settings); one of another server starts its devices afresh.

use base64::Engine;
use serde::Serialize;

use super::accounts::account_of;
use super::view::AccountView;
use super::AdePorts;
use crate::ade::account::{SyncState, TokenInfo};
use crate::ade::ports::{
    AdeAccounts, AdeSecrets, AppleAccount, DepConnector, DepError, DepSession, SyncJob, SyncJobs,
};
use crate::ade::token::{self, ServerToken, TokenError};
use crate::admin::AdminError;
use crate::clock::rfc3339;

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenUploaded {
    #[serde(flatten)]
    pub account: AccountView,
    /// The account had a token of this MDM server: renewed in place.
    pub renewed: bool,
    /// The token is another MDM server's than the account's last one: its
    /// devices are fetched afresh and the ones the new server does not list removed.
    pub new_server: bool,
    /// A sync was queued (otherwise the schedule's next run syncs).
    pub sync_queued: bool,
}

fn bad_token(message: impl Into<String>) -> AdminError {
    AdminError::bad("token", message)
}

/// The token in `body`: the file as ABM gives it, or all of it in base64
/// (a client or gateway that encoded the binary body once more).
fn read_token(body: &[u8], key: &str, now: u64) -> Result<ServerToken, TokenError> {
    let first = match token::read(body, key, now) {
        Err(e @ TokenError::NotAToken { .. }) => e,
        other => return other,
    };
    let packed: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    match base64::engine::general_purpose::STANDARD.decode(packed) {
        Ok(inner) if !inner.is_empty() => match token::read(&inner, key, now) {
            Err(TokenError::NotAToken { .. }) => Err(first),
            other => other,
        },
        _ => Err(first),
    }
}

/// Apple's refusal of a token that decrypted fine, in the admin's words.
fn apple_refused(e: DepError) -> AdminError {
    match e {
        DepError::Unauthorized(_) => bad_token(
            "Apple refused this token (it was revoked, or replaced by a newer one): in Apple \
             Business Manager download a new token for this MDM server and upload it here",
        ),
        DepError::AccessDenied(_) => bad_token(
            "Apple denied access with this token: check in Apple Business Manager that the MDM \
             server still exists, then download a new token and upload it here",
        ),
        DepError::TermsNotSigned => AdminError::Conflict(
            "Apple Business Manager has new terms and conditions: an administrator must sign \
             in to ABM and accept them, then upload this token again"
                .into(),
        ),
        DepError::Throttled { .. } | DepError::Unavailable { .. } => AdminError::Upstream(
            "Apple's service did not answer, so the token could not be checked; nothing was \
             stored: upload it again in a few minutes"
                .into(),
        ),
        DepError::CursorExpired
        | DepError::CursorInvalid
        | DepError::CursorExhausted
        | DepError::Protocol(_) => AdminError::Upstream(
            "Apple's answer to the token's check was not understood; nothing was stored: \
             upload it again in a few minutes"
                .into(),
        ),
    }
}

/// Whether a token is another MDM server's than the account's current one.
fn other_server(old: &TokenInfo, new_key: &str, apple: &AppleAccount) -> bool {
    match (&old.server_uuid, &apple.server_uuid) {
        (Some(a), Some(b)) => a != b,
        _ => old.consumer_key != new_key,
    }
}

pub async fn upload_token(
    ports: &impl AdePorts,
    id: &str,
    body: &[u8],
    by: &str,
    now: u64,
) -> Result<TokenUploaded, AdminError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad_token(
            "the body is empty: send the server token file (*_smime.p7m) that Apple Business \
             Manager gave you, as it is",
        ));
    }
    let mut account = account_of(ports.accounts(), id).await?;
    let key = ports.secrets().private_key(id).await?.ok_or_else(|| {
        AdminError::Conflict(
            "this account's private key is missing, so no token can be read for it: delete \
             the account, create it again and upload its new certificate in ABM"
                .into(),
        )
    })?;
    let token = read_token(body, &key, now).map_err(|e| match e {
        TokenError::Key(_) => AdminError::Conflict(
            "this account's private key cannot be read: delete the account, create it again \
             and upload its new certificate in ABM"
                .into(),
        ),
        refused => bad_token(refused.to_string()),
    })?;
    let apple = ports
        .apple()
        .connect(&token)
        .account()
        .await
        .map_err(apple_refused)?;
    let new_server = account
        .token
        .as_ref()
        .is_some_and(|old| other_server(old, &token.consumer_key, &apple));
    let renewed = account.token.is_some() && !new_server;
    let info = TokenInfo {
        consumer_key: token.consumer_key.clone(),
        access_token_expiry: token.access_token_expiry.clone(),
        expiry_epoch: token.expiry_epoch,
        server_name: apple.server_name,
        server_uuid: apple.server_uuid,
        org_name: apple.org_name,
        admin_id: apple.admin_id,
        uploaded_at: rfc3339(now),
        uploaded_by: by.to_owned(),
    };
    // The credentials first: the facts never describe a token the sync cannot use.
    ports.secrets().put_token(id, &token).await?;
    if !ports.accounts().put_token(id, &info, new_server).await? {
        return Err(super::accounts::no_account());
    }
    tracing::info!(by = %by, account = %id, renewed, new_server, "ade server token uploaded");
    account.token = Some(info);
    if new_server {
        account.sync = SyncState::default();
    }
    let job = SyncJob::Sync {
        account: id.to_owned(),
        full: new_server,
        requested: true,
    };
    // The token is stored: a queue that fails only delays the sync until the schedule's run.
    let sync_queued = match ports.jobs().send(&job).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, account = %id, "ade sync not queued after a token upload");
            false
        }
    };
    Ok(TokenUploaded {
        account: AccountView::at(&account, now),
        renewed,
        new_server,
        sync_queued,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(consumer_key: &str, server_uuid: Option<&str>) -> TokenInfo {
        TokenInfo {
            consumer_key: consumer_key.into(),
            access_token_expiry: String::new(),
            expiry_epoch: 0,
            server_name: None,
            server_uuid: server_uuid.map(str::to_owned),
            org_name: None,
            admin_id: None,
            uploaded_at: String::new(),
            uploaded_by: String::new(),
        }
    }

    fn apple(server_uuid: Option<&str>) -> AppleAccount {
        AppleAccount {
            server_uuid: server_uuid.map(str::to_owned),
            ..AppleAccount::default()
        }
    }

    #[test]
    fn the_server_is_apples_uuid_else_the_consumer_key() {
        let old = facts("CK_1", Some("u1"));
        assert!(!other_server(&old, "CK_1", &apple(Some("u1"))));
        assert!(
            !other_server(&old, "CK_2", &apple(Some("u1"))),
            "a new key, same server"
        );
        assert!(other_server(&old, "CK_1", &apple(Some("u2"))));
        assert!(
            !other_server(&old, "CK_1", &apple(None)),
            "Apple named none: the key"
        );
        assert!(other_server(
            &facts("CK_1", None),
            "CK_2",
            &apple(Some("u2"))
        ));
    }
}
