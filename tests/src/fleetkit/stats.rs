//! Numbers for progress lines and the bench: one-way latencies, percentiles, and a process's
//! resident memory and CPU time from `/proc`.
//!
//! Latencies are kept as raw samples (bounded) rather than a histogram, so p50/p99 are exact
//! for the runs we make (at most a few million samples).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Most latency samples kept; later ones are counted in `dropped`.
pub const MAX_SAMPLES: usize = 4_000_000;

/// One-way latencies of applied notes, in microseconds.
#[derive(Debug, Default)]
pub struct LatencyLog {
    samples: Mutex<Vec<u32>>,
    dropped: AtomicU64,
    first_us: AtomicU64,
    last_us: AtomicU64,
}

impl LatencyLog {
    /// A note made at `sent_us` was applied at `now_us`.
    pub fn record(&self, now_us: u64, sent_us: u64) {
        let us = u32::try_from(now_us.saturating_sub(sent_us)).unwrap_or(u32::MAX);
        {
            let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
            if samples.len() < MAX_SAMPLES {
                samples.push(us);
            } else {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        let _ = self
            .first_us
            .compare_exchange(0, now_us, Ordering::Relaxed, Ordering::Relaxed);
        self.last_us.fetch_max(now_us, Ordering::Relaxed);
    }

    /// Forgets every sample.
    pub fn reset(&self) {
        self.samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.dropped.store(0, Ordering::Relaxed);
        self.first_us.store(0, Ordering::Relaxed);
        self.last_us.store(0, Ordering::Relaxed);
    }

    /// The samples as a [`Histogram`] (for merging across processes).
    pub fn histogram(&self) -> Histogram {
        let samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        Histogram::from_values(samples.iter().map(|&v| u64::from(v)))
    }

    /// Wall-clock time (µs since the epoch) of the last sample, 0 if none.
    pub fn last_us(&self) -> u64 {
        self.last_us.load(Ordering::Relaxed)
    }

    pub fn summary(&self) -> LatencySummary {
        let mut samples = self
            .samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        samples.sort_unstable();
        LatencySummary {
            count: samples.len() as u64 + self.dropped.load(Ordering::Relaxed),
            p50_us: percentile(&samples, 50.0),
            p99_us: percentile(&samples, 99.0),
            max_us: samples.last().copied().map_or(0, u64::from),
            first_us: self.first_us.load(Ordering::Relaxed),
            last_us: self.last_us.load(Ordering::Relaxed),
        }
    }
}

/// The `p`-th percentile (nearest rank) of sorted samples; 0 when empty.
pub fn percentile(sorted: &[u32], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    u64::from(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Latencies (or any durations) in logarithmic buckets of 1 % width above 100 units, exact
/// below: small to print, mergeable across processes, and within 1 % at any percentile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    buckets: BTreeMap<u32, u64>,
    pub count: u64,
    pub max: u64,
}

const EXACT_BELOW: u64 = 100;

fn bucket_of(v: u64) -> u32 {
    if v < EXACT_BELOW {
        return v as u32;
    }
    let steps = ((v as f64 / EXACT_BELOW as f64).ln() / 1.01f64.ln()).floor();
    EXACT_BELOW as u32 + steps as u32
}

fn bucket_floor(b: u32) -> u64 {
    if u64::from(b) < EXACT_BELOW {
        return u64::from(b);
    }
    (EXACT_BELOW as f64 * 1.01f64.powi((b - EXACT_BELOW as u32) as i32)).ceil() as u64
}

impl Histogram {
    pub fn record(&mut self, v: u64) {
        *self.buckets.entry(bucket_of(v)).or_default() += 1;
        self.count += 1;
        self.max = self.max.max(v);
    }

    pub fn from_values(values: impl IntoIterator<Item = u64>) -> Histogram {
        let mut h = Histogram::default();
        for v in values {
            h.record(v);
        }
        h
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (b, c) in &other.buckets {
            *self.buckets.entry(*b).or_default() += c;
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
    }

    /// The `p`-th percentile (nearest rank), to within 1 %; 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, c) in &self.buckets {
            seen += c;
            if seen >= rank {
                return bucket_floor(*b).min(self.max);
            }
        }
        self.max
    }
}

impl fmt::Display for Histogram {
    /// `count=C max=M b:c,b:c,...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "count={} max={} ", self.count, self.max)?;
        let mut first = true;
        for (b, c) in &self.buckets {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{b}:{c}")?;
        }
        if first {
            f.write_str("-")?;
        }
        Ok(())
    }
}

impl FromStr for Histogram {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut h = Histogram::default();
        for part in s.split_whitespace() {
            if let Some(v) = part.strip_prefix("count=") {
                h.count = v.parse().map_err(|e| format!("{part}: {e}"))?;
            } else if let Some(v) = part.strip_prefix("max=") {
                h.max = v.parse().map_err(|e| format!("{part}: {e}"))?;
            } else if part != "-" {
                for pair in part.split(',') {
                    let (b, c) = pair
                        .split_once(':')
                        .ok_or_else(|| format!("not bucket:count: {pair}"))?;
                    let b: u32 = b.parse().map_err(|e| format!("{pair}: {e}"))?;
                    let c: u64 = c.parse().map_err(|e| format!("{pair}: {e}"))?;
                    *h.buckets.entry(b).or_default() += c;
                }
            }
        }
        Ok(h)
    }
}

/// What a [`LatencyLog`] says, as printed on a `latency ...` progress line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Wall-clock time (µs since the epoch) of the first and last sample.
    pub first_us: u64,
    pub last_us: u64,
}

impl fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "count={} p50_us={} p99_us={} max_us={} first_us={} last_us={}",
            self.count, self.p50_us, self.p99_us, self.max_us, self.first_us, self.last_us
        )
    }
}

impl FromStr for LatencySummary {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = LatencySummary::default();
        for pair in s.split_whitespace() {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("not key=value: {pair}"))?;
            let value: u64 = value.parse().map_err(|e| format!("{pair}: {e}"))?;
            match key {
                "count" => out.count = value,
                "p50_us" => out.p50_us = value,
                "p99_us" => out.p99_us = value,
                "max_us" => out.max_us = value,
                "first_us" => out.first_us = value,
                "last_us" => out.last_us = value,
                _ => {}
            }
        }
        Ok(out)
    }
}

/// Resident memory and CPU time of a process, from `/proc/<pid>/status` and `/stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcUsage {
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
    pub threads: u64,
    /// User + system CPU time.
    pub cpu: Duration,
}

/// Reads [`ProcUsage`] of `pid`.
pub fn proc_usage(pid: u32) -> std::io::Result<ProcUsage> {
    let base = PathBuf::from(format!("/proc/{pid}"));
    let status = std::fs::read_to_string(base.join("status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(base.join("stat"))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every architecture we run.
    let cpu_ticks = ticks(11) + ticks(12);
    Ok(ProcUsage {
        rss_kib: field("VmRSS:"),
        peak_rss_kib: field("VmHWM:"),
        threads: field("Threads:"),
        cpu: Duration::from_millis(cpu_ticks * 10),
    })
}

/// Datagrams the kernel dropped on the IPv4 UDP socket bound to `port` because its receive
/// buffer was full (the `drops` column of `/proc/net/udp`); `None` if no such socket.
pub fn udp_socket_drops(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/udp").ok()?;
    let wanted = format!(":{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let local = fields.get(1)?;
        if !local.ends_with(&wanted) {
            return None;
        }
        fields.last()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn summary_round_trips_through_its_line() {
        let log = LatencyLog::default();
        log.record(1_000_300, 1_000_000);
        log.record(1_000_900, 1_000_100);
        let s = log.summary();
        assert_eq!((s.count, s.p50_us, s.max_us), (2, 300, 800));
        assert_eq!(s.to_string().parse::<LatencySummary>(), Ok(s));
    }

    #[test]
    fn histograms_merge_and_stay_within_one_percent() {
        let mut a = Histogram::from_values(1..=5000);
        let b = Histogram::from_values(5001..=10_000);
        a.merge(&b);
        assert_eq!((a.count, a.max), (10_000, 10_000));
        for (p, exact) in [(50.0, 5000.0), (99.0, 9900.0)] {
            let got = a.percentile(p) as f64;
            assert!(
                (got - exact).abs() <= exact * 0.011,
                "p{p}: {got} vs {exact}"
            );
        }
        assert_eq!(Histogram::from_values([3, 7]).percentile(50.0), 3);
        let again: Histogram = a.to_string().parse().expect("parses");
        assert_eq!(again, a);
        assert_eq!(
            Histogram::default().to_string().parse(),
            Ok(Histogram::default())
        );
    }

    #[test]
    fn a_bound_udp_socket_has_a_drop_counter() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("binds");
        let port = socket.local_addr().expect("addr").port();
        assert_eq!(udp_socket_drops(port), Some(0));
    }

    #[test]
    fn own_process_has_resident_memory() {
        let usage = proc_usage(std::process::id()).expect("reads /proc");
        assert!(usage.rss_kib > 0 && usage.threads >= 1, "{usage:?}");
    }
}
