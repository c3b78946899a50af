//! The ledger: sites, routers, packages, vouchers, staff, sessions, audit log, reports and
//! enrollment state, behind one small trait.
//!
//! Why it is shaped so:
//! - **A trait with domain-level methods** ([`Store`]), not a key-value API: callers say
//!   "issue these vouchers", never "put this key", so a PostgreSQL backend can join later
//!   without touching them. The first and only implementation is [`EmbeddedStore`] (redb,
//!   through `hotspot-storage`).
//! - **Durable before 2xx, by construction.** Every mutating call returns a `#[must_use]`
//!   [`Written<T>`]; the value comes out only through `.durable().await`, which waits for the
//!   durability barrier. One call (a batch of 10,000 vouchers included) is one barrier.
//! - **Who and when on every change.** Mutating calls take a [`Stamp`] and write their
//!   [`AuditEntry`] in the same transaction as the change.
//! - **Rules in pure code.** The voucher state machine ([`VoucherRecord::apply`]), record
//!   encoding ([`codec`]) and listing shapes (`query`) do no IO and are unit-tested; the
//!   [`embedded`] modules only move bytes and keep indexes consistent.
//! - **Secrets sealed before they touch disk.** Router passwords are sealed with the caller's
//!   [`Keyring`] inside the creating transaction; a record with a plain-text password cannot
//!   be serialized.
//!
//! Reads are plain methods returning owned records. Listings are paginated ([`Page`], at most
//! [`MAX_PAGE`] items) with opaque cursors.

pub mod codec;
mod decisions;
pub mod embedded;
mod error;
mod query;
mod records;
mod report;
mod voucher;
mod written;

use hotspot_pki::{EnrollmentToken, Revocations, Serial, SiteId, TokenRecord};
use hotspot_shared::domain::{Package, PackageId, RouterId, StaffId, VoucherState};
use hotspot_shared::secretbox::Keyring;
use time::OffsetDateTime;

pub use decisions::{Decided, Decisions};
pub use embedded::{Clock, EmbeddedStore, LedgerInbound};
pub use error::StoreError;
pub use query::{
    AuditFilter, CountScope, Cursor, DEFAULT_PAGE, MAX_PAGE, Page, PageRequest, SCAN_BUDGET,
    StateCounts, VoucherFilter,
};
pub use records::{
    Actor, ApiKeyRecord, ApiKeyScope, AuditEntry, HealRecord, NewApiKey, NewRouter, NewStaff,
    PackageRecord, Role, RouterObservation, RouterRecord, RouterUpdate, SessionKind, SessionRecord,
    Site, SpendFactor, StaffRecord, StaffUpdate, Stamp, TwoFactorRecord,
};
pub use report::{DriftKind, DriftLine, Report, ReportBody, Revenue, Tally};
pub use voucher::{
    ChangeOutcome, MAX_BATCH, MAX_CODE_LEN, Transition, VoucherChange, VoucherLimits, VoucherRecord,
};
pub use written::Written;

/// The ledger's operations. Object-safe: callers hold an `Arc<dyn Store>`.
pub trait Store: Send + Sync {
    // --- sites and enrollment ---
    /// A new site with a freshly allocated, unique offline code prefix.
    fn create_site(&self, id: SiteId, name: &str, by: &Stamp) -> Result<Written<Site>, StoreError>;
    fn site(&self, id: &SiteId) -> Result<Option<Site>, StoreError>;
    fn sites(&self) -> Result<Vec<Site>, StoreError>;
    fn set_site_revoked(
        &self,
        id: &SiteId,
        revoked: bool,
        by: &Stamp,
    ) -> Result<Written<Site>, StoreError>;
    /// Stores a token record (keyed by its secret hash).
    fn put_enrollment_token(
        &self,
        record: &TokenRecord,
        by: &Stamp,
    ) -> Result<Written<()>, StoreError>;
    /// Checks `presented` and marks it used, atomically: a token enrolls once.
    fn spend_enrollment_token(
        &self,
        presented: &EnrollmentToken,
        now: OffsetDateTime,
    ) -> Result<Written<TokenRecord>, StoreError>;
    /// `true` if the serial was not revoked before.
    fn revoke_serial(&self, serial: &Serial, by: &Stamp) -> Result<Written<bool>, StoreError>;
    fn revocations(&self) -> Result<Revocations, StoreError>;

    // --- routers ---
    /// Allocates the id and seals the password for it.
    fn create_router(
        &self,
        new: NewRouter,
        keyring: &Keyring,
        by: &Stamp,
    ) -> Result<Written<RouterRecord>, StoreError>;
    fn router(&self, id: RouterId) -> Result<Option<RouterRecord>, StoreError>;
    /// All routers, or those of one site.
    fn routers(&self, site: Option<&SiteId>) -> Result<Vec<RouterRecord>, StoreError>;
    /// The routers a staff member is assigned.
    fn routers_of_staff(&self, staff: StaffId) -> Result<Vec<RouterRecord>, StoreError>;
    fn update_router(
        &self,
        id: RouterId,
        update: RouterUpdate,
        keyring: &Keyring,
        by: &Stamp,
    ) -> Result<Written<RouterRecord>, StoreError>;
    /// Removes the router; its vouchers stay.
    fn remove_router(&self, id: RouterId, by: &Stamp) -> Result<Written<RouterRecord>, StoreError>;
    /// Records info, health, a sync or a failure seen at `at` (older news never wins).
    fn observe_router(
        &self,
        id: RouterId,
        seen: RouterObservation,
        at: i64,
    ) -> Result<Written<()>, StoreError>;
    /// Re-seals plain-text passwords from an older store; run at start. Returns how many.
    fn migrate_plain_passwords(
        &self,
        keyring: &Keyring,
        by: &Stamp,
    ) -> Result<Written<usize>, StoreError>;

    // --- packages ---
    /// Validates and stores a new package; its `id` is assigned.
    fn create_package(
        &self,
        package: Package,
        by: &Stamp,
    ) -> Result<Written<PackageRecord>, StoreError>;
    fn package(&self, id: PackageId) -> Result<Option<PackageRecord>, StoreError>;
    fn packages(&self, include_archived: bool) -> Result<Vec<PackageRecord>, StoreError>;
    /// Replaces package `package.id` (sold vouchers keep their own limits).
    fn update_package(
        &self,
        package: Package,
        by: &Stamp,
    ) -> Result<Written<PackageRecord>, StoreError>;
    fn set_package_archived(
        &self,
        id: PackageId,
        archived: bool,
        by: &Stamp,
    ) -> Result<Written<PackageRecord>, StoreError>;

    // --- vouchers ---
    /// Stores up to [`MAX_BATCH`] new vouchers in one transaction. Any code already in the
    /// ledger (or repeated in the batch) aborts it: [`StoreError::DuplicateCodes`].
    fn insert_vouchers(
        &self,
        vouchers: Vec<VoucherRecord>,
        by: &Stamp,
    ) -> Result<Written<usize>, StoreError>;
    fn voucher(&self, code: &str) -> Result<Option<VoucherRecord>, StoreError>;
    fn change_voucher(
        &self,
        code: &str,
        change: VoucherChange,
        by: &Stamp,
    ) -> Result<Written<ChangeOutcome>, StoreError>;
    /// The same change to many vouchers in one transaction (all must exist).
    fn change_vouchers(
        &self,
        codes: &[String],
        change: VoucherChange,
        by: &Stamp,
    ) -> Result<Written<Vec<ChangeOutcome>>, StoreError>;
    /// Withdraws a voucher that never left the ledger (state `issued` only).
    fn delete_voucher(&self, code: &str, by: &Stamp) -> Result<Written<VoucherRecord>, StoreError>;
    /// Newest first.
    fn list_vouchers(
        &self,
        filter: &VoucherFilter,
        page: &PageRequest,
    ) -> Result<Page<VoucherRecord>, StoreError>;
    /// Vouchers of `router` in `states` (e.g. those that belong on the router), oldest first.
    fn vouchers_on_router(
        &self,
        router: RouterId,
        states: &[VoucherState],
    ) -> Result<Vec<VoucherRecord>, StoreError>;
    fn voucher_counts(&self, scope: &CountScope) -> Result<StateCounts, StoreError>;

    // --- staff and sessions ---
    fn create_staff(&self, new: NewStaff, by: &Stamp) -> Result<Written<StaffRecord>, StoreError>;
    fn staff(&self, id: StaffId) -> Result<Option<StaffRecord>, StoreError>;
    /// Case-insensitive.
    fn staff_by_username(&self, username: &str) -> Result<Option<StaffRecord>, StoreError>;
    fn staff_list(&self) -> Result<Vec<StaffRecord>, StoreError>;
    fn update_staff(
        &self,
        id: StaffId,
        update: StaffUpdate,
        by: &Stamp,
    ) -> Result<Written<StaffRecord>, StoreError>;
    fn create_session(&self, session: &SessionRecord) -> Result<Written<()>, StoreError>;
    fn session(&self, token_hash: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError>;
    fn delete_session(&self, token_hash: &[u8; 32]) -> Result<Written<bool>, StoreError>;
    /// Ends every session of a staff member (disabled, password changed).
    fn delete_sessions_of(&self, staff: StaffId) -> Result<Written<usize>, StoreError>;
    fn purge_expired_sessions(&self, now: i64) -> Result<Written<usize>, StoreError>;

    // --- two-factor sign-in ---
    fn two_factor(&self, staff: StaffId) -> Result<Option<TwoFactorRecord>, StoreError>;
    /// Writes a staff member's second factor (set-up, confirmation, new recovery codes),
    /// audited as `action`.
    fn put_two_factor(
        &self,
        record: &TwoFactorRecord,
        action: &str,
        by: &Stamp,
    ) -> Result<Written<()>, StoreError>;
    /// Removes a staff member's second factor (audited); `false` when there was none.
    fn remove_two_factor(&self, staff: StaffId, by: &Stamp) -> Result<Written<bool>, StoreError>;
    /// Spends a TOTP step or a recovery code of an enabled second factor: `false` (and
    /// nothing written) when the step is not later than the last accepted one or the
    /// recovery code is unknown or spent. A recovery code's use is audited.
    fn spend_two_factor(
        &self,
        staff: StaffId,
        spend: SpendFactor,
        at: i64,
    ) -> Result<Written<bool>, StoreError>;

    // --- API keys ---
    /// A new key acting as `by`'s staff member; audited.
    fn create_api_key(
        &self,
        new: NewApiKey,
        by: &Stamp,
    ) -> Result<Written<ApiKeyRecord>, StoreError>;
    fn api_key_by_hash(&self, token_hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Every key, revoked ones included, oldest first.
    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Revokes a key (idempotent); audited.
    fn revoke_api_key(&self, id: u64, by: &Stamp) -> Result<Written<ApiKeyRecord>, StoreError>;
    /// Records one use of a key: its last use, and an audit entry saying what was asked.
    fn api_key_used(&self, id: u64, at: i64, what: &str) -> Result<Written<()>, StoreError>;

    // --- healing after lost link state ---
    /// Sites whose inventory arrived in full: the replay to them is due.
    fn heals_due(&self) -> Result<Vec<HealRecord>, StoreError>;
    /// The replay of `site`'s heal `round` is queued: forgets the record and audits the heal.
    fn finish_heal(&self, site: &SiteId, round: u64, by: &Stamp)
    -> Result<Written<()>, StoreError>;

    // --- audit and reports ---
    fn append_audit(&self, entry: &AuditEntry) -> Result<Written<()>, StoreError>;
    /// Newest first.
    fn audit(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError>;
    /// Stores (or replaces) the report of `report.date`.
    fn put_report(&self, report: &Report) -> Result<Written<()>, StoreError>;
    fn report(&self, date: &str) -> Result<Option<Report>, StoreError>;
    /// The vouchers agents' events move, as each batch of them commits.
    fn decisions(&self) -> Decisions;
    /// The oldest `issued_at` of the site sales that reached the ledger since the last call
    /// (`Some(0)` once after start: "check every recent report"), so reports of days that
    /// already ran can be refreshed with sales that arrived late. `None`: nothing new.
    fn take_late_site_sales(&self) -> Option<i64> {
        None
    }
    /// Newest date first.
    fn reports(&self, page: &PageRequest) -> Result<Page<Report>, StoreError>;

    /// Nothing new; makes everything written so far durable (shutdown).
    fn sync(&self) -> Written<()>;
}
