//! Backups of a data directory: one consistent snapshot of its database plus the directory's
//! other files (keys, certificates), in one tar file; and restoring one.
//!
//! - [`backup`] works on a [`Db`] this process holds: the database part is one read snapshot
//!   ([`Db::backup_to`]), taken beside writers, so it never shows half a transaction. The tar is
//!   written under a temporary name, fsynced, renamed into place and its directory fsynced: a
//!   file at `to` is always a whole backup. An existing `to` is refused.
//! - [`crate::control::take`] is what a `backup` command runs: it opens the database itself
//!   when nobody holds it, and otherwise asks the running process over its backup socket.
//! - [`restore`] unpacks into a new directory beside `data_dir`, checks that the database opens,
//!   fsyncs everything, then renames it into place. A non-empty `data_dir` is refused unless
//!   `force`, and then moved aside (never deleted) to `<data_dir>.before-restore-<unix time>`.
//!
//! The archive holds the master key and private keys of the data directory, as the directory
//! does: it is written mode 0600 and must be kept as safe as the directory itself.

use std::fs::File;
use std::path::{Component, Path, PathBuf};

use crate::db::{Db, Options};
use crate::error::StorageError;

/// At most this many entries in an archive (a data directory holds a handful).
const MAX_ENTRIES: usize = 10_000;

/// What a backup wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Key/value entries in the database snapshot.
    pub entries: u64,
    /// Other files of the data directory archived beside it.
    pub files: usize,
    /// Size of the archive in bytes.
    pub bytes: u64,
}

/// Why a backup or restore failed. Nothing is left half-written at the destination.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists already; a backup never overwrites one")]
    Exists(PathBuf),
    #[error(
        "{0} is not empty: restore into an empty or new directory, or give --force to move it aside"
    )]
    NotEmpty(PathBuf),
    #[error("the database in {0} is in use by a running process: stop it before restoring")]
    InUse(PathBuf),
    #[error("{path} is not a backup of this system: {reason}")]
    BadArchive { path: PathBuf, reason: String },
    /// (The cause is in the message, not a `source`, so that it shows once in `{:#}`.)
    #[error("{what}: {cause}")]
    Io { what: String, cause: std::io::Error },
    #[error("no database at {0}: not a data directory of this program, or it has never run")]
    NoDatabase(PathBuf),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The running process answered over its backup socket with an error.
    #[error("the running process could not take the backup: {0}")]
    Remote(String),
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io {
        what,
        cause: source,
    }
}

/// A sibling of `path` named `<name><suffix>` (same directory, so a rename is atomic).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// fsyncs a directory so that entries created or renamed in it survive a power cut.
fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(format!("syncing the directory {}", dir.display())))
}

/// Writes a backup of `data_dir` (whose database `db` is, in the file `db_file`) to `to`.
pub fn backup(db: &Db, data_dir: &Path, db_file: &str, to: &Path) -> Result<Summary, BackupError> {
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    let partial = partial_of(to);
    let summary = archive_into(db, data_dir, db_file, &partial)
        .and_then(|summary| put_in_place(&partial, to).map(|()| summary));
    if summary.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    summary
}

/// Where an archive for `to` is written before it is complete.
pub(crate) fn partial_of(to: &Path) -> PathBuf {
    sibling(to, &format!(".{}.tmp", std::process::id()))
}

/// Writes the archive to the new file `file` and fsyncs it.
pub(crate) fn archive_into(
    db: &Db,
    data_dir: &Path,
    db_file: &str,
    file: &Path,
) -> Result<Summary, BackupError> {
    let snapshot = sibling(file, ".db.tmp");
    let result = write_archive(db, data_dir, db_file, &snapshot, file);
    let _ = std::fs::remove_file(&snapshot);
    result
}

fn write_archive(
    db: &Db,
    data_dir: &Path,
    db_file: &str,
    snapshot: &Path,
    partial: &Path,
) -> Result<Summary, BackupError> {
    let entries = db.backup_to(snapshot)?;
    let file = create_private(partial)?;
    let mut tar = tar::Builder::new(file);
    tar.mode(tar::HeaderMode::Deterministic);
    append_file(&mut tar, snapshot, Path::new(db_file), 0o600)?;
    let mut files = 0;
    for (path, rel) in data_files(data_dir, db_file)? {
        let mode = file_mode(&path)?;
        append_file(&mut tar, &path, &rel, mode)?;
        files += 1;
    }
    let file = tar
        .into_inner()
        .map_err(io(format!("writing {}", partial.display())))?;
    file.sync_all()
        .map_err(io(format!("syncing {}", partial.display())))?;
    let bytes = file
        .metadata()
        .map_err(io(format!("reading {}", partial.display())))?
        .len();
    Ok(Summary {
        entries,
        files,
        bytes,
    })
}

/// Renames the complete, fsynced `partial` to `to` (refused if `to` appeared meanwhile) and
/// fsyncs the directory, so that a file at `to` is always a whole backup.
pub(crate) fn put_in_place(partial: &Path, to: &Path) -> Result<(), BackupError> {
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    std::fs::rename(partial, to).map_err(io(format!("renaming into {}", to.display())))?;
    sync_dir(parent_of(to))
}

pub(crate) fn create_private(path: &Path) -> Result<File, BackupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map_err(io(format!("creating {}", path.display())))
}

#[cfg(unix)]
fn file_mode(path: &Path) -> Result<u32, BackupError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(io(format!("reading {}", path.display())))?;
    Ok(meta.permissions().mode() & 0o755)
}

#[cfg(not(unix))]
fn file_mode(_: &Path) -> Result<u32, BackupError> {
    Ok(0o600)
}

fn append_file(
    tar: &mut tar::Builder<File>,
    path: &Path,
    name: &Path,
    mode: u32,
) -> Result<(), BackupError> {
    let mut file = File::open(path).map_err(io(format!("reading {}", path.display())))?;
    let len = file
        .metadata()
        .map_err(io(format!("reading {}", path.display())))?
        .len();
    let mut header = tar::Header::new_gnu();
    header.set_size(len);
    header.set_mode(mode);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, &mut file)
        .map_err(io(format!("archiving {}", path.display())))
}

/// The regular files of `data_dir` other than the database (archived as a snapshot instead),
/// with their paths relative to it, in a stable order. Sockets (the backup socket) are no
/// regular files; leftovers of interrupted backups (`*.tmp`) are skipped.
fn data_files(data_dir: &Path, db_file: &str) -> Result<Vec<(PathBuf, PathBuf)>, BackupError> {
    let mut out = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(rel_dir) = dirs.pop() {
        let dir = data_dir.join(&rel_dir);
        let read = std::fs::read_dir(&dir).map_err(io(format!("listing {}", dir.display())))?;
        for entry in read {
            let entry = entry.map_err(io(format!("listing {}", dir.display())))?;
            let rel = rel_dir.join(entry.file_name());
            let kind = entry
                .file_type()
                .map_err(io(format!("reading {}", entry.path().display())))?;
            let top_level = rel_dir.as_os_str().is_empty();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if top_level && name == db_file {
                continue;
            }
            if kind.is_dir() {
                dirs.push(rel);
            } else if kind.is_file() && !name.ends_with(".tmp") {
                out.push((entry.path(), rel));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Files put in place, the database included.
    pub files: usize,
    /// Where the directory that was there before now is (with `force`).
    pub moved_aside: Option<PathBuf>,
}

/// Restores the archive `from` into `data_dir` (see the module doc).
pub fn restore(
    from: &Path,
    data_dir: &Path,
    db_file: &str,
    force: bool,
) -> Result<Restored, BackupError> {
    let occupied = is_occupied(data_dir)?;
    if occupied && !force {
        return Err(BackupError::NotEmpty(data_dir.to_owned()));
    }
    if occupied {
        refuse_in_use(data_dir, db_file)?;
    }
    let staging = sibling(data_dir, &format!(".restoring-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(format!("removing {}", staging.display())))?;
    }
    let files = match unpack(from, &staging, db_file) {
        Ok(files) => files,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let moved_aside = if occupied {
        let aside = sibling(data_dir, &format!(".before-restore-{}", unix_now()));
        std::fs::rename(data_dir, &aside)
            .map_err(io(format!("moving {} aside", data_dir.display())))?;
        Some(aside)
    } else {
        if data_dir.exists() {
            std::fs::remove_dir(data_dir)
                .map_err(io(format!("replacing the empty {}", data_dir.display())))?;
        }
        None
    };
    std::fs::rename(&staging, data_dir).map_err(io(format!(
        "moving the restored files into {}",
        data_dir.display()
    )))?;
    sync_dir(parent_of(data_dir))?;
    Ok(Restored { files, moved_aside })
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn is_occupied(dir: &Path) -> Result<bool, BackupError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io(format!("listing {}", dir.display()))(e)),
    }
}

fn refuse_in_use(data_dir: &Path, db_file: &str) -> Result<(), BackupError> {
    let db_path = data_dir.join(db_file);
    if !db_path.is_file() {
        return Ok(());
    }
    match Db::open(&db_path, Options::default()) {
        Ok(_) => Ok(()),
        Err(StorageError::InUse) => Err(BackupError::InUse(data_dir.to_owned())),
        // A damaged database is what a restore is for.
        Err(_) => Ok(()),
    }
}

/// The path of an archive entry, if it is a plain relative path (no `..`, no root).
fn safe_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Unpacks `from` into the new directory `into`, fsyncing every file and directory; checks
/// that the archive holds a database that opens. The number of files.
fn unpack(from: &Path, into: &Path, db_file: &str) -> Result<usize, BackupError> {
    let bad = |reason: String| BackupError::BadArchive {
        path: from.to_owned(),
        reason,
    };
    let file = File::open(from).map_err(io(format!("opening {}", from.display())))?;
    create_private_dir(into)?;
    let mut archive = tar::Archive::new(file);
    let mut files = 0usize;
    let mut dirs = vec![into.to_owned()];
    let mut has_db = false;
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("unreadable: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("unreadable entry: {e}")))?;
        if files >= MAX_ENTRIES {
            return Err(bad(format!("more than {MAX_ENTRIES} entries")));
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(bad("an entry that is not a plain file".into()));
        }
        let raw = entry
            .path()
            .map_err(|e| bad(format!("an entry with an unreadable name: {e}")))?;
        let rel = safe_relative(&raw)
            .ok_or_else(|| bad(format!("an entry outside the directory: {}", raw.display())))?;
        let mode = entry.header().mode().map_or(0o600, |m| m & 0o755);
        let target = into.join(&rel);
        if let Some(parent) = target.parent().filter(|p| !p.exists()) {
            create_private_dir(parent)?;
            dirs.push(parent.to_owned());
        }
        let mut out = create_private(&target)?;
        std::io::copy(&mut entry, &mut out)
            .map_err(io(format!("restoring {}", target.display())))?;
        set_mode(&out, mode, &target)?;
        out.sync_all()
            .map_err(io(format!("syncing {}", target.display())))?;
        has_db |= rel == Path::new(db_file);
        files += 1;
    }
    if !has_db {
        return Err(bad(format!("it holds no {db_file}")));
    }
    // The database must open (redb checks its header and, after an unclean copy, repairs).
    Db::open(into.join(db_file), Options::default()).map_err(|e| bad(e.to_string()))?;
    for dir in dirs.iter().rev() {
        sync_dir(dir)?;
    }
    Ok(files)
}

#[cfg(unix)]
fn set_mode(file: &File, mode: u32, path: &Path) -> Result<(), BackupError> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io(format!("setting the mode of {}", path.display())))
}

#[cfg(not(unix))]
fn set_mode(_: &File, _: u32, _: &Path) -> Result<(), BackupError> {
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<(), BackupError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(io(format!("creating {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str = "state.redb";

    fn read_all(path: &Path) -> Vec<u8> {
        std::fs::read(path).expect("reads")
    }

    /// A data directory with a database of `n` entries, a key file and a nested certificate.
    fn data_dir(n: u32) -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join(DB), Options::default()).unwrap();
        db.write(|tx| {
            for i in 0..n {
                tx.insert("t", &i.to_be_bytes(), b"value")?;
            }
            Ok::<_, StorageError>(())
        })
        .unwrap();
        db.barrier_blocking().unwrap();
        std::fs::write(dir.path().join("master.key"), b"secret").unwrap();
        std::fs::create_dir(dir.path().join("pki")).unwrap();
        std::fs::write(dir.path().join("pki").join("ca.pem"), b"cert").unwrap();
        (dir, db)
    }

    #[test]
    fn a_backup_taken_beside_a_writer_restores_to_the_snapshot_and_the_files() {
        let (dir, db) = data_dir(100);
        let out = tempfile::tempdir().unwrap();
        let file = out.path().join("b.tar");
        let summary = backup(&db, dir.path(), DB, &file).unwrap();
        assert_eq!((summary.entries, summary.files), (100, 2));
        // Written after the backup: not in it.
        db.write(|tx| tx.insert("t", b"late", b"x")).unwrap();

        let target = out.path().join("restored");
        let restored = restore(&file, &target, DB, false).unwrap();
        assert_eq!(restored.files, 3);
        assert_eq!(read_all(&target.join("master.key")), b"secret");
        assert_eq!(read_all(&target.join("pki").join("ca.pem")), b"cert");
        let back = Db::open(target.join(DB), Options::default()).unwrap();
        let read = back.read().unwrap();
        assert_eq!(read.len("t").unwrap(), 100);
        assert!(read.get("t", b"late").unwrap().is_none());
    }

    #[test]
    fn a_backup_never_overwrites_and_leaves_no_partial_file() {
        let (dir, db) = data_dir(3);
        let out = tempfile::tempdir().unwrap();
        let file = out.path().join("b.tar");
        std::fs::write(&file, b"older backup").unwrap();
        assert!(matches!(
            backup(&db, dir.path(), DB, &file),
            Err(BackupError::Exists(_))
        ));
        assert_eq!(read_all(&file), b"older backup");
        let names: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
    }

    #[test]
    fn restore_refuses_a_non_empty_dir_and_with_force_moves_it_aside() {
        let (dir, db) = data_dir(5);
        let out = tempfile::tempdir().unwrap();
        let file = out.path().join("b.tar");
        backup(&db, dir.path(), DB, &file).unwrap();
        let target = out.path().join("live");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("newer"), b"keep me").unwrap();
        assert!(matches!(
            restore(&file, &target, DB, false),
            Err(BackupError::NotEmpty(_))
        ));
        assert_eq!(read_all(&target.join("newer")), b"keep me");

        let restored = restore(&file, &target, DB, true).unwrap();
        let aside = restored.moved_aside.expect("moved aside");
        assert_eq!(read_all(&aside.join("newer")), b"keep me");
        assert!(!target.join("newer").exists());
        assert!(target.join(DB).is_file());
    }

    #[test]
    fn restore_refuses_a_dir_whose_database_is_held_open() {
        let (dir, db) = data_dir(1);
        let out = tempfile::tempdir().unwrap();
        let file = out.path().join("b.tar");
        backup(&db, dir.path(), DB, &file).unwrap();
        assert!(matches!(
            restore(&file, dir.path(), DB, true),
            Err(BackupError::InUse(_))
        ));
        assert_eq!(db.read().unwrap().len("t").unwrap(), 1, "untouched");
    }

    #[test]
    fn a_file_that_is_no_backup_is_refused_and_nothing_is_put_in_place() {
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("live");
        let junk = out.path().join("junk.tar");
        std::fs::write(&junk, vec![0x42u8; 4096]).unwrap();
        assert!(matches!(
            restore(&junk, &target, DB, false),
            Err(BackupError::BadArchive { .. })
        ));
        // An archive of files but no database.
        let nodb = out.path().join("nodb.tar");
        let mut tar = tar::Builder::new(File::create(&nodb).unwrap());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o600);
        tar.append_data(&mut header, "key", &b"k"[..]).unwrap();
        tar.into_inner().unwrap();
        let err = restore(&nodb, &target, DB, false).unwrap_err();
        assert!(err.to_string().contains("holds no state.redb"), "{err}");
        assert!(!target.exists(), "nothing put in place");
        let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "no staging directory left");
    }

    #[test]
    fn entry_paths_outside_the_directory_are_refused() {
        assert_eq!(safe_relative(Path::new("a/b")), Some(PathBuf::from("a/b")));
        assert_eq!(safe_relative(Path::new("./a")), Some(PathBuf::from("a")));
        assert_eq!(safe_relative(Path::new("../a")), None);
        assert_eq!(safe_relative(Path::new("/etc/passwd")), None);
        assert_eq!(safe_relative(Path::new("a/../../b")), None);
        assert_eq!(safe_relative(Path::new("")), None);
    }
}
