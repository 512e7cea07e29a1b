//! Many independent conditional writes (or groups of writes that stand or
//! fall together) in one TransactWriteItems, as far as their conditions
//! allow. A transaction is all or nothing, so one refused condition cancels
//! the others too: the cancellation reasons (one per item, in order) say
//! which were refused, and the rest go again without them.
//! Conflicts with other transactions and throttling are retried with a
//! backoff; each attempt has its own idempotency token, so the SDK's own
//! retry of an attempt that did commit is answered as a success, not as
//! every condition refused.

use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::sdk::sdk_error;
use crate::port_error::PortError;

/// DynamoDB's limit of actions in one transaction.
pub const MAX_ITEMS: usize = 100;
/// Attempts cancelled for reasons other than a condition (conflicts, throttling).
const CONTENDED_ATTEMPTS: u32 = 8;

/// Writes `items` (each on a different key, at most [`MAX_ITEMS`]); for each,
/// whether it was written (false: its condition was refused).
pub(crate) async fn write_each(
    client: &Client,
    items: Vec<TransactWriteItem>,
    what: &'static str,
) -> Result<Vec<bool>, PortError> {
    let groups = items.into_iter().map(|item| vec![item]).collect();
    write_groups(client, groups, what).await
}

/// Writes `groups` (every item on a different key, at most [`MAX_ITEMS`] in
/// all), each whole or not at all: a group one of whose conditions is
/// refused is left out, with its other items. For each group, whether it was
/// written.
pub(crate) async fn write_groups(
    client: &Client,
    groups: Vec<Vec<TransactWriteItem>>,
    what: &'static str,
) -> Result<Vec<bool>, PortError> {
    let total: usize = groups.iter().map(Vec::len).sum();
    if total > MAX_ITEMS {
        return Err(PortError::new(
            what,
            format!("{total} writes in one transaction"),
        ));
    }
    let mut written = vec![true; groups.len()];
    let mut pending: Vec<usize> = (0..groups.len()).collect();
    let mut contended = 0;
    let mut backoff = Duration::from_millis(25);
    while !pending.is_empty() {
        let items: Vec<TransactWriteItem> = pending
            .iter()
            .flat_map(|&g| groups[g].iter().cloned())
            .collect();
        let sent = items.len();
        let result = client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await;
        let reasons = match result {
            Ok(_) => return Ok(written),
            Err(e) => match cancellation_reasons(&e) {
                Some(r) if r.len() == sent => r,
                _ => return Err(sdk_error(what, e)),
            },
        };
        let mut each = reasons.iter();
        let refused: Vec<bool> = pending
            .iter()
            .map(|&g| {
                let of_group: Vec<&CancellationReason> =
                    each.by_ref().take(groups[g].len()).collect();
                of_group
                    .iter()
                    .any(|r| r.code() == Some("ConditionalCheckFailed"))
            })
            .collect();
        if refused.iter().any(|&r| r) {
            let mut rest = Vec::with_capacity(pending.len());
            for (g, refused) in pending.into_iter().zip(refused) {
                if refused {
                    written[g] = false;
                } else {
                    rest.push(g);
                }
            }
            pending = rest;
            continue;
        }
        contended += 1;
        if contended >= CONTENDED_ATTEMPTS {
            let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
            return Err(PortError::new(
                what,
                format!("transaction cancelled {contended} times: {codes:?}"),
            ));
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
    Ok(written)
}

/// The reasons of a cancelled transaction, one per item in order; None for any other error.
pub(crate) fn cancellation_reasons<R>(
    e: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>,
) -> Option<Vec<CancellationReason>> {
    match e.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(c) => {
            Some(c.cancellation_reasons().to_vec())
        }
        _ => None,
    }
}
