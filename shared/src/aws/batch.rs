//! DynamoDB batch limits, kept in code because the emulator does not enforce
//! them: at most 25 writes and 100 keys per request, and whatever comes back
//! unprocessed is sent again with back-off.

use std::future::Future;
use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::port_error::PortError;

pub const MAX_BATCH_WRITE: usize = 25;
pub const MAX_BATCH_GET: usize = 100;
const MAX_ATTEMPTS: u32 = 10;

/// Sends `items` in requests of at most `size`, `in_flight` at a time.
/// `send` returns the items the service left unprocessed; they are retried
/// with exponential back-off (25 ms doubling, capped at 2 s) until none remain.
pub async fn send_in_batches<T, R, F, Fut>(
    items: Vec<T>,
    size: usize,
    in_flight: usize,
    send: F,
) -> Result<Vec<R>, PortError>
where
    F: Fn(Vec<T>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Vec<R>), PortError>>,
{
    let mut batches = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        batches.push(items.by_ref().take(size).collect::<Vec<T>>());
    }
    let results: Vec<Vec<R>> = stream::iter(batches)
        .map(|batch| {
            let send = &send;
            async move {
                let mut pending = batch;
                let mut out = Vec::new();
                let mut delay = Duration::from_millis(25);
                for attempt in 1..=MAX_ATTEMPTS {
                    let (unprocessed, mut done) = send(pending).await?;
                    out.append(&mut done);
                    if unprocessed.is_empty() {
                        return Ok(out);
                    }
                    if attempt == MAX_ATTEMPTS {
                        return Err(PortError::new(
                            "batch request",
                            format!(
                                "{} items still unprocessed after {MAX_ATTEMPTS} attempts",
                                unprocessed.len()
                            ),
                        ));
                    }
                    pending = unprocessed;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Ok(out)
            }
        })
        .buffer_unordered(in_flight.max(1))
        .try_collect()
        .await?;
    Ok(results.into_iter().flatten().collect())
}

/// Reads the items with these keys from `table` (any order; missing ones
/// are left out), 100 keys a request, `in_flight` requests at a time, keys
/// left unprocessed asked again.
pub async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<super::items::Item>,
    in_flight: usize,
    what: &'static str,
) -> Result<Vec<super::items::Item>, PortError> {
    use aws_sdk_dynamodb::types::KeysAndAttributes;
    send_in_batches(keys, MAX_BATCH_GET, in_flight, |batch| async move {
        let ka = KeysAndAttributes::builder()
            .set_keys(Some(batch))
            .build()
            .map_err(|e| PortError::new(what, e))?;
        let got = client
            .batch_get_item()
            .request_items(table, ka)
            .send()
            .await
            .map_err(|e| super::sdk::sdk_error(what, e))?;
        let unprocessed = got
            .unprocessed_keys
            .and_then(|mut u| u.remove(table))
            .map(|ka| ka.keys)
            .unwrap_or_default();
        let found = got
            .responses
            .unwrap_or_default()
            .into_values()
            .flatten()
            .collect();
        Ok((unprocessed, found))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test(start_paused = true)]
    async fn splits_into_25s_and_retries_unprocessed() {
        let calls = Mutex::new(Vec::<usize>::new());
        let done = send_in_batches((0..60).collect::<Vec<u32>>(), MAX_BATCH_WRITE, 3, |batch| {
            calls.lock().unwrap().push(batch.len());
            async move {
                // The service processes at most 20 per call, like a throttled table.
                let (now, later) = batch.split_at(batch.len().min(20));
                Ok((later.to_vec(), now.to_vec()))
            }
        })
        .await
        .unwrap();
        let calls = calls.into_inner().unwrap();
        assert!(calls.iter().all(|n| *n <= 25), "{calls:?}");
        let mut firsts: Vec<usize> = calls.iter().copied().filter(|n| *n > 5).collect();
        firsts.sort_unstable();
        assert_eq!(firsts, vec![10, 25, 25]);
        let mut done = done;
        done.sort_unstable();
        assert_eq!(
            done,
            (0..60).collect::<Vec<u32>>(),
            "every item written once"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_bounded_attempts() {
        let r = send_in_batches(vec![1, 2, 3], MAX_BATCH_WRITE, 1, |batch| async move {
            Ok::<_, PortError>((batch, Vec::<u32>::new()))
        })
        .await;
        assert!(r.unwrap_err().to_string().contains("still unprocessed"));
    }

    #[tokio::test]
    async fn empty_input_sends_nothing() {
        let r: Result<Vec<u8>, _> = send_in_batches(Vec::<u8>::new(), 25, 2, |_b: Vec<u8>| async {
            Err(PortError::new("send", "no request is made for nothing"))
        })
        .await;
        assert!(r.unwrap().is_empty());
    }
}
