//! Simulated agents for `bench-fleet`: one worker process's share of them, and the stdin line
//! protocol through which the bench drives that worker.
//!
//! Why workers: each agent is a real `LinkClient` holding its own UDP socket and its own
//! database file (two file descriptors), and this machine's hard `RLIMIT_NOFILE` is 20,000,
//! which an unprivileged container cannot raise; so 10,000 agents need at least two processes.
//! Percentiles are merged across workers as [`Histogram`]s.
//!
//! Each worker makes its agents' keys and has the fleet CA (read from the bench's PKI
//! directory) sign them, and opens their databases (one file each under `/dev/shm`, so the
//! link's fsyncs cost next to nothing; a page cache of [`AGENT_CACHE_BYTES`] each), before it
//! prints `ready`: setup, not measured. Then:
//!
//! | command | answer |
//! | --- | --- |
//! | `connect SECS` | starts every agent; `connected ok=K of=N last_us=U hist ...` (per-agent ms from its own start to its Hello answered) |
//! | `status` | `status connected=C sessions=S` |
//! | `burst M` | every agent queues M notes at once; `ok burst queued=Q` |
//! | `pace RATE SECS` | single notes at RATE/s round robin for SECS; `ok pace sent=S` |
//! | `reset` | forgets received-note gauges; `ok reset` |
//! | `gauges` | `gauges applied=A last_us=U hist ...` (one-way latency µs of received notes) |
//! | `quit` or EOF | shuts every agent down; `stopped` |

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hotspot_link::{ClientConfig, ClientTls, LinkConfig};
use hotspot_pki::{FleetCa, SiteId};
use hotspot_storage::{Db, Options};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

use super::payload::{Note, NoteClient, NoteInbox, PingResponder, now_us};
use super::pki_files::agent_tls;
use super::stats::{Histogram, LatencyLog};

/// Which agents a worker runs, and how.
#[derive(Clone, Debug)]
pub struct GroupSpec {
    /// Index of the first agent (its site is `bench-<index>`).
    pub first: usize,
    pub count: usize,
    pub controller: SocketAddr,
    pub link: LinkConfig,
    /// The directory holding the fleet CA (certificate and key).
    pub pki: PathBuf,
    /// Where the agents' database files go.
    pub data: PathBuf,
}

/// The page cache of one simulated agent's database: an agent's link tables hold a few
/// hundred small entries at most, and thousands of agents share a worker's memory.
pub const AGENT_CACHE_BYTES: usize = 1 << 20;

/// The site name of agent `index`.
pub fn bench_site(index: usize) -> Result<SiteId> {
    Ok(format!("bench-{index:05}").parse()?)
}

/// A worker's agents.
pub struct AgentGroup {
    spec: GroupSpec,
    identities: Vec<Option<ClientTls>>,
    dbs: Vec<Db>,
    clients: Vec<NoteClient>,
    started_at: Vec<Instant>,
    applied: Arc<AtomicU64>,
    latency: Arc<LatencyLog>,
}

impl AgentGroup {
    /// Signs the agents' certificates and opens their databases.
    pub fn prepare(spec: GroupSpec) -> Result<AgentGroup> {
        let ca = FleetCa::load(&spec.pki).context("loading the fleet CA")?;
        let mut identities = Vec::with_capacity(spec.count);
        let mut dbs = Vec::with_capacity(spec.count);
        for index in spec.first..spec.first + spec.count {
            identities.push(Some(agent_tls(&ca, &bench_site(index)?)?));
            let path = spec.data.join(format!("agent-{index:05}.redb"));
            let options = Options {
                cache_bytes: AGENT_CACHE_BYTES,
            };
            dbs.push(
                Db::open(&path, options).with_context(|| format!("opening {}", path.display()))?,
            );
        }
        Ok(AgentGroup {
            spec,
            identities,
            dbs,
            clients: Vec::new(),
            started_at: Vec::new(),
            applied: Arc::new(AtomicU64::new(0)),
            latency: Arc::new(LatencyLog::default()),
        })
    }

    /// Starts every agent (each connects on its own from then on).
    pub async fn start(&mut self) -> Result<()> {
        for (db, tls) in self.dbs.iter().zip(self.identities.iter_mut()) {
            let config = ClientConfig {
                link: self.spec.link.clone(),
                ..ClientConfig::new(self.spec.controller, "localhost")
            };
            let inbox =
                NoteInbox::counting().with_gauges(self.applied.clone(), self.latency.clone());
            let tls = tls.take().context("agent started twice")?;
            self.started_at.push(Instant::now());
            self.clients
                .push(NoteClient::start(config, db, tls, inbox, PingResponder).await?);
        }
        Ok(())
    }

    /// Polls (every 20 ms) until every agent's Hello was answered or `limit` passed; returns
    /// how many made it, when the last did (µs since the epoch) and each one's time in ms
    /// from its own start.
    pub fn wait_connected(&self, limit: Duration) -> (usize, u64, Histogram) {
        let mut done = vec![false; self.clients.len()];
        let (mut ok, mut last_us) = (0, 0);
        let mut hist = Histogram::default();
        let deadline = Instant::now() + limit;
        while ok < self.clients.len() && Instant::now() < deadline {
            for (i, client) in self.clients.iter().enumerate() {
                if !done[i] && client.status().connected {
                    done[i] = true;
                    ok += 1;
                    last_us = now_us();
                    hist.record(self.started_at[i].elapsed().as_millis() as u64);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (ok, last_us, hist)
    }

    /// `(connected, sessions established in total)`.
    pub fn status(&self) -> (usize, u64) {
        self.clients.iter().fold((0, 0), |(c, s), client| {
            let st = client.status();
            (c + usize::from(st.connected), s + st.sessions)
        })
    }

    /// Every agent queues `m` notes in one batch; returns how many were queued.
    pub async fn burst(&self, m: u64) -> Result<u64> {
        let mut pushes = JoinSet::new();
        for client in &self.clients {
            let client = client.clone();
            pushes.spawn(async move {
                let notes: Vec<Note> = (0..m).map(|_| Note::new(0, "agent")).collect();
                client.send_batch(&notes).await.map(|s| s.len() as u64)
            });
        }
        let mut queued = 0;
        while let Some(joined) = pushes.join_next().await {
            queued += joined??;
        }
        Ok(queued)
    }

    /// Single notes at `rate` per second in total, round robin, for `period`.
    pub async fn pace(&self, rate: u64, period: Duration) -> u64 {
        if self.clients.is_empty() || rate == 0 {
            return 0;
        }
        let started = Instant::now();
        let mut sends = JoinSet::new();
        let (mut queued, mut next) = (0u64, 0usize);
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        while started.elapsed() < period {
            tick.tick().await;
            let due = (rate as f64 * started.elapsed().as_secs_f64()) as u64;
            while queued < due {
                let client = self.clients[next % self.clients.len()].clone();
                next += 1;
                queued += 1;
                sends.spawn(async move { client.send(&Note::new(0, "agent")).await.is_ok() });
            }
            while sends.try_join_next().is_some() {}
        }
        let mut ok = 0;
        while let Some(joined) = sends.join_next().await {
            ok += u64::from(joined.unwrap_or(false));
        }
        ok
    }

    pub fn reset(&self) {
        self.applied.store(0, Ordering::SeqCst);
        self.latency.reset();
    }

    /// Notes received since the last reset, when the last arrived, and their latencies (µs).
    pub fn gauges(&self) -> (u64, u64, Histogram) {
        (
            self.applied.load(Ordering::SeqCst),
            self.latency.last_us(),
            self.latency.histogram(),
        )
    }

    /// Shuts every agent down (each closes its connection with a reason).
    pub async fn shutdown(self) {
        let mut stops = JoinSet::new();
        for client in self.clients {
            stops.spawn(async move { client.shutdown().await });
        }
        while stops.join_next().await.is_some() {}
    }
}

/// Runs a worker: prepares the group, prints `ready`, then serves stdin commands (see the
/// module comment) until `quit` or EOF.
pub fn serve_worker(spec: GroupSpec) -> Result<()> {
    let rt = Runtime::new()?;
    let setup = Instant::now();
    let count = spec.count;
    let mut group = AgentGroup::prepare(spec)?;
    println!(
        "ready count={count} setup_ms={}",
        setup.elapsed().as_millis()
    );
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok());
        match words.first().copied() {
            Some("connect") => {
                rt.block_on(group.start())?;
                let limit = Duration::from_secs(number(1).unwrap_or(300));
                let (ok, last_us, hist) = group.wait_connected(limit);
                println!("connected ok={ok} of={count} last_us={last_us} hist {hist}");
            }
            Some("status") => {
                let (connected, sessions) = group.status();
                println!("status connected={connected} sessions={sessions}");
            }
            Some("burst") => {
                let queued = rt.block_on(group.burst(number(1).unwrap_or(1)))?;
                println!("ok burst queued={queued}");
            }
            Some("pace") => {
                let (rate, secs) = (number(1).unwrap_or(0), number(2).unwrap_or(0));
                let sent = rt.block_on(group.pace(rate, Duration::from_secs(secs)));
                println!("ok pace sent={sent}");
            }
            Some("reset") => {
                group.reset();
                println!("ok reset");
            }
            Some("gauges") => {
                let (applied, last_us, hist) = group.gauges();
                println!("gauges applied={applied} last_us={last_us} hist {hist}");
            }
            Some("quit") => break,
            Some(other) => println!("unknown command: {other}"),
            None => {}
        }
    }
    rt.block_on(group.shutdown());
    println!("stopped");
    Ok(())
}

/// The value of `key=` in a worker's answer.
pub fn field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// The histogram after ` hist ` in a worker's answer.
pub fn hist_field(line: &str) -> Option<Histogram> {
    line.split_once(" hist ")?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse() {
        let h = Histogram::from_values([5, 250]);
        let line = format!("ok=3 of=4 last_us=17 hist {h}");
        assert_eq!(field(&line, "ok"), Some(3));
        assert_eq!(field(&line, "last_us"), Some(17));
        assert_eq!(field(&line, "missing"), None);
        assert_eq!(hist_field(&line), Some(h));
    }
}
