//! The outbox in DynamoDB (the imports table, beside each import's record).
//! Its queue is `invite_queue`, the account-wide rate windows `rate_windows`,
//! the SES quota `ses_quota`.
//!
//! Items in the imports table:
//! - `import_id=<origin>, sk=INVITE#<row>`: one invite (content, sealed
//!   password, state, attempt, claim), removed by TTL after the retention.
//! - `import_id=<origin>, sk=INVITES#<k>`: counters of the origin's invites by
//!   state, spread over [`SHARDS`] items so that senders updating them in
//!   transactions at a thousand a second rarely meet on one item (two
//!   transactions on one item at once: one is cancelled, `TransactionConflict`).

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use futures::{stream, StreamExt, TryStreamExt};

use super::items::{channel_str, get_n, get_n_opt, get_s, n, s, Item};
use super::sdk::{sdk_error, written};
use super::transact::cancellation_reasons;
use crate::clock::epoch_now;
use crate::domain::InviteState;
use crate::domain::{Expiry, InviteChannel, Platform};
use crate::outbox::cancel::DeviceNow;
use crate::outbox::Invite;
use crate::outbox::{
    Claimed, InvitePage, InviteRef, InviteStatus, InviteTally, Outbox, OutboxEntry, Transition,
};
use crate::port_error::PortError;
use crate::records::DeviceStatus;
use crate::seal::Sealer;

/// Counter items per origin. At 8, senders at 1,000 invites/s met on one in
/// most transactions (the invites-aws-latency bench: 7,780 conflicts for
/// 10,000 transitions, 67 sent invites left `unconfirmed`); at 64 an item
/// sees ~16 a second. The tally reads them all in one Query page.
pub const SHARDS: u64 = 64;
/// Tries of a transition whose transaction met another on a counter item.
const CONFLICT_TRIES: u32 = 10;
/// Invite records written at once by one import chunk.
const RECORDING: usize = 16;
/// Invite records per page of an import-wide resend.
const PAGE: i32 = 200;

#[derive(Debug, Clone)]
pub struct DynamoOutbox {
    pub client: Client,
    /// The imports table.
    pub table: String,
    pub devices_table: String,
    /// None when no password key is configured: invites with a password are then refused.
    pub sealer: Option<Sealer>,
    /// Days an invite record is kept (the template's retention).
    pub retention_days: u64,
}

/// The sort key of a row's invite record (zero-padded: records list in row order).
pub fn sk(row: u64) -> String {
    format!("INVITE#{row:010}")
}

fn counter_sk(row: u64) -> String {
    format!("INVITES#{}", row % SHARDS)
}

fn counter_name(state: InviteState) -> String {
    format!("n_{}", state.as_str())
}

/// The context a password is sealed under: the record it belongs to.
fn seal_context(r: &InviteRef) -> String {
    r.tag()
}

fn state_of(item: &Item) -> InviteState {
    // A ledger entry from before the outbox (claimed/sent/rejected) never goes out again.
    get_s(item, "state")
        .and_then(InviteState::parse)
        .unwrap_or(InviteState::Sent)
}

fn attempt_of(item: &Item) -> u32 {
    get_n(item, "attempt").max(1) as u32
}

pub(crate) fn status_of(item: &Item) -> InviteStatus {
    InviteStatus {
        state: state_of(item),
        channel: match get_s(item, "channel") {
            Some("sms") => InviteChannel::Sms,
            _ => InviteChannel::Email,
        },
        attempt: attempt_of(item),
        queued_at: get_n(item, "queued_at"),
        reason: get_s(item, "reason").map(str::to_owned),
        serial: get_s(item, "serial").unwrap_or_default().to_owned(),
    }
}

fn row_of(item: &Item) -> Option<u64> {
    get_s(item, "sk")?.strip_prefix("INVITE#")?.parse().ok()
}

impl DynamoOutbox {
    fn item(&self, e: &OutboxEntry, now: u64) -> Result<Item, PortError> {
        let r = e.invite_ref();
        let i = &e.invite;
        let mut item = Item::from([
            ("import_id".to_owned(), s(&e.origin)),
            ("sk".to_owned(), s(sk(i.row))),
            ("state".to_owned(), s(InviteState::Queued.as_str())),
            ("attempt".to_owned(), n(1)),
            ("queued_at".to_owned(), n(now)),
            ("updated_at".to_owned(), n(now)),
            (
                "expires_at".to_owned(),
                n(now + self.retention_days * 86_400),
            ),
            ("channel".to_owned(), s(channel_str(i.channel))),
            ("to".to_owned(), s(&i.to)),
            ("user_name".to_owned(), s(&i.user_name)),
            ("serial".to_owned(), s(&i.serial)),
            ("platform".to_owned(), s(i.platform)),
        ]);
        if let Some(d) = &i.device_name {
            item.insert("device_name".into(), s(d));
        }
        if let Some(p) = &i.password {
            let sealer = self.sealer.as_ref().ok_or_else(|| {
                PortError::new(
                    "record invite",
                    "an invite has a password but no password key is configured",
                )
            })?;
            item.insert("password".into(), s(sealer.seal(&seal_context(&r), p)));
        }
        Ok(item)
    }

    /// The conditional Put of a new record, for an approval's transaction.
    pub fn put_new(&self, e: &OutboxEntry) -> Result<aws_sdk_dynamodb::types::Put, PortError> {
        aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(self.item(e, epoch_now())?))
            .condition_expression("attribute_not_exists(sk)")
            .build()
            .map_err(|e| PortError::new("record invite", e))
    }

    fn invite_of(&self, r: &InviteRef, item: &Item) -> Result<Invite, PortError> {
        let text = |k: &str| get_s(item, k).unwrap_or_default().to_owned();
        let password = match get_s(item, "password") {
            None => None,
            Some(sealed) => {
                let sealer = self.sealer.as_ref().ok_or_else(|| {
                    PortError::new(
                        "read invite",
                        "no password key is configured to open its password",
                    )
                })?;
                Some(
                    sealer
                        .open(&seal_context(r), sealed)
                        .map_err(|e| PortError::new("read invite", e))?,
                )
            }
        };
        Ok(Invite {
            row: r.row,
            channel: match get_s(item, "channel") {
                Some("sms") => InviteChannel::Sms,
                _ => InviteChannel::Email,
            },
            to: text("to"),
            user_name: text("user_name"),
            serial: text("serial"),
            device_name: get_s(item, "device_name").map(str::to_owned),
            platform: get_s(item, "platform")
                .and_then(|p| Platform::parse(p).ok())
                .map_or("device", |p| p.as_str()),
            password,
        })
    }

    fn counters(
        &self,
        r: &InviteRef,
        changes: &[(InviteState, i64)],
    ) -> Result<Option<Update>, PortError> {
        let changes: Vec<_> = changes.iter().filter(|(st, _)| st.counted()).collect();
        if changes.is_empty() {
            return Ok(None);
        }
        let mut u = Update::builder()
            .table_name(&self.table)
            .key("import_id", s(&r.origin))
            .key("sk", s(counter_sk(r.row)));
        let mut adds = Vec::new();
        for (i, (state, delta)) in changes.iter().enumerate() {
            adds.push(format!("#c{i} :c{i}"));
            u = u
                .expression_attribute_names(format!("#c{i}"), counter_name(*state))
                .expression_attribute_values(
                    format!(":c{i}"),
                    AttributeValue::N(delta.to_string()),
                );
        }
        u.update_expression(format!("ADD {}", adds.join(", ")))
            .build()
            .map(Some)
            .map_err(|e| PortError::new("count invites", e))
    }

    /// Runs the record's update, with the counters' in one transaction when
    /// they change. Ok(false) when the record's condition failed.
    async fn apply(&self, record: Update, counters: Option<Update>) -> Result<bool, PortError> {
        let Some(counters) = counters else {
            let result = self
                .client
                .update_item()
                .table_name(record.table_name())
                .set_key(Some(record.key().clone()))
                .update_expression(record.update_expression())
                .set_condition_expression(record.condition_expression().map(str::to_owned))
                .set_expression_attribute_names(record.expression_attribute_names().cloned())
                .set_expression_attribute_values(record.expression_attribute_values().cloned())
                .send()
                .await;
            return written(result, "update invite", |e| {
                e.is_conditional_check_failed_exception()
            });
        };
        let mut backoff = Duration::from_millis(20);
        for _ in 0..CONFLICT_TRIES {
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(record.clone()).build())
                .transact_items(
                    TransactWriteItem::builder()
                        .update(counters.clone())
                        .build(),
                )
                .send()
                .await;
            let cancelled = match &result {
                Err(e) => cancellation_reasons(e),
                Ok(_) => return Ok(true),
            };
            match cancelled {
                Some(reasons)
                    if reasons
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed")) =>
                {
                    return Ok(false)
                }
                // Another transaction held a counter item: try again shortly, after
                // a random part of the backoff, so that two that met do not meet again.
                Some(_) => {
                    tokio::time::sleep(jittered(backoff)).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                None => return written(result, "update invite", |_| false),
            }
        }
        Err(PortError::new(
            "update invite",
            "transaction conflicts did not clear",
        ))
    }

    pub(crate) fn record_key(&self, r: &InviteRef) -> (AttributeValue, AttributeValue) {
        (s(&r.origin), s(sk(r.row)))
    }

    /// Puts a new record; the state of the one already there otherwise.
    async fn record_one(
        &self,
        e: &OutboxEntry,
        now: u64,
    ) -> Result<Option<InviteState>, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(e, now)?))
            .condition_expression("attribute_not_exists(sk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(err) => match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                    Ok(Some(c.item().map_or(InviteState::Sent, state_of)))
                }
                _ => Err(sdk_error("record invite", err)),
            },
        }
    }
}

/// A random duration up to `backoff` ("full jitter").
fn jittered(backoff: Duration) -> Duration {
    let random = (uuid::Uuid::new_v4().as_u128() % 1_000) as u32;
    backoff * random / 1_000
}

impl Outbox for DynamoOutbox {
    async fn record(&self, entries: &[OutboxEntry]) -> Result<Vec<Option<InviteState>>, PortError> {
        let now = epoch_now();
        let puts: Vec<_> = entries.iter().map(|e| self.record_one(e, now)).collect();
        stream::iter(puts).buffered(RECORDING).try_collect().await
    }

    async fn claim(
        &self,
        r: &InviteRef,
        attempt: u32,
        token: &str,
        until: u64,
    ) -> Result<Claimed, PortError> {
        let (pk, rk) = self.record_key(r);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("import_id", pk)
            .key("sk", rk)
            .update_expression(
                "SET #st = :sending, claim_token = :tok, claim_until = :until, updated_at = :now",
            )
            .condition_expression("#st = :queued AND attempt = :a")
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":sending", s(InviteState::Sending.as_str()))
            .expression_attribute_values(":queued", s(InviteState::Queued.as_str()))
            .expression_attribute_values(":tok", s(token))
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(epoch_now()))
            .expression_attribute_values(":a", n(attempt as u64))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let old = match result {
            Ok(out) => {
                let item = out.attributes().cloned().unwrap_or_default();
                return Ok(Claimed::Owned(Box::new(self.invite_of(r, &item)?)));
            }
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c)) => {
                    c.item().cloned()
                }
                _ => return Err(sdk_error("claim invite", e)),
            },
        };
        // The condition failed on an absent item: the update did not create it.
        let Some(old) = old.filter(|i| i.contains_key("state")) else {
            return Ok(Claimed::Missing);
        };
        let found = attempt_of(&old);
        if found != attempt {
            return Ok(Claimed::OtherAttempt { attempt: found });
        }
        let serial = get_s(&old, "serial").unwrap_or_default().to_owned();
        Ok(match state_of(&old) {
            InviteState::Sending if get_n(&old, "claim_until") > epoch_now() => Claimed::Held {
                until: get_n(&old, "claim_until"),
            },
            InviteState::Sending => Claimed::Abandoned { serial },
            state => Claimed::Ended { state, serial },
        })
    }

    async fn transition(&self, t: &Transition<'_>) -> Result<bool, PortError> {
        let (pk, rk) = self.record_key(t.invite);
        let mut sets = vec!["#st = :to", "updated_at = :now"];
        let mut conditions = vec!["#st = :from", "attempt = :a"];
        let mut u = Update::builder()
            .table_name(&self.table)
            .key("import_id", pk)
            .key("sk", rk)
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":to", s(t.to.as_str()))
            .expression_attribute_values(":from", s(t.from.as_str()))
            .expression_attribute_values(":a", n(t.attempt as u64))
            .expression_attribute_values(":now", n(epoch_now()));
        if let Some(tok) = t.token {
            conditions.push("claim_token = :tok");
            u = u.expression_attribute_values(":tok", s(tok));
        }
        if let Some(id) = t.message_id {
            if t.from == InviteState::Sending {
                sets.push("message_id = :m");
            } else {
                conditions.push("message_id = :m");
            }
            u = u.expression_attribute_values(":m", s(id));
        }
        if let Some(reason) = t.reason {
            sets.push("reason = :r");
            u = u.expression_attribute_values(":r", s(reason));
        }
        let mut expr = format!("SET {}", sets.join(", "));
        if t.from == InviteState::Sending {
            expr.push_str(" REMOVE claim_token, claim_until");
        }
        let record = u
            .update_expression(expr)
            .condition_expression(conditions.join(" AND "))
            .build()
            .map_err(|e| PortError::new("update invite", e))?;
        let counters = self.counters(t.invite, &[(t.from, -1), (t.to, 1)])?;
        self.apply(record, counters).await
    }

    async fn device(&self, serial: &str) -> Result<Option<DeviceNow>, PortError> {
        // Only what the decision needs: the template lets the sender read no more.
        let out = self
            .client
            .get_item()
            .table_name(&self.devices_table)
            .key("serial", s(serial))
            .projection_expression("serial, #st, expires_at, invite_ref")
            .expression_attribute_names("#st", "status")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("read invite's device", e))?;
        let Some(item) = out.item().filter(|i| i.contains_key("serial")) else {
            return Ok(None);
        };
        let status = get_s(item, "status")
            .and_then(DeviceStatus::parse)
            .ok_or_else(|| {
                PortError::new("read invite's device", "a device item without a status")
            })?;
        Ok(Some(DeviceNow {
            status,
            expires: get_n_opt(item, "expires_at").map(Expiry::from_epoch),
            invite: get_s(item, "invite_ref").map(str::to_owned),
        }))
    }

    async fn show_on_device(
        &self,
        serial: &str,
        r: &InviteRef,
        state: InviteState,
    ) -> Result<(), PortError> {
        // A cancelled invite never becomes a device's invite again (one
        // imported again without an invite holds none): it shows only where
        // it is the device's still.
        let mut condition = String::from(match state {
            InviteState::Cancelled => "invite_ref = :r",
            _ => {
                "attribute_exists(serial) AND (attribute_not_exists(invite_ref) OR invite_ref = :r)"
            }
        });
        let later = state.superseded_by();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.devices_table)
            .key("serial", s(serial))
            .update_expression("SET invite_state = :s, invite_ref = :r")
            .expression_attribute_values(":s", s(state.as_str()))
            .expression_attribute_values(":r", s(r.tag()));
        if !later.is_empty() {
            let names: Vec<String> = (0..later.len()).map(|i| format!(":later{i}")).collect();
            condition.push_str(&format!(
                " AND NOT (invite_state IN ({}))",
                names.join(", ")
            ));
            for (name, st) in names.iter().zip(later) {
                update = update.expression_attribute_values(name, s(st.as_str()));
            }
        }
        let result = update.condition_expression(condition).send().await;
        written(result, "show invite on device", |e| {
            e.is_conditional_check_failed_exception()
        })
        .map(|_| ())
    }

    async fn status(&self, r: &InviteRef) -> Result<Option<InviteStatus>, PortError> {
        let (pk, rk) = self.record_key(r);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("import_id", pk)
            .key("sk", rk)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("read invite", e))?;
        Ok(out.item().map(status_of))
    }

    async fn requeue(
        &self,
        r: &InviteRef,
        from: InviteState,
        attempt: u32,
        now: u64,
        queued_before: u64,
    ) -> Result<Option<u32>, PortError> {
        let (pk, rk) = self.record_key(r);
        let record = Update::builder()
            .table_name(&self.table)
            .key("import_id", pk)
            .key("sk", rk)
            .update_expression(
                "SET #st = :queued, attempt = :next, queued_at = :now, updated_at = :now \
                 REMOVE message_id, reason, claim_token, claim_until",
            )
            .condition_expression("#st = :from AND attempt = :a AND queued_at < :before")
            .expression_attribute_names("#st", "state")
            .expression_attribute_values(":queued", s(InviteState::Queued.as_str()))
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":a", n(attempt as u64))
            .expression_attribute_values(":next", n(attempt as u64 + 1))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":before", n(queued_before))
            .build()
            .map_err(|e| PortError::new("requeue invite", e))?;
        let counters = self.counters(r, &[(from, -1)])?;
        Ok(self.apply(record, counters).await?.then_some(attempt + 1))
    }

    async fn in_states(
        &self,
        origin: &str,
        states: &[InviteState],
        after: Option<u64>,
    ) -> Result<InvitePage, PortError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("import_id = :o AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":o", s(origin))
            .expression_attribute_values(":from", s(sk(after.map_or(0, |a| a + 1))))
            .expression_attribute_values(":to", s(sk(9_999_999_999)))
            .expression_attribute_names("#st", "state")
            .limit(PAGE);
        let mut names = Vec::new();
        for (i, st) in states.iter().enumerate() {
            names.push(format!(":s{i}"));
            q = q.expression_attribute_values(format!(":s{i}"), s(st.as_str()));
        }
        let out = q
            .filter_expression(format!("#st IN ({})", names.join(", ")))
            .send()
            .await
            .map_err(|e| sdk_error("list invites", e))?;
        let page = out
            .items()
            .iter()
            .filter_map(|item| Some((InviteRef::new(origin, row_of(item)?), status_of(item))))
            .collect();
        let next = out.last_evaluated_key().and_then(row_of);
        Ok((page, next))
    }

    async fn tally(&self, origin: &str, recorded: u64) -> Result<InviteTally, PortError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("import_id = :o AND begins_with(sk, :c)")
            .expression_attribute_values(":o", s(origin))
            .expression_attribute_values(":c", s("INVITES#"))
            .send()
            .await
            .map_err(|e| sdk_error("count invites", e))?;
        // Summed over the shards before anything is read as a count: a row's
        // changes meet on one shard only while SHARDS stays the same, so one
        // shard alone may be below zero.
        let counted: Vec<(InviteState, i64)> = InviteState::ALL
            .into_iter()
            .filter(|s| s.counted())
            .map(|state| {
                let total = out
                    .items()
                    .iter()
                    .filter_map(|item| match item.get(&counter_name(state)) {
                        Some(AttributeValue::N(v)) => v.parse::<i64>().ok(),
                        _ => None,
                    })
                    .sum();
                (state, total)
            })
            .collect();
        Ok(InviteTally::new(recorded, &counted))
    }
}
