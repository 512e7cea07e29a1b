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
//! every serial does not undo the bound; the next [`RETURNED`] returning
//! serials are named on the ledger's row instead. Per address and hour: at
//! most `OWN_FIRST + PROMOTIONS` serials with records of their own (each one
//! per precise reason), and one ledger.
//!
//! The ledger recognises a serial that comes back by its [`Mark`], a 4-byte
//! keyed MAC of the serial, kept in a [`Memory`] of two generations of at
//! most [`GENERATION`] marks each: a new serial's mark joins the current
//! generation; when that is full, it becomes the previous one (the one
//! before is forgotten) and a new one starts. So a serial is remembered
//! until at least [`GENERATION`] other new serials from its address came
//! after it (at most twice that), whatever those serials are: a real device
//! that tries again within that many is recognised every time. A serial
//! forgotten is counted as new again. The serials with records of their
//! own are remembered apart (at most `OWN_FIRST + PROMOTIONS` marks), so a
//! flood never evicts them. The mark is keyed with a key derived from the
//! password secret, so a caller cannot make up serials that share a mark
//! with one the ledger remembers (with a plain hash, 2^32 tries found one,
//! and each such serial got a record of its own, unbounded).

use sha2::{Digest, Sha256};

use super::store::{Denial, Mark};
use crate::password::{domain_mac, Domain, PasswordKey, Purpose};

/// New serials per address and hour that get records of their own.
pub const OWN_FIRST: u64 = 4;
/// Returning serials per address and hour that get records of their own.
pub const PROMOTIONS: u64 = 5;
/// Marks in one generation of the ledger's memory.
pub const GENERATION: usize = 32;
/// Returning serials past [`PROMOTIONS`] the ledger names (the first ones,
/// each cut to [`SAMPLE_BYTES`]): likely real devices, as made-up serials do
/// not come back.
pub const RETURNED: usize = 5;
/// Serials the ledger shows as a sample, each cut to [`SAMPLE_BYTES`].
pub const SAMPLE: u32 = 4;
pub const SAMPLE_BYTES: usize = 20;
/// How long a ledger that never became a row is kept (it only counts).
pub const LEDGER_SECS: u64 = 2 * 3600;

/// The key of the marks, derived from the password secret once, at start.
#[derive(Clone)]
pub struct MarkKey([u8; 32]);

impl MarkKey {
    pub fn derive(secret: &PasswordKey) -> Self {
        Self(secret.subkey(Purpose::DenialMark))
    }

    /// The same for every address and hour.
    pub fn mark(&self, serial: &str) -> Mark {
        use hmac::Mac;
        let m = domain_mac(&self.0, Domain::DenialMark, &[serial.as_bytes()])
            .finalize()
            .into_bytes();
        Mark([m[0], m[1], m[2], m[3]])
    }
}

/// The marks of the new serials a ledger counted last: the current
/// generation and the one before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    pub recent: Vec<Mark>,
    pub earlier: Vec<Mark>,
}

impl Memory {
    pub fn knows(&self, mark: &Mark) -> bool {
        self.recent.contains(mark) || self.earlier.contains(mark)
    }

    /// Remembers a new serial's mark, forgetting the generation before the
    /// current one if that is full.
    pub fn remember(&mut self, mark: Mark) {
        if self.recent.len() >= GENERATION {
            self.earlier = std::mem::take(&mut self.recent);
        }
        self.recent.push(mark);
    }
}

/// What the ledger knew of the serial when the attempt reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not in its memory: a new serial (or one forgotten since).
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

    /// The serial as a ledger shows it: cut to [`SAMPLE_BYTES`].
    pub fn shown(&self) -> String {
        let mut end = self.serial.len().min(SAMPLE_BYTES);
        while !self.serial.is_char_boundary(end) {
            end -= 1;
        }
        self.serial[..end].to_owned()
    }

    /// The sample place this serial may fill (if still empty), and what it shows.
    pub fn sample_entry(&self) -> (u32, String) {
        let d = digest(&[b"denial-sample", self.serial.as_bytes()]);
        (u32::from(d[0]) % SAMPLE, self.shown())
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
            mark: key().mark(serial),
        }
    }

    fn key() -> MarkKey {
        MarkKey::derive(&PasswordKey::new(vec![7u8; 32]).unwrap())
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
    fn samples_are_bounded() {
        let long = "X".repeat(200) + "é";
        let (place, shown) = denial(&long, None, 0).sample_entry();
        assert!(place < SAMPLE && shown.len() <= SAMPLE_BYTES);
        let e = denial(&"é".repeat(40), None, 0).sample_entry().1;
        assert!(e.len() <= SAMPLE_BYTES && e.chars().all(|c| c == 'é'));
    }

    /// A caller who knows the code but not the secret cannot say which
    /// serials share a mark: the same serials under another key share none
    /// of the pairs, and a mark is not the plain hash of the serial.
    #[test]
    fn a_mark_cannot_be_made_without_the_key() {
        let ours = key();
        let theirs = MarkKey::derive(&PasswordKey::new(vec![8u8; 32]).unwrap());
        let serials: Vec<String> = (0..1000).map(|n| format!("SER{n}")).collect();
        let differ = serials
            .iter()
            .filter(|s| ours.mark(s) != theirs.mark(s))
            .count();
        assert_eq!(differ, serials.len());
        assert_eq!(ours.mark("SER1"), ours.mark("SER1"), "stable under one key");
        let plain = digest(&[b"denial-mark", b"SER1"]);
        assert_ne!(ours.mark("SER1").0, plain[4..8]);
    }

    /// A serial is recognised until at least a generation of other new
    /// serials came after it, and forgotten after at most two.
    #[test]
    fn the_memory_keeps_a_serial_for_at_least_one_generation() {
        let k = key();
        for before in 0..3 * GENERATION {
            let mut memory = Memory::default();
            for n in 0..before {
                memory.remember(k.mark(&format!("EARLIER{n}")));
            }
            let real = k.mark("REAL");
            memory.remember(real);
            let mut others = 0;
            while memory.knows(&real) {
                memory.remember(k.mark(&format!("OTHER{others}")));
                others += 1;
                assert!(memory.recent.len() + memory.earlier.len() <= 2 * GENERATION);
            }
            assert!(
                (GENERATION + 1..=2 * GENERATION).contains(&others),
                "after {before}: forgotten after {others} others"
            );
        }
    }
}
