//! Staff accounts and login sessions.
//!
//! User names are unique without regard to case: `ledger/staff/by-name` holds the lower-cased
//! name and is written in the same transaction as the account, so two concurrent sign-ups of
//! `Alice` and `alice` cannot both succeed. Sessions are stored under the hash of their token
//! (the token itself never reaches the store) with a per-staff index, so an account's sessions
//! can all be ended when it is disabled or its password changes.

use hotspot_shared::domain::{RouterId, StaffId};

use super::layout::{T, id_key, session_by_staff, staff_name_key};
use super::routers::check_text;
use super::tx::Tx;
use super::{EmbeddedStore, get};
use crate::store::codec::decode;
use crate::store::error::StoreError;
use crate::store::records::{
    NewStaff, RouterRecord, SessionRecord, StaffRecord, StaffUpdate, Stamp,
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
