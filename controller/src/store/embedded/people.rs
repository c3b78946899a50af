//! Staff accounts and login sessions.
//!
//! User names are unique without regard to case: `ledger/staff/by-name` holds the lower-cased
//! name and is written in the same transaction as the account, so two concurrent sign-ups of
//! `Alice` and `alice` cannot both succeed. Sessions are stored under the hash of their token
//! (the token itself never reaches the store) with a per-staff index, so an account's sessions
//! can all be ended when it is disabled or its password changes. A second factor is a record
//! of its own per account (`ledger/staff/two-factor`); spending a code or a recovery code is a
//! compare-and-set in one transaction, so two sign-ins cannot both spend the same one.

use hotspot_shared::domain::{RouterId, StaffId};

use super::layout::{T, id_key, session_by_staff, staff_name_key};
use super::routers::check_text;
use super::tx::Tx;
use super::{EmbeddedStore, get};
use crate::store::codec::decode;
use crate::store::error::StoreError;
use crate::store::records::{
    Actor, ApiKeyRecord, ApiKeyScope, NewApiKey, NewStaff, RouterRecord, SessionRecord,
    SpendFactor, StaffRecord, StaffUpdate, Stamp, TwoFactorRecord,
};
use crate::store::written::Written;

/// Most routers one staff member can be assigned.
pub const MAX_ASSIGNED_ROUTERS: usize = 1000;

fn check_routers(tx: &mut Tx<'_, '_>, routers: &[RouterId]) -> Result<(), StoreError> {
    if routers.len() > MAX_ASSIGNED_ROUTERS {
        return Err(StoreError::TooMany {
            what: "assigned routers",
            len: routers.len(),
            max: MAX_ASSIGNED_ROUTERS,
        });
    }
    for r in routers {
        if !tx.has(T::Routers, &id_key(r.0))? {
            return Err(StoreError::NotFound {
                kind: "router",
                id: r.to_string(),
            });
        }
    }
    Ok(())
}

fn claim_name(tx: &mut Tx<'_, '_>, username: &str, id: StaffId) -> Result<(), StoreError> {
    let key = staff_name_key(username);
    match tx.get_raw(T::StaffByName, &key)? {
        Some(owner) if owner != id_key(id.0) => Err(StoreError::Conflict(format!(
            "user name {username:?} is taken"
        ))),
        _ => tx.put_raw(T::StaffByName, &key, &id_key(id.0)),
    }
}

impl EmbeddedStore {
    pub(super) fn create_staff_impl(
        &self,
        new: NewStaff,
        by: &Stamp,
    ) -> Result<Written<StaffRecord>, StoreError> {
        check_text("user name", &new.username, 64)?;
        let record = self.run(|tx| {
            check_routers(tx, &new.routers)?;
            let id = StaffId(tx.next_id("staff")?);
            claim_name(tx, &new.username, id)?;
            let record = StaffRecord {
                id,
                username: new.username.trim().to_owned(),
                password_hash: new.password_hash.clone(),
                role: new.role,
                routers: new.routers.clone(),
                disabled: false,
                created_at: by.at,
                updated_at: by.at,
            };
            tx.put(T::Staff, &id_key(id.0), &record)?;
            let detail = format!("{} as {:?}", record.username, record.role);
            tx.audit(&by.audit("staff.create", id, detail))?;
            Ok(record)
        })?;
        Ok(self.written(record))
    }

    pub(super) fn update_staff_impl(
        &self,
        id: StaffId,
        u: StaffUpdate,
        by: &Stamp,
    ) -> Result<Written<StaffRecord>, StoreError> {
        if let Some(name) = &u.username {
            check_text("user name", name, 64)?;
        }
        let record = self.run(|tx| {
            let Some(mut s) = tx.get::<StaffRecord>(T::Staff, &id_key(id.0))? else {
                return Err(StoreError::NotFound {
                    kind: "staff",
                    id: id.to_string(),
                });
            };
            let mut changed = Vec::new();
            if let Some(name) = &u.username {
                let name = name.trim();
                if name != s.username {
                    claim_name(tx, name, id)?;
                    if staff_name_key(name) != staff_name_key(&s.username) {
                        tx.remove(T::StaffByName, &staff_name_key(&s.username))?;
                    }
                    s.username = name.to_owned();
                    changed.push("username");
                }
            }
            if let Some(hash) = &u.password_hash {
                s.password_hash = hash.clone();
                changed.push("password");
            }
            if let Some(role) = u.role {
                s.role = role;
                changed.push("role");
            }
            if let Some(routers) = &u.routers {
                check_routers(tx, routers)?;
                s.routers = routers.clone();
                changed.push("routers");
            }
            if let Some(disabled) = u.disabled {
                s.disabled = disabled;
                changed.push(if disabled { "disabled" } else { "enabled" });
            }
            s.updated_at = by.at;
            tx.put(T::Staff, &id_key(id.0), &s)?;
            tx.audit(&by.audit("staff.update", id, changed.join(", ")))?;
            Ok(s)
        })?;
        Ok(self.written(record))
    }

    pub(super) fn staff_by_username_impl(
        &self,
        username: &str,
    ) -> Result<Option<StaffRecord>, StoreError> {
        let snapshot = self.snapshot()?;
        match snapshot.get(T::StaffByName.name(), &staff_name_key(username))? {
            Some(id) => get(&snapshot, T::Staff, &id),
            None => Ok(None),
        }
    }

    pub(super) fn routers_of_staff_impl(
        &self,
        staff: StaffId,
    ) -> Result<Vec<RouterRecord>, StoreError> {
        let snapshot = self.snapshot()?;
        let Some(s) = get::<StaffRecord>(&snapshot, T::Staff, &id_key(staff.0))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(s.routers.len());
        for r in s.routers {
            if let Some(router) = get(&snapshot, T::Routers, &id_key(r.0))? {
                out.push(router);
            }
        }
        Ok(out)
    }

    pub(super) fn create_session_impl(
        &self,
        session: &SessionRecord,
    ) -> Result<Written<()>, StoreError> {
        self.run(|tx| {
            tx.put(T::Sessions, &session.token_hash, session)?;
            tx.mark(
                T::SessionsByStaff,
                &session_by_staff(session.staff, &session.token_hash),
            )
        })?;
        Ok(self.written(()))
    }

    /// Removes the sessions with these token hashes; returns how many existed.
    pub(super) fn delete_sessions(
        &self,
        hashes: &[[u8; 32]],
    ) -> Result<Written<usize>, StoreError> {
        let n = self.run(|tx| {
            let mut n = 0;
            for hash in hashes {
                if let Some(s) = tx.get::<SessionRecord>(T::Sessions, hash)? {
                    tx.remove(T::Sessions, hash)?;
                    tx.remove(T::SessionsByStaff, &session_by_staff(s.staff, hash))?;
                    n += 1;
                }
            }
            Ok(n)
        })?;
        Ok(self.written(n))
    }

    /// Ends every session of `staff`, index read and entries removed in one transaction.
    pub(super) fn delete_sessions_of_impl(
        &self,
        staff: StaffId,
    ) -> Result<Written<usize>, StoreError> {
        let prefix = id_key(staff.0);
        let n = self.run(|tx| {
            let mut n = 0;
            for (k, _) in tx.prefixed(T::SessionsByStaff, &prefix)? {
                let hash = &k[prefix.len()..];
                if hash.len() != 32 {
                    return Err(StoreError::Corrupt {
                        kind: "session index",
                        detail: format!("key of {} bytes", k.len()),
                    });
                }
                tx.remove(T::SessionsByStaff, &k)?;
                n += usize::from(tx.remove(T::Sessions, hash)?);
            }
            Ok(n)
        })?;
        Ok(self.written(n))
    }

    pub(super) fn expired_session_hashes(&self, now: i64) -> Result<Vec<[u8; 32]>, StoreError> {
        let mut out = Vec::new();
        super::scan_prefix(&self.snapshot()?, T::Sessions, &[], |_, bytes| {
            let s: SessionRecord = decode(bytes)?;
            if s.expires_at <= now {
                out.push(s.token_hash);
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// `token hash ‖ id`: the key's entry in `ledger/api-keys/by-hash`.
fn api_key_by_hash(hash: &[u8; 32], id: u64) -> Vec<u8> {
    let mut k = hash.to_vec();
    k.extend_from_slice(&id_key(id));
    k
}

/// API keys: `ledger/api-keys` by id, `ledger/api-keys/by-hash` from token hash to id.
impl EmbeddedStore {
    pub(super) fn create_api_key_impl(
        &self,
        new: NewApiKey,
        by: &Stamp,
    ) -> Result<Written<ApiKeyRecord>, StoreError> {
        check_text("key name", &new.name, 64)?;
        let Actor::Staff(owner) = by.actor else {
            return Err(StoreError::Invalid(
                "an API key is made by a staff member".into(),
            ));
        };
        if let ApiKeyScope::Seller { routers } = &new.scope
            && routers.is_empty()
        {
            return Err(StoreError::Invalid(
                "a seller key needs at least one router".into(),
            ));
        }
        let record = self.run(|tx| {
            if let ApiKeyScope::Seller { routers } = &new.scope {
                check_routers(tx, routers)?;
            }
            let id = tx.next_id("api-key")?;
            let record = ApiKeyRecord {
                id,
                name: new.name.clone(),
                token_hash: new.token_hash,
                scope: new.scope.clone(),
                owner,
                created_at: by.at,
                expires_at: new.expires_at,
                last_used_at: None,
                revoked_at: None,
            };
            tx.put(T::ApiKeys, &id_key(id), &record)?;
            tx.mark(T::ApiKeysByHash, &api_key_by_hash(&new.token_hash, id))?;
            let detail = format!("{:?} {:?}", record.name, record.scope);
            tx.audit(&by.audit("api-key.create", format!("api-key-{id}"), detail))?;
            Ok(record)
        })?;
        Ok(self.written(record))
    }

    pub(super) fn api_key_by_hash_impl(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let snapshot = self.snapshot()?;
        let mut id = None;
        super::scan_prefix(&snapshot, T::ApiKeysByHash, token_hash, |k, _| {
            let tail: [u8; 8] = k[32..].try_into().map_err(|_| StoreError::Corrupt {
                kind: "api key index",
                detail: format!("key of {} bytes", k.len()),
            })?;
            id = Some(u64::from_be_bytes(tail));
            Ok(())
        })?;
        match id {
            Some(id) => get(&snapshot, T::ApiKeys, &id_key(id)),
            None => Ok(None),
        }
    }

    pub(super) fn api_keys_impl(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.read_all(T::ApiKeys, &[])
    }

    pub(super) fn revoke_api_key_impl(
        &self,
        id: u64,
        by: &Stamp,
    ) -> Result<Written<ApiKeyRecord>, StoreError> {
        let record = self.run(|tx| {
            let mut key: ApiKeyRecord =
                tx.get(T::ApiKeys, &id_key(id))?
                    .ok_or(StoreError::NotFound {
                        kind: "api key",
                        id: id.to_string(),
                    })?;
            if key.revoked_at.is_none() {
                key.revoked_at = Some(by.at);
                tx.put(T::ApiKeys, &id_key(id), &key)?;
                tx.audit(&by.audit("api-key.revoke", format!("api-key-{id}"), key.name.clone()))?;
            }
            Ok(key)
        })?;
        Ok(self.written(record))
    }

    pub(super) fn api_key_used_impl(
        &self,
        id: u64,
        at: i64,
        what: &str,
    ) -> Result<Written<()>, StoreError> {
        self.run(|tx| {
            let Some(mut key) = tx.get::<ApiKeyRecord>(T::ApiKeys, &id_key(id))? else {
                return Ok(());
            };
            key.last_used_at = Some(at);
            tx.put(T::ApiKeys, &id_key(id), &key)?;
            let by = Stamp::staff(key.owner, at);
            tx.audit(&by.audit("api-key.use", format!("api-key-{id}"), what))
        })?;
        Ok(self.written(()))
    }

    pub(super) fn two_factor_impl(
        &self,
        staff: StaffId,
    ) -> Result<Option<TwoFactorRecord>, StoreError> {
        get(&self.snapshot()?, T::TwoFactor, &id_key(staff.0))
    }

    pub(super) fn put_two_factor_impl(
        &self,
        record: &TwoFactorRecord,
        action: &str,
        by: &Stamp,
    ) -> Result<Written<()>, StoreError> {
        self.run(|tx| {
            if !tx.has(T::Staff, &id_key(record.staff.0))? {
                return Err(StoreError::NotFound {
                    kind: "staff",
                    id: record.staff.to_string(),
                });
            }
            tx.put(T::TwoFactor, &id_key(record.staff.0), record)?;
            let detail = format!("{} recovery codes", record.recovery.len());
            tx.audit(&by.audit(action, record.staff, detail))
        })?;
        Ok(self.written(()))
    }

    pub(super) fn remove_two_factor_impl(
        &self,
        staff: StaffId,
        by: &Stamp,
    ) -> Result<Written<bool>, StoreError> {
        let removed = self.run(|tx| {
            let key = id_key(staff.0);
            if !tx.has(T::TwoFactor, &key)? {
                return Ok(false);
            }
            tx.remove(T::TwoFactor, &key)?;
            tx.audit(&by.audit("staff.two-factor.remove", staff, ""))?;
            Ok(true)
        })?;
        Ok(self.written(removed))
    }

    pub(super) fn spend_two_factor_impl(
        &self,
        staff: StaffId,
        spend: SpendFactor,
        at: i64,
    ) -> Result<Written<bool>, StoreError> {
        let spent = self.run(|tx| {
            let key = id_key(staff.0);
            let Some(mut record) = tx.get::<TwoFactorRecord>(T::TwoFactor, &key)? else {
                return Ok(false);
            };
            if !record.is_enabled() {
                return Ok(false);
            }
            match spend {
                SpendFactor::Step(step) => {
                    if step <= record.last_step {
                        return Ok(false);
                    }
                    record.last_step = step;
                    tx.put(T::TwoFactor, &key, &record)?;
                }
                SpendFactor::Recovery(hash) => {
                    let Some(i) = record.recovery.iter().position(|h| *h == hash) else {
                        return Ok(false);
                    };
                    record.recovery.swap_remove(i);
                    tx.put(T::TwoFactor, &key, &record)?;
                    let left = format!("{} left", record.recovery.len());
                    tx.audit(&Stamp::staff(staff, at).audit(
                        "staff.two-factor.recovery-code-used",
                        staff,
                        left,
                    ))?;
                }
            }
            Ok(true)
        })?;
        Ok(self.written(spent))
    }
}
