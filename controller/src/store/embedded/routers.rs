//! Sites and routers: creation with a unique offline code prefix, router records whose
//! password is sealed before it is written, observations from agents, and the one-time
//! migration of plain-text passwords left by an older store.
//!
//! The password is sealed *inside* the creating transaction because its associated data names
//! the router id, which the transaction allocates; a rolled-back transaction leaves nothing of
//! it behind.

use hotspot_pki::SiteId;
use hotspot_shared::domain::RouterId;
use hotspot_shared::secretbox::{Keyring, StoredSecret};
use hotspot_shared::voucher::ALPHABET;
use rand::RngExt;

use super::layout::{T, id_key, router_by_site, site_prefix};
use super::tx::Tx;
use super::writes::observe;
use super::{EmbeddedStore, get, scan_prefix};
use crate::store::codec::decode;
use crate::store::error::StoreError;
use crate::store::records::{
    NewRouter, RouterObservation, RouterRecord, RouterUpdate, Site, Stamp,
};
use crate::store::written::Written;

/// Characters in a site's offline code prefix (32³ = 32,768 sites).
pub const SITE_PREFIX_LEN: usize = 3;

pub(super) fn check_text(what: &str, s: &str, max: usize) -> Result<(), StoreError> {
    if s.trim().is_empty() || s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{what} must be 1 to {max} printable characters"
        )));
    }
    Ok(())
}

fn seal(keyring: &Keyring, id: RouterId, password: &str) -> Result<StoredSecret, StoreError> {
    let place = RouterRecord::password_place(id);
    Ok(keyring
        .seal(&place, password.as_bytes(), &mut rand::rng())?
        .into())
}

fn router_of(tx: &mut Tx<'_, '_>, id: RouterId) -> Result<RouterRecord, StoreError> {
    match tx.get(T::Routers, &id_key(id.0))? {
        Some(r) => Ok(r),
        None => Err(StoreError::NotFound {
            kind: "router",
            id: id.to_string(),
        }),
    }
}

impl EmbeddedStore {
    pub(super) fn create_site_impl(
        &self,
        id: SiteId,
        name: &str,
        by: &Stamp,
    ) -> Result<Written<Site>, StoreError> {
        check_text("site name", name, 64)?;
        let site = self.run(|tx| {
            if tx.has(T::Sites, id.as_str().as_bytes())? {
                return Err(StoreError::Conflict(format!("site {id} exists")));
            }
            let mut rng = rand::rng();
            let mut prefix = None;
            for _ in 0..256 {
                let p: String = (0..SITE_PREFIX_LEN)
                    .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                    .collect();
                if !tx.has(T::SitePrefixes, p.as_bytes())? {
                    prefix = Some(p);
                    break;
                }
            }
            let Some(code_prefix) = prefix else {
                return Err(StoreError::Conflict("no free site code prefix left".into()));
            };
            let site = Site {
                id: id.clone(),
                name: name.trim().to_owned(),
                created_at: by.at,
                code_prefix,
                revoked: false,
            };
            tx.put(T::Sites, id.as_str().as_bytes(), &site)?;
            tx.put_raw(
                T::SitePrefixes,
                site.code_prefix.as_bytes(),
                id.as_str().as_bytes(),
            )?;
            let detail = format!("{} (codes {}…)", site.name, site.code_prefix);
            tx.audit(&by.audit("site.create", &id, detail))?;
            Ok(site)
        })?;
        Ok(self.written(site))
    }

    pub(super) fn set_site_revoked_impl(
        &self,
        id: &SiteId,
        revoked: bool,
        by: &Stamp,
    ) -> Result<Written<Site>, StoreError> {
        let site = self.run(|tx| {
            let Some(mut site) = tx.get::<Site>(T::Sites, id.as_str().as_bytes())? else {
                return Err(StoreError::NotFound {
                    kind: "site",
                    id: id.to_string(),
                });
            };
            site.revoked = revoked;
            tx.put(T::Sites, id.as_str().as_bytes(), &site)?;
            let action = if revoked {
                "site.revoke"
            } else {
                "site.reinstate"
            };
            tx.audit(&by.audit(action, id, ""))?;
            Ok(site)
        })?;
        Ok(self.written(site))
    }

    pub(super) fn create_router_impl(
        &self,
        new: NewRouter,
        keyring: &Keyring,
        by: &Stamp,
    ) -> Result<Written<RouterRecord>, StoreError> {
        check_text("router name", &new.name, 64)?;
        check_text("router host", &new.host, 253)?;
        if new.port == 0 || new.username.is_empty() {
            return Err(StoreError::Invalid(
                "router port and username are required".into(),
            ));
        }
        let record = self.run(|tx| {
            match tx.get::<Site>(T::Sites, new.site.as_str().as_bytes())? {
                Some(site) if !site.revoked => {}
                Some(_) => {
                    return Err(StoreError::Conflict(format!(
                        "site {} is revoked",
                        new.site
                    )));
                }
                None => {
                    return Err(StoreError::NotFound {
                        kind: "site",
                        id: new.site.to_string(),
                    });
                }
            }
            let id = RouterId(tx.next_id("router")?);
            let record = RouterRecord {
                id,
                site: new.site.clone(),
                name: new.name.trim().to_owned(),
                location: new.location.clone(),
                host: new.host.trim().to_owned(),
                port: new.port,
                username: new.username.clone(),
                password: seal(keyring, id, &new.password)?,
                tls: new.tls.clone(),
                created_at: by.at,
                updated_at: by.at,
                info: None,
                health: None,
                last_sync_at: None,
                last_error: None,
            };
            tx.put(T::Routers, &id_key(id.0), &record)?;
            tx.mark(T::RoutersBySite, &router_by_site(&record.site, id))?;
            let detail = format!(
                "{} at {}:{} on site {}",
                record.name, record.host, record.port, record.site
            );
            tx.audit(&by.audit("router.create", id, detail))?;
            Ok(record)
        })?;
        Ok(self.written(record))
    }

    pub(super) fn update_router_impl(
        &self,
        id: RouterId,
        u: RouterUpdate,
        keyring: &Keyring,
        by: &Stamp,
    ) -> Result<Written<RouterRecord>, StoreError> {
        let record = self.run(|tx| {
            let mut r = router_of(tx, id)?;
            let mut changed = Vec::new();
            macro_rules! set {
                ($field:ident) => {
                    if let Some(v) = &u.$field {
                        if r.$field != *v {
                            r.$field = v.clone();
                            changed.push(stringify!($field));
                        }
                    }
                };
            }
            set!(name);
            set!(location);
            set!(host);
            set!(port);
            set!(username);
            set!(tls);
            if let Some(password) = &u.password {
                r.password = seal(keyring, id, password)?;
                changed.push("password");
            }
            r.updated_at = by.at;
            tx.put(T::Routers, &id_key(id.0), &r)?;
            tx.audit(&by.audit("router.update", id, changed.join(", ")))?;
            Ok(r)
        })?;
        Ok(self.written(record))
    }

    /// Removes the router record; its vouchers stay in the ledger.
    pub(super) fn remove_router_impl(
        &self,
        id: RouterId,
        by: &Stamp,
    ) -> Result<Written<RouterRecord>, StoreError> {
        let record = self.run(|tx| {
            let r = router_of(tx, id)?;
            tx.remove(T::Routers, &id_key(id.0))?;
            tx.remove(T::RoutersBySite, &router_by_site(&r.site, id))?;
            tx.audit(&by.audit("router.remove", id, r.name.clone()))?;
            Ok(r)
        })?;
        Ok(self.written(record))
    }

    pub(super) fn observe_router_impl(
        &self,
        id: RouterId,
        seen: &RouterObservation,
        at: i64,
    ) -> Result<Written<()>, StoreError> {
        self.run(|tx| {
            let r = router_of(tx, id)?;
            observe(tx, r, seen, at)
        })?;
        Ok(self.written(()))
    }

    pub(super) fn routers_impl(
        &self,
        site: Option<&SiteId>,
    ) -> Result<Vec<RouterRecord>, StoreError> {
        let Some(site) = site else {
            return self.read_all(T::Routers, &[]);
        };
        let prefix = site_prefix(site);
        let snapshot = self.snapshot()?;
        let mut ids = Vec::new();
        scan_prefix(&snapshot, T::RoutersBySite, &prefix, |key, _| {
            ids.push(key[prefix.len()..].to_vec());
            Ok(())
        })?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = get(&snapshot, T::Routers, &id)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Re-seals every router password still stored in plain text, in one transaction;
    /// returns how many.
    pub(super) fn migrate_plain_passwords_impl(
        &self,
        keyring: &Keyring,
        by: &Stamp,
    ) -> Result<Written<usize>, StoreError> {
        let migrated = self.run(|tx| {
            let mut migrated = 0;
            for (key, bytes) in tx.prefixed(T::Routers, &[])? {
                let r: RouterRecord = decode(&bytes)?;
                if !r.password.is_plain() {
                    continue;
                }
                let sealed = r.password.reseal_if_plain(
                    keyring,
                    &RouterRecord::password_place(r.id),
                    &mut rand::rng(),
                )?;
                let Some(sealed) = sealed else { continue };
                let fixed = RouterRecord {
                    password: sealed.into(),
                    ..r
                };
                tx.put(T::Routers, &key, &fixed)?;
                tx.audit(&by.audit("router.password-migrated", fixed.id, "plain text re-sealed"))?;
                migrated += 1;
            }
            Ok(migrated)
        })?;
        Ok(self.written(migrated))
    }
}
