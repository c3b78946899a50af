//! Child processes of the fault suite: killed with SIGKILL on drop, stopped gracefully on
//! request, their output appended to a log file beside their data.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// A running child process.
pub struct Proc {
    child: Child,
    name: &'static str,
}

impl Proc {
    /// Starts `cmd`, its stdout and stderr appended to `log`.
    pub fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> anyhow::Result<Proc> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting the {name}"))?;
        Ok(Proc { child, name })
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// How it ended, if it did.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// `kill -9`, and reaps it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits up to `grace` for it to exit (SIGKILL after that).
    pub fn terminate(mut self, grace: Duration) -> anyhow::Result<()> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status()?;
        anyhow::ensure!(status.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                tracing::debug!(name = self.name, %status, "stopped");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        anyhow::bail!("the {} did not stop within {grace:?} of SIGTERM", self.name)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last `lines` lines of a log file (for error messages).
pub fn tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The binaries the suite runs: `hotspot-controller` and `hotspot-agent` entry points.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub controller: PathBuf,
    pub agent: PathBuf,
}

impl Binaries {
    /// `e2e-controller` and `e2e-agent` beside the running executable (how the suite's own
    /// binaries find them in `target/<profile>/`).
    pub fn beside_current_exe() -> anyhow::Result<Binaries> {
        let exe = std::env::current_exe()?;
        let dir = exe.parent().context("the executable's directory")?;
        let found = Binaries {
            controller: dir.join("e2e-controller"),
            agent: dir.join("e2e-agent"),
        };
        for p in [&found.controller, &found.agent] {
            anyhow::ensure!(
                p.exists(),
                "{} is missing: build it with `cargo build -p hotspot-tests --bins`",
                p.display()
            );
        }
        Ok(found)
    }
}
