//! The attempt limit: after [`ATTEMPTS`] consecutive wrong passwords a serial
//! is locked for 15 minutes, twice as long at each further lock (at most a
//! day), until an administrator unlocks it. A correct password resets it.
//!
//! The state is the list of the times of the consecutive failures, kept on
//! the device item: every wrong password appends one entry with one atomic
//! write, so parallel guesses are all counted, and the lock is derived from
//! the list when the device is read (the allow path's one request). Lock `k`
//! starts at failure `5k` and ends `15 min x 2^(k-1)` later; guesses while
//! locked are refused unread and unrecorded, so they neither count nor help.

/// Wrong passwords in a row that lock a serial.
pub const ATTEMPTS: usize = 5;
/// The first lock, in seconds.
pub const FIRST_LOCK_SECS: u64 = 15 * 60;
/// No lock is longer, in seconds.
pub const MAX_LOCK_SECS: u64 = 24 * 3600;

/// How long lock number `k` (1-based) lasts.
pub fn lock_secs(k: usize) -> u64 {
    let doublings = u32::try_from(k.saturating_sub(1)).unwrap_or(u32::MAX);
    FIRST_LOCK_SECS
        .checked_shl(doublings)
        .filter(|secs| *secs <= MAX_LOCK_SECS)
        .unwrap_or(MAX_LOCK_SECS)
}

/// Until when (epoch seconds) the latest lock runs, given the times of the
/// consecutive failures; None when the failures have not locked it.
pub fn locked_until(failures: &[u64]) -> Option<u64> {
    let k = failures.len() / ATTEMPTS;
    let started = *failures.get((k * ATTEMPTS).checked_sub(1)?)?;
    Some(started.saturating_add(lock_secs(k)))
}

pub fn is_locked(failures: &[u64], now: u64) -> bool {
    locked_until(failures).is_some_and(|until| now < until)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_wrong_passwords_lock_for_fifteen_minutes_then_twice_as_long() {
        let t0 = 1_000_000;
        let mut failures: Vec<u64> = (0..4).map(|i| t0 + i).collect();
        assert!(!is_locked(&failures, t0 + 5), "four are not enough");
        failures.push(t0 + 4);
        assert_eq!(locked_until(&failures), Some(t0 + 4 + 15 * 60));
        assert!(is_locked(&failures, t0 + 4 + 15 * 60 - 1));
        assert!(!is_locked(&failures, t0 + 4 + 15 * 60));
        // After the lock, four more tries; the fifth locks for 30 minutes.
        let later = t0 + 3600;
        failures.extend((0..4).map(|i| later + i));
        assert!(!is_locked(&failures, later + 10));
        failures.push(later + 4);
        assert_eq!(locked_until(&failures), Some(later + 4 + 30 * 60));
    }

    #[test]
    fn locks_double_up_to_a_day() {
        let mins: Vec<u64> = (1..=9).map(|k| lock_secs(k) / 60).collect();
        assert_eq!(mins, [15, 30, 60, 120, 240, 480, 960, 1440, 1440]);
        assert_eq!(lock_secs(usize::MAX), MAX_LOCK_SECS);
        assert_eq!(locked_until(&[]), None);
    }

    #[test]
    fn parallel_guesses_past_the_threshold_still_lock() {
        // Eight failures recorded at once (guesses racing the fifth): locked from the fifth.
        let failures = vec![100; 8];
        assert_eq!(locked_until(&failures), Some(100 + 15 * 60));
    }
}
