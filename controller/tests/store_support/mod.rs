//! Fixtures for the ledger tests: a store in a temporary directory with two sites, three
//! routers, two packages and two staff members, and a builder for voucher records.

#![allow(dead_code)]

use hotspot_controller::store::{
    EmbeddedStore, NewRouter, NewStaff, PackageRecord, Role, RouterRecord, Stamp, Store,
    VoucherLimits, VoucherRecord,
};
use hotspot_pki::SiteId;
use hotspot_shared::domain::{
    Currency, Money, Origin, Package, PackageId, RouterId, StaffId, VoucherState,
};
use hotspot_shared::secretbox::{KeyId, Keyring, MasterKey};
use hotspot_shared::units::RosDuration;

pub const T0: i64 = 1_780_000_000;

pub fn keyring() -> Keyring {
    Keyring::new(MasterKey::from_bytes(KeyId(1), [7; 32]))
}

pub fn site(s: &str) -> SiteId {
    SiteId::new(s).expect("valid site id")
}

pub fn admin() -> Stamp {
    Stamp::system(T0)
}

pub fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::new("USD").expect("valid"))
}

pub fn package(name: &str, price: i64) -> Package {
    Package {
        id: PackageId(0),
        name: name.into(),
        price: usd(price),
        time_limit: Some(RosDuration::from_secs(3600)),
        data_limit: Some(1_000_000),
        validity: Some(RosDuration::from_secs(86_400)),
        rate_limit: Some("2M/5M".into()),
        shared_users: 1,
        profile: "hf-1h".into(),
    }
}

pub fn new_router(site_id: &SiteId, name: &str, password: &str) -> NewRouter {
    NewRouter {
        site: site_id.clone(),
        name: name.into(),
        location: "back office".into(),
        host: "192.0.2.1".into(),
        port: 8728,
        username: "api".into(),
        password: password.into(),
        tls: None,
    }
}

/// A populated ledger: sites `s1` (routers 1, 2) and `s2` (router 3), packages 1 and 2,
/// staff 1 (admin) and 2 (staff on routers 1 and 2).
pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub store: EmbeddedStore,
    pub routers: Vec<RouterRecord>,
    pub packages: Vec<PackageRecord>,
}

/// The ledger's database file in `dir`.
pub fn ledger_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("ledger.redb")
}

pub async fn fleet() -> Fleet {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(ledger_path(&dir)).expect("open");
    populate(dir, store).await
}

pub async fn populate(dir: tempfile::TempDir, store: EmbeddedStore) -> Fleet {
    let ring = keyring();
    let by = admin();
    for s in ["s1", "s2"] {
        store
            .create_site(site(s), s, &by)
            .unwrap()
            .durable()
            .await
            .unwrap();
    }
    let mut routers = Vec::new();
    for (s, name) in [("s1", "gw-a"), ("s1", "gw-b"), ("s2", "gw-c")] {
        let r = store
            .create_router(new_router(&site(s), name, "pw-1"), &ring, &by)
            .unwrap();
        routers.push(r.durable().await.unwrap());
    }
    let mut packages = Vec::new();
    for (name, price) in [("1 hour", 100), ("1 day", 500)] {
        let p = store.create_package(package(name, price), &by).unwrap();
        packages.push(p.durable().await.unwrap());
    }
    for (name, role, routers) in [
        ("Admin", Role::SuperAdmin, vec![]),
        ("alice", Role::Staff, vec![RouterId(1), RouterId(2)]),
    ] {
        let new = NewStaff {
            username: name.into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            role,
            routers,
        };
        store
            .create_staff(new, &by)
            .unwrap()
            .durable()
            .await
            .unwrap();
    }
    Fleet {
        dir,
        store,
        routers,
        packages,
    }
}

/// A central voucher on `router` (1..=3; routers 1 and 2 are on s1, 3 on s2).
pub fn voucher(code: &str, router: u64, staff: u64, package: u64, issued_at: i64) -> VoucherRecord {
    VoucherRecord {
        code: code.into(),
        password: code.into(),
        package: PackageId(package),
        package_name: format!("package {package}"),
        router: RouterId(router),
        site: site(if router == 3 { "s2" } else { "s1" }),
        staff: StaffId(staff),
        price: usd(100 * package as i64),
        origin: Origin::Central,
        state: VoucherState::Issued,
        reason: None,
        issued_at,
        applied_at: None,
        first_login_at: None,
        expires_at: None,
        uptime_secs: 0,
        bytes_in: 0,
        bytes_out: 0,
        updated_at: issued_at,
        limits: VoucherLimits {
            uptime_secs: Some(3600),
            bytes_total: Some(1_000_000),
            validity_secs: Some(86_400),
        },
    }
}

/// Every voucher in the ledger, through paged listing with `limit` per page.
pub fn list_all(
    store: &dyn Store,
    filter: &hotspot_controller::store::VoucherFilter,
    limit: usize,
) -> Vec<VoucherRecord> {
    let mut out = Vec::new();
    let mut page = hotspot_controller::store::PageRequest::first(limit);
    loop {
        let got = store.list_vouchers(filter, &page).expect("list");
        assert!(got.items.len() <= limit);
        out.extend(got.items);
        match got.next {
            Some(next) => page.after = Some(next),
            None => return out,
        }
    }
}
