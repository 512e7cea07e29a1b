//! One CSV record -> one validated device row, or every problem with it.

use serde::{Deserialize, Serialize};

use crate::csvfile::{ColumnMap, Field, Proposal, Proposed};
use crate::domain::groups::{check_groups, checked_groups};
use crate::domain::{
    Email, Expiry, InviteChannel, IssueKind, Mobile, Ownership, Password, Platform, SerialNumber,
    ValueError,
};
use crate::outbox::Invite;
use crate::records::{DeviceRecord, DeviceStatus, UserRecord};

/// A problem with one cell (or one row, when `column` is empty), as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowIssue {
    pub row: u64,
    pub column: String,
    pub value: String,
    pub message: String,
    #[serde(default)]
    pub kind: IssueKind,
}

/// A row that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub row: u64,
    pub name: String,
    pub email: Email,
    pub ownership: Ownership,
    pub serial: SerialNumber,
    pub platform: Platform,
    pub sam_account_name: Option<String>,
    pub mobile: Option<Mobile>,
    pub device_name: Option<String>,
    pub password: Option<Password>,
    pub groups: Vec<String>,
    /// The row's own `Expires`; else the upload's default applies.
    pub expires: Option<Expiry>,
}

/// Stamped on every item a pre-approval writes: which import (or approval)
/// made it, for which directory domain, and when.
#[derive(Debug, Clone, Copy)]
pub struct Provenance<'a> {
    pub import_id: &'a str,
    pub domain: Option<&'a str>,
    pub at: &'a str,
    /// The upload's (or the settings') expiry for rows without their own.
    pub expires: Option<Expiry>,
}

impl DeviceRow {
    /// The device item this row pre-approves; the only place one is built.
    pub fn device_record(&self, password_hash: Option<String>, p: Provenance) -> DeviceRecord {
        DeviceRecord {
            serial: self.serial.as_str().to_owned(),
            status: DeviceStatus::PreApproved,
            platform: self.platform,
            ownership: Some(self.ownership),
            email: self.email.key(),
            device_name: self.device_name.clone(),
            groups: self.groups.clone(),
            password_hash,
            import_id: p.import_id.to_owned(),
            domain: p.domain.map(str::to_owned),
            updated_at: p.at.to_owned(),
            enrollment: None,
            checks: Default::default(),
            invite: None,
            expires: self.expires.or(p.expires),
            ade: None,
        }
    }

    /// The enrollment invite for this row's device by `channel`, if that
    /// channel reaches its user (an SMS needs a mobile number).
    pub fn invite(&self, channel: InviteChannel) -> Option<Invite> {
        let to = match channel {
            InviteChannel::Email => self.email.as_str().to_owned(),
            InviteChannel::Sms => self.mobile.as_ref()?.as_str().to_owned(),
            InviteChannel::None => return None,
        };
        Some(Invite {
            row: self.row,
            channel,
            to,
            user_name: self.name.clone(),
            serial: self.serial.as_str().to_owned(),
            device_name: self.device_name.clone(),
            platform: self.platform.as_str(),
            password: self.password.as_ref().map(|p| p.expose().to_owned()),
        })
    }

    /// The user item this row carries; the only place one is built.
    pub fn user_record(&self, p: Provenance) -> UserRecord {
        UserRecord {
            email: self.email.key(),
            address: self.email.as_str().to_owned(),
            name: self.name.clone(),
            sam_account_name: self.sam_account_name.clone(),
            mobile: self.mobile.as_ref().map(|m| m.as_str().to_owned()),
            domain: p.domain.map(str::to_owned),
            import_id: p.import_id.to_owned(),
            updated_at: p.at.to_owned(),
        }
    }
}

/// A row that passed validation, still borrowing its cells from the record:
/// the validation pass of a million-row file learns what it needs from this
/// without copying every cell. Only [`check_row`] builds one.
#[derive(Debug)]
pub struct CheckedRow<'a> {
    pub row: u64,
    name: &'a str,
    pub email: &'a str,
    ownership: Ownership,
    pub serial: &'a str,
    platform: Platform,
    sam_account_name: Option<&'a str>,
    mobile: Option<Mobile>,
    device_name: Option<&'a str>,
    password: Option<&'a str>,
    groups: &'a str,
    expires: Option<Expiry>,
}

impl CheckedRow<'_> {
    pub fn to_device_row(&self) -> DeviceRow {
        DeviceRow {
            row: self.row,
            name: self.name.to_owned(),
            email: Email::checked(self.email),
            ownership: self.ownership,
            serial: SerialNumber::checked(self.serial),
            platform: self.platform,
            sam_account_name: self.sam_account_name.map(str::to_owned),
            mobile: self.mobile.clone(),
            device_name: self.device_name.map(str::to_owned),
            password: self.password.map(Password::checked),
            groups: checked_groups(self.groups),
            expires: self.expires,
        }
    }
}

const MAX_TEXT: usize = 256;

/// What a validated row's cells looked like, for the messages about them.
struct Cells<'a, 'w> {
    row: u64,
    record: &'a csv::StringRecord,
    map: &'a ColumnMap,
    errors: Vec<RowIssue>,
    warnings: &'w mut Vec<RowIssue>,
}

impl<'a> Cells<'a, '_> {
    /// The trimmed cell; trimming is reported as a warning (it may matter for a serial).
    fn get(&mut self, field: Field) -> &'a str {
        let Some(raw) = self.map.cell(self.record, field) else {
            return "";
        };
        // Most cells start and end with a visible ASCII character: nothing to trim, nothing to scan.
        let visible = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_graphic());
        if visible(raw.as_bytes().first()) && visible(raw.as_bytes().last()) {
            return raw;
        }
        let trimmed = raw.trim();
        if trimmed.len() != raw.len() && !trimmed.is_empty() {
            self.warnings.push(RowIssue {
                row: self.row,
                column: self.map.title(field).to_owned(),
                value: shown(field, trimmed),
                message: "surrounding spaces were removed".into(),
                kind: IssueKind::Trimmed,
            });
        }
        trimmed
    }

    fn fail(&mut self, field: Field, value: &str, e: ValueError) {
        self.errors.push(RowIssue {
            row: self.row,
            column: self.map.title(field).to_owned(),
            value: shown(field, value),
            message: e.message,
            kind: e.kind,
        });
    }

    /// Like [`check`](Self::check), on the cell exactly as the file has it.
    fn check_raw<T>(
        &mut self,
        field: Field,
        parse: impl FnOnce(&'a str) -> Result<T, ValueError>,
    ) -> Option<T> {
        let v = self.map.cell(self.record, field).unwrap_or("");
        match parse(v) {
            Ok(t) => Some(t),
            Err(e) => {
                self.fail(field, v, e);
                None
            }
        }
    }

    fn check<T>(
        &mut self,
        field: Field,
        parse: impl FnOnce(&'a str) -> Result<T, ValueError>,
    ) -> Option<T> {
        let v = self.get(field);
        match parse(v) {
            Ok(t) => Some(t),
            Err(e) => {
                self.fail(field, v, e);
                None
            }
        }
    }

    /// A platform the admin took from another column: the row's proposal,
    /// or an error naming that column and its cell.
    fn proposed_platform(&mut self, p: Proposed<'_>) -> Option<Platform> {
        let column = self.map.title(Field::Platform);
        let e = match p.proposal {
            Proposal::Platform(value) => return Platform::parse(value).ok(),
            Proposal::Windows => ValueError::new(
                IssueKind::Unsupported,
                format!(
                    "'{}' is a Windows device: Windows devices are not supported for pre-approved \
                     enrollment; leave this row out and enroll the device another way",
                    shown(Field::Platform, p.cell)
                ),
            ),
            Proposal::Nothing if p.cell.is_empty() => ValueError::new(
                IssueKind::Missing,
                format!(
                    "{column} is empty, so no platform can be proposed for this row; fill it in \
                     or leave the row out"
                ),
            ),
            Proposal::Nothing => ValueError::new(
                IssueKind::NotAllowed,
                format!(
                    "no platform can be proposed from '{}': {column} is read as {}; correct the \
                     cell or leave the row out",
                    shown(Field::Platform, p.cell),
                    p.source.words()
                ),
            ),
        };
        self.fail(Field::Platform, p.cell, e);
        None
    }

    fn optional<T>(
        &mut self,
        field: Field,
        parse: impl FnOnce(&'a str) -> Result<T, ValueError>,
    ) -> Option<T> {
        let v = self.get(field);
        if v.is_empty() {
            return None;
        }
        match parse(v) {
            Ok(t) => Some(t),
            Err(e) => {
                self.fail(field, v, e);
                None
            }
        }
    }
}

/// Passwords never appear in reports. A long cell is cut: a report names the cell, it does not carry it.
fn shown(field: Field, value: &str) -> String {
    if field == Field::Password {
        "***".into()
    } else {
        crate::domain::clip_to(value, SHOWN_CHARS).into_owned()
    }
}

/// Characters of a cell a report or preview shows.
pub const SHOWN_CHARS: usize = 100;

fn text<'a>(
    label: &'static str,
    required: bool,
) -> impl Fn(&'a str) -> Result<&'a str, ValueError> {
    move |v| {
        if required && v.is_empty() {
            Err(ValueError::new(
                IssueKind::Missing,
                format!("{label} is empty; every row needs it"),
            ))
        } else if v.len() > MAX_TEXT {
            Err(ValueError::new(
                IssueKind::TooLong,
                format!("{label} is longer than {MAX_TEXT} characters"),
            ))
        } else {
            Ok(v)
        }
    }
}

/// What a row is checked against besides its own cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRules {
    pub invite: InviteChannel,
    /// An `Expires` before this (epoch seconds; the validation's start) is an error.
    pub now: u64,
}

/// Validates one record, reporting every problem with it. Warnings (trimmed
/// cells) go to `warnings` either way.
pub fn check_row<'a>(
    row: u64,
    record: &'a csv::StringRecord,
    map: &'a ColumnMap,
    rules: RowRules,
    warnings: &mut Vec<RowIssue>,
) -> Result<CheckedRow<'a>, Vec<RowIssue>> {
    let invite = rules.invite;
    let mut c = Cells {
        row,
        record,
        map,
        errors: Vec::new(),
        warnings,
    };
    let name = c.check(Field::Name, text("the name", true));
    let email = c.check(Field::Email, |v| Email::check(v).map(|()| v));
    let ownership = c.check(Field::Ownership, Ownership::parse);
    // Untrimmed: a space around a serial is refused, not silently removed (no device reports it).
    let serial = c.check_raw(Field::SerialNumber, |v| SerialNumber::check(v).map(|()| v));
    let platform = match map.proposed(record, Field::Platform) {
        Some(p) => c.proposed_platform(p),
        None => c.check(Field::Platform, Platform::parse),
    };
    let sam_account_name = c.optional(Field::SamAccountName, text("SAMAccountName", false));
    let mobile = c.optional(Field::Mobile, Mobile::parse);
    let device_name = c.optional(Field::DeviceName, text("the device name", false));
    // A password is taken as written: spaces may be part of it.
    let password = match map.cell(record, Field::Password) {
        Some(raw) if !raw.is_empty() => match Password::parse(raw) {
            Ok(_) => {
                if raw.chars().count() < Password::RECOMMENDED_LEN {
                    c.warnings.push(RowIssue {
                        row,
                        column: map.title(Field::Password).to_owned(),
                        value: shown(Field::Password, raw),
                        message: format!(
                            "the enrollment password is shorter than {} characters: five wrong \
                             guesses lock the device, but a short password still falls to a \
                             patient guesser; use {} or more",
                            Password::RECOMMENDED_LEN,
                            Password::RECOMMENDED_LEN
                        ),
                        kind: IssueKind::WeakPassword,
                    });
                }
                Some(raw)
            }
            Err(e) => {
                c.fail(Field::Password, raw, e);
                None
            }
        },
        _ => None,
    };
    let groups = c
        .optional(Field::DeviceGroup, |v| check_groups(v).map(|()| v))
        .unwrap_or_default();
    let expires = c.optional(Field::Expires, |v| Expiry::parse(v, rules.now));
    if invite == InviteChannel::Sms && mobile.is_none() && c.get(Field::Mobile).is_empty() {
        c.fail(
            Field::Mobile,
            "",
            ValueError::new(
                IssueKind::Missing,
                "invites go by SMS but this row has no mobile number; add one or send invites by email",
            ),
        );
    }
    match (name, email, ownership, serial, platform) {
        (Some(name), Some(email), Some(ownership), Some(serial), Some(platform))
            if c.errors.is_empty() =>
        {
            Ok(CheckedRow {
                row,
                name,
                email,
                ownership,
                serial,
                platform,
                sam_account_name,
                mobile,
                device_name,
                password,
                groups,
                expires,
            })
        }
        _ => Err(c.errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csvfile::ManualMapping;

    fn map() -> ColumnMap {
        let h: Vec<String> = [
            "Name",
            "Email",
            "Ownership",
            "Serial Number",
            "Platform",
            "Mobile",
            "Password",
            "Device Group",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        ColumnMap::build(&h, &ManualMapping::new()).unwrap()
    }

    /// Validates one row of `map()`'s columns: Name, Email, Ownership, Serial,
    /// Platform, Mobile, Password, Device Group.
    fn check(
        row: u64,
        cells: [&str; 8],
        invite: InviteChannel,
    ) -> (Result<DeviceRow, Vec<RowIssue>>, Vec<RowIssue>) {
        let mut warnings = Vec::new();
        let record = csv::StringRecord::from(cells.to_vec());
        let result = check_row(
            row,
            &record,
            &map(),
            RowRules { invite, now: NOW },
            &mut warnings,
        )
        .map(|r| r.to_device_row());
        (result, warnings)
    }

    const EMAIL: InviteChannel = InviteChannel::Email;
    /// 2026-11-22T10:00:00Z
    const NOW: u64 = 1_795_341_600;

    #[test]
    fn an_expires_cell_is_checked_and_beats_the_upload_default() {
        let h = [
            "Name",
            "Email",
            "Ownership",
            "Serial Number",
            "Platform",
            "Expiry Date",
        ]
        .map(String::from)
        .to_vec();
        let map = ColumnMap::build(&h, &ManualMapping::new()).unwrap();
        let rules = RowRules {
            invite: EMAIL,
            now: NOW,
        };
        let row = |expires: &str| {
            let rec = csv::StringRecord::from(vec![
                "Jane",
                "jane@example.com",
                "corporate",
                "C02",
                "ios",
                expires,
            ]);
            check_row(4, &rec, &map, rules, &mut Vec::new()).map(|r| r.to_device_row())
        };
        let default = Some(Expiry::from_epoch(NOW + 86_400));
        let p = Provenance {
            import_id: "i",
            domain: None,
            at: "t",
            expires: default,
        };
        let own = row("2027-03-31").unwrap();
        assert_eq!(
            own.device_record(None, p)
                .expires
                .map(Expiry::rfc3339)
                .as_deref(),
            Some("2027-04-01T00:00:00Z")
        );
        assert_eq!(row("").unwrap().device_record(None, p).expires, default);
        let e = row("31/03/2027").unwrap_err();
        assert_eq!(
            (e[0].row, e[0].column.as_str(), e[0].value.as_str()),
            (4, "Expiry Date", "31/03/2027")
        );
        assert!(e[0].message.contains("YYYY-MM-DD"));
        assert!(row("2020-01-01").unwrap_err()[0]
            .message
            .contains("in the past"));
    }

    #[test]
    fn a_good_row() {
        let (r, w) = check(
            2,
            [
                "Jane",
                "jane@example.com",
                "corporate",
                "C02ABC",
                "macos",
                "",
                " s3cret ",
                "A;B",
            ],
            EMAIL,
        );
        let r = r.unwrap();
        assert_eq!(r.serial.as_str(), "C02ABC");
        assert_eq!(r.password.unwrap().expose(), " s3cret ");
        assert_eq!(r.groups, vec!["A", "B"]);
        assert!(w.is_empty());
    }

    #[test]
    fn cells_an_export_escaped_as_text_import_as_they_were() {
        let (r, w) = check(
            2,
            [
                "'=Jane",
                "jane@example.com",
                "corporate",
                "'-C02",
                "ios",
                "'+14155550100",
                "'@pass-word",
                "'quoted",
            ],
            EMAIL,
        );
        let r = r.unwrap();
        assert_eq!(r.name, "=Jane");
        assert_eq!(r.serial.as_str(), "-C02");
        assert_eq!(
            r.mobile.map(|m| m.as_str().to_owned()).as_deref(),
            Some("+14155550100")
        );
        assert_eq!(r.password.unwrap().expose(), "@pass-word");
        assert_eq!(
            r.groups,
            vec!["'quoted"],
            "only a formula's apostrophe goes"
        );
        assert!(w.iter().all(|i| i.kind != IssueKind::Trimmed), "{w:?}");
    }

    #[test]
    fn a_short_password_is_accepted_with_a_warning_naming_the_row() {
        let cells = |pw| {
            [
                "Jane",
                "jane@example.com",
                "corporate",
                "C02ABC",
                "macos",
                "",
                pw,
                "",
            ]
        };
        let (r, w) = check(9, cells("1234"), EMAIL);
        assert!(r.is_ok());
        assert_eq!(
            (w.len(), w[0].row, w[0].column.as_str(), w[0].value.as_str()),
            (1, 9, "Password", "***")
        );
        assert!(w[0].message.contains("shorter than 8"));
        let (_, w) = check(9, cells("12345678"), EMAIL);
        assert!(w.is_empty());
    }

    #[test]
    fn every_error_of_a_row_is_listed_with_its_column() {
        let (r, _) = check(
            7,
            ["", "nope", "Corporate", "", "windows", "", "", ""],
            EMAIL,
        );
        let e = r.unwrap_err();
        let cols: Vec<&str> = e.iter().map(|i| i.column.as_str()).collect();
        assert_eq!(
            cols,
            vec!["Name", "Email", "Ownership", "Serial Number", "Platform"]
        );
        assert!(e.iter().all(|i| i.row == 7));
        assert_eq!(e[2].value, "Corporate");
    }

    #[test]
    fn trimming_is_reported() {
        let (r, w) = check(
            3,
            [
                "Jane ",
                "jane@example.com",
                "personal",
                "ABC",
                "ios",
                "",
                "",
                "",
            ],
            EMAIL,
        );
        assert_eq!(r.unwrap().name, "Jane");
        assert_eq!((w.len(), w[0].column.as_str()), (1, "Name"));
    }

    #[test]
    fn serials_no_device_reports_are_errors_showing_the_character() {
        for (serial, shown) in [
            (" ABC ", "U+0020 SPACE at its start or end"),
            ("AB\u{200B}C", "U+200B ZERO WIDTH SPACE inside it"),
            ("\u{202E}CBA", "U+202E RIGHT-TO-LEFT OVERRIDE"),
            ("ABC\u{FEFF}", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
            ("A\u{00AD}BC", "U+00AD SOFT HYPHEN"),
        ] {
            let (r, _) = check(
                5,
                [
                    "Jane",
                    "jane@example.com",
                    "personal",
                    serial,
                    "ios",
                    "",
                    "",
                    "",
                ],
                EMAIL,
            );
            let e = r.unwrap_err();
            assert_eq!((e[0].row, e[0].column.as_str()), (5, "Serial Number"));
            assert!(e[0].message.contains(shown), "{serial:?}: {}", e[0].message);
        }
        let (r, _) = check(
            5,
            [
                "Jane",
                "jane@example.com",
                "personal",
                "C02 ABC-1",
                "ios",
                "",
                "",
                "",
            ],
            EMAIL,
        );
        assert_eq!(
            r.unwrap().serial.as_str(),
            "C02 ABC-1",
            "an inner space is the serial's own"
        );
    }

    #[test]
    fn sms_invites_need_a_mobile() {
        let (r, _) = check(
            4,
            [
                "Jane",
                "jane@example.com",
                "personal",
                "ABC",
                "ios",
                "",
                "",
                "",
            ],
            InviteChannel::Sms,
        );
        let e = r.unwrap_err();
        assert_eq!(e[0].column, "Mobile");
        assert!(e[0].message.contains("SMS"));
    }

    #[test]
    fn password_values_are_masked_in_issues() {
        let long = "x".repeat(300);
        let (r, _) = check(
            5,
            [
                "Jane",
                "jane@example.com",
                "personal",
                "ABC",
                "ios",
                "",
                &long,
                "",
            ],
            EMAIL,
        );
        assert_eq!(r.unwrap_err()[0].value, "***");
    }
}
