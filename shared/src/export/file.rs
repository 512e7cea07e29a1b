//! The export's CSV: the import's own column titles, so the file can be
//! edited and imported again, and every cell escaped against formulas.

use std::collections::HashMap;

use crate::csvfile::formula::escape;
use crate::csvfile::Field;
use crate::records::{DeviceRecord, UserRecord};

/// The import's columns, in its order, but the password, which is kept only
/// as a keyed hash and cannot be given back.
pub fn columns() -> impl Iterator<Item = Field> {
    Field::ALL.into_iter().filter(|f| *f != Field::Password)
}

/// UTF-8 with a byte-order mark, so that Excel opens it with the right encoding.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Writes rows into a growing buffer the caller drains ([`take`](Self::take)).
pub struct CsvRows {
    w: csv::Writer<Vec<u8>>,
}

impl CsvRows {
    /// A buffer holding the byte-order mark and the header row.
    pub fn new(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity);
        buf.extend_from_slice(BOM);
        let mut rows = Self { w: writer(buf) };
        // Writing to a Vec cannot fail.
        let _ = rows.w.write_record(columns().map(Field::title));
        rows
    }

    /// One device with its user (`users` by email key): a device without a
    /// stored user still has its owner's key as the e-mail.
    pub fn push(&mut self, d: &DeviceRecord, users: &HashMap<String, UserRecord>) {
        let user = users.get(&d.email);
        let cell = |f: Field| -> String {
            match f {
                Field::Name => user.map(|u| u.name.clone()).unwrap_or_default(),
                Field::Email => user.map_or_else(|| d.email.clone(), |u| u.address.clone()),
                Field::Ownership => d
                    .ownership
                    .map(|o| o.as_str().to_owned())
                    .unwrap_or_default(),
                Field::SerialNumber => d.serial.clone(),
                Field::Platform => d.platform.as_str().to_owned(),
                Field::SamAccountName => user
                    .and_then(|u| u.sam_account_name.clone())
                    .unwrap_or_default(),
                Field::Mobile => user.and_then(|u| u.mobile.clone()).unwrap_or_default(),
                Field::DeviceName => d.device_name.clone().unwrap_or_default(),
                Field::DeviceGroup => d.groups.join("; "),
                Field::Password => String::new(),
                Field::Expires => d.expires.map(|e| e.rfc3339()).unwrap_or_default(),
            }
        };
        let _ = self
            .w
            .write_record(columns().map(|f| escape(&cell(f)).into_owned()));
    }

    /// Bytes written so far.
    pub fn len(&mut self) -> usize {
        let _ = self.w.flush();
        self.w.get_ref().len()
    }

    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Takes the first `n` bytes written (all of them when fewer).
    pub fn take(&mut self, n: usize) -> Vec<u8> {
        let w = std::mem::replace(&mut self.w, writer(Vec::new()));
        // Flushing into a Vec cannot fail.
        let mut head = w.into_inner().unwrap_or_default();
        let rest = head.split_off(n.min(head.len()));
        let mut kept = Vec::with_capacity(head.capacity().max(rest.len()));
        kept.extend_from_slice(&rest);
        self.w = writer(kept);
        head
    }
}

fn writer(buf: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(buf)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::{Ownership, Platform};
    use crate::records::DeviceStatus;

    pub(crate) fn device(serial: &str, email: &str) -> DeviceRecord {
        DeviceRecord {
            serial: serial.into(),
            status: DeviceStatus::PreApproved,
            platform: Platform::Ios,
            ownership: Some(Ownership::Corporate),
            email: email.into(),
            device_name: Some("=HYPERLINK(\"http://x\")".into()),
            groups: vec!["Sales".into(), "EU".into()],
            password_hash: Some("secret-hash".into()),
            import_id: "imp".into(),
            domain: None,
            updated_at: String::new(),
            enrollment: None,
            checks: Default::default(),
            invite: None,
            expires: None,
            ade: None,
        }
    }

    #[test]
    fn rows_carry_the_import_titles_and_escape_formulas_but_never_a_password() {
        let user = UserRecord {
            email: "ann@example.com".into(),
            address: "Ann@Example.com".into(),
            name: "Ann, \"the\" admin".into(),
            sam_account_name: Some("ann".into()),
            mobile: Some("+14155550100".into()),
            domain: None,
            import_id: "imp".into(),
            updated_at: String::new(),
        };
        let users = HashMap::from([(user.email.clone(), user)]);
        let mut rows = CsvRows::new(1024);
        rows.push(&device("-S1", "ann@example.com"), &users);
        let mut lapsing = device("S2", "gone@example.com");
        lapsing.expires = Some(crate::domain::Expiry::from_epoch(1_806_537_600));
        rows.push(&lapsing, &users);
        let all = rows.take(usize::MAX);
        assert!(rows.is_empty());
        let text = String::from_utf8(all).unwrap();
        let text = text.strip_prefix('\u{feff}').unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "Name,Email,Ownership,Serial Number,Platform,SAMAccountName,Mobile,Device Name,Device Group,Expires"
        );
        assert_eq!(
            lines[1],
            "\"Ann, \"\"the\"\" admin\",Ann@Example.com,corporate,'-S1,ios,ann,'+14155550100,\
             \"'=HYPERLINK(\"\"http://x\"\")\",Sales; EU,"
        );
        assert!(lines[2].starts_with(",gone@example.com,corporate,S2,ios,,,"));
        assert!(lines[2].ends_with(",2027-04-01T00:00:00Z"), "{}", lines[2]);
        assert!(!text.contains("secret-hash"));
    }

    #[test]
    fn take_hands_out_the_bytes_in_order() {
        let mut rows = CsvRows::new(16);
        for i in 0..100 {
            rows.push(&device(&format!("S{i}"), "a@b.c"), &HashMap::new());
        }
        let total = rows.len();
        let mut joined = rows.take(1000);
        assert_eq!(joined.len(), 1000);
        joined.extend(rows.take(usize::MAX));
        assert_eq!(joined.len(), total);
        assert!(String::from_utf8(joined).unwrap().contains("S99,ios"));
    }
}
