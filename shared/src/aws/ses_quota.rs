//! The account's SES sending quota (SES v2 GetAccount), cached.

use std::time::Duration;

use crate::outbox::{QuotaSource, SendQuota};
use crate::port_error::PortError;

/// The account's SES sending quota, read at most once a minute per container
/// (an answer or a failure alike: GetAccount has its own request limit, and
/// an unreadable quota must not cost every batch a retried call).
#[derive(Debug)]
pub struct SesQuota {
    pub ses: aws_sdk_sesv2::Client,
    /// How long an answer is kept (60 s in the template).
    pub ttl: Duration,
    pub cached: std::sync::Mutex<Option<(std::time::Instant, Result<SendQuota, String>)>>,
}

impl SesQuota {
    pub fn new(ses: aws_sdk_sesv2::Client, ttl: Duration) -> Self {
        Self {
            ses,
            ttl,
            cached: std::sync::Mutex::new(None),
        }
    }
}

impl QuotaSource for SesQuota {
    async fn email_quota(&self) -> Result<SendQuota, PortError> {
        let cached = self
            .cached
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .filter(|(at, _)| at.elapsed() < self.ttl);
        let result = match cached {
            Some((_, result)) => result,
            None => {
                let result = self.read().await.map_err(|e| e.to_string());
                if let Ok(mut c) = self.cached.lock() {
                    *c = Some((std::time::Instant::now(), result.clone()));
                }
                result
            }
        };
        result.map_err(|e| PortError::new("read SES quota", e))
    }
}

impl SesQuota {
    async fn read(&self) -> Result<SendQuota, PortError> {
        let out = self.ses.get_account().send().await.map_err(|e| {
            PortError::new(
                "read SES quota",
                aws_sdk_sesv2::error::DisplayErrorContext(e),
            )
        })?;
        let q = out
            .send_quota()
            .ok_or_else(|| PortError::new("read SES quota", "GetAccount has no SendQuota"))?;
        Ok(SendQuota {
            per_second: q.max_send_rate(),
            // -1 means no daily limit.
            remaining_today: (q.max24_hour_send() >= 0.0)
                .then(|| q.max24_hour_send() - q.sent_last24_hours()),
        })
    }
}
