//! A `fleet-peer` child process seen from its parent: spawn, follow its progress lines, send
//! it stdin commands, stop it gracefully, SIGKILL it, restart it with the same arguments.
//!
//! Cleanup is structural: a [`PeerProcess`] kills its child when dropped (a failing test
//! unwinds through it), and peers started with `--quit-on-stdin-eof` also exit on their own
//! when the parent dies and their stdin closes. Each process's stderr (its tracing log) is
//! appended to a log file across restarts, for post-mortems.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::progress::Progress;

#[derive(Default)]
struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    fn snapshot(&self) -> Progress {
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// One peer process (and its successors after restarts).
pub struct PeerProcess {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    log: PathBuf,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    shared: Arc<Shared>,
    reader: Option<JoinHandle<()>>,
    starts: u32,
}

impl PeerProcess {
    /// Starts `program args`, stderr appended to `log`.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: Vec<OsString>,
        log: &Path,
    ) -> Result<PeerProcess> {
        let mut peer = PeerProcess {
            name: name.to_string(),
            program: program.to_path_buf(),
            args,
            log: log.to_path_buf(),
            child: None,
            stdin: None,
            shared: Arc::default(),
            reader: None,
            starts: 0,
        };
        peer.start()?;
        Ok(peer)
    }

    fn start(&mut self) -> Result<()> {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        self.starts += 1;
        writeln!(log, "===== {} start #{} =====", self.name, self.starts)?;
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {} ({})", self.name, self.program.display()))?;
        let stdout = child.stdout.take().context("child stdout")?;
        self.stdin = child.stdin.take();
        let shared = Arc::new(Shared::default());
        let for_reader = shared.clone();
        self.reader = Some(std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                for_reader
                    .progress
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .apply_line(&line);
                for_reader.changed.notify_all();
            }
            for_reader
                .progress
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .eof = true;
            for_reader.changed.notify_all();
        }));
        self.shared = shared;
        self.child = Some(child);
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many times the process was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The progress of the current incarnation.
    pub fn progress(&self) -> Progress {
        self.shared.snapshot()
    }

    /// Waits until `done(progress)` holds. Fails when the process exits first or after `limit`
    /// (a liveness bound, not a timing expectation), with the progress and the log's tail.
    pub fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        mut done: impl FnMut(&Progress) -> bool,
    ) -> Result<Progress> {
        let deadline = Instant::now() + limit;
        let mut guard = self
            .shared
            .progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if done(&guard) {
                return Ok(guard.clone());
            }
            let now = Instant::now();
            if guard.eof || now >= deadline {
                let why = if guard.eof {
                    "it exited"
                } else {
                    "gave up waiting"
                };
                bail!(
                    "{}: {why} before {what} after {:?}; progress {:?}\n--- log tail ---\n{}",
                    self.name,
                    limit,
                    *guard,
                    self.log_tail(30)
                );
            }
            guard = self
                .shared
                .changed
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Writes one command line to the process's stdin.
    pub fn command(&mut self, line: &str) -> Result<()> {
        let stdin = self.stdin.as_mut().context("stdin already closed")?;
        writeln!(stdin, "{line}")?;
        stdin.flush()?;
        Ok(())
    }

    /// SIGKILL, then reap. Returns the last progress of the killed incarnation.
    pub fn kill(&mut self) -> Result<Progress> {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait()?;
        }
        self.stdin = None;
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        Ok(self.shared.snapshot())
    }

    /// Starts the process again with the same arguments (after [`kill`](Self::kill) or
    /// [`stop`](Self::stop)).
    pub fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            bail!("{} is still running", self.name);
        }
        self.start()
    }

    /// Closes stdin (a peer started with `--quit-on-stdin-eof` then shuts down gracefully) and
    /// waits up to `limit` for it to exit; kills it otherwise and says so.
    pub fn stop(&mut self, limit: Duration) -> Result<ExitStatus> {
        self.stdin = None;
        let Some(mut child) = self.child.take() else {
            bail!("{} is not running", self.name);
        };
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                child.kill().ok();
                child.wait()?;
                bail!(
                    "{} did not stop within {limit:?} of its stdin closing; killed\n{}",
                    self.name,
                    self.log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        Ok(status)
    }

    /// The last `n` lines of the log file.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log, n)
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// The last `n` lines of a text file (or why it could not be read).
pub fn log_tail(path: &Path, n: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("({}: {e})", path.display()),
    }
}
