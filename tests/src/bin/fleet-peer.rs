//! `fleet-peer`: one end of the fleet link as a real process, for the fault suites and the
//! bench. It is built on `hotspot-link` alone, with a test payload (numbered notes both ways,
//! pings answered with pongs) and one database file on disk (`DIR/peer.redb`, through
//! `hotspot-storage`), so that a test can SIGKILL it at any instant, start it again on the same
//! data directory, and afterwards read what it applied.
//!
//! - `controller --data DIR --listen ADDR --pki DIR [--site SITE]`: a `LinkServer`; with
//!   `--site` it sends its notes to that site and reports what it applied from it.
//! - `agent --data DIR --controller ADDR --server-name NAME --cert-dir DIR`: a `LinkClient`.
//! - `check --data DIR --from controller|SITE [--expect N]`: reads a stopped peer's directory.
//!
//! Both ends take `--send N` (notes `1..=N`, resumed after a restart from the outbox's own
//! record: see `hotspot_tests::fleetkit::sender` for why that never skips or repeats a number)
//! and `--send-rate` per second, print progress lines (`fleetkit::progress` lists them) and
//! stay up until killed, told `quit` on stdin, stdin closes (`--quit-on-stdin-eof`), or
//! everything is done (`--exit-when-done`). Stdin also takes `stats`, `reset-stats`,
//! `ping N`, and on the controller `broadcast M` (M notes to every connected site) and
//! `pace RATE SECS` (single notes round robin over the connected sites): the bench's commands.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use hotspot_link::{ClientConfig, ControlHooks, LinkConfig, PeerId, ServerConfig};
use hotspot_pki::SiteId;
use hotspot_storage::{Db, Options};
use hotspot_tests::fleetkit::check::{AppliedLog, db_file};
use hotspot_tests::fleetkit::payload::{
    Note, NoteClient, NoteInbox, NoteServer, Ping, PingResponder,
};
use hotspot_tests::fleetkit::pki_files::{load_client_tls, load_server_tls};
use hotspot_tests::fleetkit::sender::{SendPlan, ToSite, resume_point, run_sender};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

#[derive(Parser, Debug)]
#[command(
    name = "fleet-peer",
    about = "One end of the fleet link, for fault tests and benches"
)]
struct Cli {
    /// Log filter for stderr when RUST_LOG is not set.
    #[arg(long, global = true, default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The controller's end (a LinkServer).
    Controller(ControllerArgs),
    /// An agent's end (a LinkClient).
    Agent(AgentArgs),
    /// Print what a stopped peer applied, and judge it.
    Check(CheckArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Intervals {
    /// Heartbeats every 200 ms, idle after 3 s, fast reconnects (tests).
    Fast,
    /// The link's production defaults (benches).
    Prod,
}

#[derive(Args, Debug)]
struct Common {
    /// Data directory (created if missing); the database is `peer.redb` in it.
    #[arg(long)]
    data: PathBuf,
    /// Send notes numbered 1..=N to the peer (resuming after what was already queued).
    #[arg(long, default_value_t = 0)]
    send: u64,
    /// Notes per second (0: as fast as the outbox takes them).
    #[arg(long, default_value_t = 0)]
    send_rate: u64,
    /// Most notes per durable push (one transaction and one barrier each).
    #[arg(long, default_value_t = 100)]
    batch: u64,
    /// Notes expected from the peer, for `done`.
    #[arg(long)]
    expect: Option<u64>,
    /// Shut down gracefully once done (everything sent and acknowledged, expected applied).
    #[arg(long)]
    exit_when_done: bool,
    /// Shut down gracefully when stdin closes (the parent went away).
    #[arg(long)]
    quit_on_stdin_eof: bool,
    /// How often progress lines are printed, in milliseconds.
    #[arg(long, default_value_t = 100)]
    report_ms: u64,
    /// Interval settings to start from.
    #[arg(long, value_enum, default_value_t = Intervals::Fast)]
    intervals: Intervals,
    /// Override: application heartbeat interval (ms).
    #[arg(long)]
    heartbeat_ms: Option<u64>,
    /// Override: QUIC keep-alive interval (ms).
    #[arg(long)]
    keepalive_ms: Option<u64>,
    /// Override: QUIC idle timeout (ms).
    #[arg(long)]
    idle_ms: Option<u64>,
    /// Override: handshake + Hello timeout (ms).
    #[arg(long)]
    hello_timeout_ms: Option<u64>,
}

impl Common {
    fn link(&self) -> LinkConfig {
        let mut link = match self.intervals {
            Intervals::Fast => LinkConfig::fast_for_tests(),
            Intervals::Prod => LinkConfig::default(),
        };
        let ms = Duration::from_millis;
        if let Some(v) = self.heartbeat_ms {
            link.heartbeat_interval = ms(v);
        }
        if let Some(v) = self.keepalive_ms {
            link.keep_alive_interval = ms(v);
        }
        if let Some(v) = self.idle_ms {
            link.idle_timeout = ms(v);
        }
        if let Some(v) = self.hello_timeout_ms {
            link.hello_timeout = ms(v);
        }
        link.software = "fleet-peer".into();
        link
    }

    fn plan(&self, from: &PeerId) -> SendPlan {
        SendPlan {
            total: self.send,
            rate: self.send_rate,
            batch: self.batch,
            from: from.storage_key(),
        }
    }
}

#[derive(Args, Debug)]
struct ControllerArgs {
    #[command(flatten)]
    common: Common,
    /// UDP address to listen on (port 0: any free port; see the `listening` line).
    #[arg(long)]
    listen: SocketAddr,
    /// Directory with the fleet CA and the controller's certificate and key.
    #[arg(long)]
    pki: PathBuf,
    /// The site notes are sent to and counted from.
    #[arg(long)]
    site: Option<SiteId>,
    /// Most simultaneous connections.
    #[arg(long, default_value_t = ServerConfig::default().max_connections)]
    max_connections: usize,
}

#[derive(Args, Debug)]
struct AgentArgs {
    #[command(flatten)]
    common: Common,
    /// The controller's UDP address (or a proxy's).
    #[arg(long)]
    controller: SocketAddr,
    /// The name the controller's certificate must carry.
    #[arg(long, default_value = "localhost")]
    server_name: String,
    /// Directory with fleet-ca.cert.pem, agent.cert.pem, agent.key.pem.
    #[arg(long)]
    cert_dir: PathBuf,
    /// First reconnect delay ceiling (ms).
    #[arg(long)]
    backoff_base_ms: Option<u64>,
    /// Largest reconnect delay ceiling (ms).
    #[arg(long)]
    backoff_cap_ms: Option<u64>,
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// The stopped peer's data directory.
    #[arg(long)]
    data: PathBuf,
    /// Whose notes: `controller`, or the site id of an agent.
    #[arg(long)]
    from: String,
    /// Judge against notes 1..=N; exit 1 unless each was applied once, in order.
    #[arg(long)]
    expect: Option<u64>,
    /// Print every applied note (`seq n`).
    #[arg(long)]
    list: bool,
}

fn main() -> std::process::ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cli.log)),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Check(args) => check(&args),
        command => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("tokio runtime")
            .and_then(|rt| {
                rt.block_on(async move {
                    match command {
                        Command::Controller(args) => controller(args).await,
                        Command::Agent(args) => agent(args).await,
                        Command::Check(_) => unreachable!("handled above"),
                    }
                })
            }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            println!("error {e:#}");
            eprintln!("fleet-peer: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn check(args: &CheckArgs) -> Result<std::process::ExitCode> {
    let from = if args.from == "controller" {
        PeerId::Controller
    } else {
        PeerId::Site(args.from.parse()?)
    };
    let log = AppliedLog::read_dir(&args.data, &from)?;
    if args.list {
        for (seq, note) in &log.records {
            println!("{seq} {}", note.n);
        }
    }
    println!("applied {}", log.records.len());
    println!("apply_count {}", log.apply_count);
    println!("outbox {}", log.outbox_len);
    let Some(expected) = args.expect else {
        return Ok(std::process::ExitCode::SUCCESS);
    };
    let verdict = log.verify(&from, expected);
    println!("verdict {verdict}");
    Ok(if verdict.is_exact() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

/// Opens (or creates) the peer's database in `dir`. No waiting for a lock: a previous
/// incarnation, even one killed a moment ago, released it when its process ended, so a
/// database in use means another peer runs on this directory.
fn open_db(dir: &std::path::Path) -> Result<Db> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = db_file(dir);
    Db::open(&path, Options::default()).with_context(|| format!("opening {}", path.display()))
}

/// What one report tick shows.
#[derive(Default)]
struct Snapshot {
    sent: u64,
    applied: u64,
    outbox: Option<u64>,
    link: Option<bool>,
    /// Agent: why the link last went down.
    link_error: Option<String>,
    /// Agent: sessions established since start.
    sessions: Option<u64>,
    sites: Option<u64>,
}

/// Prints the lines whose values changed.
#[derive(Default)]
struct Reporter {
    last: BTreeMap<&'static str, String>,
}

impl Reporter {
    fn line(&mut self, word: &'static str, value: String) {
        if self.last.get(word) != Some(&value) {
            println!("{word} {value}");
            self.last.insert(word, value);
        }
    }

    fn report(&mut self, s: &Snapshot) {
        self.line("sent", s.sent.to_string());
        self.line("applied", s.applied.to_string());
        if let Some(outbox) = s.outbox {
            self.line("outbox", outbox.to_string());
        }
        // The reason first: a parent that sees a new session has its reason already.
        if let Some(why) = &s.link_error {
            self.line("link-error", why.clone());
        }
        if let Some(n) = s.sessions {
            self.line("sessions", n.to_string());
        }
        if let Some(up) = s.link {
            self.line("link", if up { "up" } else { "down" }.to_string());
        }
        if let Some(sites) = s.sites {
            self.line("sites", sites.to_string());
        }
    }
}

/// Stdin lines, and `None` once when stdin closes.
fn stdin_lines() -> mpsc::Receiver<Option<String>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(Some(line)).await.is_err() {
                return;
            }
        }
        let _ = tx.send(None).await;
    });
    rx
}

/// What the main loop needs from either end.
trait End {
    fn snapshot(&self, sent: u64) -> Snapshot;
    /// Handles a command line; returns false for unknown commands.
    async fn command(&self, words: &[&str]) -> bool;
    async fn shutdown(&self) -> Result<()>;
}

/// Reports, takes commands, watches the sender, and shuts down when told or done.
async fn main_loop(
    end: &impl End,
    common: &Common,
    inbox: &NoteInbox,
    mut tasks: JoinSet<Result<()>>,
    sent: Arc<AtomicU64>,
) -> Result<std::process::ExitCode> {
    let mut reporter = Reporter::default();
    let mut ticker = tokio::time::interval(Duration::from_millis(common.report_ms.max(5)));
    let mut stdin = stdin_lines();
    let mut stdin_open = true;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut done_at: Option<Instant> = None;
    // After `done`, let acks and heartbeats go out before closing (an ack still in the
    // writer would otherwise leave the peer's outbox non-empty until the next connection).
    let linger = Duration::from_millis(500).max(common.link().heartbeat_interval * 2);
    let mut failure = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let snap = end.snapshot(sent.load(Ordering::Relaxed));
                reporter.report(&snap);
                let finished = snap.sent >= common.send
                    && snap.outbox.unwrap_or(0) == 0
                    && common.expect.is_none_or(|n| snap.applied >= n)
                    && tasks.is_empty();
                if finished && done_at.is_none() {
                    println!("done");
                    done_at = Some(Instant::now());
                }
                if common.exit_when_done && done_at.is_some_and(|t| t.elapsed() >= linger) {
                    break;
                }
            }
            line = stdin.recv(), if stdin_open => match line.flatten() {
                None => {
                    stdin_open = false;
                    if common.quit_on_stdin_eof {
                        break;
                    }
                }
                Some(line) => {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    match words.as_slice() {
                        [] => {}
                        ["quit"] => break,
                        ["stats"] => println!("latency {}", inbox.latency().summary()),
                        ["reset-stats"] => {
                            inbox.latency().reset();
                            println!("ok reset-stats");
                        }
                        words => {
                            if !end.command(words).await {
                                println!("unknown command: {line}");
                            }
                        }
                    }
                }
            },
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => { failure = Some(e.context("sending notes")); break; }
                    Err(e) => { failure = Some(anyhow::anyhow!("sender task: {e}")); break; }
                }
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    tasks.abort_all();
    end.shutdown().await?;
    reporter.report(&end.snapshot(sent.load(Ordering::Relaxed)));
    if let Some(e) = failure {
        return Err(e);
    }
    println!("stopped");
    Ok(std::process::ExitCode::SUCCESS)
}

struct ControllerEnd {
    server: NoteServer,
    site: Option<SiteId>,
    inbox: NoteInbox,
    may_broadcast: bool,
}

impl End for ControllerEnd {
    fn snapshot(&self, sent: u64) -> Snapshot {
        let connected = self.server.connected_sites();
        match &self.site {
            Some(site) => {
                let peer = PeerId::Site(site.clone());
                Snapshot {
                    sent,
                    applied: self
                        .inbox
                        .record()
                        .and_then(|r| r.apply_count(&peer).ok())
                        .unwrap_or(0),
                    outbox: self.server.site_status(site).ok().map(|s| s.outbox_len),
                    link: Some(connected.contains(site)),
                    link_error: None,
                    sessions: None,
                    sites: Some(connected.len() as u64),
                }
            }
            None => Snapshot {
                sent,
                applied: self.inbox.applied_since_start(),
                outbox: None,
                link: None,
                link_error: None,
                sessions: None,
                sites: Some(connected.len() as u64),
            },
        }
    }

    async fn command(&self, words: &[&str]) -> bool {
        match words {
            ["broadcast", m] => {
                let Ok(m) = m.parse::<u64>() else {
                    return false;
                };
                if !self.may_broadcast {
                    println!("refused broadcast: it would disturb the numbered --send flow");
                    return true;
                }
                let server = self.server.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    let sites = server.connected_sites();
                    let pushed = broadcast(&server, &sites, m).await;
                    println!(
                        "ok broadcast {m} sites={} pushed={pushed} elapsed_us={}",
                        sites.len(),
                        started.elapsed().as_micros()
                    );
                });
                true
            }
            ["pace", rate, secs] => {
                let (Ok(rate), Ok(secs)) = (rate.parse::<u64>(), secs.parse::<u64>()) else {
                    return false;
                };
                if !self.may_broadcast {
                    println!("refused pace: it would disturb the numbered --send flow");
                    return true;
                }
                let server = self.server.clone();
                tokio::spawn(async move {
                    let sites = server.connected_sites();
                    let sent = pace(&server, &sites, rate, Duration::from_secs(secs)).await;
                    println!("ok pace {rate} {secs} sites={} sent={sent}", sites.len());
                });
                true
            }
            ["ping", n] => {
                let (Ok(n), Some(site)) = (n.parse::<u64>(), self.site.clone()) else {
                    return false;
                };
                let server = self.server.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    match server.request(&site, Ping(n), Duration::from_secs(5)).await {
                        Ok(pong) => {
                            println!("pong {} rtt_us={}", pong.0, started.elapsed().as_micros())
                        }
                        Err(e) => println!("ping-failed {n} {e}"),
                    }
                });
                true
            }
            _ => false,
        }
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(self.server.shutdown().await?)
    }
}

/// Pushes `m` notes to each of `sites`, 64 sites at a time (their barriers group-commit).
async fn broadcast(server: &NoteServer, sites: &[SiteId], m: u64) -> u64 {
    let mut pushes = JoinSet::new();
    let mut pushed = 0;
    for site in sites {
        if pushes.len() >= 64
            && let Some(Ok(n)) = pushes.join_next().await
        {
            pushed += n;
        }
        let (server, site) = (server.clone(), site.clone());
        pushes.spawn(async move {
            let notes: Vec<Note> = (0..m).map(|_| Note::new(0, "controller")).collect();
            match server.send_batch(&site, &notes).await {
                Ok(seqs) => seqs.len() as u64,
                Err(e) => {
                    tracing::warn!(%site, "broadcast push failed: {e}");
                    0
                }
            }
        });
    }
    while let Some(joined) = pushes.join_next().await {
        pushed += joined.unwrap_or(0);
    }
    pushed
}

/// Sends single notes at `rate` per second in total, round robin over `sites`, for `period`;
/// returns how many were queued. Each is its own `send` (the link group-commits them).
async fn pace(server: &NoteServer, sites: &[SiteId], rate: u64, period: Duration) -> u64 {
    if sites.is_empty() || rate == 0 {
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
            let (server, site) = (server.clone(), sites[next % sites.len()].clone());
            next += 1;
            queued += 1;
            sends.spawn(async move {
                server
                    .send(&site, &Note::new(0, "controller"))
                    .await
                    .is_ok()
            });
        }
        while sends.try_join_next().is_some() {}
    }
    let mut ok = 0;
    while let Some(joined) = sends.join_next().await {
        ok += u64::from(joined.unwrap_or(false));
    }
    ok
}

async fn controller(args: ControllerArgs) -> Result<std::process::ExitCode> {
    let common = &args.common;
    let db = open_db(&common.data)?;
    let tls = load_server_tls(&args.pki)?;
    let inbox = NoteInbox::recording(&db);
    let config = ServerConfig {
        link: common.link(),
        listen: args.listen,
        offline_after: match common.intervals {
            Intervals::Fast => Duration::from_secs(2),
            Intervals::Prod => ServerConfig::default().offline_after,
        },
        max_connections: args.max_connections,
        ..ServerConfig::default()
    };
    let mut tasks = JoinSet::new();
    let sent = Arc::new(AtomicU64::new(0));
    // Read the resume point before the link opens the outbox.
    let resume_to = match (&args.site, common.send) {
        (Some(site), n) if n > 0 => Some(site.clone()),
        (None, n) if n > 0 => anyhow::bail!("--send needs --site on the controller"),
        _ => None,
    };
    let resume = match &resume_to {
        Some(site) => Some(resume_point(&db, &PeerId::Site(site.clone()))?),
        None => None,
    };
    let server = NoteServer::start(
        config,
        &db,
        tls,
        inbox.clone(),
        PingResponder,
        ControlHooks::new(),
    )
    .await?;
    println!("listening {}", server.local_addr()?);
    if let (Some(site), Some(resume)) = (resume_to, resume) {
        println!("resume {} {}", resume.outbox_last, resume.counter);
        sent.store(resume.outbox_last, Ordering::Relaxed);
        if common.send > resume.outbox_last {
            let sink = ToSite {
                server: server.clone(),
                site: site.clone(),
                db: db.clone(),
            };
            let (plan, sent) = (common.plan(&PeerId::Controller), sent.clone());
            let to = PeerId::Site(site);
            tasks.spawn(async move { run_sender(to, sink, resume, plan, sent).await });
        }
    }
    let end = ControllerEnd {
        server,
        site: args.site.clone(),
        inbox: inbox.clone(),
        may_broadcast: common.send == 0,
    };
    let code = main_loop(&end, common, &inbox, tasks, sent).await?;
    // The link's shutdown made its own writes durable; this covers the sender's counter,
    // written after its last push.
    db.barrier().await?;
    Ok(code)
}

struct AgentEnd {
    client: NoteClient,
    inbox: NoteInbox,
}

impl End for AgentEnd {
    fn snapshot(&self, sent: u64) -> Snapshot {
        let status = self.client.status();
        Snapshot {
            sent,
            applied: self
                .inbox
                .record()
                .and_then(|r| r.apply_count(&PeerId::Controller).ok())
                .unwrap_or(0),
            outbox: Some(status.outbox_len),
            link: Some(status.connected),
            link_error: status.last_error,
            sessions: Some(status.sessions),
            sites: None,
        }
    }

    async fn command(&self, words: &[&str]) -> bool {
        match words {
            ["ping", n] => {
                let Ok(n) = n.parse::<u64>() else {
                    return false;
                };
                let client = self.client.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    match client.request(Ping(n), Duration::from_secs(5)).await {
                        Ok(pong) => {
                            println!("pong {} rtt_us={}", pong.0, started.elapsed().as_micros())
                        }
                        Err(e) => println!("ping-failed {n} {e}"),
                    }
                });
                true
            }
            _ => false,
        }
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(self.client.shutdown().await?)
    }
}

async fn agent(args: AgentArgs) -> Result<std::process::ExitCode> {
    let common = &args.common;
    let db = open_db(&common.data)?;
    let (tls, site) = load_client_tls(&args.cert_dir)?;
    let me = PeerId::Site(site);
    let inbox = NoteInbox::recording(&db);
    let fast = common.intervals == Intervals::Fast;
    let ms = Duration::from_millis;
    let production = ClientConfig::new(args.controller, args.server_name.clone());
    let config = ClientConfig {
        link: common.link(),
        backoff_base: args.backoff_base_ms.map(ms).unwrap_or(if fast {
            ms(50)
        } else {
            production.backoff_base
        }),
        backoff_cap: args.backoff_cap_ms.map(ms).unwrap_or(if fast {
            ms(400)
        } else {
            production.backoff_cap
        }),
        stable_after: if fast {
            ms(1000)
        } else {
            production.stable_after
        },
        ..production
    };
    let mut tasks = JoinSet::new();
    let sent = Arc::new(AtomicU64::new(0));
    let resume = if common.send > 0 {
        Some(resume_point(&db, &PeerId::Controller)?)
    } else {
        None
    };
    let client = NoteClient::start(config, &db, tls, inbox.clone(), PingResponder).await?;
    if let Some(resume) = resume {
        println!("resume {} {}", resume.outbox_last, resume.counter);
        sent.store(resume.outbox_last, Ordering::Relaxed);
        if common.send > resume.outbox_last {
            let (plan, sent, sink) = (common.plan(&me), sent.clone(), client.clone());
            tasks.spawn(
                async move { run_sender(PeerId::Controller, sink, resume, plan, sent).await },
            );
        }
    }
    let end = AgentEnd {
        client,
        inbox: inbox.clone(),
    };
    // The counter commits with each push, and the link's shutdown ends with a barrier:
    // nothing of ours is left to make durable.
    main_loop(&end, common, &inbox, tasks, sent).await
}
