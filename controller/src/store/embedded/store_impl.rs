//! [`Store`] for [`EmbeddedStore`]: the trait's one impl block, delegating to the per-concern
//! modules so each of them stays about one kind of record.

use hotspot_pki::{EnrollmentToken, Revocations, Serial, SiteId, TokenRecord};
use hotspot_shared::domain::{Package, PackageId, RouterId, StaffId, VoucherState};
use hotspot_shared::secretbox::Keyring;
use time::OffsetDateTime;

use super::EmbeddedStore;
use super::layout::{T, id_key};
use crate::store::{
    ApiKeyRecord, AuditEntry, AuditFilter, ChangeOutcome, CountScope, HealRecord, NewApiKey,
    NewRouter, NewStaff, PackageRecord, Page, PageRequest, Report, RouterObservation, RouterRecord,
    RouterUpdate, SessionRecord, Site, SpendFactor, StaffRecord, StaffUpdate, Stamp, StateCounts,
    Store, StoreError, TwoFactorRecord, VoucherChange, VoucherFilter, VoucherRecord, Written,
};

/// Sessions removed per transaction when purging.
const PURGE_CHUNK: usize = 1000;

impl Store for EmbeddedStore {
    fn decisions(&self) -> crate::store::Decisions {
        self.decisions.clone()
    }

    fn take_late_site_sales(&self) -> Option<i64> {
        let oldest = self
            .late_site_sales
            .swap(i64::MAX, std::sync::atomic::Ordering::Relaxed);
        (oldest != i64::MAX).then_some(oldest)
    }

    fn create_site(&self, id: SiteId, name: &str, by: &Stamp) -> Result<Written<Site>, StoreError> {
        self.create_site_impl(id, name, by)
    }

    fn site(&self, id: &SiteId) -> Result<Option<Site>, StoreError> {
        self.read(T::Sites, id.as_str().as_bytes())
    }

    fn sites(&self) -> Result<Vec<Site>, StoreError> {
        self.read_all(T::Sites, &[])
    }

    fn set_site_revoked(
        &self,
        id: &SiteId,
        revoked: bool,
        by: &Stamp,
    ) -> Result<Written<Site>, StoreError> {
        self.set_site_revoked_impl(id, revoked, by)
    }

    fn put_enrollment_token(
        &self,
        record: &TokenRecord,
        by: &Stamp,
    ) -> Result<Written<()>, StoreError> {
        self.put_enrollment_token_impl(record, by)
    }

    fn spend_enrollment_token(
        &self,
        presented: &EnrollmentToken,
        now: OffsetDateTime,
    ) -> Result<Written<TokenRecord>, StoreError> {
        self.spend_enrollment_token_impl(presented, now)
    }

    fn revoke_serial(&self, serial: &Serial, by: &Stamp) -> Result<Written<bool>, StoreError> {
        self.revoke_serial_impl(serial, by)
    }

    fn revocations(&self) -> Result<Revocations, StoreError> {
        self.revocations_impl()
    }

    fn create_router(
        &self,
        new: NewRouter,
        keyring: &Keyring,
        by: &Stamp,
    ) -> Result<Written<RouterRecord>, StoreError> {
        self.create_router_impl(new, keyring, by)
    }

    fn router(&self, id: RouterId) -> Result<Option<RouterRecord>, StoreError> {
        self.read(T::Routers, &id_key(id.0))
    }

    fn routers(&self, site: Option<&SiteId>) -> Result<Vec<RouterRecord>, StoreError> {
        self.routers_impl(site)
    }

    fn routers_of_staff(&self, staff: StaffId) -> Result<Vec<RouterRecord>, StoreError> {
        self.routers_of_staff_impl(staff)
    }

    fn update_router(
        &self,
        id: RouterId,
        update: RouterUpdate,
        keyring: &Keyring,
        by: &Stamp,
    ) -> Result<Written<RouterRecord>, StoreError> {
        self.update_router_impl(id, update, keyring, by)
    }

    fn remove_router(&self, id: RouterId, by: &Stamp) -> Result<Written<RouterRecord>, StoreError> {
        self.remove_router_impl(id, by)
    }

    fn observe_router(
        &self,
        id: RouterId,
        seen: RouterObservation,
        at: i64,
    ) -> Result<Written<()>, StoreError> {
        self.observe_router_impl(id, &seen, at)
    }

    fn migrate_plain_passwords(
        &self,
        keyring: &Keyring,
        by: &Stamp,
    ) -> Result<Written<usize>, StoreError> {
        self.migrate_plain_passwords_impl(keyring, by)
    }

    fn create_package(
        &self,
        package: Package,
        by: &Stamp,
    ) -> Result<Written<PackageRecord>, StoreError> {
        self.put_package_impl(package, None, true, by)
    }

    fn package(&self, id: PackageId) -> Result<Option<PackageRecord>, StoreError> {
        self.read(T::Packages, &id_key(id.0))
    }

    fn packages(&self, include_archived: bool) -> Result<Vec<PackageRecord>, StoreError> {
        let all: Vec<PackageRecord> = self.read_all(T::Packages, &[])?;
        Ok(all
            .into_iter()
            .filter(|p| include_archived || !p.archived)
            .collect())
    }

    fn update_package(
        &self,
        package: Package,
        by: &Stamp,
    ) -> Result<Written<PackageRecord>, StoreError> {
        self.put_package_impl(package, None, false, by)
    }

    fn set_package_archived(
        &self,
        id: PackageId,
        archived: bool,
        by: &Stamp,
    ) -> Result<Written<PackageRecord>, StoreError> {
        let Some(current) = self.package(id)? else {
            return Err(StoreError::NotFound {
                kind: "package",
                id: id.to_string(),
            });
        };
        self.put_package_impl(current.package, Some(archived), false, by)
    }

    fn insert_vouchers(
        &self,
        vouchers: Vec<VoucherRecord>,
        by: &Stamp,
    ) -> Result<Written<usize>, StoreError> {
        self.insert_vouchers_impl(vouchers, by)
    }

    fn voucher(&self, code: &str) -> Result<Option<VoucherRecord>, StoreError> {
        self.read(T::Vouchers, code.as_bytes())
    }

    fn change_voucher(
        &self,
        code: &str,
        change: VoucherChange,
        by: &Stamp,
    ) -> Result<Written<ChangeOutcome>, StoreError> {
        let written = self.change_vouchers_impl(&[code.to_owned()], &change, by)?;
        let one = written.peek().first().cloned();
        match one {
            Some(outcome) => Ok(written.map(|_| outcome)),
            None => Err(StoreError::NotFound {
                kind: "voucher",
                id: code.to_owned(),
            }),
        }
    }

    fn change_vouchers(
        &self,
        codes: &[String],
        change: VoucherChange,
        by: &Stamp,
    ) -> Result<Written<Vec<ChangeOutcome>>, StoreError> {
        self.change_vouchers_impl(codes, &change, by)
    }

    fn delete_voucher(&self, code: &str, by: &Stamp) -> Result<Written<VoucherRecord>, StoreError> {
        self.delete_voucher_impl(code, by)
    }

    fn list_vouchers(
        &self,
        filter: &VoucherFilter,
        page: &PageRequest,
    ) -> Result<Page<VoucherRecord>, StoreError> {
        self.list_vouchers_impl(filter, page)
    }

    fn vouchers_on_router(
        &self,
        router: RouterId,
        states: &[VoucherState],
    ) -> Result<Vec<VoucherRecord>, StoreError> {
        self.vouchers_on_router_impl(router, states)
    }

    fn voucher_counts(&self, scope: &CountScope) -> Result<StateCounts, StoreError> {
        self.voucher_counts_impl(scope)
    }

    fn create_staff(&self, new: NewStaff, by: &Stamp) -> Result<Written<StaffRecord>, StoreError> {
        self.create_staff_impl(new, by)
    }

    fn staff(&self, id: StaffId) -> Result<Option<StaffRecord>, StoreError> {
        self.read(T::Staff, &id_key(id.0))
    }

    fn staff_by_username(&self, username: &str) -> Result<Option<StaffRecord>, StoreError> {
        self.staff_by_username_impl(username)
    }

    fn staff_list(&self) -> Result<Vec<StaffRecord>, StoreError> {
        self.read_all(T::Staff, &[])
    }

    fn update_staff(
        &self,
        id: StaffId,
        update: StaffUpdate,
        by: &Stamp,
    ) -> Result<Written<StaffRecord>, StoreError> {
        self.update_staff_impl(id, update, by)
    }

    fn create_session(&self, session: &SessionRecord) -> Result<Written<()>, StoreError> {
        self.create_session_impl(session)
    }

    fn session(&self, token_hash: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
        self.read(T::Sessions, token_hash)
    }

    fn delete_session(&self, token_hash: &[u8; 32]) -> Result<Written<bool>, StoreError> {
        Ok(self.delete_sessions(&[*token_hash])?.map(|n| n > 0))
    }

    fn delete_sessions_of(&self, staff: StaffId) -> Result<Written<usize>, StoreError> {
        self.delete_sessions_of_impl(staff)
    }

    fn purge_expired_sessions(&self, now: i64) -> Result<Written<usize>, StoreError> {
        let mut total = Written::already_durable(0);
        for chunk in self.expired_session_hashes(now)?.chunks(PURGE_CHUNK) {
            total = total.zip(self.delete_sessions(chunk)?).map(|(a, b)| a + b);
        }
        Ok(total)
    }

    fn two_factor(&self, staff: StaffId) -> Result<Option<TwoFactorRecord>, StoreError> {
        self.two_factor_impl(staff)
    }

    fn put_two_factor(
        &self,
        record: &TwoFactorRecord,
        action: &str,
        by: &Stamp,
    ) -> Result<Written<()>, StoreError> {
        self.put_two_factor_impl(record, action, by)
    }

    fn remove_two_factor(&self, staff: StaffId, by: &Stamp) -> Result<Written<bool>, StoreError> {
        self.remove_two_factor_impl(staff, by)
    }

    fn spend_two_factor(
        &self,
        staff: StaffId,
        spend: SpendFactor,
        at: i64,
    ) -> Result<Written<bool>, StoreError> {
        self.spend_two_factor_impl(staff, spend, at)
    }

    fn create_api_key(
        &self,
        new: NewApiKey,
        by: &Stamp,
    ) -> Result<Written<ApiKeyRecord>, StoreError> {
        self.create_api_key_impl(new, by)
    }

    fn api_key_by_hash(&self, token_hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.api_key_by_hash_impl(token_hash)
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.api_keys_impl()
    }

    fn revoke_api_key(&self, id: u64, by: &Stamp) -> Result<Written<ApiKeyRecord>, StoreError> {
        self.revoke_api_key_impl(id, by)
    }

    fn api_key_used(&self, id: u64, at: i64, what: &str) -> Result<Written<()>, StoreError> {
        self.api_key_used_impl(id, at, what)
    }

    fn heals_due(&self) -> Result<Vec<HealRecord>, StoreError> {
        let all: Vec<HealRecord> = self.read_all(T::Heal, &[])?;
        Ok(all.into_iter().filter(|h| h.due).collect())
    }

    fn finish_heal(
        &self,
        site: &SiteId,
        round: u64,
        by: &Stamp,
    ) -> Result<Written<()>, StoreError> {
        self.run(|tx| {
            let key = site.as_str().as_bytes();
            let Some(h) = tx.get::<HealRecord>(T::Heal, key)? else {
                return Ok(());
            };
            if h.round != round {
                return Ok(());
            }
            tx.remove(T::Heal, key)?;
            let detail = format!(
                "{} vouchers recovered from the site, {} updated, {} removals sent; the site's missing vouchers sent again ({})",
                h.recovered,
                h.updated,
                h.remove.len(),
                h.reason
            );
            tx.audit(&by.audit("fleet.heal.done", site, detail))
        })?;
        Ok(self.written(()))
    }

    fn append_audit(&self, entry: &AuditEntry) -> Result<Written<()>, StoreError> {
        self.append_audit_impl(entry)
    }

    fn audit(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        self.audit_impl(filter, page)
    }

    fn put_report(&self, report: &Report) -> Result<Written<()>, StoreError> {
        self.put_report_impl(report)
    }

    fn report(&self, date: &str) -> Result<Option<Report>, StoreError> {
        self.read(T::Reports, date.as_bytes())
    }

    fn reports(&self, page: &PageRequest) -> Result<Page<Report>, StoreError> {
        self.reports_impl(page)
    }

    fn sync(&self) -> Written<()> {
        self.written(())
    }
}
