//! The proxy's line-based TCP control interface, for steering a `linkfault-proxy` process from
//! a shell (`nc 127.0.0.1 PORT`), a script or a test in another language.
//!
//! One command per line, one answer per line: `ok …` or `error: …`. Parsing ([`Command::parse`])
//! is separate from the server so the grammar is unit-tested without sockets. The server is
//! bounded like everything else: a few connections at once, short lines, and it stops with an
//! explicit [`ControlServer::shutdown`].
//!
//! ```text
//! blackhole [dir]                    cut the link (dir: up | down | both, default both)
//! restore [dir]                      all faults off
//! drop <pct> [dir]                   drop pct % of datagrams
//! delay <ms> [jitter_ms] [dir]       delay by ms plus a uniform 0..=jitter_ms
//! duplicate <pct> [dir]              send pct % of datagrams twice
//! reorder <pct> <extra_ms> [dir]     hold back pct % of datagrams by extra_ms
//! show                               the faults in force
//! stats                              the counters, as JSON
//! help | quit
//! ```
//! `up` is client → upstream (agent → controller), `down` the other way.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::faults::{Direction, Faults, MAX_DELAY};
use super::proxy::LinkFaultProxy;
use super::shutdown;

/// Longest command line accepted, in bytes.
pub const MAX_LINE: usize = 512;
/// Most control connections served at once; more are answered with an error and closed.
pub const MAX_CONNECTIONS: usize = 16;

const HELP: &str = "commands: blackhole [dir] | restore [dir] | drop <pct> [dir] | \
    delay <ms> [jitter_ms] [dir] | duplicate <pct> [dir] | reorder <pct> <extra_ms> [dir] | \
    show | stats | help | quit; dir = up | down | both";

/// A parsed control command.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Blackhole(Direction),
    Restore(Direction),
    Drop {
        percent: f64,
        dir: Direction,
    },
    Delay {
        delay: Duration,
        jitter: Duration,
        dir: Direction,
    },
    Duplicate {
        percent: f64,
        dir: Direction,
    },
    Reorder {
        percent: f64,
        extra: Duration,
        dir: Direction,
    },
    Show,
    Stats,
    Help,
    Quit,
}

/// A command line that could not be understood; its text is the answer after `error: `.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ParseError(String);

fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

impl Command {
    /// Parses one line (surrounding whitespace ignored, words case-insensitive).
    pub fn parse(line: &str) -> Result<Command, ParseError> {
        let lower = line.trim().to_ascii_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        let Some((&verb, args)) = words.split_first() else {
            return err("empty command; try help");
        };
        match verb {
            "blackhole" | "cut" => Ok(Command::Blackhole(only_dir(args)?)),
            "restore" | "clear" => Ok(Command::Restore(only_dir(args)?)),
            "drop" => {
                let (percent, dir) = percent_and_dir(args, "drop <pct> [dir]")?;
                Ok(Command::Drop { percent, dir })
            }
            "duplicate" | "dup" => {
                let (percent, dir) = percent_and_dir(args, "duplicate <pct> [dir]")?;
                Ok(Command::Duplicate { percent, dir })
            }
            "delay" => {
                let usage = "delay <ms> [jitter_ms] [dir]";
                let (ms, rest) = match args.split_first() {
                    Some((ms, rest)) => (millis(ms)?, rest),
                    None => return err(format!("usage: {usage}")),
                };
                let (jitter, rest) = match rest.split_first() {
                    Some((j, more)) if j.parse::<f64>().is_ok() => (millis(j)?, more),
                    _ => (Duration::ZERO, rest),
                };
                let dir = trailing_dir(rest, usage)?;
                Ok(Command::Delay {
                    delay: ms,
                    jitter,
                    dir,
                })
            }
            "reorder" => {
                let usage = "reorder <pct> <extra_ms> [dir]";
                let [pct, extra, rest @ ..] = args else {
                    return err(format!("usage: {usage}"));
                };
                Ok(Command::Reorder {
                    percent: percent(pct)?,
                    extra: millis(extra)?,
                    dir: trailing_dir(rest, usage)?,
                })
            }
            "show" | "faults" => no_args(args, Command::Show),
            "stats" => no_args(args, Command::Stats),
            "help" | "?" => no_args(args, Command::Help),
            "quit" | "exit" => no_args(args, Command::Quit),
            other => err(format!("unknown command {other:?}; try help")),
        }
    }

    /// Carries the command out on `proxy`; returns the answer line (without newline).
    pub fn apply(&self, proxy: &LinkFaultProxy) -> String {
        let changed = |dir: Direction| format!("ok {}", describe(proxy, dir));
        match *self {
            Command::Blackhole(dir) => {
                proxy.update(dir, |f| f.blackhole = true);
                changed(dir)
            }
            Command::Restore(dir) => {
                proxy.set(dir, Faults::default());
                changed(dir)
            }
            Command::Drop { percent, dir } => {
                proxy.update(dir, |f| f.drop_percent = percent);
                changed(dir)
            }
            Command::Delay { delay, jitter, dir } => {
                proxy.update(dir, |f| {
                    f.delay = delay;
                    f.jitter = jitter;
                });
                changed(dir)
            }
            Command::Duplicate { percent, dir } => {
                proxy.update(dir, |f| f.duplicate_percent = percent);
                changed(dir)
            }
            Command::Reorder {
                percent,
                extra,
                dir,
            } => {
                proxy.update(dir, |f| {
                    f.reorder_percent = percent;
                    f.reorder_extra = extra;
                });
                changed(dir)
            }
            Command::Show => changed(Direction::Both),
            Command::Stats => match serde_json::to_string(&proxy.stats()) {
                Ok(json) => format!("ok {json}"),
                Err(e) => format!("error: cannot encode stats: {e}"),
            },
            Command::Help => format!("ok {HELP}"),
            Command::Quit => "ok bye".to_owned(),
        }
    }
}

/// `up=drop=30% delay=300ms` style description of the faults in force for `dir`.
fn describe(proxy: &LinkFaultProxy, dir: Direction) -> String {
    let now = proxy.faults();
    match dir {
        Direction::ToUpstream => format!("up: {}", now.to_upstream),
        Direction::ToClient => format!("down: {}", now.to_client),
        Direction::Both => format!("up: {}; down: {}", now.to_upstream, now.to_client),
    }
}

fn parse_dir(word: &str) -> Result<Direction, ParseError> {
    match word {
        "up" | "upstream" | "to-upstream" => Ok(Direction::ToUpstream),
        "down" | "client" | "to-client" => Ok(Direction::ToClient),
        "both" => Ok(Direction::Both),
        other => err(format!(
            "bad direction {other:?}: expected up, down or both"
        )),
    }
}

fn only_dir(args: &[&str]) -> Result<Direction, ParseError> {
    match args {
        [] => Ok(Direction::Both),
        [dir] => parse_dir(dir),
        _ => err("too many arguments"),
    }
}

fn trailing_dir(rest: &[&str], usage: &str) -> Result<Direction, ParseError> {
    match rest {
        [] => Ok(Direction::Both),
        [dir] => parse_dir(dir),
        _ => err(format!("usage: {usage}")),
    }
}

fn percent_and_dir(args: &[&str], usage: &str) -> Result<(f64, Direction), ParseError> {
    match args {
        [pct, rest @ ..] => Ok((percent(pct)?, trailing_dir(rest, usage)?)),
        [] => err(format!("usage: {usage}")),
    }
}

fn percent(word: &str) -> Result<f64, ParseError> {
    let digits = word.strip_suffix('%').unwrap_or(word);
    match digits.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => err(format!("bad percentage {word:?}: expected 0 to 100")),
    }
}

fn millis(word: &str) -> Result<Duration, ParseError> {
    let digits = word.strip_suffix("ms").unwrap_or(word);
    let max = MAX_DELAY.as_millis();
    match digits.parse::<u64>() {
        Ok(ms) if u128::from(ms) <= max => Ok(Duration::from_millis(ms)),
        _ => err(format!("bad milliseconds {word:?}: expected 0 to {max}")),
    }
}

fn no_args(args: &[&str], cmd: Command) -> Result<Command, ParseError> {
    if args.is_empty() {
        Ok(cmd)
    } else {
        err("this command takes no arguments")
    }
}

/// A running control server.
#[derive(Debug)]
pub struct ControlServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ControlServer {
    /// Listens on `addr` (keep it on loopback: there is no authentication) and serves
    /// commands for `proxy`.
    pub async fn start(addr: SocketAddr, proxy: LinkFaultProxy) -> io::Result<ControlServer> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, proxy, stop_rx));
        Ok(ControlServer {
            local_addr,
            stop,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes every control connection and waits for them.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        if let Err(e) = self.task.await
            && e.is_panic()
        {
            tracing::error!(error = %e, "linkfault: control server panicked");
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    proxy: LinkFaultProxy,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown::wait(&mut stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((mut stream, peer)) => {
                    if connections.len() >= MAX_CONNECTIONS {
                        let _ = stream.write_all(b"error: too many control connections\n").await;
                        continue;
                    }
                    tracing::debug!(%peer, "linkfault: control connection");
                    connections.spawn(serve(stream, proxy.clone(), stop.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "linkfault: control accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    connections.shutdown().await;
}

async fn serve(stream: TcpStream, proxy: LinkFaultProxy, mut stop: watch::Receiver<bool>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::with_capacity(MAX_LINE);
    loop {
        line.clear();
        let limit = u64::try_from(MAX_LINE + 1).unwrap_or(u64::MAX);
        let mut bounded = (&mut reader).take(limit);
        let read = tokio::select! {
            biased;
            () = shutdown::wait(&mut stop) => return,
            read = bounded.read_until(b'\n', &mut line) => read,
        };
        match read {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "linkfault: control read failed");
                return;
            }
        }
        if line.len() > MAX_LINE {
            let _ = write.write_all(b"error: line too long\n").await;
            return;
        }
        let (answer, quit) = match std::str::from_utf8(&line) {
            Err(_) => ("error: not UTF-8".to_owned(), false),
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => match Command::parse(text) {
                Ok(cmd) => (cmd.apply(&proxy), cmd == Command::Quit),
                Err(e) => (format!("error: {e}"), false),
            },
        };
        let reply = format!("{answer}\n");
        if write.write_all(reply.as_bytes()).await.is_err() || quit {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_the_documented_grammar() {
        use Command::*;
        use Direction::*;
        let cases = [
            ("blackhole", Blackhole(Both)),
            ("blackhole up", Blackhole(ToUpstream)),
            ("restore", Restore(Both)),
            (
                "  DROP 30  ",
                Drop {
                    percent: 30.0,
                    dir: Both,
                },
            ),
            (
                "drop 12.5% down",
                Drop {
                    percent: 12.5,
                    dir: ToClient,
                },
            ),
            (
                "delay 300",
                Delay {
                    delay: ms(300),
                    jitter: ms(0),
                    dir: Both,
                },
            ),
            (
                "delay 300 50",
                Delay {
                    delay: ms(300),
                    jitter: ms(50),
                    dir: Both,
                },
            ),
            (
                "delay 300 up",
                Delay {
                    delay: ms(300),
                    jitter: ms(0),
                    dir: ToUpstream,
                },
            ),
            (
                "delay 300ms 50 down",
                Delay {
                    delay: ms(300),
                    jitter: ms(50),
                    dir: ToClient,
                },
            ),
            (
                "duplicate 1 both",
                Duplicate {
                    percent: 1.0,
                    dir: Both,
                },
            ),
            (
                "reorder 5 40",
                Reorder {
                    percent: 5.0,
                    extra: ms(40),
                    dir: Both,
                },
            ),
            (
                "reorder 5 40 up",
                Reorder {
                    percent: 5.0,
                    extra: ms(40),
                    dir: ToUpstream,
                },
            ),
            ("stats", Stats),
            ("show", Show),
            ("quit", Quit),
        ];
        for (line, want) in cases {
            assert_eq!(Command::parse(line), Ok(want), "{line}");
        }
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for line in [
            "",
            "   ",
            "explode",
            "drop",
            "drop 101",
            "drop -1",
            "drop NaN",
            "drop 30 sideways",
            "drop 30 up extra",
            "delay",
            "delay -5",
            "delay 99999999999",
            "delay 10 20 up more",
            "reorder 5",
            "stats now",
            "blackhole up down",
        ] {
            assert!(Command::parse(line).is_err(), "{line:?} should be refused");
        }
    }
}
