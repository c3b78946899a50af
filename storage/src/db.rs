//! Opening a database, writing, reading, and the durability barrier.

use std::path::Path;
use std::sync::Arc;

use redb::{Durability, ReadableDatabase, StorageBackend};

use crate::barrier::Counters;
use crate::error::StorageError;
use crate::tx::{ReadTx, WriteTx};

/// How a database is opened.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// redb's page cache in bytes. The agent keeps it small (it must fit a router's container);
    /// the controller's ledger can afford more.
    pub cache_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cache_bytes: 16 << 20,
        }
    }
}

struct Inner {
    db: redb::Database,
    counters: Counters,
    /// One barrier at a time (async callers queue here, not on redb's write lock).
    turn: tokio::sync::Mutex<()>,
}

/// One open database. Cheap to clone: every clone is the same database.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("barriers", &self.inner.counters.barriers())
            .finish()
    }
}

impl Db {
    /// Opens the database file at `path`, creating it (not its directory) when missing.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db, StorageError> {
        let db = redb::Database::builder()
            .set_cache_size(options.cache_bytes)
            .create(path)?;
        Ok(Db::wrap(db))
    }

    /// Opens a database on `backend` (tests: [`crate::powercut::PowerCutDisk`]).
    pub fn open_backend(
        backend: impl StorageBackend,
        options: Options,
    ) -> Result<Db, StorageError> {
        let db = redb::Database::builder()
            .set_cache_size(options.cache_bytes)
            .create_with_backend(backend)?;
        Ok(Db::wrap(db))
    }

    fn wrap(db: redb::Database) -> Db {
        Db {
            inner: Arc::new(Inner {
                db,
                counters: Counters::default(),
                turn: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Runs `f` in one write transaction and commits it, not yet durably (see
    /// [`Db::barrier`]). An `Err` from `f` rolls everything back. Write transactions run one at
    /// a time; keep `f` short and free of waiting.
    pub fn write<R, E>(&self, f: impl FnOnce(&mut WriteTx<'_>) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StorageError>,
    {
        let mut txn = self.inner.db.begin_write().map_err(StorageError::from)?;
        txn.set_durability(Durability::None)
            .map_err(StorageError::from)?;
        let out = {
            let mut tx = WriteTx::new(&txn);
            f(&mut tx)?
        };
        txn.commit().map_err(StorageError::from)?;
        self.inner.counters.committed();
        Ok(out)
    }

    /// A snapshot of everything committed so far (durable or not).
    pub fn read(&self) -> Result<ReadTx, StorageError> {
        Ok(ReadTx::new(self.inner.db.begin_read()?))
    }

    /// Returns once every commit that returned before this call is durable. Callers that ask
    /// while a barrier runs share the next one (group commit).
    pub async fn barrier(&self) -> Result<(), StorageError> {
        let ticket = self.inner.counters.ticket();
        if self.inner.counters.is_covered(ticket) {
            return Ok(());
        }
        let _turn = self.inner.turn.lock().await;
        if self.inner.counters.is_covered(ticket) {
            return Ok(());
        }
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            inner.counters.cover(ticket, || durable_commit(&inner.db))
        })
        .await
        .map_err(|e| StorageError::Engine(format!("the barrier task failed: {e}")))?
    }

    /// [`Db::barrier`] for code outside an async runtime (command-line tools, tests). Must
    /// not be called from inside a runtime's worker thread.
    pub fn barrier_blocking(&self) -> Result<(), StorageError> {
        let ticket = self.inner.counters.ticket();
        let _turn = self.inner.turn.blocking_lock();
        self.inner
            .counters
            .cover(ticket, || durable_commit(&self.inner.db))
    }

    /// Durable commits made so far (group commit at work: far fewer than writes).
    pub fn barriers(&self) -> u64 {
        self.inner.counters.barriers()
    }

    /// Writes a consistent copy of the whole database, as of one snapshot, to `to` (a new
    /// file; an existing one is refused), and syncs it. Runs beside writers.
    pub fn backup_to(&self, to: &Path) -> Result<u64, StorageError> {
        if to.exists() {
            return Err(StorageError::Engine(format!(
                "{} exists already; a backup never overwrites",
                to.display()
            )));
        }
        let snapshot = self.read()?;
        let copy = Db::open(to, Options::default())?;
        let mut entries = 0u64;
        let tables: Vec<String> = snapshot.table_names()?;
        copy.write(|tx| {
            for name in &tables {
                snapshot.scan(name, crate::ALL, false, |k, v| {
                    tx.insert(name, k, v)?;
                    entries += 1;
                    Ok::<_, StorageError>(crate::Flow::Continue)
                })?;
            }
            Ok::<_, StorageError>(())
        })?;
        durable_commit(&copy.inner.db)?;
        Ok(entries)
    }
}

fn durable_commit(db: &redb::Database) -> Result<(), StorageError> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_barriers_and_all_return() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("db"), Options::default()).unwrap();
        let tasks: Vec<_> = (0..200u32)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.write(|tx| tx.insert("t", &i.to_be_bytes(), b"v"))
                        .unwrap();
                    db.barrier().await.unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert!(
            db.barriers() < 200,
            "200 writers, {} barriers: group commit shares them",
            db.barriers()
        );
        assert_eq!(db.read().unwrap().len("t").unwrap(), 200);
        let before = db.barriers();
        db.barrier().await.unwrap();
        assert_eq!(db.barriers(), before, "nothing new to cover: no fsync");
        db.write(|tx| tx.insert("t", b"x", b"v")).unwrap();
        db.barrier().await.unwrap();
        assert_eq!(db.barriers(), before + 1, "a new write needs a new barrier");
    }

    #[test]
    fn a_backup_is_a_consistent_copy_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("db"), Options::default()).unwrap();
        db.write(|tx| {
            tx.insert("a", b"1", b"one")?;
            tx.insert("b", b"2", b"two")
        })
        .unwrap();
        let to = dir.path().join("copy");
        assert_eq!(db.backup_to(&to).unwrap(), 2);
        assert!(db.backup_to(&to).is_err(), "refuses an existing file");
        let copy = Db::open(&to, Options::default()).unwrap();
        let r = copy.read().unwrap();
        assert_eq!(r.get("a", b"1").unwrap(), Some(b"one".to_vec()));
        assert_eq!(r.get("b", b"2").unwrap(), Some(b"two".to_vec()));
    }

    #[test]
    fn a_second_open_of_one_file_is_refused_as_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let _db = Db::open(dir.path().join("db"), Options::default()).unwrap();
        assert!(matches!(
            Db::open(dir.path().join("db"), Options::default()),
            Err(StorageError::InUse)
        ));
    }
}
