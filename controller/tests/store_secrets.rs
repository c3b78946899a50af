//! Router passwords never reach disk in plain text; plain ones left by an older store are
//! re-sealed once.

mod store_support;

use std::path::Path;

use hotspot_controller::store::embedded::layout::{T, id_key};
use hotspot_controller::store::{AuditFilter, EmbeddedStore, PageRequest, Stamp, Store};
use hotspot_shared::domain::{RouterId, RouterTls};
use serde::Serialize;
use store_support::*;

const PASSWORD: &str = "Plain-Router-Password-7c1f";

/// Whether any file under `dir` contains `needle`.
fn on_disk(dir: &Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .expect("read file")
                .windows(needle.len())
                .any(|w| w == needle)
            {
                return true;
            }
        }
    }
    false
}

#[tokio::test]
async fn router_passwords_are_sealed_on_disk() {
    let f = fleet().await;
    let ring = keyring();
    let new = new_router(&site("s1"), "Marker-Router-Name-5d2e", PASSWORD);
    let r = f
        .store
        .create_router(new, &ring, &admin())
        .unwrap()
        .durable()
        .await
        .unwrap();
    assert!(!r.password.is_plain());
    assert_eq!(
        r.open_password(&ring).unwrap().expose(),
        PASSWORD.as_bytes()
    );
    let update = hotspot_controller::store::RouterUpdate {
        password: Some(format!("{PASSWORD}-2")),
        ..Default::default()
    };
    f.store
        .update_router(r.id, update, &ring, &admin())
        .unwrap()
        .durable()
        .await
        .unwrap();
    // Debug output and the audit log do not show it either.
    let shown = format!("{:?}", f.store.router(r.id).unwrap());
    assert!(!shown.contains(PASSWORD), "{shown}");
    let audit = f
        .store
        .audit(&AuditFilter::default(), &PageRequest::first(500))
        .unwrap();
    assert!(
        audit
            .items
            .iter()
            .all(|e| !format!("{e:?}").contains(PASSWORD))
    );

    let dir = f.dir.path().to_path_buf();
    drop(f.store);
    assert!(
        on_disk(&dir, b"Marker-Router-Name-5d2e"),
        "the scan finds what is stored"
    );
    assert!(
        !on_disk(&dir, PASSWORD.as_bytes()),
        "plain password found on disk"
    );
}

/// The shape of a router record written by an older build, with the password in plain text
/// (`StoredSecret`'s compact form: variant 0 sealed bytes, variant 1 plain text).
#[derive(Serialize)]
struct OldRouter {
    id: RouterId,
    site: String,
    name: String,
    location: String,
    host: String,
    port: u16,
    username: String,
    password: OldSecret,
    tls: Option<RouterTls>,
    created_at: i64,
    updated_at: i64,
    info: Option<()>,
    health: Option<()>,
    last_sync_at: Option<i64>,
    last_error: Option<()>,
}

#[derive(Serialize)]
enum OldSecret {
    #[allow(dead_code)]
    Sealed(Vec<u8>),
    LegacyPlain(String),
}

#[tokio::test]
async fn a_legacy_plain_password_is_migrated_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(ledger_path(&dir)).unwrap();
    let db = store.db().clone();
    let f = populate(dir, store).await;
    let old = OldRouter {
        id: RouterId(7),
        site: "s1".into(),
        name: "legacy".into(),
        location: String::new(),
        host: "192.0.2.7".into(),
        port: 8728,
        username: "api".into(),
        password: OldSecret::LegacyPlain("legacy-pw".into()),
        tls: None,
        created_at: T0,
        updated_at: T0,
        info: None,
        health: None,
        last_sync_at: None,
        last_error: None,
    };
    let mut bytes = vec![1u8];
    bytes.extend(postcard::to_stdvec(&old).unwrap());
    db.write(|tx| tx.insert(T::Routers.name(), &id_key(7), &bytes))
        .unwrap();

    let ring = keyring();
    let before = f.store.router(RouterId(7)).unwrap().unwrap();
    assert!(before.password.is_plain(), "read as legacy");
    assert_eq!(before.open_password(&ring).unwrap().expose(), b"legacy-pw");

    let by = Stamp::system(T0);
    let n = f
        .store
        .migrate_plain_passwords(&ring, &by)
        .unwrap()
        .durable()
        .await
        .unwrap();
    assert_eq!(n, 1);
    let after = f.store.router(RouterId(7)).unwrap().unwrap();
    assert!(!after.password.is_plain());
    assert_eq!(after.open_password(&ring).unwrap().expose(), b"legacy-pw");
    assert_eq!(after.name, "legacy");
    let n = f
        .store
        .migrate_plain_passwords(&ring, &by)
        .unwrap()
        .durable()
        .await
        .unwrap();
    assert_eq!(n, 0, "only once");
    let migrated = AuditFilter {
        action_prefix: Some("router.password-migrated".into()),
        ..Default::default()
    };
    let lines = f.store.audit(&migrated, &PageRequest::first(10)).unwrap();
    assert_eq!(lines.items.len(), 1);
    assert_eq!(lines.items[0].target, "router-7");
}
