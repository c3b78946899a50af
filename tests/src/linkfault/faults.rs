//! What a faulty link does to one datagram, decided without IO.
//!
//! `plan` is a pure function of the configured [`Faults`] and a random source: it says
//! "drop it" or "deliver it after this long, and maybe a second copy after that long". The relay
//! only carries the verdict out. Keeping the odds and the delay arithmetic here (the quinn-proto
//! habit) lets them be tested with a seeded RNG, no sockets and no sleeping.

use std::fmt;
use std::time::Duration;

use rand::{Rng, RngExt};

/// Longest delay, jitter or reorder hold-back accepted; longer values are clamped to it.
///
/// Bounds the time a datagram can sit in the delay queue, and keeps `Instant + delay` far from
/// overflow.
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// Which way through the proxy a setting applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client → upstream (agent → controller), "up" on the control interface.
    ToUpstream,
    /// Upstream → client (controller → agent), "down" on the control interface.
    ToClient,
    /// Both of the above.
    Both,
}

impl Direction {
    /// The legs this direction covers.
    pub(crate) fn legs(self) -> &'static [Leg] {
        match self {
            Direction::ToUpstream => &[Leg::ToUpstream],
            Direction::ToClient => &[Leg::ToClient],
            Direction::Both => &[Leg::ToUpstream, Leg::ToClient],
        }
    }

    /// The word the control interface uses for it.
    pub fn word(self) -> &'static str {
        match self {
            Direction::ToUpstream => "up",
            Direction::ToClient => "down",
            Direction::Both => "both",
        }
    }
}

/// One of the two one-way legs of the link; what counters and fault settings are kept per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Leg {
    ToUpstream = 0,
    ToClient = 1,
}

impl Leg {
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The faults applied to one direction of the link. `Faults::default()` is a clean link.
///
/// Percentages are 0–100 (out-of-range values are clamped, NaN counts as 0); durations are
/// clamped to [`MAX_DELAY`]. The faults compose in this order: `blackhole`, then `drop_percent`
/// decide whether the datagram is lost; a survivor waits `delay` plus a uniform random
/// `0..=jitter`, plus `reorder_extra` if it is one of the `reorder_percent` held back;
/// `duplicate_percent` of survivors are sent a second time after their own independent delay.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Drop everything (the link is cut).
    pub blackhole: bool,
    /// Percentage of datagrams dropped, chosen at random per datagram.
    pub drop_percent: f64,
    /// Base one-way delay.
    pub delay: Duration,
    /// Upper bound of the uniform random delay added to `delay`, drawn per datagram.
    pub jitter: Duration,
    /// Percentage of datagrams held back by `reorder_extra` so that later ones overtake them.
    pub reorder_percent: f64,
    /// Extra delay of a held-back datagram.
    pub reorder_extra: Duration,
    /// Percentage of datagrams sent twice.
    pub duplicate_percent: f64,
}

impl Faults {
    /// A cut link: everything is dropped.
    pub fn cut() -> Faults {
        Faults {
            blackhole: true,
            ..Faults::default()
        }
    }

    /// True when this setting leaves every datagram alone.
    pub fn is_clean(&self) -> bool {
        *self == Faults::default()
    }

    /// The same setting with every field brought into its valid range.
    pub fn sanitized(self) -> Faults {
        Faults {
            blackhole: self.blackhole,
            drop_percent: clamp_percent(self.drop_percent),
            delay: self.delay.min(MAX_DELAY),
            jitter: self.jitter.min(MAX_DELAY),
            reorder_percent: clamp_percent(self.reorder_percent),
            reorder_extra: self.reorder_extra.min(MAX_DELAY),
            duplicate_percent: clamp_percent(self.duplicate_percent),
        }
    }
}

impl fmt::Display for Faults {
    /// A compact one-line description, e.g. `drop=30% delay=300ms jitter=50ms`, or `clean`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return f.write_str("clean");
        }
        let mut parts = Vec::new();
        if self.blackhole {
            parts.push("blackhole".to_owned());
        }
        if self.drop_percent > 0.0 {
            parts.push(format!("drop={}%", self.drop_percent));
        }
        if !self.delay.is_zero() {
            parts.push(format!("delay={}ms", self.delay.as_millis()));
        }
        if !self.jitter.is_zero() {
            parts.push(format!("jitter={}ms", self.jitter.as_millis()));
        }
        if self.reorder_percent > 0.0 || !self.reorder_extra.is_zero() {
            parts.push(format!(
                "reorder={}%+{}ms",
                self.reorder_percent,
                self.reorder_extra.as_millis()
            ));
        }
        if self.duplicate_percent > 0.0 {
            parts.push(format!("duplicate={}%", self.duplicate_percent));
        }
        f.write_str(&parts.join(" "))
    }
}

fn clamp_percent(p: f64) -> f64 {
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) }
}

/// What to do with one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Lose it.
    Drop,
    /// Send it after `delay`; if `duplicate` is set, send a second copy after that delay.
    Deliver {
        delay: Duration,
        /// It was one of the held-back datagrams (`delay` includes the extra).
        reordered: bool,
        duplicate: Option<Duration>,
    },
}

/// Decides the fate of one datagram under `faults`.
pub(crate) fn plan<R: Rng + ?Sized>(faults: &Faults, rng: &mut R) -> Plan {
    if faults.blackhole || chance(rng, faults.drop_percent) {
        return Plan::Drop;
    }
    let reordered = chance(rng, faults.reorder_percent);
    let mut delay = sample_delay(faults, rng);
    if reordered {
        delay = delay.saturating_add(faults.reorder_extra.min(MAX_DELAY));
    }
    let duplicate = chance(rng, faults.duplicate_percent).then(|| sample_delay(faults, rng));
    Plan::Deliver {
        delay,
        reordered,
        duplicate,
    }
}

/// True with probability `percent`/100; exact (no RNG draw) at 0 and 100.
fn chance<R: Rng + ?Sized>(rng: &mut R, percent: f64) -> bool {
    let p = clamp_percent(percent) / 100.0;
    if p <= 0.0 {
        false
    } else if p >= 1.0 {
        true
    } else {
        rng.random_bool(p)
    }
}

/// `delay` plus a uniform draw from `0..=jitter`.
fn sample_delay<R: Rng + ?Sized>(faults: &Faults, rng: &mut R) -> Duration {
    let base = faults.delay.min(MAX_DELAY);
    let jitter = faults.jitter.min(MAX_DELAY);
    if jitter.is_zero() {
        return base;
    }
    // MAX_DELAY in nanoseconds fits in u64 by a wide margin.
    let max_nanos = u64::try_from(jitter.as_nanos()).unwrap_or(u64::MAX);
    base.saturating_add(Duration::from_nanos(rng.random_range(0..=max_nanos)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn rng() -> SmallRng {
        SmallRng::seed_from_u64(0x1eaf)
    }

    fn count_drops(faults: &Faults, n: usize) -> usize {
        let mut rng = rng();
        (0..n)
            .filter(|_| plan(faults, &mut rng) == Plan::Drop)
            .count()
    }

    #[test]
    fn clean_link_delivers_at_once_and_once() {
        let mut rng = rng();
        for _ in 0..1000 {
            assert_eq!(
                plan(&Faults::default(), &mut rng),
                Plan::Deliver {
                    delay: Duration::ZERO,
                    reordered: false,
                    duplicate: None
                }
            );
        }
    }

    #[test]
    fn blackhole_and_full_drop_lose_everything() {
        assert_eq!(count_drops(&Faults::cut(), 1000), 1000);
        let all = Faults {
            drop_percent: 100.0,
            ..Faults::default()
        };
        assert_eq!(count_drops(&all, 1000), 1000);
    }

    #[test]
    fn drop_percentage_is_roughly_kept() {
        let f = Faults {
            drop_percent: 30.0,
            ..Faults::default()
        };
        let dropped = count_drops(&f, 100_000);
        assert!((28_000..=32_000).contains(&dropped), "dropped {dropped}");
    }

    #[test]
    fn delay_stays_within_base_plus_jitter_and_varies() {
        let f = Faults {
            delay: Duration::from_millis(100),
            jitter: Duration::from_millis(80),
            ..Faults::default()
        };
        let mut rng = rng();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let Plan::Deliver { delay, .. } = plan(&f, &mut rng) else {
                panic!("nothing should be dropped");
            };
            assert!(delay >= Duration::from_millis(100) && delay <= Duration::from_millis(180));
            seen.insert(delay);
        }
        assert!(seen.len() > 1000, "jitter should spread delays");
    }

    #[test]
    fn reorder_holds_back_by_the_extra_delay() {
        let f = Faults {
            reorder_percent: 25.0,
            reorder_extra: Duration::from_millis(50),
            ..Faults::default()
        };
        let mut rng = rng();
        let mut held = 0;
        for _ in 0..10_000 {
            match plan(&f, &mut rng) {
                Plan::Deliver {
                    delay, reordered, ..
                } => {
                    let expect = if reordered {
                        Duration::from_millis(50)
                    } else {
                        Duration::ZERO
                    };
                    assert_eq!(delay, expect);
                    held += usize::from(reordered);
                }
                Plan::Drop => panic!("nothing should be dropped"),
            }
        }
        assert!((2_000..=3_000).contains(&held), "held {held}");
    }

    #[test]
    fn full_duplicate_always_sends_a_second_copy() {
        let f = Faults {
            duplicate_percent: 100.0,
            ..Faults::default()
        };
        let mut rng = rng();
        for _ in 0..1000 {
            assert!(matches!(
                plan(&f, &mut rng),
                Plan::Deliver {
                    duplicate: Some(_),
                    ..
                }
            ));
        }
    }

    #[test]
    fn out_of_range_settings_are_clamped_not_panicking() {
        let wild = Faults {
            blackhole: false,
            drop_percent: f64::NAN,
            delay: Duration::MAX,
            jitter: Duration::MAX,
            reorder_percent: 1e9,
            reorder_extra: Duration::MAX,
            duplicate_percent: -5.0,
        };
        let s = wild.clone().sanitized();
        assert_eq!(s.drop_percent, 0.0);
        assert_eq!(s.reorder_percent, 100.0);
        assert_eq!(s.duplicate_percent, 0.0);
        assert_eq!(s.delay, MAX_DELAY);
        // Even unsanitized, planning neither panics nor overflows.
        let mut rng = rng();
        for _ in 0..100 {
            if let Plan::Deliver { delay, .. } = plan(&wild, &mut rng) {
                assert!(delay <= MAX_DELAY * 3);
            }
        }
    }

    #[test]
    fn display_is_compact() {
        assert_eq!(Faults::default().to_string(), "clean");
        let f = Faults {
            drop_percent: 30.0,
            delay: Duration::from_millis(300),
            jitter: Duration::from_millis(50),
            ..Faults::default()
        };
        assert_eq!(f.to_string(), "drop=30% delay=300ms jitter=50ms");
    }
}
