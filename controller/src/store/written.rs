//! `Written<T>`: the result of a change that is applied but maybe not yet on disk.
//!
//! sled makes a write durable only at a flush (its own background flush runs every 500 ms).
//! DESIGN.md's rule is "flush before any acknowledgement leaves the process". Instead of
//! trusting every handler to remember a `flush()`, each mutating store call returns this
//! `#[must_use]` wrapper, and the only way to get the value out for an answer is
//! [`Written::durable`], which flushes. One call (a whole batch) is one flush; [`Written::zip`]
//! joins several changes under a single flush (group commit). A backend whose commit is already
//! durable (PostgreSQL) returns an already-durable `Written`. Concurrent callers share flushes
//! (the link crate's group-commit [`Flusher`]), so "flush before answering" stays cheap under load.

use std::sync::Arc;

use super::error::StoreError;
use hotspot_link::Flusher;

/// A change that is applied; `.durable().await` before acknowledging it to anyone.
#[must_use = "the change is not durable yet: call `.durable().await` before acknowledging it"]
pub struct Written<T> {
    value: T,
    flush: Flush,
}

#[derive(Clone)]
enum Flush {
    Sled(Arc<Flusher>),
    Nothing,
}

impl<T: std::fmt::Debug> std::fmt::Debug for Written<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Written")
            .field("value", &self.value)
            .field("durable", &matches!(self.flush, Flush::Nothing))
            .finish()
    }
}

impl<T> Written<T> {
    pub(crate) fn sled(value: T, flusher: &Arc<Flusher>) -> Self {
        Written {
            value,
            flush: Flush::Sled(flusher.clone()),
        }
    }

    /// A value whose storage is already durable (or that wrote nothing).
    pub fn already_durable(value: T) -> Self {
        Written {
            value,
            flush: Flush::Nothing,
        }
    }

    /// Waits until the change is on disk, then hands out the value.
    pub async fn durable(self) -> Result<T, StoreError> {
        match self.flush {
            Flush::Sled(flusher) => flusher.flush().await?,
            Flush::Nothing => {}
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
            flush: self.flush,
        }
    }

    /// Both changes under one flush.
    pub fn zip<U>(self, other: Written<U>) -> Written<(T, U)> {
        let flush = match (self.flush, other.flush) {
            (Flush::Nothing, Flush::Nothing) => Flush::Nothing,
            (Flush::Sled(f), _) | (_, Flush::Sled(f)) => Flush::Sled(f),
        };
        Written {
            value: (self.value, other.value),
            flush,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn zip_keeps_one_flush() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let a = Written::sled(1, &Arc::new(Flusher::new(db)));
        let b = Written::already_durable("b");
        let both = a.zip(b).map(|(n, s)| format!("{n}{s}"));
        assert!(matches!(both.flush, Flush::Sled(_)));
        assert_eq!(both.peek(), "1b");
        assert_eq!(both.durable().await.unwrap(), "1b");
        let none = Written::already_durable(()).zip(Written::already_durable(()));
        assert!(matches!(none.flush, Flush::Nothing));
    }
}
