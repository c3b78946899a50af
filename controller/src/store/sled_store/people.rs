//! Staff accounts and login sessions.
//!
//! User names are unique without regard to case: `ledger/staff/by-name` holds the lower-cased
//! name and is written in the same transaction as the account, so two concurrent sign-ups of
//! `Alice` and `alice` cannot both succeed. Sessions are stored under the hash of their token
//! (the token itself never reaches the store) with a per-staff index, so an account's sessions
//! can all be ended when it is disabled or its password changes.

use hotspot_shared::domain::{RouterId, StaffId};

use super::SledStore;
use super::layout::{T, id_key, session_by_staff, staff_name_key};
use super::routers::check_text;
use super::tx::{Tx, TxResult, abort};
use crate::store::codec::decode;
use crate::store::error::StoreError;
use crate::store::records::{
    NewStaff, RouterRecord, SessionRecord, StaffRecord, StaffUpdate, Stamp,
};
use crate::store::written::Written;

/// Most routers one staff member can be assigned.
pub const MAX_ASSIGNED_ROUTERS: usize = 1000;

fn check_routers(tx: &Tx<'_>, routers: &[RouterId]) -> TxResult<()> {
    if routers.len() > MAX_ASSIGNED_ROUTERS {
        return abort(StoreError::TooMany {
            what: "assigned routers",
            len: routers.len(),
            max: MAX_ASSIGNED_ROUTERS,
        });
    }
    for r in routers {
        if !tx.has(T::Routers, &id_key(r.0))? {
            return abort(StoreError::NotFound {
                kind: "router",
                id: r.to_string(),
            });
        }
    }
    Ok(())
}

fn claim_name(tx: &Tx<'_>, username: &str, id: StaffId) -> TxResult<()> {
    let key = staff_name_key(username);
    match tx.t(T::StaffByName)?.get(&key)? {
        Some(owner) if owner.as_ref() != id_key(id.0) => abort(StoreError::Conflict(format!(
            "user name {username:?} is taken"
        ))),
        _ => {
            tx.t(T::StaffByName)?.insert(key, &id_key(id.0))?;
            Ok(())
        }
    }
}

impl SledStore {
    pub(super) fn create_staff_impl(
        &self,
        new: NewStaff,
        by: &Stamp,
    ) -> Result<Written<StaffRecord>, StoreError> {
        check_text("user name", &new.username, 64)?;
        let set = [T::Meta, T::Staff, T::StaffByName, T::Routers, T::Audit];
        let record = self.trees.run(&set, |tx| {
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
        let set = [T::Staff, T::StaffByName, T::Routers, T::Audit];
        let record = self.trees.run(&set, |tx| {
            let Some(mut s) = tx.get::<StaffRecord>(T::Staff, &id_key(id.0))? else {
                return abort(StoreError::NotFound {
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
        match self.tree(T::StaffByName).get(staff_name_key(username))? {
            Some(id) => self.read(T::Staff, &id),
            None => Ok(None),
        }
    }

    pub(super) fn routers_of_staff_impl(
        &self,
        staff: StaffId,
    ) -> Result<Vec<RouterRecord>, StoreError> {
        let Some(s) = self.read::<StaffRecord>(T::Staff, &id_key(staff.0))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(s.routers.len());
        for r in s.routers {
            if let Some(router) = self.read(T::Routers, &id_key(r.0))? {
                out.push(router);
            }
        }
        Ok(out)
    }

    pub(super) fn create_session_impl(
        &self,
        session: &SessionRecord,
    ) -> Result<Written<()>, StoreError> {
        self.trees.run(&[T::Sessions, T::SessionsByStaff], |tx| {
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
        let n = self.trees.run(&[T::Sessions, T::SessionsByStaff], |tx| {
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

    pub(super) fn session_hashes_of(&self, staff: StaffId) -> Result<Vec<[u8; 32]>, StoreError> {
        let prefix = id_key(staff.0);
        self.tree(T::SessionsByStaff)
            .scan_prefix(prefix)
            .keys()
            .map(|k| {
                let k = k?;
                k[prefix.len()..]
                    .try_into()
                    .map_err(|_| StoreError::Corrupt {
                        kind: "session index",
                        detail: format!("key of {} bytes", k.len()),
                    })
            })
            .collect()
    }

    pub(super) fn expired_session_hashes(&self, now: i64) -> Result<Vec<[u8; 32]>, StoreError> {
        let mut out = Vec::new();
        for kv in self.tree(T::Sessions).iter() {
            let (_, bytes) = kv?;
            let s: SessionRecord = decode(&bytes)?;
            if s.expires_at <= now {
                out.push(s.token_hash);
            }
        }
        Ok(out)
    }
}
