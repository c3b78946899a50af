//! Packages, the audit log, reports, enrollment tokens and certificate revocations: the
//! smaller records, each a key-value table with its audit line in the same transaction.
//!
//! Enrollment tokens are spent in one transaction (look up by secret hash, check, mark used),
//! so a token pasted twice at once still enrolls exactly one agent.

use hotspot_pki::{EnrollError, EnrollmentToken, Revocations, Serial, TokenRecord};
use hotspot_shared::domain::{Package, PackageId};
use time::OffsetDateTime;

use super::EmbeddedStore;
use super::layout::{T, id_key};
use crate::store::codec::{day_of_date, decode, time_key};
use crate::store::error::StoreError;
use crate::store::query::{AuditFilter, Page, PageRequest};
use crate::store::records::{AuditEntry, PackageRecord, Stamp};
use crate::store::report::Report;
use crate::store::written::Written;

impl EmbeddedStore {
    pub(super) fn put_package_impl(
        &self,
        package: Package,
        archived: Option<bool>,
        create: bool,
        by: &Stamp,
    ) -> Result<Written<PackageRecord>, StoreError> {
        package
            .validate()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let record = self.run(|tx| {
            let (record, action) = if create {
                let id = PackageId(tx.next_id("package")?);
                let record = PackageRecord {
                    package: Package {
                        id,
                        ..package.clone()
                    },
                    archived: archived.unwrap_or(false),
                    created_at: by.at,
                    updated_at: by.at,
                };
                (record, "package.create")
            } else {
                let key = id_key(package.id.0);
                let Some(old) = tx.get::<PackageRecord>(T::Packages, &key)? else {
                    return Err(StoreError::NotFound {
                        kind: "package",
                        id: package.id.to_string(),
                    });
                };
                let record = PackageRecord {
                    package: package.clone(),
                    archived: archived.unwrap_or(old.archived),
                    created_at: old.created_at,
                    updated_at: by.at,
                };
                (record, "package.update")
            };
            let p = &record.package;
            tx.put(T::Packages, &id_key(p.id.0), &record)?;
            let detail = format!("{} at {}, archived: {}", p.name, p.price, record.archived);
            tx.audit(&by.audit(action, p.id, detail))?;
            Ok(record)
        })?;
        Ok(self.written(record))
    }

    pub(super) fn append_audit_impl(&self, entry: &AuditEntry) -> Result<Written<()>, StoreError> {
        self.run(|tx| tx.audit(entry))?;
        Ok(self.written(()))
    }

    pub(super) fn audit_impl(
        &self,
        f: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let limit = page.checked_limit()?;
        let lo = f.from.map_or_else(Vec::new, |t| time_key(t).to_vec());
        let hi = f.until.map(|t| time_key(t).to_vec());
        EmbeddedStore::page(
            &self.snapshot()?,
            T::Audit,
            lo,
            hi,
            page.after.as_ref(),
            limit,
            |_, v| {
                let e: AuditEntry = decode(v)?;
                let keep = f
                    .action_prefix
                    .as_ref()
                    .is_none_or(|p| e.action.starts_with(p.as_str()))
                    && f.target.as_ref().is_none_or(|t| e.target == *t);
                Ok(keep.then_some(e))
            },
        )
    }

    pub(super) fn put_report_impl(&self, report: &Report) -> Result<Written<()>, StoreError> {
        day_of_date(&report.date)?;
        self.run(|tx| tx.put(T::Reports, report.date.as_bytes(), report))?;
        Ok(self.written(()))
    }

    pub(super) fn reports_impl(&self, page: &PageRequest) -> Result<Page<Report>, StoreError> {
        let limit = page.checked_limit()?;
        let after = page.after.as_ref();
        EmbeddedStore::page(
            &self.snapshot()?,
            T::Reports,
            Vec::new(),
            None,
            after,
            limit,
            |_, v| decode(v).map(Some),
        )
    }

    pub(super) fn put_enrollment_token_impl(
        &self,
        record: &TokenRecord,
        by: &Stamp,
    ) -> Result<Written<()>, StoreError> {
        self.run(|tx| {
            tx.put(T::Tokens, &record.secret_hash, record)?;
            let detail = format!("expires {}", record.expires_at);
            tx.audit(&by.audit("site.enrollment-token", &record.site_id, detail))
        })?;
        Ok(self.written(()))
    }

    pub(super) fn spend_enrollment_token_impl(
        &self,
        presented: &EnrollmentToken,
        now: OffsetDateTime,
    ) -> Result<Written<TokenRecord>, StoreError> {
        let hash = presented.secret_hash();
        let stamp = Stamp::new(
            crate::store::records::Actor::Site(presented.site_id().clone()),
            now.unix_timestamp(),
        );
        let record = self.run(|tx| {
            let Some(mut record) = tx.get::<TokenRecord>(T::Tokens, &hash)? else {
                return Err(StoreError::Enroll(EnrollError::Invalid));
            };
            if let Err(e) = record.check(presented, now) {
                return Err(StoreError::Enroll(e));
            }
            record.mark_used();
            tx.put(T::Tokens, &hash, &record)?;
            tx.audit(&stamp.audit("site.enroll", &record.site_id, "token spent"))?;
            Ok(record)
        })?;
        Ok(self.written(record))
    }

    pub(super) fn revoke_serial_impl(
        &self,
        serial: &Serial,
        by: &Stamp,
    ) -> Result<Written<bool>, StoreError> {
        let fresh = self.run(|tx| {
            if tx.has(T::Revoked, serial.as_bytes())? {
                return Ok(false);
            }
            tx.mark(T::Revoked, serial.as_bytes())?;
            tx.audit(&by.audit("certificate.revoke", serial, ""))?;
            Ok(true)
        })?;
        Ok(self.written(fresh))
    }

    pub(super) fn revocations_impl(&self) -> Result<Revocations, StoreError> {
        let mut out = Revocations::new();
        super::scan_prefix(&self.snapshot()?, T::Revoked, &[], |key, _| {
            let serial = Serial::from_be_bytes(key).map_err(|e| StoreError::Corrupt {
                kind: "revoked serial",
                detail: e.to_string(),
            })?;
            out.revoke(serial);
            Ok(())
        })?;
        Ok(out)
    }
}
