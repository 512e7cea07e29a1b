//! The sender's handler: an SQS batch in, each message delivered, put back
//! with its own delay (ChangeMessageVisibility) or dropped, and the put-back
//! ones reported as batch item failures (ReportBatchItemFailures).

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use shared::aws::messaging::AwsInviteSender;
use shared::aws::outbox::DynamoOutbox;
use shared::aws::rate_windows::DynamoRateWindows;
use shared::aws::ses_quota::SesQuota;
use shared::aws::settings::DynamoSettings;
use shared::aws::tables::Tables;
use shared::env::{parsed_or, required, EnvError};
use shared::outbox::deliver::{deliver_batch, DeliverConfig, DeliverPorts, Incoming, Verdict};
use shared::outbox::{InviteOrigin, InviteSender};
use shared::outbox::{Outbox, QuotaSource, RateWindows};
use shared::password::PasswordKey;
use shared::seal::Sealer;
use shared::settings::SettingsStore;

/// Puts a message back on its queue, visible again after a delay.
pub trait Visibility: Send + Sync {
    fn delay(
        &self,
        receipt_handle: &str,
        seconds: u32,
    ) -> impl std::future::Future<Output = ()> + Send;
}

pub struct Sender<O, R, Q, S, T, V> {
    pub outbox: O,
    pub windows: R,
    pub quota: Q,
    pub sender: S,
    pub settings: T,
    pub visibility: V,
    /// The deployment's invite origin; the admin's settings may override it.
    pub deployment: InviteOrigin,
    pub config: DeliverConfig,
}

/// The sender as deployed: DynamoDB, SES, SNS and SQS.
pub type AwsSender = Sender<
    DynamoOutbox,
    DynamoRateWindows,
    SesQuota,
    AwsInviteSender,
    DynamoSettings,
    SqsVisibility,
>;

/// The deployed sender's clients and tuning, from the environment (the
/// template's variables). The bench builds it the same way.
pub fn from_env(sdk: &aws_config::SdkConfig, key: &PasswordKey) -> Result<AwsSender, EnvError> {
    let tables = Tables::from_env()?;
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let ses = aws_sdk_sesv2::Client::new(sdk);
    let configuration_set = std::env::var("SES_CONFIGURATION_SET")
        .ok()
        .filter(|v| !v.trim().is_empty());
    Ok(Sender {
        outbox: DynamoOutbox {
            client: dynamo.clone(),
            table: tables.imports.clone(),
            devices_table: tables.devices.clone(),
            sealer: Some(Sealer::new(key)),
            retention_days: parsed_or("RETENTION_DAYS", 90)?,
        },
        windows: DynamoRateWindows {
            client: dynamo.clone(),
            table: tables.imports.clone(),
        },
        quota: SesQuota::new(
            ses.clone(),
            Duration::from_secs(parsed_or("INVITE_QUOTA_SECONDS", 60)?),
        ),
        sender: AwsInviteSender {
            ses,
            sns: aws_sdk_sns::Client::new(sdk),
            configuration_set,
        },
        settings: DynamoSettings {
            client: dynamo,
            table: tables.settings,
        },
        visibility: SqsVisibility {
            client: aws_sdk_sqs::Client::new(sdk),
            queue_url: required("INVITE_QUEUE_URL")?,
        },
        deployment: InviteOrigin {
            sender: required("INVITE_SENDER")?,
            enrollment_url: required("ENROLLMENT_URL")?,
        },
        config: DeliverConfig {
            claim_seconds: parsed_or("INVITE_CLAIM_SECONDS", 120)?,
            email_cap: parsed_or("INVITE_EMAIL_RATE", 0.0)?,
            email_fallback: parsed_or("INVITE_EMAIL_FALLBACK_RATE", 1.0)?,
            sms_per_second: parsed_or("INVITE_SMS_RATE", 1.0)?,
            concurrency: parsed_or("INVITE_CONCURRENCY", 16)?,
            ..DeliverConfig::default()
        },
    })
}

/// Time kept back from the deadline to record outcomes and answer.
const RESERVE: Duration = Duration::from_secs(5);

pub async fn handle<O, R, Q, S, T, V>(
    app: &Sender<O, R, Q, S, T, V>,
    event: LambdaEvent<SqsEvent>,
) -> SqsBatchResponse
where
    O: Outbox,
    R: RateWindows,
    Q: QuotaSource,
    S: InviteSender,
    T: SettingsStore,
    V: Visibility,
{
    let deadline_ms = event.context.deadline;
    let out_of_time = move || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        deadline_ms.saturating_sub(now) < RESERVE.as_millis() as u64
    };
    let mut response = SqsBatchResponse::default();
    let origin = match app.settings.load().await {
        Ok(v) => v.settings.invite_origin(&app.deployment),
        Err(e) => {
            // Nothing was claimed: every message comes back after the queue's visibility timeout.
            tracing::warn!(error = %e, "settings unreadable; batch put back");
            for m in &event.payload.records {
                response
                    .batch_item_failures
                    .push(failure(m.message_id.clone()));
            }
            return response;
        }
    };
    let mut handles = Vec::new();
    let batch: Vec<Incoming> = event
        .payload
        .records
        .into_iter()
        .map(|m| {
            let id = m.message_id.unwrap_or_default();
            handles.push((id.clone(), m.receipt_handle.unwrap_or_default()));
            Incoming {
                id,
                body: m.body.unwrap_or_default(),
                queued_at: m
                    .attributes
                    .get("SentTimestamp")
                    .and_then(|t| t.parse::<u64>().ok())
                    .map_or_else(shared::clock::epoch_now, |ms| ms / 1000),
            }
        })
        .collect();
    let ports = DeliverPorts {
        outbox: &app.outbox,
        windows: &app.windows,
        quota: &app.quota,
        sender: &app.sender,
        origin: &origin,
    };
    let verdicts = deliver_batch(batch, &ports, &app.config, &out_of_time).await;
    for ((id, verdict), (_, receipt)) in verdicts.into_iter().zip(handles) {
        if let Verdict::RetryAfter(seconds) = verdict {
            app.visibility.delay(&receipt, seconds).await;
            response.batch_item_failures.push(failure(Some(id)));
        }
    }
    response
}

fn failure(id: Option<String>) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = id.unwrap_or_default();
    f
}

/// SQS's ChangeMessageVisibility. A failure to change it leaves the queue's
/// own visibility timeout, which only delays the retry.
pub struct SqsVisibility {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl Visibility for SqsVisibility {
    async fn delay(&self, receipt_handle: &str, seconds: u32) {
        let result = self
            .client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            // SQS allows at most 12 hours.
            .visibility_timeout(seconds.min(43_200) as i32)
            .send()
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "message visibility unchanged");
        }
    }
}
