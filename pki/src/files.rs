//! Writing and reading key material on disk without a window of exposure.
//!
//! Private keys are created with `O_CREAT|O_EXCL` and mode 0600 in the same
//! `open(2)` call, so there is no moment when the file exists with wider
//! permissions, and no way to clobber an existing file by racing us. Writes are
//! fsynced (file and directory) before we report success, because an operator
//! who sees "written" will act on it. Replacing a file (controller certificate
//! renewal) goes through a fresh temp file and `rename(2)`, so a reader sees the
//! old or the new file, never half of one.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::PkiError;

/// Mode of private key files.
pub const KEY_FILE_MODE: u32 = 0o600;
/// Mode of certificate files (public material).
pub const CERT_FILE_MODE: u32 = 0o644;
/// Mode of directories we create to hold keys.
pub const KEY_DIR_MODE: u32 = 0o700;

/// Creates `dir` (and missing parents) with mode 0700 if it does not exist.
/// An existing directory is left as it is.
pub fn ensure_private_dir(dir: &Path) -> Result<(), PkiError> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(KEY_DIR_MODE)
        .create(dir)
        .map_err(|e| PkiError::io("create directory", dir, e))
}

/// Writes `contents` to a new file at `path` created with `mode`; refuses with
/// [`PkiError::AlreadyExists`] if anything is there. On a failed write the
/// partial file is removed.
pub fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => PkiError::AlreadyExists {
                path: path.to_path_buf(),
            },
            _ => PkiError::io("create", path, e),
        })?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(path);
        return Err(PkiError::io("write", path, e));
    }
    Ok(())
}

/// Atomically replaces (or creates) `path` with `contents` and `mode`.
pub fn replace(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let tmp = temp_sibling(path);
    write_new(&tmp, contents, mode)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(PkiError::io("rename into place", path, e));
    }
    Ok(())
}

fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce: u64 = rand::random();
    path.with_file_name(format!(".{name}.tmp-{nonce:016x}"))
}

/// fsyncs a directory so that new entries in it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<(), PkiError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| PkiError::io("sync directory", dir, e))
}

/// Reads a text file.
pub fn read_text(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|e| PkiError::io("read", path, e))
}

/// Reads a private key file, refusing one that group or others can access.
pub fn read_private_key(path: &Path) -> Result<String, PkiError> {
    let meta = fs::metadata(path).map_err(|e| PkiError::io("read", path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(PkiError::InsecureKeyFile {
            path: path.to_path_buf(),
            mode,
        });
    }
    read_text(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_new_sets_mode_and_refuses_existing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.key.pem");
        write_new(&p, b"one", KEY_FILE_MODE).unwrap();
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
        let err = write_new(&p, b"two", KEY_FILE_MODE).unwrap_err();
        assert!(matches!(err, PkiError::AlreadyExists { .. }), "{err}");
        assert_eq!(fs::read(&p).unwrap(), b"one");
    }

    #[test]
    fn replace_swaps_contents_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.pem");
        replace(&p, b"old", CERT_FILE_MODE).unwrap();
        replace(&p, b"new", CERT_FILE_MODE).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn insecure_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pem");
        write_new(&p, b"k", 0o644).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            read_private_key(&p),
            Err(PkiError::InsecureKeyFile { mode: 0o644, .. })
        ));
    }

    #[test]
    fn private_dir_is_0700() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a/b");
        ensure_private_dir(&d).unwrap();
        let mode = fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
