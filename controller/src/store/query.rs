//! Listing shapes: filters, pages with opaque cursors, and per-state counts.
//!
//! A page is read from one index, newest first, and the cursor is the index key where the page
//! stopped (hex-encoded): the next page starts strictly after it, so
//! inserts and state changes between pages never repeat or skip a voucher that was already
//! there. Every page is bounded twice: at most [`MAX_PAGE`] items, and at most [`SCAN_BUDGET`]
//! index entries examined, so a filter that matches little cannot turn one request into a full
//! scan; such a page may come back short, with a `next` cursor, and only `next: None` means the
//! end.

use hotspot_pki::SiteId;
use hotspot_shared::domain::{PackageId, RouterId, StaffId, VoucherState};
use serde::{Deserialize, Serialize};

use super::codec::{hex, unhex};
use super::error::StoreError;

/// Most items in one page.
pub const MAX_PAGE: usize = 500;
/// Page size when none is asked for.
pub const DEFAULT_PAGE: usize = 50;
/// Most index entries one page request examines.
pub const SCAN_BUDGET: usize = 20_000;

/// Which vouchers to list. Empty fields do not filter. Times are `issued_at`, `[from, until)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherFilter {
    pub site: Option<SiteId>,
    pub router: Option<RouterId>,
    pub package: Option<PackageId>,
    pub staff: Option<StaffId>,
    pub state: Option<VoucherState>,
    pub from: Option<i64>,
    pub until: Option<i64>,
}

/// Which audit entries to list, `[from, until)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub from: Option<i64>,
    pub until: Option<i64>,
    /// e.g. `voucher.` or `fleet.drift`.
    pub action_prefix: Option<String>,
    pub target: Option<String>,
}

/// Where a page stops; give it back to get the next page. Opaque to callers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    pub(crate) fn new(key: &[u8]) -> Self {
        Cursor(hex(key))
    }

    /// The position: any hex text is one, whichever listing made it. A cursor of another
    /// listing (or a made-up one) only moves where the page starts; what it lists still
    /// matches the filter.
    pub(crate) fn key(&self) -> Result<Vec<u8>, StoreError> {
        unhex(&self.0).ok_or(StoreError::BadCursor)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for Cursor {
    fn from(s: String) -> Self {
        Cursor(s)
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How much to read and from where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Items wanted; `0` means [`DEFAULT_PAGE`], more than [`MAX_PAGE`] is refused.
    pub limit: usize,
    pub after: Option<Cursor>,
}

impl PageRequest {
    pub fn first(limit: usize) -> Self {
        PageRequest { limit, after: None }
    }

    pub(crate) fn checked_limit(&self) -> Result<usize, StoreError> {
        match self.limit {
            0 => Ok(DEFAULT_PAGE),
            n if n > MAX_PAGE => Err(StoreError::TooMany {
                what: "page size",
                len: n,
                max: MAX_PAGE,
            }),
            n => Ok(n),
        }
    }
}

/// One page of a listing; `next: None` means there is no more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// What to count vouchers over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountScope {
    Router(RouterId),
    Site(SiteId),
    Fleet,
}

/// Vouchers per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts([u64; 9]);

impl StateCounts {
    pub fn get(&self, state: VoucherState) -> u64 {
        self.0[usize::from(state_byte(state))]
    }

    pub(crate) fn add(&mut self, state: VoucherState, n: u64) {
        let slot = &mut self.0[usize::from(state_byte(state))];
        *slot = slot.saturating_add(n);
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// `(state, count)` for every state, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (VoucherState, u64)> + '_ {
        VoucherState::ALL.into_iter().map(|s| (s, self.get(s)))
    }
}

/// The on-disk number of a state, fixed here (not the enum's order, which may change).
pub fn state_byte(state: VoucherState) -> u8 {
    match state {
        VoucherState::Issued => 0,
        VoucherState::Queued => 1,
        VoucherState::Active => 2,
        VoucherState::InUse => 3,
        VoucherState::Exhausted => 4,
        VoucherState::Expired => 5,
        VoucherState::Removed => 6,
        VoucherState::Failed => 7,
        VoucherState::Revoked => 8,
    }
}

pub fn state_of_byte(b: u8) -> Option<VoucherState> {
    VoucherState::ALL.into_iter().find(|s| state_byte(*s) == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_bytes_are_a_bijection() {
        for s in VoucherState::ALL {
            assert_eq!(state_of_byte(state_byte(s)), Some(s));
        }
        assert_eq!(state_of_byte(9), None);
    }

    #[test]
    fn cursors_are_hex_keys() {
        let c = Cursor::new(b"key");
        assert_eq!(c.as_str(), "6b6579");
        assert_eq!(c.key().unwrap(), b"key");
        assert!(matches!(
            Cursor::from("zz".to_string()).key(),
            Err(StoreError::BadCursor)
        ));
        assert!(Cursor::from("abc".to_string()).key().is_err());
    }

    #[test]
    fn page_limits() {
        assert_eq!(PageRequest::first(0).checked_limit().unwrap(), DEFAULT_PAGE);
        assert_eq!(
            PageRequest::first(MAX_PAGE).checked_limit().unwrap(),
            MAX_PAGE
        );
        assert!(PageRequest::first(MAX_PAGE + 1).checked_limit().is_err());
    }
}
