//! The storage boundary's one error type: callers match on what they can act on (full disk,
//! corruption, a database held by another process) and carry the rest as words.

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The disk is full (or over quota): nothing of the failed transaction was kept.
    #[error("the disk is full: {0}")]
    DiskFull(String),
    /// Another process (or handle) has the database open.
    #[error("the database is in use by another process")]
    InUse,
    /// The file is damaged or not a database of this build.
    #[error("the database is damaged: {0}")]
    Corrupt(String),
    /// Any other failure of the engine or the disk.
    #[error("storage failed: {0}")]
    Engine(String),
}

impl StorageError {
    fn from_io(e: &std::io::Error) -> Self {
        match e.raw_os_error() {
            // ENOSPC, EDQUOT
            Some(28) | Some(122) => StorageError::DiskFull(e.to_string()),
            _ => StorageError::Engine(e.to_string()),
        }
    }
}

impl From<redb::Error> for StorageError {
    fn from(e: redb::Error) -> Self {
        match e {
            redb::Error::DatabaseAlreadyOpen => StorageError::InUse,
            redb::Error::Corrupted(s) => StorageError::Corrupt(s),
            redb::Error::UpgradeRequired(v) => {
                StorageError::Corrupt(format!("file format {v} needs an upgrade"))
            }
            redb::Error::Io(io) => StorageError::from_io(&io),
            other => StorageError::Engine(other.to_string()),
        }
    }
}

macro_rules! via_redb_error {
    ($($t:ty),*) => {
        $(impl From<$t> for StorageError {
            fn from(e: $t) -> Self {
                StorageError::from(redb::Error::from(e))
            }
        })*
    };
}

via_redb_error!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError,
    redb::SavepointError,
    std::io::Error
);
