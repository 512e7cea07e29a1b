//! Many independent conditional writes in one TransactWriteItems, as far as
//! their conditions allow. A transaction is all or nothing, so one refused
//! condition cancels the others too: the cancellation reasons (one per item,
//! in order) say which were refused, and the rest go again without them.
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
    if items.len() > MAX_ITEMS {
        return Err(PortError::new(
            what,
            format!("{} writes in one transaction", items.len()),
        ));
    }
    let mut written = vec![true; items.len()];
    let mut pending: Vec<usize> = (0..items.len()).collect();
    let mut contended = 0;
    let mut backoff = Duration::from_millis(25);
    while !pending.is_empty() {
        let result = client
            .transact_write_items()
            .set_transact_items(Some(pending.iter().map(|&i| items[i].clone()).collect()))
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await;
        let reasons = match result {
            Ok(_) => return Ok(written),
            Err(e) => match cancellation_reasons(&e) {
                Some(r) if r.len() == pending.len() => r,
                _ => return Err(sdk_error(what, e)),
            },
        };
        let refused: Vec<bool> = reasons
            .iter()
            .map(|r| r.code() == Some("ConditionalCheckFailed"))
            .collect();
        if refused.iter().any(|&r| r) {
            let mut rest = Vec::with_capacity(pending.len());
            for (i, refused) in pending.into_iter().zip(refused) {
                if refused {
                    written[i] = false;
                } else {
                    rest.push(i);
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
