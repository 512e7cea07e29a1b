//! The denials table's writes for [`crate::admission::grouping`]: a denial's
//! own record (one item per serial, precise reason and hour, as before) and
//! its address's ledger for the hour (one item), with conditional
//! `UpdateItem`s only, so concurrent denials from one address lose no count
//! and never take more than the bounded number of records of their own.
//!
//! The ledger's [`Memory`] is two lists of marks, `recent` and `earlier`:
//! a new serial is appended to `recent` while it holds fewer than
//! [`GENERATION`] (one request); when it is full the refusal says so, and a
//! second request moves `recent` to `earlier` and starts `recent` afresh with
//! the serial, once per [`GENERATION`] new serials. Neither needs a read
//! first, and concurrent writers only meet at that turn.
//!
//! Requests per denial, all `UpdateItem` on this table (the serial's and the
//! address's history decide, never the stored devices, as the ledger is
//! reached first whatever the reason):
//! - a new serial once the address's budget is spent: 1 (counted in the
//!   ledger), 2 the first time (the ledger becomes a row), 1 more for the one
//!   new serial in [`GENERATION`] that turns the memory over;
//! - a serial with a record of its own: 2 (the ledger's refusal, the record);
//! - a new or returning serial that claims a record: 3 (count or refusal,
//!   claim, record), at most `OWN_FIRST + PROMOTIONS` times per address and
//!   hour (4 when concurrent attempts of one new serial race: the loser's
//!   count moves to the record the winner claimed);
//! - a returning serial past the budget: 2 (the refusal, the count, which
//!   names it on the row while there is room; 3 when a concurrent attempt
//!   took the last place meanwhile).

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;

use super::items::{get_n, n, s, Item};
use super::sdk::sdk_error;
use crate::admission::grouping::{
    route, LedgerState, Memory, Route, Seen, GENERATION, LEDGER_SECS, OWN_FIRST, PROMOTIONS,
    RETURNED,
};
use crate::admission::store::Mark;
use crate::admission::{Denial, Recorded};
use crate::clock::rfc3339;
use crate::port_error::PortError;

/// The partition of the `by-time` index that lists every row of Blocked attempts.
pub const KIND: &str = "denial";
/// Ledger attributes: its memory is `recent` and `earlier`, its sample `x0`..`x3`.
pub const GROUPED: &str = "grouped";
pub const SERIALS: &str = "serials";
pub const SAMPLE_PREFIX: &str = "x";
/// Returning serials past the budget, named on the row (a list of text).
pub const RETURNED_ATTR: &str = "returned";
const RECENT: &str = "recent";
const EARLIER: &str = "earlier";
const OWNS: &str = "owns";
const OWN: &str = "own";
const PROMOTED: &str = "promoted";
const OPENED: &str = "opened";

pub struct DenialWrites<'a> {
    pub client: &'a Client,
    pub table: &'a str,
}

/// How a claim of a record of its own went.
enum Claimed {
    Taken,
    /// The serial has one already (a concurrent attempt claimed it).
    Owned,
    /// None left.
    Spent,
}

/// What the ledger said to a request that counts a new serial.
enum Counted {
    /// Counted as new: the ledger as it was before.
    New(Item),
    /// Refused: the serial is remembered; the ledger as it is.
    Known(Item),
}

/// Where a new serial's mark goes in the ledger's memory.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// At the end of `recent`, if it has room.
    Append,
    /// `recent` becomes `earlier`, and a new `recent` starts with it, if `recent` is full.
    TurnOver,
    /// Nowhere: counted, not remembered.
    Nowhere,
}

/// What takes a new serial's count out of the ledger when it gets a record
/// of its own (after `ADD`): its attempt, its serial and its sample place (a
/// race may empty another serial's; the next one there fills it again).
const MOVED_OUT: &str = "attempts :minus, #serials :minus REMOVE #sample";

/// Rounds of append and turn-over before a new serial is counted without
/// being remembered: each round fails only if a whole generation of other
/// new serials from the address was counted meanwhile.
const ROUNDS: usize = 3;

fn state(ledger: &Item) -> LedgerState {
    LedgerState {
        own: get_n(ledger, OWN),
        promoted: get_n(ledger, PROMOTED),
        opened: ledger.contains_key(OPENED),
    }
}

fn remembers_own(ledger: &Item, mark: &Mark) -> bool {
    matches!(ledger.get(OWNS), Some(AttributeValue::Ss(tags)) if tags.contains(&mark.hex()))
}

fn marks(ledger: &Item, attr: &str) -> Vec<Mark> {
    let Some(AttributeValue::L(list)) = ledger.get(attr) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|v| match v {
            AttributeValue::B(b) => <[u8; 4]>::try_from(b.as_ref()).ok().map(Mark),
            _ => None,
        })
        .collect()
}

/// The ledger's memory as the item holds it.
pub fn memory(ledger: &Item) -> Memory {
    Memory {
        recent: marks(ledger, RECENT),
        earlier: marks(ledger, EARLIER),
    }
}

/// The returning serials the ledger names.
pub fn returned(ledger: &Item) -> Vec<String> {
    let Some(AttributeValue::L(list)) = ledger.get(RETURNED_ATTR) else {
        return Vec::new();
    };
    list.iter().filter_map(|v| v.as_s().ok().cloned()).collect()
}

fn mark_value(mark: &Mark) -> AttributeValue {
    AttributeValue::B(Blob::new(mark.0.to_vec()))
}

fn is_refused(e: &UpdateItemError) -> bool {
    e.is_conditional_check_failed_exception()
}

impl DenialWrites<'_> {
    pub async fn record(&self, d: &Denial) -> Result<Recorded, PortError> {
        let mark = d.mark;
        match self.count_new(d).await? {
            Counted::New(before) => {
                let before = state(&before);
                if route(Seen::New, &before) == Route::ClaimFirst {
                    match self.claim(d, &mark, OWN, OWN_FIRST).await? {
                        Claimed::Taken => return self.own_record(d).await,
                        // A concurrent attempt of this serial made it one
                        // with a record: this one moves there too.
                        Claimed::Owned => {
                            self.uncount(d).await?;
                            return self.own_record(d).await;
                        }
                        Claimed::Spent => {}
                    }
                }
                // Budget spent (or taken meanwhile): the count stands.
                if before.opened {
                    Ok(Recorded::Counted)
                } else {
                    self.open(d).await
                }
            }
            Counted::Known(ledger) => {
                let seen = if remembers_own(&ledger, &mark) {
                    Seen::Own
                } else {
                    Seen::Counted
                };
                match route(seen, &state(&ledger)) {
                    Route::Own => self.own_record(d).await,
                    Route::ClaimReturn => match self.claim(d, &mark, PROMOTED, PROMOTIONS).await? {
                        Claimed::Taken | Claimed::Owned => self.own_record(d).await,
                        Claimed::Spent => self.count_again(d, &ledger).await,
                    },
                    _ => self.count_again(d, &ledger).await,
                }
            }
        }
    }

    fn update(&self, key: String) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(self.table)
            .key("denial_id", s(key))
            .return_values(ReturnValue::AllOld)
    }

    /// What every count in the ledger sets: the last attempt.
    fn last_attempt(req: UpdateItemFluentBuilder, d: &Denial) -> (UpdateItemFluentBuilder, String) {
        let mut set = String::from(
            "#at = :at, first_at = if_not_exists(first_at, :at), platform = :platform, \
             reason = :reason, endpoint = :endpoint, #grouped = :yes",
        );
        let mut req = req
            .expression_attribute_names("#at", "at")
            .expression_attribute_names("#grouped", GROUPED)
            .expression_attribute_values(":at", s(rfc3339(d.at)))
            .expression_attribute_values(":platform", s(d.platform))
            .expression_attribute_values(":reason", s(d.reason.as_str()))
            .expression_attribute_values(":endpoint", s(d.endpoint))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":one", n(1));
        if let Some(ip) = &d.source_ip {
            set.push_str(", source_ip = :ip");
            req = req.expression_attribute_values(":ip", s(ip));
        }
        (req, set)
    }

    /// Counts the attempt in the ledger as a new serial's and remembers it,
    /// unless the ledger remembers the serial (counted before, or with a
    /// record of its own).
    async fn count_new(&self, d: &Denial) -> Result<Counted, PortError> {
        for _ in 0..ROUNDS {
            for place in [Place::Append, Place::TurnOver] {
                // None: `recent` is full (for an append) or was just
                // turned over by another attempt (for a turn-over).
                if let Some(counted) = self.count_at(d, place).await? {
                    return Ok(counted);
                }
            }
        }
        self.count_at(d, Place::Nowhere).await?.ok_or_else(|| {
            PortError::new(
                "record denial",
                "the ledger refused a count it had no reason to refuse",
            )
        })
    }

    /// One conditional count of a new serial, its mark put at `place`:
    /// `None` when refused only for the memory's room, not for knowing the serial.
    async fn count_at(&self, d: &Denial, place: Place) -> Result<Option<Counted>, PortError> {
        let (sample_at, shown) = d.sample_entry();
        let (req, set) = Self::last_attempt(self.update(d.ledger_id()), d);
        let unknown = "NOT contains(#owns, :mark_hex) AND NOT contains(#recent, :mark) \
                       AND NOT contains(#earlier, :mark)";
        let (remember, room) = match place {
            Place::Append => (
                ", #recent = list_append(if_not_exists(#recent, :none), :marks)",
                "(attribute_not_exists(#recent) OR size(#recent) < :generation) AND ",
            ),
            Place::TurnOver => (
                ", #earlier = #recent, #recent = :marks",
                "size(#recent) >= :generation AND ",
            ),
            Place::Nowhere => ("", ""),
        };
        let mut req = req
            .update_expression(format!(
                "SET {set}{remember}, #sample = if_not_exists(#sample, :shown), \
                 expires_at = if_not_exists(expires_at, :short) ADD attempts :one, #serials :one"
            ))
            .condition_expression(format!("{room}{unknown}"))
            .expression_attribute_names("#recent", RECENT)
            .expression_attribute_names("#earlier", EARLIER)
            .expression_attribute_names("#sample", format!("{SAMPLE_PREFIX}{sample_at}"))
            .expression_attribute_names("#owns", OWNS)
            .expression_attribute_names("#serials", SERIALS)
            .expression_attribute_values(":mark", mark_value(&d.mark))
            .expression_attribute_values(":mark_hex", s(d.mark.hex()))
            .expression_attribute_values(":shown", s(shown))
            .expression_attribute_values(":short", n(d.at + LEDGER_SECS))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if place != Place::Nowhere {
            req = req
                .expression_attribute_values(":marks", AttributeValue::L(vec![mark_value(&d.mark)]))
                .expression_attribute_values(":generation", n(GENERATION as u64));
        }
        if place == Place::Append {
            req = req.expression_attribute_values(":none", AttributeValue::L(Vec::new()));
        }
        match req.send().await {
            Ok(out) => Ok(Some(Counted::New(out.attributes.unwrap_or_default()))),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(refused)) => {
                    let ledger = refused.item().cloned().ok_or_else(|| {
                        PortError::new("record denial", "the refusal did not return the ledger")
                    })?;
                    if remembers_own(&ledger, &d.mark) || memory(&ledger).knows(&d.mark) {
                        Ok(Some(Counted::Known(ledger)))
                    } else {
                        Ok(None)
                    }
                }
                _ => Err(sdk_error("record denial", e)),
            },
        }
    }

    /// Takes one of the ledger's records of their own (`counter` below
    /// `max`) for this serial, unless they are spent or the serial has one.
    async fn claim(
        &self,
        d: &Denial,
        mark: &Mark,
        counter: &'static str,
        max: u64,
    ) -> Result<Claimed, PortError> {
        // A new serial's count moves from the ledger to its record, and its
        // sample place, filled by it if empty, is left to the serials counted there.
        let uncount = if counter == OWN {
            format!(", {MOVED_OUT}")
        } else {
            String::new()
        };
        let mut req = self
            .update(d.ledger_id())
            .update_expression(format!("ADD #counter :one, #owns :tags{uncount}"))
            .condition_expression(
                "(attribute_not_exists(#counter) OR #counter < :max) AND NOT contains(#owns, :mark_hex)",
            )
            .expression_attribute_names("#counter", counter)
            .expression_attribute_names("#owns", OWNS)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max))
            .expression_attribute_values(":tags", AttributeValue::Ss(vec![mark.hex()]))
            .expression_attribute_values(":mark_hex", s(mark.hex()))
            .return_values(ReturnValue::None)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if counter == OWN {
            req = Self::moved_out(req, d);
        }
        match req.send().await {
            Ok(_) => Ok(Claimed::Taken),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(refused)) => {
                    let owned = refused.item().is_some_and(|l| remembers_own(l, mark));
                    Ok(if owned {
                        Claimed::Owned
                    } else {
                        Claimed::Spent
                    })
                }
                _ => Err(sdk_error("record denial", e)),
            },
        }
    }

    /// Takes a new serial's count back out of the ledger (it has a record now).
    async fn uncount(&self, d: &Denial) -> Result<(), PortError> {
        let req = self
            .update(d.ledger_id())
            .update_expression(format!("ADD {MOVED_OUT}"))
            .return_values(ReturnValue::None);
        Self::moved_out(req, d)
            .send()
            .await
            .map_err(|e| sdk_error("record denial", e))?;
        Ok(())
    }

    /// The values of [`MOVED_OUT`].
    fn moved_out(req: UpdateItemFluentBuilder, d: &Denial) -> UpdateItemFluentBuilder {
        req.expression_attribute_names("#serials", SERIALS)
            .expression_attribute_names("#sample", format!("{SAMPLE_PREFIX}{}", d.sample_entry().0))
            .expression_attribute_values(":minus", AttributeValue::N("-1".to_owned()))
    }

    /// Makes the ledger a row of Blocked attempts (kept as long as any), once.
    async fn open(&self, d: &Denial) -> Result<Recorded, PortError> {
        let result = self
            .update(d.ledger_id())
            .update_expression("SET kind = :kind, #opened = :yes, expires_at = :long")
            .condition_expression("attribute_exists(denial_id) AND attribute_not_exists(#opened)")
            .expression_attribute_names("#opened", OPENED)
            .expression_attribute_values(":kind", s(KIND))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":long", n(d.at + Denial::RETENTION_SECS))
            .return_values(ReturnValue::None)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Recorded::Opened { id: d.ledger_id() }),
            Err(e) if e.as_service_error().is_some_and(is_refused) => Ok(Recorded::Counted),
            Err(e) => Err(sdk_error("record denial", e)),
        }
    }

    /// Counts a returning serial's attempt in the ledger (a row from now
    /// on), and names the serial there if the ledger, as `seen`, had room
    /// and did not name it yet.
    async fn count_again(&self, d: &Denial, seen: &Item) -> Result<Recorded, PortError> {
        let shown = d.shown();
        let named = returned(seen);
        if named.len() < RETURNED && !named.contains(&shown) {
            if let Some(recorded) = self.count_again_at(d, Some(shown)).await? {
                return Ok(recorded);
            }
        }
        // Named meanwhile, or no room left: counted only.
        self.count_again_at(d, None)
            .await?
            .ok_or_else(|| PortError::new("record denial", "an unconditional count was refused"))
    }

    /// `None` when the ledger had no room for `name` (or named it already).
    async fn count_again_at(
        &self,
        d: &Denial,
        name: Option<String>,
    ) -> Result<Option<Recorded>, PortError> {
        let (req, set) = Self::last_attempt(self.update(d.ledger_id()), d);
        let naming = if name.is_some() {
            ", #returned = list_append(if_not_exists(#returned, :none), :names)"
        } else {
            ""
        };
        let mut req = req
            .update_expression(format!(
                "SET {set}{naming}, kind = :kind, #opened = :yes, expires_at = :long ADD attempts :one"
            ))
            .expression_attribute_names("#opened", OPENED)
            .expression_attribute_values(":kind", s(KIND))
            .expression_attribute_values(":long", n(d.at + Denial::RETENTION_SECS));
        if let Some(name) = name {
            req = req
                .condition_expression(
                    "(attribute_not_exists(#returned) OR size(#returned) < :room) \
                     AND NOT contains(#returned, :name)",
                )
                .expression_attribute_names("#returned", RETURNED_ATTR)
                .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
                .expression_attribute_values(":names", AttributeValue::L(vec![s(&name)]))
                .expression_attribute_values(":name", s(name))
                .expression_attribute_values(":room", n(RETURNED as u64));
        }
        let out = match req.send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(is_refused) => return Ok(None),
            Err(e) => return Err(sdk_error("record denial", e)),
        };
        let was_open = out.attributes().is_some_and(|a| a.contains_key(OPENED));
        Ok(Some(if was_open {
            Recorded::Counted
        } else {
            Recorded::Opened { id: d.ledger_id() }
        }))
    }

    /// Counts the attempt in its serial's own record for this reason and hour.
    async fn own_record(&self, d: &Denial) -> Result<Recorded, PortError> {
        let mut sets = vec![
            // The by-time index lists all denials under one partition, by their last attempt.
            ("kind", s(KIND)),
            ("at", s(rfc3339(d.at))),
            ("expires_at", n(d.at + Denial::RETENTION_SECS)),
            ("serial", s(&d.serial)),
            ("platform", s(d.platform)),
            ("reason", s(d.reason.as_str())),
            ("endpoint", s(d.endpoint)),
        ];
        for (attr, value) in [
            ("enrollment_method", &d.method),
            ("os_version", &d.os_version),
            ("source_ip", &d.source_ip),
        ] {
            if let Some(v) = value {
                sets.push((attr, s(v)));
            }
        }
        let id = d.record_id();
        let mut req = self
            .update(id.clone())
            .expression_attribute_names("#first", "first_at")
            .expression_attribute_names("#attempts", "attempts")
            .expression_attribute_values(":first", s(rfc3339(d.at)))
            .expression_attribute_values(":one", n(1));
        let mut expr = Vec::new();
        for (i, (attr, value)) in sets.into_iter().enumerate() {
            expr.push(format!("#a{i} = :v{i}"));
            req = req
                .expression_attribute_names(format!("#a{i}"), attr)
                .expression_attribute_values(format!(":v{i}"), value);
        }
        // One record per serial, reason and hour: a flood of one serial leaves one item with a count.
        let out = req
            .update_expression(format!(
                "SET {}, #first = if_not_exists(#first, :first) ADD #attempts :one",
                expr.join(", ")
            ))
            .send()
            .await
            .map_err(|e| sdk_error("record denial", e))?;
        let existed = out.attributes().is_some_and(|a| a.contains_key("attempts"));
        Ok(if existed {
            Recorded::Counted
        } else {
            Recorded::Created { id }
        })
    }
}

/// A DynamoDB item's size as billed: each attribute's name and value
/// (numbers at most 21 bytes; sets and lists their elements, plus 3 bytes
/// and 1 per element for lists and maps).
pub fn item_size(item: &Item) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(t) => t.len(),
            AttributeValue::N(t) => t.len().div_ceil(2) + 1,
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
            AttributeValue::Ns(v) => v.iter().map(|t| t.len().div_ceil(2) + 1).sum(),
            AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
            AttributeValue::L(v) => 3 + v.iter().map(|x| 1 + value(x)).sum::<usize>(),
            AttributeValue::M(m) => {
                3 + m.iter().map(|(k, x)| 1 + k.len() + value(x)).sum::<usize>()
            }
            _ => 0,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::grouping::{SAMPLE, SAMPLE_BYTES};

    /// The largest ledger there can be: both generations of its memory full, every sample place taken,
    /// the longest address, precise reason and counts of a year of attempts.
    #[test]
    fn a_ledger_fits_one_write_unit() {
        let mut item = Item::new();
        item.insert("denial_id".into(), s(format!("src-{}", "f".repeat(32))));
        let full = AttributeValue::L(vec![mark_value(&Mark([0xff; 4])); GENERATION]);
        item.insert(RECENT.into(), full.clone());
        item.insert(EARLIER.into(), full);
        let names = AttributeValue::L(vec![s("é".repeat(SAMPLE_BYTES / 2)); RETURNED]);
        item.insert(RETURNED_ATTR.into(), names);
        for i in 0..SAMPLE {
            item.insert(
                format!("{SAMPLE_PREFIX}{i}"),
                s("é".repeat(SAMPLE_BYTES / 2)),
            );
        }
        let tags = (0..OWN_FIRST + PROMOTIONS)
            .map(|i| format!("{i:08x}"))
            .collect();
        item.insert(OWNS.into(), AttributeValue::Ss(tags));
        for (k, v) in [
            (
                "source_ip",
                s("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"),
            ),
            ("at", s("2026-12-31T23:59:59Z")),
            ("first_at", s("2026-12-31T23:00:00Z")),
            ("platform", s("android")),
            ("reason", s("unsupported_enrollment_method")),
            ("endpoint", s("enrollments")),
            ("kind", s(KIND)),
            (GROUPED, AttributeValue::Bool(true)),
            (OPENED, AttributeValue::Bool(true)),
            ("expires_at", n(9_999_999_999)),
            ("attempts", n(99_999_999)),
            (SERIALS, n(99_999_999)),
            (OWN, n(OWN_FIRST)),
            (PROMOTED, n(PROMOTIONS)),
        ] {
            item.insert(k.into(), v);
        }
        let size = item_size(&item);
        // One write unit covers 1 KB; the index's copy adds 100 bytes of its own.
        eprintln!("largest ledger: {size} bytes");
        assert!(size <= 1024 - 100, "{size} bytes");
    }
}
