//! `Written<T>`: the result of a change that is applied but maybe not yet on disk.
//!
//! A store commit is visible at once but durable only once a barrier covers it
//! ([`hotspot_storage::Db::barrier`], an fsync). The project's rule is that no acknowledgement
//! (here: an HTTP 2xx, a CLI success line) leaves the process before that barrier. Instead of
//! trusting every handler to remember the barrier, each mutating store call returns this
//! `#[must_use]` wrapper, and the only way to get the value out for an answer is
//! [`Written::durable`], which waits for it. One call (a whole batch) is one barrier;
//! [`Written::zip`] joins several changes under a single one. A backend whose commit is already
//! durable (PostgreSQL) returns an already-durable `Written`. Concurrent callers share barriers
//! (group commit), so "durable before answering" stays cheap under load.

use hotspot_storage::Db;

use super::error::StoreError;

/// A change that is applied; `.durable().await` before acknowledging it to anyone.
#[must_use = "the change is not durable yet: call `.durable().await` before acknowledging it"]
pub struct Written<T> {
    value: T,
    durable: Durable,
}

/// When the change is durable.
#[derive(Clone)]
enum Durable {
    /// Once a barrier on this database returns.
    AfterBarrier(Db),
    Already,
}

impl<T: std::fmt::Debug> std::fmt::Debug for Written<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Written")
            .field("value", &self.value)
            .field("durable", &matches!(self.durable, Durable::Already))
            .finish()
    }
}

impl<T> Written<T> {
    /// A value whose change committed to `db` (the commit returned before this call) and is
    /// durable after the next barrier.
    pub(crate) fn after_barrier(value: T, db: &Db) -> Self {
        Written {
            value,
            durable: Durable::AfterBarrier(db.clone()),
        }
    }

    /// A value whose storage is already durable (or that wrote nothing).
    pub fn already_durable(value: T) -> Self {
        Written {
            value,
            durable: Durable::Already,
        }
    }

    /// Waits until the change is on disk, then hands out the value.
    pub async fn durable(self) -> Result<T, StoreError> {
        match self.durable {
            Durable::AfterBarrier(db) => db.barrier().await?,
            Durable::Already => {}
        }
        Ok(self.value)
    }

    /// Looks at the value before it is durable (to decide what to do next, never to answer).
    pub fn peek(&self) -> &T {
        &self.value
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Written<U> {
        Written {
            value: f(self.value),
            durable: self.durable,
        }
    }

    /// Both changes under one barrier.
    pub fn zip<U>(self, other: Written<U>) -> Written<(T, U)> {
        let durable = match (self.durable, other.durable) {
            (Durable::Already, Durable::Already) => Durable::Already,
            (Durable::AfterBarrier(db), _) | (_, Durable::AfterBarrier(db)) => {
                Durable::AfterBarrier(db)
            }
        };
        Written {
            value: (self.value, other.value),
            durable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn zip_keeps_one_barrier() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("db"), hotspot_storage::Options::default()).unwrap();
        db.write(|tx| tx.insert("t", b"k", b"v")).unwrap();
        let a = Written::after_barrier(1, &db);
        let b = Written::already_durable("b");
        let both = a.zip(b).map(|(n, s)| format!("{n}{s}"));
        assert!(matches!(both.durable, Durable::AfterBarrier(_)));
        assert_eq!(both.peek(), "1b");
        let before = db.barriers();
        assert_eq!(both.durable().await.unwrap(), "1b");
        assert_eq!(
            db.barriers(),
            before + 1,
            "the value came out after one barrier"
        );
        let none = Written::already_durable(()).zip(Written::already_durable(()));
        assert!(matches!(none.durable, Durable::Already));
    }
}
