//! Reconnect delays: capped exponential backoff with full jitter.
//!
//! After the `n`-th failed attempt in a row the agent sleeps a uniformly random time in
//! `[0, min(cap, base · 2^n)]` ("full jitter", AWS architecture blog). Full rather than
//! additive jitter because the failure mode that matters is a controller restart: thousands of
//! agents lose it at the same instant, and only full jitter spreads their returns over the
//! whole window. The ceiling is a pure function so it is tested without sleeping.

use std::time::Duration;

/// `min(cap, base · 2^attempt)`, without overflow.
pub fn ceiling(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
    base.checked_mul(factor).map_or(cap, |d| d.min(cap))
}

/// A random delay in `[0, ceiling(attempt)]`.
pub fn full_jitter(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let max = u64::try_from(ceiling(attempt, base, cap).as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::random_range(0..=max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let base = Duration::from_millis(500);
        let cap = Duration::from_secs(60);
        assert_eq!(ceiling(0, base, cap), Duration::from_millis(500));
        assert_eq!(ceiling(1, base, cap), Duration::from_secs(1));
        assert_eq!(ceiling(6, base, cap), Duration::from_secs(32));
        assert_eq!(ceiling(7, base, cap), cap);
        assert_eq!(ceiling(u32::MAX, base, cap), cap);
    }

    #[test]
    fn jitter_stays_within_the_ceiling_and_spreads() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(1);
        let samples: Vec<_> = (0..200).map(|_| full_jitter(3, base, cap)).collect();
        assert!(samples.iter().all(|d| *d <= Duration::from_millis(800)));
        assert!(samples.iter().any(|d| *d < Duration::from_millis(200)));
        assert!(samples.iter().any(|d| *d > Duration::from_millis(600)));
    }
}
