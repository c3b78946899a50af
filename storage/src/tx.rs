//! Transactions over byte tables, as callers see them.
//!
//! A [`WriteTx`] lives inside [`crate::Db::write`] and opens each table once (redb refuses a
//! second handle on one table in one transaction); a [`ReadTx`] is a snapshot that outlives
//! later commits. Both read the same way ([`scan`]): a visitor over a key range, forwards or
//! backwards, that can stop early, so a page of a listing never copies the whole table. A table
//! nobody wrote yet reads as empty.

use std::cell::RefCell;
use std::collections::HashMap;

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::KeyBounds;
use crate::error::StorageError;

type Bytes = &'static [u8];

/// Owned `(key, value)` pairs, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn def(name: &str) -> TableDefinition<'_, Bytes, Bytes> {
    TableDefinition::new(name)
}

/// Whether a scan goes on after the entry just visited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

fn scan_table<T, E>(
    table: &T,
    bounds: KeyBounds<'_>,
    rev: bool,
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<Flow, E>,
) -> Result<(), E>
where
    T: ReadableTable<Bytes, Bytes>,
    E: From<StorageError>,
{
    let range = table.range::<&[u8]>(bounds).map_err(StorageError::from)?;
    let mut step = |kv: Result<
        (redb::AccessGuard<'_, Bytes>, redb::AccessGuard<'_, Bytes>),
        redb::StorageError,
    >| {
        let (k, v) = kv.map_err(StorageError::from)?;
        visit(k.value(), v.value())
    };
    if rev {
        for kv in range.rev() {
            if step(kv)? == Flow::Stop {
                break;
            }
        }
    } else {
        for kv in range {
            if step(kv)? == Flow::Stop {
                break;
            }
        }
    }
    Ok(())
}

fn get_in<T: ReadableTable<Bytes, Bytes>>(
    table: &T,
    key: &[u8],
) -> Result<Option<Vec<u8>>, StorageError> {
    Ok(table.get(key)?.map(|v| v.value().to_vec()))
}

/// One write transaction; commits when the closure given to [`crate::Db::write`] returns `Ok`.
pub struct WriteTx<'t> {
    txn: &'t redb::WriteTransaction,
    open: HashMap<String, redb::Table<'t, Bytes, Bytes>>,
}

impl<'t> WriteTx<'t> {
    pub(crate) fn new(txn: &'t redb::WriteTransaction) -> Self {
        WriteTx {
            txn,
            open: HashMap::new(),
        }
    }

    fn table(&mut self, name: &str) -> Result<&mut redb::Table<'t, Bytes, Bytes>, StorageError> {
        if !self.open.contains_key(name) {
            let table = self.txn.open_table(def(name))?;
            self.open.insert(name.to_string(), table);
        }
        self.open
            .get_mut(name)
            .ok_or_else(|| StorageError::Engine(format!("table {name} vanished")))
    }

    pub fn get(&mut self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        get_in(self.table(table)?, key)
    }

    pub fn contains(&mut self, table: &str, key: &[u8]) -> Result<bool, StorageError> {
        Ok(self.table(table)?.get(key)?.is_some())
    }

    pub fn insert(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        self.table(table)?.insert(key, value)?;
        Ok(())
    }

    /// Removes `key`; whether it was there.
    pub fn remove(&mut self, table: &str, key: &[u8]) -> Result<bool, StorageError> {
        Ok(self.table(table)?.remove(key)?.is_some())
    }

    /// Removes every key in `bounds`; how many went.
    pub fn remove_range(
        &mut self,
        table: &str,
        bounds: KeyBounds<'_>,
    ) -> Result<u64, StorageError> {
        let keys = self.keys(table, bounds, usize::MAX)?;
        let t = self.table(table)?;
        for k in &keys {
            t.remove(k.as_slice())?;
        }
        Ok(keys.len() as u64)
    }

    /// Entries of `table`.
    pub fn len(&mut self, table: &str) -> Result<u64, StorageError> {
        Ok(self.table(table)?.len()?)
    }

    pub fn scan<E: From<StorageError>>(
        &mut self,
        table: &str,
        bounds: KeyBounds<'_>,
        rev: bool,
        visit: impl FnMut(&[u8], &[u8]) -> Result<Flow, E>,
    ) -> Result<(), E> {
        scan_table(&*self.table(table)?, bounds, rev, visit)
    }

    /// Up to `limit` entries in `bounds`, in key order.
    pub fn entries(
        &mut self,
        table: &str,
        bounds: KeyBounds<'_>,
        limit: usize,
    ) -> Result<Entries, StorageError> {
        let mut out = Vec::new();
        self.scan(table, bounds, false, |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok::<_, StorageError>(if out.len() >= limit {
                Flow::Stop
            } else {
                Flow::Continue
            })
        })?;
        Ok(out)
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub fn prefixed(&mut self, table: &str, prefix: &[u8]) -> Result<Entries, StorageError> {
        let end = crate::prefix_end(prefix);
        self.entries(table, crate::prefix_bounds(prefix, &end), usize::MAX)
    }

    /// Up to `limit` keys in `bounds`, in key order.
    pub fn keys(
        &mut self,
        table: &str,
        bounds: KeyBounds<'_>,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StorageError> {
        let mut out = Vec::new();
        self.scan(table, bounds, false, |k, _| {
            out.push(k.to_vec());
            Ok::<_, StorageError>(if out.len() >= limit {
                Flow::Stop
            } else {
                Flow::Continue
            })
        })?;
        Ok(out)
    }
}

/// A consistent snapshot: later commits are not seen through it.
pub struct ReadTx {
    txn: redb::ReadTransaction,
    open: RefCell<HashMap<String, Option<redb::ReadOnlyTable<Bytes, Bytes>>>>,
}

impl ReadTx {
    pub(crate) fn new(txn: redb::ReadTransaction) -> Self {
        ReadTx {
            txn,
            open: RefCell::new(HashMap::new()),
        }
    }

    /// Runs `f` over the table (`None`: it was never written).
    fn with<R>(
        &self,
        name: &str,
        f: impl FnOnce(Option<&redb::ReadOnlyTable<Bytes, Bytes>>) -> R,
    ) -> Result<R, StorageError> {
        let mut open = self.open.borrow_mut();
        if !open.contains_key(name) {
            let table = match self.txn.open_table(def(name)) {
                Ok(t) => Some(t),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(e.into()),
            };
            open.insert(name.to_string(), table);
        }
        Ok(f(open.get(name).and_then(Option::as_ref)))
    }

    pub fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.with(table, |t| t.map_or(Ok(None), |t| get_in(t, key)))?
    }

    pub fn contains(&self, table: &str, key: &[u8]) -> Result<bool, StorageError> {
        Ok(self.get(table, key)?.is_some())
    }

    pub fn len(&self, table: &str) -> Result<u64, StorageError> {
        self.with(table, |t| {
            t.map_or(Ok(0), |t| t.len().map_err(StorageError::from))
        })?
    }

    pub fn scan<E: From<StorageError>>(
        &self,
        table: &str,
        bounds: KeyBounds<'_>,
        rev: bool,
        visit: impl FnMut(&[u8], &[u8]) -> Result<Flow, E>,
    ) -> Result<(), E> {
        self.with(table, |t| match t {
            Some(t) => scan_table(t, bounds, rev, visit),
            None => Ok(()),
        })?
    }

    /// Up to `limit` entries in `bounds`, in key order.
    pub fn entries(
        &self,
        table: &str,
        bounds: KeyBounds<'_>,
        limit: usize,
    ) -> Result<Entries, StorageError> {
        let mut out = Vec::new();
        self.scan(table, bounds, false, |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok::<_, StorageError>(if out.len() >= limit {
                Flow::Stop
            } else {
                Flow::Continue
            })
        })?;
        Ok(out)
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub fn prefixed(&self, table: &str, prefix: &[u8]) -> Result<Entries, StorageError> {
        let end = crate::prefix_end(prefix);
        self.entries(table, crate::prefix_bounds(prefix, &end), usize::MAX)
    }

    /// The names of every table in the snapshot.
    pub fn table_names(&self) -> Result<Vec<String>, StorageError> {
        Ok(self
            .txn
            .list_tables()?
            .map(|t| redb::TableHandle::name(&t).to_string())
            .collect())
    }
}
