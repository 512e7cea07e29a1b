//! DynamoDB item layouts of devices, users and imports (one place for all readers and writers).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::clock::now_rfc3339;
use crate::domain::InviteState;
use crate::domain::{Expiry, InviteChannel, Ownership, Platform};
use crate::import::ports::ImportState;
use crate::import::{Counts, ImportStatus};
use crate::port_error::PortError;
use crate::records::{
    AdeLink, DeviceInvite, DeviceRecord, DeviceSource, DeviceStatus, EnrollmentInfo,
    PasswordChecks, UserRecord, ADE_ORIGIN_PREFIX,
};

pub type Item = HashMap<String, AttributeValue>;

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn get_s<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    match item.get(key) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

pub fn get_n(item: &Item, key: &str) -> u64 {
    get_n_opt(item, key).unwrap_or(0)
}

/// A number, None when absent or not a whole number.
pub fn get_n_opt(item: &Item, key: &str) -> Option<u64> {
    match item.get(key) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// A list of strings (`L` of `S`), empty when absent.
pub fn get_strings(item: &Item, key: &str) -> Vec<String> {
    match item.get(key) {
        Some(AttributeValue::L(l)) => l.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        _ => Vec::new(),
    }
}

/// Admission's password checks on a device item ([`PasswordChecks`]).
pub const CHECKS: &str = "checks";
pub const CHECKS_CLEARED: &str = "checks_cleared";
pub const LAST_CHECK_AT: &str = "last_check_at";

/// A device item's password checks (zero when it has none).
pub fn password_checks(item: &Item) -> PasswordChecks {
    PasswordChecks {
        claimed: get_n(item, CHECKS),
        cleared: get_n(item, CHECKS_CLEARED),
        last_at: get_n(item, LAST_CHECK_AT),
    }
}

fn put_opt(item: &mut Item, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        item.insert(key.to_owned(), s(v));
    }
}

/// The `by-expiry` index's partition key: present only on a pre-approved
/// device with an expiry, so the index holds exactly the pre-approvals that
/// may lapse, spread over [`EXPIRY_SHARDS`] partitions.
pub const EXPIRY_SHARD: &str = "expiry_shard";
pub const EXPIRY_SHARDS: u32 = 16;

/// The ADE account that lists a device: the sparse `by-ade-account` index's key.
pub const ADE_ACCOUNT: &str = "ade_account";
/// The full fetch that last saw the device (a reconcile removes the ones it did not).
pub const ADE_RUN: &str = "ade_run";

/// A filter expression that keeps the devices whose pre-approval came from
/// `source` (as [`DeviceRecord::source`] tells it), and the values it names.
pub fn source_condition(
    source: DeviceSource,
) -> (&'static str, Vec<(&'static str, AttributeValue)>) {
    let ade = || (":ade", s(ADE_ORIGIN_PREFIX));
    let zero = || (":zero", n(0));
    match source {
        DeviceSource::Ade => ("begins_with(import_id, :ade)", vec![ade()]),
        DeviceSource::Csv => (
            "size(import_id) > :zero AND NOT begins_with(import_id, :ade)",
            vec![zero(), ade()],
        ),
        DeviceSource::Enrollment => (
            "(attribute_not_exists(import_id) OR size(import_id) = :zero)",
            vec![zero()],
        ),
    }
}

/// FNV-1a: a spread of keys over partitions that stays the same across releases.
pub fn stable_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Which `by-expiry` partition a serial's pre-approval is in.
pub fn expiry_shard(serial: &str) -> String {
    (stable_hash(serial) % u64::from(EXPIRY_SHARDS)).to_string()
}

pub fn device_item(d: &DeviceRecord) -> Item {
    let mut item = Item::from([
        ("serial".to_owned(), s(&d.serial)),
        ("status".to_owned(), s(d.status.as_str())),
        ("platform".to_owned(), s(d.platform.as_str())),
        ("email".to_owned(), s(&d.email)),
        ("import_id".to_owned(), s(&d.import_id)),
        ("updated_at".to_owned(), s(&d.updated_at)),
        (
            "groups".to_owned(),
            AttributeValue::L(d.groups.iter().map(s).collect()),
        ),
    ]);
    put_opt(
        &mut item,
        "ownership",
        &d.ownership.map(|o| o.as_str().to_owned()),
    );
    put_opt(&mut item, "device_name", &d.device_name);
    put_opt(&mut item, "password_hash", &d.password_hash);
    put_opt(&mut item, "domain", &d.domain);
    if d.checks != PasswordChecks::default() {
        item.insert(CHECKS.to_owned(), n(d.checks.claimed));
        item.insert(CHECKS_CLEARED.to_owned(), n(d.checks.cleared));
        item.insert(LAST_CHECK_AT.to_owned(), n(d.checks.last_at));
    }
    if let Some(e) = d.expires {
        item.insert("expires_at".to_owned(), n(e.epoch()));
        if d.status == DeviceStatus::PreApproved {
            item.insert(EXPIRY_SHARD.to_owned(), s(expiry_shard(&d.serial)));
        }
    }
    if let Some(i) = &d.invite {
        item.insert("invite_ref".to_owned(), s(&i.reference));
        item.insert("invite_state".to_owned(), s(i.state.as_str()));
    }
    if let Some(a) = &d.ade {
        item.insert(ADE_ACCOUNT.to_owned(), s(&a.account));
        put_opt(&mut item, "ade_model", &a.model);
        put_opt(&mut item, "ade_description", &a.description);
        put_opt(&mut item, "ade_color", &a.color);
        put_opt(&mut item, "ade_asset_tag", &a.asset_tag);
        put_opt(&mut item, "ade_assigned_date", &a.device_assigned_date);
    }
    if let Some(e) = &d.enrollment {
        item.insert("enrolled_at".to_owned(), s(&e.enrolled_at));
        put_opt(&mut item, "enrollment_method", &e.method);
        put_opt(&mut item, "os_version", &e.os_version);
        item.insert(
            "pre_approval_applied".to_owned(),
            AttributeValue::Bool(e.pre_approved),
        );
    }
    item
}

pub fn device_record(item: &Item) -> Option<DeviceRecord> {
    let text = |k: &str| get_s(item, k).map(str::to_owned);
    Some(DeviceRecord {
        serial: text("serial")?,
        status: DeviceStatus::parse(get_s(item, "status")?)?,
        platform: Platform::parse(get_s(item, "platform")?).ok()?,
        ownership: get_s(item, "ownership").and_then(|o| Ownership::parse(o).ok()),
        email: text("email").unwrap_or_default(),
        device_name: text("device_name"),
        groups: get_strings(item, "groups"),
        password_hash: text("password_hash"),
        import_id: text("import_id").unwrap_or_default(),
        domain: text("domain"),
        updated_at: text("updated_at").unwrap_or_default(),
        checks: password_checks(item),
        expires: get_n_opt(item, "expires_at").map(Expiry::from_epoch),
        invite: get_s(item, "invite_ref")
            .zip(get_s(item, "invite_state").and_then(InviteState::parse))
            .map(|(reference, state)| DeviceInvite {
                reference: reference.to_owned(),
                state,
            }),
        ade: text(ADE_ACCOUNT).map(|account| AdeLink {
            account,
            model: text("ade_model"),
            description: text("ade_description"),
            color: text("ade_color"),
            asset_tag: text("ade_asset_tag"),
            device_assigned_date: text("ade_assigned_date"),
        }),
        enrollment: text("enrolled_at").map(|enrolled_at| EnrollmentInfo {
            enrolled_at,
            method: text("enrollment_method"),
            os_version: text("os_version"),
            pre_approved: matches!(
                item.get("pre_approval_applied"),
                Some(AttributeValue::Bool(true))
            ),
        }),
    })
}

pub fn user_item(u: &UserRecord) -> Item {
    let mut item = Item::from([
        ("email".to_owned(), s(&u.email)),
        ("address".to_owned(), s(&u.address)),
        ("name".to_owned(), s(&u.name)),
        ("import_id".to_owned(), s(&u.import_id)),
        ("updated_at".to_owned(), s(&u.updated_at)),
    ]);
    put_opt(&mut item, "sam_account_name", &u.sam_account_name);
    put_opt(&mut item, "mobile", &u.mobile);
    put_opt(&mut item, "domain", &u.domain);
    item
}

pub fn user_record(item: &Item) -> Option<UserRecord> {
    let text = |k: &str| get_s(item, k).map(str::to_owned);
    let email = text("email")?;
    Some(UserRecord {
        address: text("address").unwrap_or_else(|| email.clone()),
        name: text("name").unwrap_or_default(),
        sam_account_name: text("sam_account_name"),
        mobile: text("mobile"),
        domain: text("domain"),
        import_id: text("import_id").unwrap_or_default(),
        updated_at: text("updated_at").unwrap_or_default(),
        email,
    })
}

fn json<T: serde::Serialize>(v: &T) -> Result<AttributeValue, PortError> {
    serde_json::to_string(v)
        .map(s)
        .map_err(|e| PortError::new("encode import", e))
}

fn from_json<T: serde::de::DeserializeOwned + Default>(
    item: &Item,
    key: &str,
) -> Result<T, PortError> {
    match get_s(item, key) {
        Some(v) => serde_json::from_str(v).map_err(|e| PortError::new("decode import", e)),
        None => Ok(T::default()),
    }
}

/// The import record's attributes (without its key), as the admin page reads them.
pub fn import_item(st: &ImportState) -> Result<Item, PortError> {
    let c = &st.counts;
    let mut item = Item::from([
        ("bucket".to_owned(), s(&st.bucket)),
        ("key".to_owned(), s(&st.key)),
        ("status".to_owned(), s(st.status.as_str())),
        ("options".to_owned(), json(&st.options)?),
        ("created_at".to_owned(), s(&st.created_at)),
        ("updated_at".to_owned(), s(now_rfc3339())),
        ("rows".to_owned(), n(c.rows)),
        ("valid_rows".to_owned(), n(c.valid_rows)),
        ("devices_written".to_owned(), n(c.devices_written)),
        ("users_written".to_owned(), n(c.users_written)),
        ("invites_queued".to_owned(), n(c.invites_queued)),
        ("rows_done".to_owned(), n(st.rows_done)),
        ("rows_validated".to_owned(), n(st.rows_validated)),
        ("skipped".to_owned(), json(&st.skipped)?),
        ("skipped_total".to_owned(), n(st.skipped_total)),
    ]);
    put_opt(&mut item, "version", &st.version);
    Ok(item)
}

pub fn import_state(item: &Item) -> Result<ImportState, PortError> {
    let text = |k: &str| get_s(item, k).unwrap_or_default().to_owned();
    Ok(ImportState {
        import_id: text("import_id"),
        bucket: text("bucket"),
        key: text("key"),
        version: get_s(item, "version").map(str::to_owned),
        status: ImportStatus::parse(&text("status"))
            .ok_or_else(|| PortError::new("decode import", "unknown status"))?,
        options: from_json(item, "options")?,
        counts: Counts {
            rows: get_n(item, "rows"),
            valid_rows: get_n(item, "valid_rows"),
            devices_written: get_n(item, "devices_written"),
            users_written: get_n(item, "users_written"),
            invites_queued: get_n(item, "invites_queued"),
        },
        rows_done: get_n(item, "rows_done"),
        rows_validated: get_n(item, "rows_validated"),
        skipped: from_json(item, "skipped")?,
        skipped_total: get_n(item, "skipped_total"),
        created_at: text("created_at"),
    })
}

/// How an invite's channel is written in items and keys.
pub fn channel_str(c: InviteChannel) -> &'static str {
    match c {
        InviteChannel::Email => "email",
        InviteChannel::Sms => "sms",
        InviteChannel::None => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ImportOptions;

    #[test]
    fn device_items_round_trip() {
        let d = DeviceRecord {
            serial: "AbC1".into(),
            status: DeviceStatus::PreApproved,
            platform: Platform::Ios,
            ownership: Some(Ownership::Corporate),
            email: "a@x.com".into(),
            device_name: None,
            groups: vec!["G".into()],
            password_hash: Some("v1$00".into()),
            import_id: "i".into(),
            domain: None,
            updated_at: "t".into(),
            enrollment: None,
            checks: PasswordChecks::default(),
            invite: None,
            expires: None,
            ade: None,
        };
        assert_eq!(device_record(&device_item(&d)), Some(d.clone()));
        let enrolled = DeviceRecord {
            status: DeviceStatus::Enrolled,
            checks: PasswordChecks {
                claimed: 7,
                cleared: 5,
                last_at: 1_800_000_000,
            },
            ownership: None,
            password_hash: None,
            enrollment: Some(EnrollmentInfo {
                enrolled_at: "t2".into(),
                method: Some("ade".into()),
                os_version: None,
                pre_approved: true,
            }),
            ..d
        };
        assert_eq!(device_record(&device_item(&enrolled)), Some(enrolled));
    }

    #[test]
    fn user_items_round_trip() {
        let u = UserRecord {
            email: "ann@x.com".into(),
            address: "Ann@X.com".into(),
            name: "Ann".into(),
            sam_account_name: Some("ann".into()),
            mobile: None,
            domain: Some("corp".into()),
            import_id: "i".into(),
            updated_at: "t".into(),
        };
        assert_eq!(user_record(&user_item(&u)), Some(u));
    }

    #[test]
    fn import_items_round_trip() {
        let st = ImportState {
            import_id: "id".into(),
            bucket: "b".into(),
            key: "imports/x.csv".into(),
            version: Some("v".into()),
            status: ImportStatus::Writing,
            options: ImportOptions::default(),
            counts: Counts {
                rows: 5,
                invites_queued: 2,
                ..Counts::default()
            },
            rows_done: 3,
            rows_validated: 5,
            skipped: vec![],
            skipped_total: 0,
            created_at: "t".into(),
        };
        let mut item = import_item(&st).unwrap();
        item.insert("import_id".into(), s("id"));
        assert_eq!(import_state(&item).unwrap(), st);
    }
}
