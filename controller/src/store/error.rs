//! What the ledger can refuse or fail at, in variants a caller can act on.
//!
//! The HTTP layer maps these in one place: `NotFound` → 404, `Conflict`/`DuplicateCodes` → 409
//! (the generator regenerates the listed codes and retries), `Invalid`/`BadCursor`/`TooMany` →
//! 400, the rest → 500. None of them carries a secret.

use hotspot_pki::EnrollError;
use hotspot_shared::domain::VoucherState;
use hotspot_shared::secretbox::{OpenError, SealError};
use hotspot_storage::StorageError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed (full disk, damage it detected, held by another process, ...).
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// A record did not encode (a bug, or a plain-text secret about to be written).
    #[error("cannot encode {kind}: {detail}")]
    Encode { kind: &'static str, detail: String },
    /// A stored value does not decode: written by a newer build, or damaged.
    #[error("stored {kind} is unreadable: {detail}")]
    Corrupt { kind: &'static str, detail: String },
    /// These voucher codes already exist (or repeat inside the batch); nothing was written.
    #[error("{} voucher code(s) already in use, e.g. {}", .0.len(), .0.first().map_or("", String::as_str))]
    DuplicateCodes(Vec<String>),
    /// A batch or page bigger than its cap.
    #[error("{what}: {len} is more than the limit of {max}")]
    TooMany {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    /// A uniqueness rule (user name, site id, code prefix) or a reference (router of another
    /// site) would be broken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A value the ledger does not accept (empty name, bad date, ...).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The voucher is in a state that does not allow this change.
    #[error("voucher {code} is {}, which does not allow this", .state.as_str())]
    WrongState { code: String, state: VoucherState },
    /// A pagination cursor that this listing did not produce.
    #[error("the page cursor is not valid for this listing")]
    BadCursor,
    #[error("cannot seal the router password: {0}")]
    Seal(#[from] SealError),
    #[error("cannot open the router password: {0}")]
    Open(#[from] OpenError),
    /// An enrollment token was refused (invalid, used, expired).
    #[error("enrollment: {0}")]
    Enroll(#[from] EnrollError),
}
