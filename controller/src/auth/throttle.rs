//! Login throttling per account and per client address, with exponential lockouts and a hard
//! bound on memory.
//!
//! Why it is shaped so:
//! - **Two keys.** Per account stops guessing one password from many addresses; per address
//!   stops one client spraying many usernames. A site's staff often share one NAT address, so
//!   the address allows more failures than the account does. IPv6 clients are keyed by their
//!   /64, which one subscriber usually holds whole.
//! - **Exponential lockout.** After `free_failures` failures the key is locked for
//!   `lockout_base`, doubling with each further failure up to `lockout_max` (defaults: 5
//!   failures, 1 minute, 15 minutes). A key with no failure for `forget_after` starts clean.
//!   Success clears the account, not the address (a valid account must not buy an attacker
//!   fresh guesses from the same address).
//! - **Decide before verifying.** Callers [`LoginThrottle::check`] first and answer a throttled
//!   attempt without running Argon2; only a real failed verification is recorded. Unknown
//!   usernames are throttled exactly like real ones, so the answer reveals nothing.
//! - **No clock, no sleeping.** `now` is passed in ([`Instant`], monotonic), so tests drive time.
//! - **Bounded.** Each key kind tracks at most `max_tracked` keys; inserting past that evicts
//!   the key whose last failure is oldest. Account keys are cut to [`MAX_ACCOUNT_KEY_CHARS`].
//!   Hold the throttle in a `Mutex`: every operation is short and does no IO.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Longest account name kept as a key (longer ones are cut; they are not real accounts).
pub const MAX_ACCOUNT_KEY_CHARS: usize = 128;

/// Limits for one key kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures allowed before the first lockout.
    pub free_failures: u32,
}

/// The throttle's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleConfig {
    pub account: ThrottleLimits,
    pub address: ThrottleLimits,
    /// First lockout.
    pub lockout_base: Duration,
    /// Longest lockout.
    pub lockout_max: Duration,
    /// A key without failures this long is forgotten.
    pub forget_after: Duration,
    /// Most keys tracked per kind.
    pub max_tracked: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            account: ThrottleLimits { free_failures: 5 },
            address: ThrottleLimits { free_failures: 20 },
            lockout_base: Duration::from_secs(60),
            lockout_max: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(60 * 60),
            max_tracked: 10_000,
        }
    }
}

/// The throttle's answer to "may this login attempt be verified?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottleDecision {
    Allowed,
    Throttled { retry_after: Duration },
}

/// Failed logins per account and per address.
#[derive(Debug)]
pub struct LoginThrottle {
    config: ThrottleConfig,
    accounts: Tracker<String>,
    addresses: Tracker<IpAddr>,
}

impl LoginThrottle {
    pub fn new(config: ThrottleConfig) -> LoginThrottle {
        assert!(
            config.max_tracked > 0,
            "throttle must track at least one key"
        );
        LoginThrottle {
            config,
            accounts: Tracker::new(config.max_tracked),
            addresses: Tracker::new(config.max_tracked),
        }
    }

    /// Whether an attempt for `account` from `addr` may be verified at `now`.
    pub fn check(&self, account: &str, addr: IpAddr, now: Instant) -> ThrottleDecision {
        let a = self
            .accounts
            .locked_for(&account_key(account), now, &self.config);
        let b = self
            .addresses
            .locked_for(&address_key(addr), now, &self.config);
        match a.max(b) {
            Some(retry_after) => ThrottleDecision::Throttled { retry_after },
            None => ThrottleDecision::Allowed,
        }
    }

    /// Records a verified wrong password (or unknown username) for both keys.
    pub fn record_failure(&mut self, account: &str, addr: IpAddr, now: Instant) {
        let c = self.config;
        self.accounts
            .fail(account_key(account), c.account.free_failures, now, &c);
        self.addresses
            .fail(address_key(addr), c.address.free_failures, now, &c);
    }

    /// Records a successful login: the account starts clean, the address keeps its count.
    pub fn record_success(&mut self, account: &str) {
        self.accounts.remove(&account_key(account));
    }

    /// Drops keys that are forgotten at `now` (call from a periodic job; optional).
    pub fn prune(&mut self, now: Instant) {
        let forget_after = self.config.forget_after;
        self.accounts.prune(now, forget_after);
        self.addresses.prune(now, forget_after);
    }

    /// Keys tracked: (accounts, addresses).
    pub fn tracked(&self) -> (usize, usize) {
        (self.accounts.len(), self.addresses.len())
    }
}

fn account_key(account: &str) -> String {
    account
        .trim()
        .chars()
        .take(MAX_ACCOUNT_KEY_CHARS)
        .flat_map(char::to_lowercase)
        .collect()
}

/// IPv4 (and IPv4-mapped IPv6) as is; other IPv6 addresses by their /64.
fn address_key(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => {
            let mut seg = v6.segments();
            seg[4..].fill(0);
            IpAddr::V6(seg.into())
        }
        v4 => v4,
    }
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
    seq: u64,
}

/// A map with a cap, evicting the key least recently failed.
#[derive(Debug)]
struct Tracker<K> {
    entries: HashMap<K, Entry>,
    /// `seq` of each entry's last failure → key; the first is the oldest.
    order: BTreeMap<u64, K>,
    next_seq: u64,
    cap: usize,
}

impl<K: Clone + Eq + Hash> Tracker<K> {
    fn new(cap: usize) -> Tracker<K> {
        Tracker {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            cap,
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn locked_for(&self, key: &K, now: Instant, c: &ThrottleConfig) -> Option<Duration> {
        let e = self.entries.get(key)?;
        if now.saturating_duration_since(e.last_failure) >= c.forget_after {
            return None;
        }
        let until = e.locked_until?;
        (until > now).then(|| until - now)
    }

    fn fail(&mut self, key: K, free_failures: u32, now: Instant, c: &ThrottleConfig) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(e) = self.entries.get_mut(&key) {
            self.order.remove(&e.seq);
            if now.saturating_duration_since(e.last_failure) >= c.forget_after {
                e.failures = 0;
                e.locked_until = None;
            }
        } else {
            while self.entries.len() >= self.cap {
                let Some((_, oldest)) = self.order.pop_first() else {
                    break;
                };
                self.entries.remove(&oldest);
            }
            self.entries.insert(
                key.clone(),
                Entry {
                    failures: 0,
                    last_failure: now,
                    locked_until: None,
                    seq,
                },
            );
        }
        self.order.insert(seq, key.clone());
        let e = self.entries.get_mut(&key).expect("entry was just ensured");
        e.failures = e.failures.saturating_add(1);
        e.last_failure = now;
        e.seq = seq;
        if e.failures >= free_failures {
            e.locked_until = Some(now + lockout(e.failures - free_failures, c));
        }
        debug_assert_eq!(self.entries.len(), self.order.len());
        debug_assert!(self.entries.len() <= self.cap);
    }

    fn remove(&mut self, key: &K) {
        if let Some(e) = self.entries.remove(key) {
            self.order.remove(&e.seq);
        }
    }

    fn prune(&mut self, now: Instant, forget_after: Duration) {
        self.entries.retain(|_, e| {
            let keep = now.saturating_duration_since(e.last_failure) < forget_after;
            if !keep {
                self.order.remove(&e.seq);
            }
            keep
        });
    }
}

/// `base · 2^extra`, capped at `max`.
fn lockout(extra: u32, c: &ThrottleConfig) -> Duration {
    let factor = 1u32.checked_shl(extra.min(31)).unwrap_or(u32::MAX);
    c.lockout_base
        .checked_mul(factor)
        .map_or(c.lockout_max, |d| d.min(c.lockout_max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_doubles_and_caps() {
        let c = ThrottleConfig::default();
        let mins: Vec<u64> = (0..6).map(|i| lockout(i, &c).as_secs() / 60).collect();
        assert_eq!(mins, [1, 2, 4, 8, 15, 15]);
        assert_eq!(lockout(u32::MAX, &c), c.lockout_max);
    }

    #[test]
    fn ipv6_is_keyed_by_slash_64_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn account_keys_are_case_blind_and_bounded() {
        assert_eq!(account_key(" Admin "), "admin");
        assert_eq!(
            account_key(&"x".repeat(10_000)).len(),
            MAX_ACCOUNT_KEY_CHARS
        );
    }
}
