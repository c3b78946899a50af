//! A small disk that fills up: a tmpfs mounted for the agent's data, and a file written until
//! it is full (scenario 7 and `tests/agent_local_disk.rs`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

/// A tmpfs mounted at a path; unmounted when dropped.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`48m`) at `path` (needs root, or a container allowed to
    /// mount).
    pub fn mount(path: &Path, size: &str) -> anyhow::Result<Tmpfs> {
        std::fs::create_dir_all(path)?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .context("running mount")?;
        anyhow::ensure!(
            out.status.success(),
            "a small tmpfs for the agent's disk is needed (run as root, or in a container \
             allowed to mount): `mount -t tmpfs` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(Tmpfs(path.to_path_buf()))
    }

    /// [`Tmpfs::mount`] for a test that cannot run without it: `None` (the test skips, saying
    /// so) on a developer's machine where mounting is not allowed; under `CI=true` a failed
    /// mount panics, so CI never counts a skipped test as passed.
    pub fn mount_or_skip(path: &Path, size: &str) -> Option<Tmpfs> {
        crate::skip::or_skip(Tmpfs::mount(path, size))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the file system is full; the bytes written.
pub fn fill(path: &Path) -> anyhow::Result<u64> {
    let mut f = std::fs::File::create(path)?;
    let chunk = vec![0xa5u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => return Ok(written),
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => return Ok(written),
            Err(e) => return Err(e.into()),
        }
    }
}
