//! What a denial costs: a bounded number of records per source address and
//! hour, whatever the number of serials a caller makes up.
//!
//! Every denial goes through its address's **ledger** for the hour (one
//! item): the first [`OWN_FIRST`] new serials get records of their own, as
//! before; further new serials are only counted in the ledger, which then
//! becomes a row of Blocked attempts of its own ("N attempts for M serials
//! from A", with a short sample). A serial that comes back (a real device
//! retries; a flood of made-up serials does not) gets a record of its own
//! again, at most [`PROMOTIONS`] times per address and hour, so repeating
//! every serial does not undo the bound. Per address and hour: at most
//! `OWN_FIRST + PROMOTIONS` serials with records of their own (each one per
//! precise reason), and one ledger.
//!
//! The ledger recognises a serial that comes back by [`MEMORY_SLOTS`] slots
//! of 4-byte tags (a serial's slot and tag come from a hash of it; a new
//! serial takes its slot over): each other new serial from the address in
//! between forgets it with a chance of 1 in [`MEMORY_SLOTS`], so a return is
//! recognised with a chance of (63/64)^k after k others (78 % after 16, 37 %
//! after 64), and a serial forgotten is remembered again as new. The
//! serials with records of their own are remembered apart (at most
//! `OWN_FIRST + PROMOTIONS` tags), so a flood never evicts them.

use sha2::{Digest, Sha256};

use super::store::Denial;

/// New serials per address and hour that get records of their own.
pub const OWN_FIRST: u64 = 4;
/// Returning serials per address and hour that get records of their own.
pub const PROMOTIONS: u64 = 5;
/// Slots of the ledger's memory of the serials it counted.
pub const MEMORY_SLOTS: u32 = 64;
/// Serials the ledger shows as a sample, each cut to [`SAMPLE_BYTES`].
pub const SAMPLE: u32 = 4;
pub const SAMPLE_BYTES: usize = 24;
/// How long a ledger that never became a row is kept (it only counts).
pub const LEDGER_SECS: u64 = 2 * 3600;

/// Where a serial's ledger remembers it: a slot and a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub slot: u32,
    pub tag: [u8; 4],
}

impl Mark {
    /// The tag as text (how the ledger's set of serials with records of their own holds it).
    pub fn tag_hex(&self) -> String {
        hex::encode(self.tag)
    }
}

/// What the ledger knew of the serial when the attempt reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not in its memory: a new serial (or one evicted since).
    New,
    /// Counted in the ledger before: it came back.
    Counted,
    /// It has a record of its own this hour.
    Own,
}

/// The ledger's numbers as the attempt found them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerState {
    /// New serials given records of their own so far.
    pub own: u64,
    /// Returning serials given records of their own so far.
    pub promoted: u64,
    /// Whether the ledger is a row of Blocked attempts already.
    pub opened: bool,
}

/// Where the attempt is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// In its serial's own record (created if this reason is new).
    Own,
    /// A new serial within [`OWN_FIRST`]: claims a record of its own.
    ClaimFirst,
    /// A returning serial within [`PROMOTIONS`]: claims a record of its own.
    ClaimReturn,
    /// Only in the ledger.
    Ledger,
}

pub fn route(seen: Seen, ledger: &LedgerState) -> Route {
    match seen {
        Seen::Own => Route::Own,
        Seen::New if ledger.own < OWN_FIRST => Route::ClaimFirst,
        Seen::Counted if ledger.promoted < PROMOTIONS => Route::ClaimReturn,
        _ => Route::Ledger,
    }
}

/// SHA-256 of length-prefixed parts (one way to read each input).
fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Where a ledger remembers `serial` (the same for every address and hour).
pub fn mark_of(serial: &str) -> Mark {
    let d = digest(&[b"denial-mark", serial.as_bytes()]);
    Mark {
        slot: u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % MEMORY_SLOTS,
        tag: [d[4], d[5], d[6], d[7]],
    }
}

impl Denial {
    pub fn hour(&self) -> u64 {
        self.at / Self::WINDOW_SECS
    }

    /// The ledger of this attempt's address and hour. Attempts without an
    /// address share one ledger per hour (bounded like any address).
    pub fn ledger_id(&self) -> String {
        let source = self.source_ip.as_deref().unwrap_or("");
        let d = digest(&[
            b"denials-by-source",
            source.as_bytes(),
            &self.hour().to_be_bytes(),
        ]);
        format!("src-{}", hex::encode(&d[..16]))
    }

    /// Where the ledger remembers this serial.
    pub fn mark(&self) -> Mark {
        mark_of(&self.serial)
    }

    /// The sample place this serial may fill (if still empty), and what it shows.
    pub fn sample_entry(&self) -> (u32, String) {
        let d = digest(&[b"denial-sample", self.serial.as_bytes()]);
        let mut end = self.serial.len().min(SAMPLE_BYTES);
        while !self.serial.is_char_boundary(end) {
            end -= 1;
        }
        (u32::from(d[0]) % SAMPLE, self.serial[..end].to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::Reason;

    fn denial(serial: &str, ip: Option<&str>, at: u64) -> Denial {
        Denial {
            serial: serial.into(),
            platform: "ios",
            method: None,
            os_version: None,
            reason: Reason::NotPreApproved,
            endpoint: "admission",
            at,
            source_ip: ip.map(str::to_owned),
        }
    }

    #[test]
    fn the_budget_of_own_records_is_bounded_per_ledger() {
        let fresh = LedgerState::default();
        assert_eq!(route(Seen::New, &fresh), Route::ClaimFirst);
        assert_eq!(route(Seen::Counted, &fresh), Route::ClaimReturn);
        assert_eq!(route(Seen::Own, &fresh), Route::Own);
        let spent = LedgerState {
            own: OWN_FIRST,
            promoted: PROMOTIONS,
            opened: true,
        };
        assert_eq!(route(Seen::New, &spent), Route::Ledger);
        assert_eq!(route(Seen::Counted, &spent), Route::Ledger);
        // A serial with a record of its own keeps it, budget or not.
        assert_eq!(route(Seen::Own, &spent), Route::Own);
        // With its ledger, at most 10 items an address and hour.
        const { assert!(OWN_FIRST + PROMOTIONS < 10) };
    }

    #[test]
    fn a_ledger_is_one_address_and_hour() {
        let a = denial("S1", Some("203.0.113.7"), 7200);
        assert_eq!(
            a.ledger_id(),
            denial("S2", Some("203.0.113.7"), 7200 + 3599).ledger_id()
        );
        assert_ne!(
            a.ledger_id(),
            denial("S1", Some("203.0.113.8"), 7200).ledger_id()
        );
        assert_ne!(
            a.ledger_id(),
            denial("S1", Some("203.0.113.7"), 10_800).ledger_id()
        );
        // No address: one shared ledger, not one per attempt.
        assert_eq!(
            denial("S1", None, 7200).ledger_id(),
            denial("S2", None, 7201).ledger_id()
        );
    }

    #[test]
    fn marks_and_samples_are_bounded() {
        let long = "X".repeat(200) + "é";
        let d = denial(&long, None, 0);
        assert!(d.mark().slot < MEMORY_SLOTS);
        let (place, shown) = d.sample_entry();
        assert!(place < SAMPLE && shown.len() <= SAMPLE_BYTES);
        let e = denial(&"é".repeat(40), None, 0).sample_entry().1;
        assert!(e.len() <= SAMPLE_BYTES && e.chars().all(|c| c == 'é'));
        assert_eq!(d.mark(), denial(&long, Some("192.0.2.1"), 99_999).mark());
    }
}
