//! `bench-fleet`: how many agents one controller holds on this machine, and what the fleet
//! link costs. It prints a table and asserts nothing about speed.
//!
//! One controller runs as a `fleet-peer controller` child process (its resident memory is its
//! own, read from `/proc/<pid>/status`; its data directory is on disk). N simulated agents run
//! in a few worker processes (`bench-fleet worker`, at most `--agents-per-process` each:
//! every agent holds two file descriptors and the hard limit here is 20,000), each agent a
//! real `LinkClient` with its own UDP socket, certificate and database file (in `/dev/shm`,
//! with a 1 MiB page cache); see `hotspot_tests::fleetkit::bench_agents`. Signing the N
//! certificates is setup, not measured.
//!
//! Phases:
//! 1. **cold connect**: all N start at once against a controller that just started; time until
//!    every agent's Hello was answered, and per-agent p50/p99 from its own start;
//! 2. **steady state**: `--duration` seconds of heartbeats, then the controller's RSS and CPU;
//! 3. **throughput**, each direction: `--messages` notes spread over the agents, queued at
//!    once; messages per second from the first queue to the last apply (their latencies
//!    measure queueing in a saturating burst, and are printed as such);
//! 4. **latency** at a moderate rate (`--latency-rate` notes/s for `--latency-secs`), each
//!    direction: one-way p50/p99 from the timestamp in each note to its apply (one machine,
//!    one clock).
//!
//! Build both binaries first (`cargo build --release -p hotspot-tests --bins`), then
//! `target/release/bench-fleet --agents 1000`.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use hotspot_link::LinkConfig;
use hotspot_tests::fleetkit::bench_agents::{GroupSpec, field, hist_field, serve_worker};
use hotspot_tests::fleetkit::payload::now_us;
use hotspot_tests::fleetkit::pki_files::init_controller_pki;
use hotspot_tests::fleetkit::process::PeerProcess;
use hotspot_tests::fleetkit::stats::{
    Histogram, LatencySummary, ProcUsage, proc_usage, udp_socket_drops,
};

#[derive(Parser, Debug)]
#[command(
    name = "bench-fleet",
    about = "One controller, N agents: connect time, memory, throughput, latency",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    worker: Option<Internal>,
    #[command(flatten)]
    bench: BenchArgs,
}

#[derive(Subcommand, Debug)]
enum Internal {
    /// (internal) run a share of the simulated agents, driven on stdin.
    #[command(hide = true)]
    Worker(WorkerArgs),
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Simulated agents.
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    /// Notes per direction in the throughput phase (spread evenly over the agents).
    #[arg(long, default_value_t = 100_000)]
    messages: u64,
    /// Seconds of steady-state heartbeats before the controller's memory is read.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Notes per second (in total) in the latency phase.
    #[arg(long, default_value_t = 1000)]
    latency_rate: u64,
    /// Seconds of the latency phase, each direction.
    #[arg(long, default_value_t = 10)]
    latency_secs: u64,
    /// Link intervals for both ends.
    #[arg(long, value_enum, default_value_t = Intervals::Prod)]
    intervals: Intervals,
    /// Most agents in one worker process (two file descriptors each).
    #[arg(long, default_value_t = 4000)]
    agents_per_process: usize,
    /// Give up on a phase after this many seconds (the machine plainly cannot).
    #[arg(long, default_value_t = 300)]
    phase_timeout: u64,
    /// Stop a phase when the controller's applied count has not moved for this many seconds.
    #[arg(long, default_value_t = 30)]
    stall_timeout: u64,
    /// The fleet-peer binary (default: next to this one).
    #[arg(long)]
    peer_bin: Option<PathBuf>,
    /// Keep the work directories.
    #[arg(long)]
    keep: bool,
}

#[derive(Args, Debug)]
struct WorkerArgs {
    #[arg(long)]
    first: usize,
    #[arg(long)]
    count: usize,
    #[arg(long)]
    controller: SocketAddr,
    #[arg(long)]
    pki: PathBuf,
    #[arg(long)]
    data: PathBuf,
    #[arg(long, value_enum)]
    intervals: Intervals,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Intervals {
    Fast,
    Prod,
}

impl Intervals {
    fn word(self) -> &'static str {
        match self {
            Intervals::Fast => "fast",
            Intervals::Prod => "prod",
        }
    }

    fn link(self) -> LinkConfig {
        match self {
            Intervals::Fast => LinkConfig::fast_for_tests(),
            Intervals::Prod => LinkConfig::default(),
        }
    }
}

fn main() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.worker {
        Some(Internal::Worker(w)) => {
            raise_nofile(w.count as u64 * 2 + 256)?;
            serve_worker(GroupSpec {
                first: w.first,
                count: w.count,
                controller: w.controller,
                link: w.intervals.link(),
                pki: w.pki,
                data: w.data,
            })
        }
        None => bench(&cli.bench),
    }
}

/// Rows of the final table, printed to stderr as they are measured too.
#[derive(Default)]
struct Table {
    rows: Vec<(String, String)>,
}

impl Table {
    fn row(&mut self, what: impl Into<String>, value: impl Into<String>) {
        let (what, value) = (what.into(), value.into());
        eprintln!("  {what}: {value}");
        self.rows.push((what, value));
    }

    fn print(&self, title: &str) {
        println!("\n{title}\n");
        println!("| measure | value |\n| --- | --- |");
        for (what, value) in &self.rows {
            println!("| {what} | {value} |");
        }
    }
}

/// Directories removed at the end unless `--keep`: one on disk (controller, PKI, logs), one
/// in memory (the simulated agents' database files).
struct WorkDirs {
    disk: PathBuf,
    shm: PathBuf,
    keep: bool,
}

impl WorkDirs {
    fn new(keep: bool) -> Result<WorkDirs> {
        let pid = std::process::id();
        let disk = std::env::temp_dir().join(format!("bench-fleet-{pid}"));
        let shm_root = Path::new("/dev/shm");
        let shm = if shm_root.is_dir() {
            shm_root.join(format!("bench-fleet-{pid}"))
        } else {
            disk.join("agents")
        };
        std::fs::create_dir_all(&disk)?;
        std::fs::create_dir_all(&shm)?;
        Ok(WorkDirs { disk, shm, keep })
    }
}

impl Drop for WorkDirs {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("kept {} and {}", self.disk.display(), self.shm.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.shm);
            let _ = std::fs::remove_dir_all(&self.disk);
        }
    }
}

/// Raises the soft RLIMIT_NOFILE towards `want` (and the hard one, where allowed).
fn raise_nofile(want: u64) -> Result<u64> {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    if soft >= want {
        return Ok(soft);
    }
    if hard < want && rlimit::setrlimit(rlimit::Resource::NOFILE, want, want).is_ok() {
        return Ok(want);
    }
    Ok(rlimit::increase_nofile_limit(want)?)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn latency(l: &LatencySummary) -> String {
    format!(
        "p50 {} / p99 {} / max {} ({} samples)",
        ms(l.p50_us),
        ms(l.p99_us),
        ms(l.max_us),
        l.count
    )
}

fn latency_hist(h: &Histogram) -> String {
    format!(
        "p50 {} / p99 {} / max {} ({} samples)",
        ms(h.percentile(50.0)),
        ms(h.percentile(99.0)),
        ms(h.max),
        h.count
    )
}

fn cpu_share(before: &ProcUsage, after: &ProcUsage, wall: Duration) -> String {
    let cpu = after.cpu.saturating_sub(before.cpu);
    format!(
        "{:.1} % of one core",
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9)
    )
}

/// Sends a stdin command and waits for its `ok WORD` line.
fn command(peer: &mut PeerProcess, line: &str, limit: Duration) -> Result<String> {
    let before = peer.progress().oks.len();
    peer.command(line)?;
    let word = line
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let p = peer.wait_for(&format!("ok {word}"), limit, |p| {
        p.oks.iter().skip(before).any(|ok| ok.starts_with(&word))
    })?;
    Ok(p.oks
        .iter()
        .skip(before)
        .find(|ok| ok.starts_with(&word))
        .cloned()
        .unwrap_or_default())
}

/// Asks the controller for its latency summary once it counts at least `count` samples.
fn controller_latency(
    controller: &mut PeerProcess,
    count: u64,
    limit: Duration,
) -> Result<LatencySummary> {
    let deadline = Instant::now() + limit;
    loop {
        let asked = controller.progress().latency_lines;
        controller.command("stats")?;
        let answer = controller
            .wait_for("a latency line", Duration::from_secs(10), |p| {
                p.latency_lines > asked
            })?
            .latency
            .context("unreadable latency line")?;
        if answer.count >= count {
            return Ok(answer);
        }
        if Instant::now() >= deadline {
            bail!(
                "the controller counted {} of {count} latency samples",
                answer.count
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the controller applied `target` notes; fails after `limit`, or as soon as its
/// count has not moved for `stall` (a stuck controller or a link that stopped delivering:
/// better named at once, with the pid to inspect, than after the whole phase limit).
fn wait_applied(
    controller: &PeerProcess,
    target: u64,
    limit: Duration,
    stall: Duration,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    let (mut last, mut moved) = (controller.progress().applied, Instant::now());
    loop {
        let slice = Duration::from_secs(1).min(deadline.saturating_duration_since(Instant::now()));
        let p = controller
            .wait_for("notes applied", slice, |p| p.applied >= target)
            .unwrap_or_else(|_| controller.progress());
        if p.applied >= target {
            return Ok(());
        }
        if p.eof {
            bail!("the controller exited at {} of {target} notes", p.applied);
        }
        if p.applied != last {
            (last, moved) = (p.applied, Instant::now());
        } else if moved.elapsed() >= stall {
            bail!(
                "the controller applied nothing for {} (stuck at {} of {target}; pid {:?}: attach gdb to see where)",
                secs(stall),
                p.applied,
                controller.pid()
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "the controller applied {} of {target} within {}",
                p.applied,
                secs(limit)
            );
        }
    }
}

/// The controller and the worker processes.
struct Fleet {
    controller: PeerProcess,
    controller_pid: u32,
    port: u16,
    workers: Vec<PeerProcess>,
}

impl Fleet {
    fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().filter_map(PeerProcess::pid).collect()
    }

    /// Sums over workers: resident KiB, CPU time.
    fn workers_usage(&self) -> ProcUsage {
        self.worker_pids()
            .into_iter()
            .filter_map(|pid| proc_usage(pid).ok())
            .fold(ProcUsage::default(), |a, u| ProcUsage {
                rss_kib: a.rss_kib + u.rss_kib,
                peak_rss_kib: a.peak_rss_kib + u.peak_rss_kib,
                threads: a.threads + u.threads,
                cpu: a.cpu + u.cpu,
            })
    }

    /// Sends `line` to every worker, then waits for each one's `answer` line.
    fn ask_all(&mut self, line: &str, answer: &str, limit: Duration) -> Result<Vec<String>> {
        let before: Vec<u64> = self
            .workers
            .iter()
            .map(|w| w.progress().seen(answer))
            .collect();
        for w in &mut self.workers {
            w.command(line)?;
        }
        self.workers
            .iter()
            .zip(before)
            .map(|(w, b)| {
                let p = w.wait_for(answer, limit, |p| p.seen(answer) > b)?;
                Ok(p.last(answer).unwrap_or_default().to_string())
            })
            .collect()
    }

    /// Sends `line` to every worker, then waits for each one's `ok WORD` line.
    fn command_all(&mut self, line: &str, limit: Duration) -> Result<Vec<String>> {
        let word = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let before: Vec<usize> = self
            .workers
            .iter()
            .map(|w| w.progress().oks.len())
            .collect();
        for w in &mut self.workers {
            w.command(line)?;
        }
        self.workers
            .iter()
            .zip(before)
            .map(|(w, b)| {
                let p = w.wait_for(&format!("ok {word}"), limit, |p| {
                    p.oks.iter().skip(b).any(|ok| ok.starts_with(&word))
                })?;
                Ok(p.oks
                    .iter()
                    .skip(b)
                    .find(|ok| ok.starts_with(&word))
                    .cloned()
                    .unwrap_or_default())
            })
            .collect()
    }

    /// Received notes across workers: total, last arrival (µs since the epoch), latencies.
    fn gauges(&mut self, limit: Duration) -> Result<(u64, u64, Histogram)> {
        let mut hist = Histogram::default();
        let (mut applied, mut last_us) = (0, 0);
        for answer in self.ask_all("gauges", "gauges", limit)? {
            applied += field(&answer, "applied").unwrap_or(0);
            last_us = last_us.max(field(&answer, "last_us").unwrap_or(0));
            if let Some(h) = hist_field(&answer) {
                hist.merge(&h);
            }
        }
        Ok((applied, last_us, hist))
    }

    /// Polls the workers' gauges until `total` notes arrived.
    fn wait_received(&mut self, total: u64, limit: Duration) -> Result<(u64, u64, Histogram)> {
        let deadline = Instant::now() + limit;
        loop {
            let g = self.gauges(limit)?;
            if g.0 >= total || Instant::now() >= deadline {
                return Ok(g);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// CPU of the controller and of the workers over a phase, and the controller socket's drops.
struct Meter {
    controller: ProcUsage,
    workers: ProcUsage,
    drops: u64,
    started: Instant,
}

impl Meter {
    fn start(fleet: &Fleet) -> Result<Meter> {
        Ok(Meter {
            controller: proc_usage(fleet.controller_pid)?,
            workers: fleet.workers_usage(),
            drops: udp_socket_drops(fleet.port).unwrap_or(0),
            started: Instant::now(),
        })
    }

    fn read(&self, fleet: &Fleet) -> Result<String> {
        let wall = self.started.elapsed();
        Ok(format!(
            "CPU controller {}, agents {}; controller socket drops {}",
            cpu_share(&self.controller, &proc_usage(fleet.controller_pid)?, wall),
            cpu_share(&self.workers, &fleet.workers_usage(), wall),
            udp_socket_drops(fleet.port)
                .unwrap_or(0)
                .saturating_sub(self.drops)
        ))
    }
}

fn bench(args: &BenchArgs) -> Result<()> {
    let n = args.agents;
    anyhow::ensure!(
        n > 0 && args.agents_per_process > 0,
        "--agents must be positive"
    );
    let limit = Duration::from_secs(args.phase_timeout);
    let peer_bin = match &args.peer_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("fleet-peer"),
    };
    anyhow::ensure!(
        peer_bin.exists(),
        "{} not found: build it (cargo build --release -p hotspot-tests --bins) or pass --peer-bin",
        peer_bin.display()
    );
    let link = args.intervals.link();
    let processes = n.div_ceil(args.agents_per_process);
    let title = format!(
        "bench-fleet: {n} agents in {processes} worker process(es), one controller, intervals {} \
         (heartbeat {:?}, keep-alive {:?}, idle {:?}), {} cores",
        args.intervals.word(),
        link.heartbeat_interval,
        link.keep_alive_interval,
        link.idle_timeout,
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    eprintln!("{title}");
    let mut table = Table::default();
    let work = WorkDirs::new(args.keep)?;

    let pki = work.disk.join("pki");
    init_controller_pki(&pki)?;
    let controller_args: Vec<OsString> = [
        "--log",
        "warn",
        "controller",
        "--data",
        &work.disk.join("controller").display().to_string(),
        "--listen",
        "127.0.0.1:0",
        "--pki",
        &pki.display().to_string(),
        "--intervals",
        args.intervals.word(),
        "--report-ms",
        "20",
        "--quit-on-stdin-eof",
        "--max-connections",
        &(n + 1000).to_string(),
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let controller = PeerProcess::spawn(
        "controller",
        &peer_bin,
        controller_args,
        &work.disk.join("controller.log"),
    )?;
    let addr = controller
        .wait_for("listening", limit, |p| p.listening.is_some())?
        .listening
        .context("listening address")?;
    let controller_pid = controller.pid().context("controller pid")?;
    let idle = proc_usage(controller_pid)?;

    // Setup (not measured): workers sign their agents' certificates and open their databases.
    let setup = Instant::now();
    let me = std::env::current_exe()?;
    let mut workers = Vec::new();
    for w in 0..processes {
        let first = w * args.agents_per_process;
        let count = args.agents_per_process.min(n - first);
        let worker_args: Vec<OsString> = [
            "worker",
            "--first",
            &first.to_string(),
            "--count",
            &count.to_string(),
            "--controller",
            &addr.to_string(),
            "--pki",
            &pki.display().to_string(),
            "--data",
            &work.shm.display().to_string(),
            "--intervals",
            args.intervals.word(),
        ]
        .iter()
        .map(OsString::from)
        .collect();
        workers.push(PeerProcess::spawn(
            &format!("agents-{w}"),
            &me,
            worker_args,
            &work.disk.join(format!("agents-{w}.log")),
        )?);
    }
    for w in &workers {
        w.wait_for("ready", limit, |p| p.seen("ready") > 0)?;
    }
    table.row(
        format!("setup: {n} agent keys and certificates, {n} databases"),
        format!("{} (not measured)", secs(setup.elapsed())),
    );
    table.row("controller RSS before any agent", mib(idle.rss_kib));
    let mut fleet = Fleet {
        controller,
        controller_pid,
        port: addr.port(),
        workers,
    };
    let result = phases(args, &mut fleet, &mut table, limit, &work.shm);
    if let Err(e) = &result {
        table.row("stopped early", format!("{e:#}"));
    }
    let stopping = Instant::now();
    for w in &mut fleet.workers {
        if let Err(e) = w.stop(limit) {
            eprintln!("{e:#}");
        }
    }
    if let Err(e) = fleet.controller.stop(Duration::from_secs(60)) {
        eprintln!("{e:#}");
    }
    eprintln!("stopped everything in {}", secs(stopping.elapsed()));
    table.print(&title);
    Ok(())
}

/// KiB allocated to the files directly in `dir` (the agents' databases).
fn files_kib(dir: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut blocks = 0;
    for entry in std::fs::read_dir(dir)? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            blocks += meta.blocks();
        }
    }
    Ok(blocks / 2)
}

fn phases(
    args: &BenchArgs,
    fleet: &mut Fleet,
    table: &mut Table,
    limit: Duration,
    agent_data: &Path,
) -> Result<()> {
    let n = args.agents as u64;
    let stall = Duration::from_secs(args.stall_timeout);
    let idle = proc_usage(fleet.controller_pid)?;

    // 1. Cold connect.
    let drops_before = udp_socket_drops(fleet.port).unwrap_or(0);
    let t0 = now_us();
    let answers = fleet.ask_all(
        &format!("connect {}", limit.as_secs()),
        "connected",
        limit * 2,
    )?;
    let mut hist = Histogram::default();
    let (mut ok, mut last_us) = (0, 0);
    for a in &answers {
        ok += field(a, "ok").unwrap_or(0);
        last_us = last_us.max(field(a, "last_us").unwrap_or(0));
        if let Some(h) = hist_field(a) {
            hist.merge(&h);
        }
    }
    let drops = udp_socket_drops(fleet.port)
        .unwrap_or(0)
        .saturating_sub(drops_before);
    table.row(
        "controller UDP socket: datagrams dropped (receive buffer full) during cold connect",
        drops.to_string(),
    );
    if ok < n {
        bail!("only {ok} of {n} agents connected within {}", secs(limit));
    }
    table.row(
        format!("cold connect: all {n} Hellos answered"),
        format!(
            "{} after the start command (per agent from its own start: p50 {} ms, p99 {} ms, max {} ms)",
            ms(last_us.saturating_sub(t0)),
            hist.percentile(50.0),
            hist.percentile(99.0),
            hist.max
        ),
    );

    // 2. Steady state.
    let sessions = |fleet: &mut Fleet| -> Result<(u64, u64)> {
        let mut totals = (0, 0);
        for a in fleet.ask_all("status", "status", limit)? {
            totals.0 += field(&a, "connected").unwrap_or(0);
            totals.1 += field(&a, "sessions").unwrap_or(0);
        }
        Ok(totals)
    };
    let (_, sessions_before) = sessions(fleet)?;
    let before = proc_usage(fleet.controller_pid)?;
    let steady = Instant::now();
    std::thread::sleep(Duration::from_secs(args.duration));
    let after = proc_usage(fleet.controller_pid)?;
    let wall = steady.elapsed();
    let (connected, sessions_after) = sessions(fleet)?;
    table.row(
        format!(
            "controller RSS after connect + {} s of heartbeats",
            args.duration
        ),
        format!(
            "{} (peak {}; {:.1} KiB per agent above idle; {} threads)",
            mib(after.rss_kib),
            mib(after.peak_rss_kib),
            after.rss_kib.saturating_sub(idle.rss_kib) as f64 / n as f64,
            after.threads
        ),
    );
    table.row(
        "controller CPU during steady state",
        cpu_share(&before, &after, wall),
    );
    table.row(
        "steady state: agents connected / reconnects",
        format!(
            "{connected} of {n} / {}",
            sessions_after.saturating_sub(sessions_before)
        ),
    );
    let workers = fleet.workers_usage();
    table.row(
        "agent processes RSS (all workers)",
        format!(
            "{} ({:.1} KiB per agent)",
            mib(workers.rss_kib),
            workers.rss_kib as f64 / n as f64
        ),
    );
    let files = files_kib(agent_data)?;
    let kind = if agent_data.starts_with("/dev/shm") {
        "tmpfs: memory outside the RSS"
    } else {
        "on disk: no /dev/shm here"
    };
    table.row(
        format!("agent database files in {} ({kind})", agent_data.display()),
        format!(
            "{} ({:.1} KiB per agent)",
            mib(files),
            files as f64 / n as f64
        ),
    );

    // 3. Throughput, agents → controller.
    let per_agent = args.messages.div_ceil(n).max(1);
    let total = per_agent * n;
    command(&mut fleet.controller, "reset-stats", limit)?;
    let base = fleet.controller.progress().applied;
    let meter = Meter::start(fleet)?;
    let t0 = now_us();
    let queued: u64 = fleet
        .command_all(&format!("burst {per_agent}"), limit)?
        .iter()
        .map(|ok| field(ok, "queued").unwrap_or(0))
        .sum();
    let queued_us = now_us() - t0;
    wait_applied(&fleet.controller, base + total, limit, stall)?;
    let cpu = meter.read(fleet)?;
    let up = controller_latency(&mut fleet.controller, total, limit)?;
    let elapsed = up.last_us.saturating_sub(t0).max(1);
    table.row(
        format!("agents → controller: {queued} notes ({per_agent} per agent), queued at once"),
        format!(
            "{:.0} msg/s ({} from first queue to last apply; all queued durably after {}); {cpu}",
            total as f64 / (elapsed as f64 / 1e6),
            ms(elapsed),
            ms(queued_us)
        ),
    );
    table.row("  one-way latency in that burst (queueing)", latency(&up));

    // 3b. Throughput, controller → agents.
    fleet.command_all("reset", limit)?;
    let meter = Meter::start(fleet)?;
    let t0 = now_us();
    let pushed = command(
        &mut fleet.controller,
        &format!("broadcast {per_agent}"),
        limit,
    )?;
    let (got, last_us, down) = fleet.wait_received(total, limit)?;
    let cpu = meter.read(fleet)?;
    if got < total {
        bail!("controller → agents: only {got} of {total} notes arrived");
    }
    let elapsed = last_us.saturating_sub(t0).max(1);
    table.row(
        format!("controller → agents: {total} notes ({per_agent} per agent), queued at once"),
        format!(
            "{:.0} msg/s ({} from command to last apply; {pushed}); {cpu}",
            total as f64 / (elapsed as f64 / 1e6),
            ms(elapsed)
        ),
    );
    table.row(
        "  one-way latency in that burst (queueing)",
        latency_hist(&down),
    );

    // 4. Latency at a moderate rate, each direction.
    let rate = args.latency_rate;
    let share = rate.div_ceil(fleet.workers.len() as u64);
    command(&mut fleet.controller, "reset-stats", limit)?;
    let base = fleet.controller.progress().applied;
    let sent: u64 = fleet
        .command_all(&format!("pace {share} {}", args.latency_secs), limit * 2)?
        .iter()
        .map(|ok| field(ok, "sent").unwrap_or(0))
        .sum();
    wait_applied(&fleet.controller, base + sent, limit, stall)?;
    let up = controller_latency(&mut fleet.controller, sent, limit)?;
    table.row(
        format!(
            "agents → controller at {} msg/s for {} s: one-way latency",
            share * fleet.workers.len() as u64,
            args.latency_secs
        ),
        latency(&up),
    );
    fleet.command_all("reset", limit)?;
    let ok = command(
        &mut fleet.controller,
        &format!("pace {rate} {}", args.latency_secs),
        limit * 2,
    )?;
    let sent = field(&ok, "sent").unwrap_or(0);
    let (_, _, down) = fleet.wait_received(sent, limit)?;
    table.row(
        format!(
            "controller → agents at {rate} msg/s for {} s: one-way latency",
            args.latency_secs
        ),
        latency_hist(&down),
    );
    let end = proc_usage(fleet.controller_pid)?;
    table.row(
        "controller RSS at the end",
        format!("{} (peak {})", mib(end.rss_kib), mib(end.peak_rss_kib)),
    );
    let workers = fleet.workers_usage();
    let files = files_kib(agent_data)?;
    table.row(
        "agent processes RSS / database files at the end",
        format!(
            "{} (peak {}) / {} ({:.1} KiB per agent)",
            mib(workers.rss_kib),
            mib(workers.peak_rss_kib),
            mib(files),
            files as f64 / n as f64
        ),
    );
    Ok(())
}
