//! The attempt limit: at most [`ATTEMPTS`] password checks per lock window,
//! however many requests arrive at once.
//!
//! A check is claimed before the password is compared, with one conditional
//! write that the store refuses once the window is full ([`Claim`]), so a
//! burst of guesses cannot all be compared before the count catches up. The
//! fifth check since the last right password (or an administrator's unlock)
//! starts a lock of 15 minutes, twice as long at each further lock (at most a
//! day); while it runs nothing is claimed, so no password is compared, the
//! right one included. A right password clears the count.
//!
//! The count is three numbers on the device item ([`PasswordChecks`]): checks
//! claimed, the claimed count at the last clearing, and the time of the
//! latest claim. Clearing moves `cleared` up to `claimed` instead of zeroing
//! it, so a window, once left, never comes back: a claim names the one it was
//! judged in, and a claim judged before a clearing cannot land after it.

use crate::records::PasswordChecks;

/// Password checks per lock window.
pub const ATTEMPTS: u64 = 5;
/// The first lock, in seconds.
pub const FIRST_LOCK_SECS: u64 = 15 * 60;
/// No lock is longer, in seconds.
pub const MAX_LOCK_SECS: u64 = 24 * 3600;

/// How long lock number `k` (1-based) lasts.
pub fn lock_secs(k: u64) -> u64 {
    let doublings = u32::try_from(k.saturating_sub(1)).unwrap_or(u32::MAX);
    FIRST_LOCK_SECS
        .checked_shl(doublings)
        .filter(|secs| *secs <= MAX_LOCK_SECS)
        .unwrap_or(MAX_LOCK_SECS)
}

/// The checks since the last right password or unlock (every one of them a
/// wrong password, or one being compared right now).
pub fn since_cleared(checks: &PasswordChecks) -> u64 {
    checks.claimed.saturating_sub(checks.cleared)
}

/// Until when (epoch seconds) the latest lock runs; None when the checks
/// since the last clearing have not filled a window.
pub fn locked_until(checks: &PasswordChecks) -> Option<u64> {
    let n = since_cleared(checks);
    if n == 0 || !n.is_multiple_of(ATTEMPTS) {
        return None;
    }
    Some(checks.last_at.saturating_add(lock_secs(n / ATTEMPTS)))
}

pub fn is_locked(checks: &PasswordChecks, now: u64) -> bool {
    locked_until(checks).is_some_and(|until| now < until)
}

/// One password check, claimed in the window the count was read in: the
/// store takes it only while the count was last cleared at `cleared` and has
/// not reached `below` (the window's end), with one conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub cleared: u64,
    /// The window's first `claimed` value (its start).
    pub from: u64,
    pub below: u64,
    /// When: the claim that fills the window starts the lock.
    pub at: u64,
}

impl Claim {
    /// The next check's claim, judged at `now` on the count as read; None while locked.
    pub fn next(checks: &PasswordChecks, now: u64) -> Option<Self> {
        if is_locked(checks, now) {
            return None;
        }
        let from = checks.cleared + since_cleared(checks) / ATTEMPTS * ATTEMPTS;
        Some(Self {
            cleared: checks.cleared,
            from,
            below: from + ATTEMPTS,
            at: now,
        })
    }

    /// Whether the count as it is now still takes this claim (the store's condition).
    pub fn admits(&self, checks: &PasswordChecks) -> bool {
        checks.cleared == self.cleared && (self.from..self.below).contains(&checks.claimed)
    }

    /// The count with this claim taken.
    pub fn taken(&self, checks: &PasswordChecks) -> PasswordChecks {
        PasswordChecks {
            claimed: checks.claimed + 1,
            last_at: self.at,
            ..*checks
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Claims `n` checks one after another at `at`; how many the count took.
    fn claim(checks: &mut PasswordChecks, n: usize, at: u64) -> usize {
        let mut taken = 0;
        for _ in 0..n {
            let Some(c) = Claim::next(checks, at) else {
                continue;
            };
            assert!(c.admits(checks));
            *checks = c.taken(checks);
            taken += 1;
        }
        taken
    }

    #[test]
    fn five_checks_lock_for_fifteen_minutes_then_twice_as_long() {
        let t0 = 1_000_000;
        let mut checks = PasswordChecks::default();
        assert_eq!(claim(&mut checks, 4, t0), 4);
        assert!(!is_locked(&checks, t0 + 5), "four are not enough");
        assert_eq!(claim(&mut checks, 1, t0 + 4), 1);
        assert_eq!(locked_until(&checks), Some(t0 + 4 + 15 * 60));
        assert!(is_locked(&checks, t0 + 4 + 15 * 60 - 1));
        assert!(!is_locked(&checks, t0 + 4 + 15 * 60));
        assert_eq!(claim(&mut checks, 3, t0 + 10), 0, "none while locked");
        // After the lock, five more checks; the fifth locks for 30 minutes.
        let later = t0 + 3600;
        assert_eq!(claim(&mut checks, 4, later), 4);
        assert!(!is_locked(&checks, later + 10));
        assert_eq!(claim(&mut checks, 1, later + 4), 1);
        assert_eq!(locked_until(&checks), Some(later + 4 + 30 * 60));
        assert_eq!(since_cleared(&checks), 10);
    }

    #[test]
    fn locks_double_up_to_a_day() {
        let mins: Vec<u64> = (1..=9).map(|k| lock_secs(k) / 60).collect();
        assert_eq!(mins, [15, 30, 60, 120, 240, 480, 960, 1440, 1440]);
        assert_eq!(lock_secs(u64::MAX), MAX_LOCK_SECS);
        assert_eq!(locked_until(&PasswordChecks::default()), None);
    }

    #[test]
    fn claims_judged_on_one_read_fill_one_window_and_no_more() {
        // Fifty requests read the same count, then their claims land one by one.
        let mut checks = PasswordChecks::default();
        let claims: Vec<Claim> = (0..50)
            .map(|_| Claim::next(&checks, 100).unwrap())
            .collect();
        let mut taken = 0;
        for c in claims {
            if c.admits(&checks) {
                checks = c.taken(&checks);
                taken += 1;
            }
        }
        assert_eq!(taken, ATTEMPTS);
        assert_eq!(locked_until(&checks), Some(100 + 15 * 60));
    }

    #[test]
    fn a_claim_judged_before_a_clearing_does_not_land_after_it() {
        let mut checks = PasswordChecks::default();
        claim(&mut checks, 3, 100);
        let stale = Claim::next(&checks, 100).unwrap();
        // A right password clears the count; then five wrong ones lock it again.
        checks.cleared = checks.claimed;
        assert!(!stale.admits(&checks));
        claim(&mut checks, 5, 200);
        assert!(is_locked(&checks, 201));
        assert!(!stale.admits(&checks), "no sixth check in the new window");
        // An expired lock's window is named by its start: a claim judged in
        // it does not fit the next window either.
        let after = Claim::next(&checks, 200 + 15 * 60).unwrap();
        assert!(after.admits(&checks));
        checks.cleared = checks.claimed;
        assert!(!after.admits(&checks));
    }
}
