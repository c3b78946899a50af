//! The state file: JSON loaded at start, written after changes and at shutdown.
//!
//! Writes are debounced (a burst of a thousand `add`s costs one write) and atomic: a temporary
//! file beside the target is written, fsynced, renamed over it, and the directory fsynced, so a
//! crash leaves the old file or the new one, never half of one. The snapshot is taken under
//! the router lock; the disk work runs on the blocking pool.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::state::Persisted;
use super::{Shared, SimError};

/// How long the saver waits after a change for more changes.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Reads the state file; `Ok(None)` when it does not exist yet.
pub fn load(path: &Path) -> Result<Option<Persisted>, SimError> {
    let shown = || path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SimError::StateFile {
                path: shown(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| SimError::StateFormat {
            path: shown(),
            source,
        })
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename, fsync of the directory).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    // Make the rename itself durable.
    std::fs::File::open(&dir)?.sync_all()
}

/// Saves the current state now (no-op without a state file).
pub async fn save_now(shared: &Arc<Shared>) -> Result<(), SimError> {
    let Some(path) = shared.cfg.state_file.clone() else {
        return Ok(());
    };
    let tls = shared.tls.as_ref().map(|t| t.pem.clone());
    let snapshot = shared.router().to_persisted(tls);
    let shown = path.display().to_string();
    let bytes = serde_json::to_vec_pretty(&snapshot).map_err(|source| SimError::StateFormat {
        path: shown.clone(),
        source,
    })?;
    let result = tokio::task::spawn_blocking(move || write_atomic(&path, &bytes)).await;
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(source)) => Err(SimError::StateFile {
            path: shown,
            source,
        }),
        Err(join) => Err(SimError::StateFile {
            path: shown,
            source: std::io::Error::other(join.to_string()),
        }),
    }
}

/// Background task: after each change, wait [`DEBOUNCE`], then save. Ends at shutdown (the
/// final save is [`super::SimHandle::shutdown`]'s).
pub async fn saver(shared: Arc<Shared>) {
    let mut stop = shared.shutdown.subscribe();
    loop {
        tokio::select! {
            _ = shared.dirty.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(DEBOUNCE) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Err(e) = save_now(&shared).await {
            tracing::error!(error = %e, "saving simulator state failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_the_file() {
        let dir = std::env::temp_dir().join(format!("sim-persist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("state.json");
        write_atomic(&path, b"one").expect("first write");
        write_atomic(&path, b"two").expect("second write");
        assert_eq!(std::fs::read(&path).expect("readable"), b"two");
        assert_eq!(
            std::fs::read_dir(&dir).expect("dir").count(),
            1,
            "no temp file left behind"
        );
        assert!(
            load(&dir.join("missing.json"))
                .expect("missing is fine")
                .is_none()
        );
        write_atomic(&path, b"{not json").expect("write");
        assert!(matches!(load(&path), Err(SimError::StateFormat { .. })));
        std::fs::remove_dir_all(&dir).ok();
    }
}
