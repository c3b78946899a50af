//! The tables of the ledger and the layout of their keys.
//!
//! Every table name starts with `ledger/` so the ledger can share one database with the fleet
//! link (`link/...`): the link's inbox transaction and the ledger's tables must live in the same
//! [`hotspot_storage::Db`] for [`super::LedgerInbound`] to commit an event and its sequence
//! number together.
//!
//! | table | key | value |
//! |---|---|---|
//! | `ledger/meta` | counter name (`router`, `package`, `staff`, `audit`) | last id, u64 BE |
//! | `ledger/meta` | `schema` | schema version, u64 BE |
//! | `ledger/sites` | site id | [`Site`](crate::store::Site) |
//! | `ledger/sites/by-prefix` | code prefix | site id |
//! | `ledger/routers` | router u64 BE | [`RouterRecord`](crate::store::RouterRecord) |
//! | `ledger/routers/by-site` | site ‖ 0 ‖ router BE | empty |
//! | `ledger/packages` | package u64 BE | [`PackageRecord`](crate::store::PackageRecord) |
//! | `ledger/vouchers` | code | [`VoucherRecord`] |
//! | `ledger/vouchers/by-router` | router BE ‖ t ‖ code | empty |
//! | `ledger/vouchers/by-staff` | staff BE ‖ t ‖ code | empty |
//! | `ledger/vouchers/by-site` | site ‖ 0 ‖ t ‖ code | empty |
//! | `ledger/vouchers/by-state` | state ‖ router BE ‖ t ‖ code | empty |
//! | `ledger/vouchers/by-day` | day ‖ t ‖ code | empty |
//! | `ledger/vouchers/counts` | site ‖ 0 ‖ router BE ‖ state | count, u64 BE |
//! | `ledger/staff` | staff u64 BE | [`StaffRecord`](crate::store::StaffRecord) |
//! | `ledger/staff/by-name` | lower-case user name | staff u64 BE |
//! | `ledger/staff/two-factor` | staff u64 BE | [`TwoFactorRecord`](crate::store::TwoFactorRecord) |
//! | `ledger/sessions` | token hash | [`SessionRecord`](crate::store::SessionRecord) |
//! | `ledger/sessions/by-staff` | staff BE ‖ token hash | empty |
//! | `ledger/audit` | t ‖ `audit` counter u64 BE | [`AuditEntry`](crate::store::AuditEntry) |
//! | `ledger/reports` | `YYYY-MM-DD` | [`Report`](crate::store::Report) |
//! | `ledger/enroll/tokens` | secret hash | `TokenRecord` |
//! | `ledger/enroll/revoked` | certificate serial | empty |
//! | `ledger/heal` | site id | [`HealRecord`](crate::store::HealRecord) |
//!
//! `t` is `issued_at` (or the audit time) as `time_key`; `day` is the UTC day number as
//! `time_key`; `state` is `state_byte`. Voucher indexes end in `t ‖ code`, so every voucher
//! listing is in issue order and can be bounded by a time range.

use hotspot_pki::SiteId;
use hotspot_shared::domain::{RouterId, StaffId, VoucherState};

use crate::store::codec::{day_of, time_key};
use crate::store::query::state_byte;
use crate::store::voucher::VoucherRecord;

/// The ledger's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum T {
    Meta,
    Sites,
    SitePrefixes,
    Routers,
    RoutersBySite,
    Packages,
    Vouchers,
    ByRouter,
    ByStaff,
    BySite,
    ByState,
    ByDay,
    Counts,
    Staff,
    StaffByName,
    TwoFactor,
    Sessions,
    SessionsByStaff,
    ApiKeys,
    ApiKeysByHash,
    Audit,
    Reports,
    Tokens,
    Revoked,
    Heal,
}

impl T {
    pub fn name(self) -> &'static str {
        match self {
            T::Meta => "ledger/meta",
            T::Sites => "ledger/sites",
            T::SitePrefixes => "ledger/sites/by-prefix",
            T::Routers => "ledger/routers",
            T::RoutersBySite => "ledger/routers/by-site",
            T::Packages => "ledger/packages",
            T::Vouchers => "ledger/vouchers",
            T::ByRouter => "ledger/vouchers/by-router",
            T::ByStaff => "ledger/vouchers/by-staff",
            T::BySite => "ledger/vouchers/by-site",
            T::ByState => "ledger/vouchers/by-state",
            T::ByDay => "ledger/vouchers/by-day",
            T::Counts => "ledger/vouchers/counts",
            T::Staff => "ledger/staff",
            T::StaffByName => "ledger/staff/by-name",
            T::TwoFactor => "ledger/staff/two-factor",
            T::Sessions => "ledger/sessions",
            T::SessionsByStaff => "ledger/sessions/by-staff",
            T::ApiKeys => "ledger/api-keys",
            T::ApiKeysByHash => "ledger/api-keys/by-hash",
            T::Audit => "ledger/audit",
            T::Reports => "ledger/reports",
            T::Tokens => "ledger/enroll/tokens",
            T::Revoked => "ledger/enroll/revoked",
            T::Heal => "ledger/heal",
        }
    }
}

pub fn id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// `site ‖ 0`: site ids are `[a-z0-9-]`, so the 0 ends the id unambiguously.
pub fn site_prefix(site: &SiteId) -> Vec<u8> {
    let mut k = site.as_str().as_bytes().to_vec();
    k.push(0);
    k
}

pub fn router_by_site(site: &SiteId, router: RouterId) -> Vec<u8> {
    let mut k = site_prefix(site);
    k.extend_from_slice(&id_key(router.0));
    k
}

pub fn staff_name_key(username: &str) -> Vec<u8> {
    username.trim().to_lowercase().into_bytes()
}

pub fn session_by_staff(staff: StaffId, token_hash: &[u8; 32]) -> Vec<u8> {
    let mut k = id_key(staff.0).to_vec();
    k.extend_from_slice(token_hash);
    k
}

pub fn count_key(site: &SiteId, router: RouterId, state: VoucherState) -> Vec<u8> {
    let mut k = router_by_site(site, router);
    k.push(state_byte(state));
    k
}

/// `prefix ‖ t ‖ code`.
fn tail(mut prefix: Vec<u8>, v: &VoucherRecord) -> Vec<u8> {
    prefix.extend_from_slice(&time_key(v.issued_at));
    prefix.extend_from_slice(v.code.as_bytes());
    prefix
}

pub fn by_router(v: &VoucherRecord) -> Vec<u8> {
    tail(id_key(v.router.0).to_vec(), v)
}

pub fn by_staff(v: &VoucherRecord) -> Vec<u8> {
    tail(id_key(v.staff.0).to_vec(), v)
}

pub fn by_site(v: &VoucherRecord) -> Vec<u8> {
    tail(site_prefix(&v.site), v)
}

pub fn state_router_prefix(state: VoucherState, router: RouterId) -> Vec<u8> {
    let mut k = vec![state_byte(state)];
    k.extend_from_slice(&id_key(router.0));
    k
}

pub fn by_state(v: &VoucherRecord) -> Vec<u8> {
    tail(state_router_prefix(v.state, v.router), v)
}

pub fn by_day(v: &VoucherRecord) -> Vec<u8> {
    tail(time_key(day_of(v.issued_at)).to_vec(), v)
}

/// Every index entry of `v`, with its table.
pub fn index_entries(v: &VoucherRecord) -> [(T, Vec<u8>); 5] {
    [
        (T::ByRouter, by_router(v)),
        (T::ByStaff, by_staff(v)),
        (T::BySite, by_site(v)),
        (T::ByState, by_state(v)),
        (T::ByDay, by_day(v)),
    ]
}

/// The code at the end of a voucher index key whose prefix is `prefix_len` bytes.
pub fn code_of(key: &[u8], prefix_len: usize) -> Option<&str> {
    key.get(prefix_len + 8..)
        .and_then(|b| std::str::from_utf8(b).ok())
}
