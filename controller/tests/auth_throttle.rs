//! Login throttling per account and per address, with injected time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use hotspot_controller::auth::throttle::{LoginThrottle, ThrottleConfig, ThrottleDecision};

fn ip(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn throttled_for(d: ThrottleDecision) -> Option<Duration> {
    match d {
        ThrottleDecision::Allowed => None,
        ThrottleDecision::Throttled { retry_after } => Some(retry_after),
    }
}

#[test]
fn account_is_locked_after_five_failures_from_anywhere() {
    let t0 = Instant::now();
    let mut t = LoginThrottle::new(ThrottleConfig::default());
    for i in 0..4 {
        t.record_failure("alice", ip(i), t0);
        assert_eq!(t.check("alice", ip(99), t0), ThrottleDecision::Allowed);
    }
    t.record_failure("alice", ip(4), t0);
    // Locked for everyone, whatever the address and the spelling of the name.
    assert_eq!(throttled_for(t.check("alice", ip(99), t0)), Some(secs(60)));
    assert_eq!(throttled_for(t.check(" ALICE", ip(98), t0)), Some(secs(60)));
    assert_eq!(
        throttled_for(t.check("alice", ip(99), t0 + secs(45))),
        Some(secs(15))
    );
    // Other accounts from the same addresses are fine.
    assert_eq!(t.check("bob", ip(0), t0), ThrottleDecision::Allowed);
    assert_eq!(
        t.check("alice", ip(99), t0 + secs(60)),
        ThrottleDecision::Allowed
    );
}

#[test]
fn address_is_locked_after_twenty_failures_over_many_accounts() {
    let t0 = Instant::now();
    let mut t = LoginThrottle::new(ThrottleConfig::default());
    let attacker = ip(1);
    for i in 0..20 {
        assert_eq!(
            t.check(&format!("user{i}"), attacker, t0),
            ThrottleDecision::Allowed
        );
        t.record_failure(&format!("user{i}"), attacker, t0);
    }
    assert_eq!(
        throttled_for(t.check("someone-new", attacker, t0)),
        Some(secs(60))
    );
    assert_eq!(t.check("someone-new", ip(2), t0), ThrottleDecision::Allowed);
}

#[test]
fn ipv6_neighbours_in_one_slash_64_share_a_count() {
    let t0 = Instant::now();
    let mut t = LoginThrottle::new(ThrottleConfig::default());
    for i in 0..20u16 {
        let addr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 7, 7, i, i, i, i));
        t.record_failure(&format!("user{i}"), addr, t0);
    }
    let neighbour = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 7, 7, 9, 9, 9, 999));
    let elsewhere = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 7, 8, 0, 0, 0, 1));
    assert!(throttled_for(t.check("x", neighbour, t0)).is_some());
    assert_eq!(t.check("x", elsewhere, t0), ThrottleDecision::Allowed);
}

#[test]
fn lockouts_double_up_to_fifteen_minutes() {
    let t0 = Instant::now();
    let mut t = LoginThrottle::new(ThrottleConfig::default());
    let mut now = t0;
    for _ in 0..5 {
        t.record_failure("alice", ip(1), now);
    }
    let mut seen = Vec::new();
    while let Some(wait) = throttled_for(t.check("alice", ip(1), now)) {
        seen.push(wait.as_secs() / 60);
        if seen.len() == 7 {
            break;
        }
        // Wait out the lockout, then fail once more.
        now += wait;
        assert_eq!(t.check("alice", ip(1), now), ThrottleDecision::Allowed);
        t.record_failure("alice", ip(1), now);
    }
    assert_eq!(seen, [1, 2, 4, 8, 15, 15, 15]);
}

#[test]
fn success_clears_the_account_but_not_the_address() {
    let t0 = Instant::now();
    let mut t = LoginThrottle::new(ThrottleConfig::default());
    for _ in 0..4 {
        t.record_failure("alice", ip(1), t0);
    }
    t.record_success("alice");
    for _ in 0..4 {
        t.record_failure("alice", ip(1), t0);
    }
    assert_eq!(
        t.check("alice", ip(1), t0),
        ThrottleDecision::Allowed,
        "count restarted"
    );
    // Twelve more failures of other accounts from the same address reach its limit of 20,
    // although alice's success came in between.
    for i in 0..12 {
        t.record_failure(&format!("u{i}"), ip(1), t0);
    }
    assert!(throttled_for(t.check("alice", ip(1), t0)).is_some());
    assert_eq!(t.check("alice", ip(2), t0), ThrottleDecision::Allowed);
}

#[test]
fn quiet_keys_are_forgotten() {
    let t0 = Instant::now();
    let config = ThrottleConfig::default();
    let mut t = LoginThrottle::new(config);
    for _ in 0..9 {
        t.record_failure("alice", ip(1), t0);
    }
    assert_eq!(
        throttled_for(t.check("alice", ip(1), t0)),
        Some(secs(15 * 60))
    );
    let later = t0 + config.forget_after;
    assert_eq!(t.check("alice", ip(1), later), ThrottleDecision::Allowed);
    // The next failure starts from one, not from ten.
    t.record_failure("alice", ip(1), later);
    assert_eq!(t.check("alice", ip(1), later), ThrottleDecision::Allowed);
    t.prune(later + config.forget_after);
    assert_eq!(t.tracked(), (0, 0));
}

#[test]
fn memory_stays_bounded_under_100k_distinct_keys() {
    let t0 = Instant::now();
    let config = ThrottleConfig::default();
    let mut t = LoginThrottle::new(config);
    for i in 0..100_000u32 {
        t.record_failure(
            &format!("user-{i}"),
            ip(i),
            t0 + Duration::from_millis(u64::from(i)),
        );
        let (accounts, addresses) = t.tracked();
        assert!(accounts <= config.max_tracked && addresses <= config.max_tracked);
    }
    assert_eq!(t.tracked(), (config.max_tracked, config.max_tracked));
    // The newest keys are kept, the oldest went first: lock the newest account and check.
    let now = t0 + secs(100);
    for _ in 0..4 {
        t.record_failure("user-99999", ip(99_999), now);
    }
    assert!(throttled_for(t.check("user-99999", ip(5), now)).is_some());
}
