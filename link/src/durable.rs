//! Group commit for sled: many callers waiting for durability share few flushes.
//!
//! Two reasons for not calling `sled::Db::flush_async` per request:
//! - in sled 0.34.7 concurrent `flush_async` calls can deadlock (spacejam/sled#1308, #1241,
//!   fixed on sled's main branch but never released), and an API under load makes exactly that
//!   pattern; the blocking `flush()` on tokio's blocking pool does not have the bug;
//! - a flush makes *every* write before it durable, so callers who asked while a flush was
//!   running need one more flush between them all, not one each.
//!
//! Each request takes a ticket after its write. One flush runs at a time; before it starts it
//! notes the highest ticket issued, and when it ends every ticket up to that one is durable.
//! A caller whose ticket is already covered returns without flushing.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Opens a sled database, waiting up to `wait` while another handle still holds its lock.
///
/// sled releases the directory lock only when its last internal reference is gone, which can
/// be a moment after the owning `Db` was dropped (a background write still finishing). A
/// restart inside one process (tests, an in-process agent restart) therefore retries for a
/// short while instead of failing; a lock held for longer is reported as the error it is.
pub fn open_db(path: &Path, wait: Duration) -> Result<sled::Db, sled::Error> {
    let start = Instant::now();
    loop {
        match sled::Config::new().path(path).open() {
            Err(sled::Error::Io(e)) if is_lock_busy(&e) && start.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Whether an open failed because another handle holds the database's lock.
pub fn is_lock_busy(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("could not acquire lock")
}

/// Group commit over one `sled::Db`; share one per database (`Arc`).
#[derive(Debug)]
pub struct Flusher {
    db: sled::Db,
    tickets: AtomicU64,
    covered: AtomicU64,
    flushes: AtomicU64,
    running: tokio::sync::Mutex<()>,
}

impl Flusher {
    pub fn new(db: sled::Db) -> Self {
        Flusher {
            db,
            tickets: AtomicU64::new(0),
            covered: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// Returns once every write this caller made before calling is on disk.
    pub async fn flush(&self) -> Result<(), sled::Error> {
        let ticket = self.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        let _turn = self.running.lock().await;
        if self.covered.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        let upto = self.tickets.load(Ordering::SeqCst);
        let db = self.db.clone();
        let flushed = tokio::task::spawn_blocking(move || db.flush()).await;
        match flushed {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(join) => {
                return Err(sled::Error::ReportableBug(format!(
                    "flush task failed: {join}"
                )));
            }
        }
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.covered.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }

    /// Flushes run so far (for tests and metrics).
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_reopen_waits_for_the_previous_handle_and_a_held_lock_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let held = open_db(dir.path(), Duration::ZERO).unwrap();
        match open_db(dir.path(), Duration::from_millis(100)) {
            Err(sled::Error::Io(e)) => assert!(is_lock_busy(&e), "{e}"),
            other => panic!("a held lock must be refused, got {other:?}"),
        }
        drop(held);
        open_db(dir.path(), Duration::from_secs(5)).expect("reopens once released");
    }

    #[tokio::test]
    async fn concurrent_callers_share_flushes_and_all_return() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let flusher = Arc::new(Flusher::new(db.clone()));
        let tasks: Vec<_> = (0..200u32)
            .map(|i| {
                let (db, flusher) = (db.clone(), flusher.clone());
                tokio::spawn(async move {
                    db.insert(i.to_be_bytes(), &[1][..]).unwrap();
                    flusher.flush().await.unwrap();
                })
            })
            .collect();
        let all = async {
            for t in tasks {
                t.await.unwrap();
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), all)
            .await
            .expect("no flush hangs");
        // On one thread every task takes its ticket while the first flush runs; the second
        // flush covers all the others.
        assert_eq!(flusher.flushes(), 2, "200 callers, two flushes");
        flusher.flush().await.unwrap();
        assert_eq!(
            flusher.flushes(),
            3,
            "a request after the last flush flushes again"
        );
    }
}
