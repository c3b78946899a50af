//! The backup socket: how a `backup` command reaches the process that holds the database.
//!
//! redb holds its file exclusively, so while `serve` (or the agent's `run`) is up, a second
//! process cannot read it. The running process listens on `<data_dir>/backup.sock` (mode 0600,
//! inside the private data directory: whoever may read the data directory may ask for a
//! backup, nobody else). A client sends one line, `backup`; the process writes the archive with
//! its own handle into a temporary file inside its data directory and answers one line,
//! `ok <entries> <files> <bytes>` followed by exactly `<bytes>` bytes of archive, or
//! `error <reason>`. The client writes the file itself (fsynced, renamed into place), so the
//! service needs no write access outside its data directory (systemd's `ProtectSystem=strict`)
//! and the archive belongs to whoever asked. One backup runs at a time; requests are bounded in
//! size and time.

use std::io::{BufRead as _, Read, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};

use crate::backup::{
    BackupError, Summary, archive_into, backup, create_private, io, partial_of, put_in_place,
};
use crate::db::{Db, Options};
use crate::error::StorageError;

/// The socket's file name inside the data directory.
pub const SOCKET_FILE: &str = "backup.sock";

/// The longest request line accepted.
const MAX_LINE: u64 = 4096;

/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a client waits for the archive to be written.
const BACKUP_TIMEOUT: Duration = Duration::from_secs(3600);

/// The socket path of a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

/// Binds the data directory's backup socket; the returned future serves backups of `db`
/// (whose file is `db_file` in `data_dir`) until it is dropped, so the caller spawns it among
/// its own tasks. A stale socket file of a process that died is replaced; a socket some live
/// process answers on is refused.
pub fn serve(
    db: Db,
    data_dir: &Path,
    db_file: &str,
) -> Result<impl Future<Output = ()> + Send + 'static, BackupError> {
    let path = socket_path(data_dir);
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(&path).is_ok() {
            return Err(BackupError::Remote(format!(
                "{} is answered by another process",
                path.display()
            )));
        }
        std::fs::remove_file(&path).map_err(|cause| BackupError::Io {
            what: format!("removing the stale {}", path.display()),
            cause,
        })?;
    }
    let listener = tokio::net::UnixListener::bind(&path).map_err(|cause| BackupError::Io {
        what: format!("listening on {}", path.display()),
        cause,
    })?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(
            |cause| BackupError::Io {
                what: format!("setting the mode of {}", path.display()),
                cause,
            },
        )?;
    }
    let ctx = Arc::new(Ctx {
        db,
        data_dir: data_dir.to_owned(),
        db_file: db_file.to_owned(),
        one_at_a_time: tokio::sync::Mutex::new(()),
    });
    Ok(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            tokio::spawn(answer(ctx.clone(), stream));
        }
    })
}

struct Ctx {
    db: Db,
    data_dir: PathBuf,
    db_file: String,
    one_at_a_time: tokio::sync::Mutex<()>,
}

async fn answer(ctx: Arc<Ctx>, stream: tokio::net::UnixStream) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut limited = tokio::io::BufReader::new(read.take(MAX_LINE));
    let outcome = match tokio::time::timeout(REQUEST_TIMEOUT, limited.read_line(&mut line)).await {
        Ok(Ok(_)) if line == "backup\n" => run(&ctx).await,
        Ok(Ok(_)) => Err("expected one line: backup".to_owned()),
        Ok(Err(e)) => Err(format!("reading the request: {e}")),
        Err(_) => Err("the request took too long".to_owned()),
    };
    match outcome {
        Ok((summary, file)) => {
            let head = format!(
                "ok {} {} {}\n",
                summary.entries, summary.files, summary.bytes
            );
            let sent = async {
                write.write_all(head.as_bytes()).await?;
                let mut archive = tokio::fs::File::open(&file).await?;
                tokio::io::copy(&mut archive, &mut write).await?;
                write.shutdown().await
            }
            .await;
            let _ = tokio::fs::remove_file(&file).await;
            match sent {
                Ok(()) => tracing::info!(
                    entries = summary.entries,
                    bytes = summary.bytes,
                    "backup sent"
                ),
                Err(e) => tracing::warn!("a backup could not be sent: {e}"),
            }
        }
        Err(reason) => {
            let _ = write
                .write_all(format!("error {reason}\n").as_bytes())
                .await;
            let _ = write.shutdown().await;
        }
    }
}

/// Writes the archive into a temporary file in the data directory (skipped by archives: it
/// ends in `.tmp`); the summary and that file.
async fn run(ctx: &Arc<Ctx>) -> Result<(Summary, PathBuf), String> {
    let Ok(_turn) = ctx.one_at_a_time.try_lock() else {
        return Err("another backup is running".to_owned());
    };
    let file = ctx
        .data_dir
        .join(format!(".backup-{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let job = ctx.clone();
    let target = file.clone();
    let done = tokio::task::spawn_blocking(move || {
        archive_into(&job.db, &job.data_dir, &job.db_file, &target)
    })
    .await;
    match done {
        Ok(Ok(summary)) => Ok((summary, file)),
        Ok(Err(e)) => {
            let _ = std::fs::remove_file(&file);
            Err(e.to_string())
        }
        Err(e) => Err(format!("the backup task failed: {e}")),
    }
}

/// Backs up the data directory `data_dir` to `to`: through the database directly when no
/// process holds it, else through the running process's backup socket.
pub fn take(
    data_dir: &Path,
    db_file: &str,
    options: Options,
    to: &Path,
) -> Result<Summary, BackupError> {
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    let db_path = data_dir.join(db_file);
    if !db_path.is_file() {
        return Err(BackupError::NoDatabase(db_path));
    }
    match Db::open(&db_path, options) {
        Ok(db) => backup(&db, data_dir, db_file, to),
        Err(StorageError::InUse) => request_backup(data_dir, to),
        Err(e) => Err(e.into()),
    }
}

/// Asks the process serving `data_dir`'s backup socket for a backup and writes it to `to`.
pub fn request_backup(data_dir: &Path, to: &Path) -> Result<Summary, BackupError> {
    let path = socket_path(data_dir);
    let fail = |what: &str| {
        let what = format!("{what} {}", path.display());
        move |cause| BackupError::Io { what, cause }
    };
    let mut stream = std::os::unix::net::UnixStream::connect(&path).map_err(fail(
        "the database is held by a running process, but it does not answer on",
    ))?;
    stream
        .set_read_timeout(Some(BACKUP_TIMEOUT))
        .map_err(fail("talking to"))?;
    stream.write_all(b"backup\n").map_err(fail("talking to"))?;
    let mut reader = std::io::BufReader::new(stream);
    let mut reply = String::new();
    (&mut reader)
        .take(MAX_LINE)
        .read_line(&mut reply)
        .map_err(fail("reading the answer of"))?;
    let summary = parse_reply(reply.trim_end())?;
    let partial = partial_of(to);
    let received =
        receive(&mut reader, summary.bytes, &partial).and_then(|()| put_in_place(&partial, to));
    if received.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    received.map(|()| summary)
}

/// Copies exactly `bytes` bytes of archive from `from` into the new file `file`, fsynced.
fn receive(from: &mut impl Read, bytes: u64, file: &Path) -> Result<(), BackupError> {
    let mut out = create_private(file)?;
    let copied = std::io::copy(&mut from.take(bytes), &mut out)
        .map_err(io(format!("receiving the backup into {}", file.display())))?;
    if copied != bytes {
        return Err(BackupError::Remote(format!(
            "the archive ended after {copied} of {bytes} bytes"
        )));
    }
    out.sync_all()
        .map_err(io(format!("syncing {}", file.display())))
}

fn parse_reply(reply: &str) -> Result<Summary, BackupError> {
    if let Some(reason) = reply.strip_prefix("error ") {
        return Err(BackupError::Remote(reason.to_owned()));
    }
    let bad = || BackupError::Remote(format!("an answer this build does not read: {reply:?}"));
    let mut parts = reply.strip_prefix("ok ").ok_or_else(bad)?.split(' ');
    let mut next = || {
        parts
            .next()
            .and_then(|p| p.parse::<u64>().ok())
            .ok_or_else(bad)
    };
    let entries = next()?;
    let files = usize::try_from(next()?).map_err(|_| bad())?;
    let bytes = next()?;
    Ok(Summary {
        entries,
        files,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_parsed_and_odd_ones_refused() {
        assert_eq!(
            parse_reply("ok 10 2 4096").unwrap(),
            Summary {
                entries: 10,
                files: 2,
                bytes: 4096
            }
        );
        assert!(
            matches!(parse_reply("error disk full"), Err(BackupError::Remote(r)) if r == "disk full")
        );
        assert!(parse_reply("ok 1 x 3").is_err());
        assert!(parse_reply("").is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_backup_command_reaches_the_process_holding_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("s.redb"), Options::default()).unwrap();
        db.write(|tx| tx.insert("t", b"k", b"v")).unwrap();
        db.barrier().await.unwrap();
        let server = tokio::spawn(serve(db.clone(), dir.path(), "s.redb").unwrap());
        let out = tempfile::tempdir().unwrap();
        let to = out.path().join("b.tar");
        let (dir_path, to2) = (dir.path().to_owned(), to.clone());
        // `take` finds the database held (by `db` above) and goes through the socket.
        let summary = tokio::task::spawn_blocking(move || {
            take(&dir_path, "s.redb", Options::default(), &to2)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(summary.entries, 1);
        assert!(to.is_file());
        // A line that is not the request is refused with a reason.
        let dir_path = dir.path().to_owned();
        let junk = tokio::task::spawn_blocking(move || {
            let mut s = std::os::unix::net::UnixStream::connect(socket_path(&dir_path)).unwrap();
            s.write_all(b"backup /etc/x\n").unwrap();
            let mut reply = String::new();
            std::io::BufReader::new(s).read_line(&mut reply).unwrap();
            reply
        })
        .await
        .unwrap();
        assert!(junk.starts_with("error expected one line"), "{junk}");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "the temporary archive is removed");
        // The archive that came over the socket restores.
        let back = out.path().join("back");
        crate::backup::restore(&to, &back, "s.redb", false).unwrap();
        let restored = Db::open(back.join("s.redb"), Options::default()).unwrap();
        assert!(restored.read().unwrap().get("t", b"k").unwrap().is_some());
        server.abort();
        drop(db);
    }

    #[test]
    fn without_a_running_process_take_opens_the_database_itself() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Db::open(dir.path().join("s.redb"), Options::default()).unwrap();
            db.write(|tx| tx.insert("t", b"k", b"v")).unwrap();
            db.barrier_blocking().unwrap();
        }
        let out = tempfile::tempdir().unwrap();
        let summary = take(
            dir.path(),
            "s.redb",
            Options::default(),
            &out.path().join("b.tar"),
        )
        .unwrap();
        assert_eq!(summary.entries, 1);
        let missing = take(
            &dir.path().join("nope"),
            "s.redb",
            Options::default(),
            &out.path().join("c.tar"),
        );
        assert!(matches!(missing, Err(BackupError::NoDatabase(_))));
    }
}
