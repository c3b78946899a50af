//! A real file system that loses power on command: an in-memory FUSE mount whose
//! [`PowerFs::cut`] throws away everything not yet fsynced, so whole processes (the controller,
//! the agent) can be power-cut, not only a database opened in-process
//! (`hotspot_storage::powercut` does that, below redb).
//!
//! # The model of a power cut
//!
//! - **File content.** Each regular file has *current* content (what reads see) and *durable*
//!   content. `fsync` and `fdatasync` of the file make its current content durable (the whole
//!   file, size included). `write`, `ftruncate`, `close` make nothing durable.
//! - **Names.** Each name (a create, mkdir, link, rename, unlink, rmdir) is current at once and
//!   durable only after a sync that commits it: an fsync of the named node itself, or an
//!   fsyncdir of the directory it is in (or was in, before a rename or unlink). Committing a
//!   node's name commits its whole path up to the root, and a rename is committed as one step
//!   (its old name goes when its new one comes). This is what ext4's journal does in practice
//!   (a created file whose data was fsynced is there after a crash), and is stronger than POSIX,
//!   which asks for an fsync of the parent directory too.
//! - **A cut** ([`PowerFs::cut`]) replaces every current state by the durable one: unsynced
//!   bytes and names are gone, what no durable name reaches is forgotten, and every file handle
//!   opened before it fails with EIO from then on (the old processes have lost power).
//!
//! # Gaps against a real disk
//!
//! A cut keeps exactly the synced state: no torn or reordered writes, nothing unsynced that
//! happened to reach the platter (`hotspot_storage::powercut`'s `Keep::Some` does that for redb).
//! A journal commit on ext4 commits *every* pending name change, not only the synced node's,
//! so code that (wrongly) relies on an unrelated fsync passes on ext4 and fails here, which is
//! the useful direction. Regular files may have hard links (the key files are written as a
//! temp file linked into place); there are no symlinks, sockets or other special files (so the
//! backup socket of a process on it is off), no xattrs and no shared mmap (every file is opened
//! with direct IO); times are only the last change; permissions are stored but not checked
//! (tests run as one user).
//!
//! # Bounds
//!
//! At most [`LIMIT_BYTES`] of file content (current and durable images together) are held; a
//! write past that fails with ENOSPC.

mod fuse;
mod tree;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context as _;
use fuser::{BackgroundSession, Config, MountOption};

use tree::Tree;

/// The memory a mount may hold in file content, before writes fail with ENOSPC.
pub const LIMIT_BYTES: usize = 512 << 20;

/// A mounted power-cut file system; unmounted when dropped.
pub struct PowerFs {
    tree: Arc<Mutex<Tree>>,
    path: PathBuf,
    session: Option<BackgroundSession>,
}

/// What [`PowerFs::stats`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerFsStats {
    pub cuts: u64,
    /// fsync, fdatasync and fsyncdir calls so far.
    pub syncs: u64,
    /// Bytes of file content held (current and durable images).
    pub bytes: usize,
}

impl PowerFs {
    /// Mounts an empty power-cut file system at `path` (created if missing). Needs `/dev/fuse`
    /// and, unless run as root, `fusermount3` (Debian's `fuse3` package).
    pub fn mount(path: &Path) -> anyhow::Result<PowerFs> {
        Self::mount_with_limit(path, LIMIT_BYTES)
    }

    /// [`PowerFs::mount`] holding at most `limit` bytes of file content.
    pub fn mount_with_limit(path: &Path, limit: usize) -> anyhow::Result<PowerFs> {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        let tree = Arc::new(Mutex::new(Tree::new(limit)));
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("powerfs".into()),
            MountOption::Subtype("powerfs".into()),
            MountOption::NoAtime,
        ];
        let session =
            fuser::spawn_mount(fuse::Fs::new(tree.clone()), path, &config).with_context(|| {
                format!(
                    "mounting the power-cut file system (FUSE) at {} needs /dev/fuse and \
                     fusermount3 (`apt-get install fuse3`)",
                    path.display()
                )
            })?;
        Ok(PowerFs {
            tree,
            path: path.to_path_buf(),
            session: Some(session),
        })
    }

    /// [`PowerFs::mount`] for a test that cannot run without it: skips outside CI, panics under
    /// `CI=true` ([`crate::skip::or_skip`]).
    pub fn mount_or_skip(path: &Path) -> Option<PowerFs> {
        crate::skip::or_skip(Self::mount(path))
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn tree(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Cuts the power: the file system is now what a reboot would find (see the module doc).
    /// Processes using it should be dead (or their databases dropped) first: their open files
    /// fail from now on.
    pub fn cut(&self) {
        self.tree().cut();
    }

    pub fn stats(&self) -> PowerFsStats {
        let tree = self.tree();
        PowerFsStats {
            cuts: tree.cuts(),
            syncs: tree.syncs(),
            bytes: tree.used(),
        }
    }
}

impl Drop for PowerFs {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        if session.umount_and_join().is_err() {
            // Busy (a process still has a file open there): detach it, so the test ends.
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}
