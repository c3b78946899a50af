//! Every record round-trips through the ledger, survives a reopen, and keeps its rules
//! (unique names and prefixes, audit lines, one-time enrollment tokens).

mod store_support;

use hotspot_controller::store::{
    Actor, AuditEntry, AuditFilter, EmbeddedStore, PageRequest, Report, ReportBody,
    RouterObservation, RouterUpdate, SessionKind, SessionRecord, StaffUpdate, Stamp, Store,
    StoreError, Tally,
};
use hotspot_pki::{EnrollError, EnrollmentToken, Serial};
use hotspot_shared::domain::{
    FailureKind, HealthSample, RouterFailure, RouterId, RouterInfo, RouterTls, StaffId,
};
use store_support::*;
use time::OffsetDateTime;

#[tokio::test]
async fn sites_routers_packages_and_staff_round_trip() {
    let f = fleet().await;
    let s = &f.store;
    let sites = s.sites().unwrap();
    assert_eq!(sites.len(), 2);
    assert_ne!(sites[0].code_prefix, sites[1].code_prefix);
    assert!(sites.iter().all(|x| x.code_prefix.len() == 3 && !x.revoked));
    assert_eq!(s.site(&site("s1")).unwrap().unwrap().name, "s1");
    let again = s.create_site(site("s1"), "again", &admin());
    assert!(matches!(again, Err(StoreError::Conflict(_))));

    let ids: Vec<_> = f.routers.iter().map(|r| r.id).collect();
    assert_eq!(ids, [RouterId(1), RouterId(2), RouterId(3)]);
    assert_eq!(s.router(RouterId(2)).unwrap().unwrap(), f.routers[1]);
    assert_eq!(s.routers(Some(&site("s1"))).unwrap().len(), 2);
    assert_eq!(s.routers(None).unwrap().len(), 3);
    let ring = keyring();
    let spec = f.routers[0].spec(&ring).unwrap();
    assert_eq!((spec.password.as_str(), spec.port), ("pw-1", 8728));

    let update = RouterUpdate {
        name: Some("gw-a2".into()),
        password: Some("pw-2".into()),
        tls: Some(Some(RouterTls::Pin([1; 32]))),
        ..RouterUpdate::default()
    };
    let r = s
        .update_router(RouterId(1), update, &ring, &admin())
        .unwrap();
    let r = r.durable().await.unwrap();
    assert_eq!(r.name, "gw-a2");
    assert_eq!(r.open_password(&ring).unwrap().expose(), b"pw-2");
    assert_eq!(s.router(RouterId(1)).unwrap().unwrap(), r);

    assert_eq!(s.packages(false).unwrap(), f.packages);
    let p1 = f.packages[0].package.clone();
    let w = s.set_package_archived(p1.id, true, &admin()).unwrap();
    assert!(w.durable().await.unwrap().archived);
    assert_eq!(s.packages(false).unwrap().len(), 1);
    assert_eq!(s.packages(true).unwrap().len(), 2);
    let mut bad = p1.clone();
    bad.shared_users = 0;
    assert!(matches!(
        s.update_package(bad, &admin()),
        Err(StoreError::Invalid(_))
    ));

    let alice = s.staff_by_username("ALICE").unwrap().unwrap();
    assert_eq!(alice.id, StaffId(2));
    assert_eq!(s.staff(StaffId(2)).unwrap().unwrap(), alice);
    assert_eq!(s.staff_list().unwrap().len(), 2);
    let mine: Vec<_> = s
        .routers_of_staff(alice.id)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(mine, [RouterId(1), RouterId(2)]);
    let taken = StaffUpdate {
        username: Some("admin".into()),
        ..StaffUpdate::default()
    };
    assert!(matches!(
        s.update_staff(alice.id, taken, &admin()),
        Err(StoreError::Conflict(_))
    ));
    let rename = StaffUpdate {
        username: Some("Alice".into()),
        disabled: Some(true),
        ..StaffUpdate::default()
    };
    let alice = s
        .update_staff(alice.id, rename, &admin())
        .unwrap()
        .durable()
        .await
        .unwrap();
    assert!(alice.disabled && alice.username == "Alice");
    assert_eq!(s.staff_by_username("alice").unwrap().unwrap().id, alice.id);
}

#[tokio::test]
async fn router_observations_keep_the_newest() {
    let f = fleet().await;
    let s = &f.store;
    let id = RouterId(1);
    let health = |at| HealthSample {
        at,
        cpu_load: 5,
        ..HealthSample::default()
    };
    let down = RouterFailure::new(FailureKind::Timeout, "no answer");
    s.observe_router(id, RouterObservation::Down(down.clone()), T0 + 5)
        .unwrap()
        .durable()
        .await
        .unwrap();
    s.observe_router(id, RouterObservation::Health(health(T0 + 10)), T0 + 10)
        .unwrap()
        .durable()
        .await
        .unwrap();
    let w = s
        .observe_router(id, RouterObservation::Health(health(T0 + 1)), T0 + 1)
        .unwrap();
    w.durable().await.unwrap();
    let r = s.router(id).unwrap().unwrap();
    assert_eq!(
        r.health,
        Some((health(T0 + 10), T0 + 10)),
        "older sample ignored"
    );
    assert_eq!(r.last_error, None, "a newer health sample clears the error");
    let info = RouterInfo {
        identity: "gw".into(),
        ..RouterInfo::default()
    };
    s.observe_router(id, RouterObservation::Info(info.clone()), T0 + 20)
        .unwrap()
        .durable()
        .await
        .unwrap();
    s.observe_router(id, RouterObservation::Down(down.clone()), T0 + 30)
        .unwrap()
        .durable()
        .await
        .unwrap();
    let r = s.router(id).unwrap().unwrap();
    assert_eq!(r.info, Some((info, T0 + 20)));
    assert_eq!(r.last_error, Some((down, T0 + 30)));
    assert_eq!(r.last_seen(), Some(T0 + 20));
    assert!(matches!(
        s.observe_router(RouterId(99), RouterObservation::Synced, T0),
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn sessions_audit_and_reports() {
    let f = fleet().await;
    let s = &f.store;
    let session = |n: u8, staff, expires_at| SessionRecord {
        token_hash: [n; 32],
        staff: StaffId(staff),
        kind: SessionKind::Cookie,
        csrf_hash: Some([n + 100; 32]),
        created_at: T0,
        expires_at,
    };
    for (n, staff, exp) in [(1, 1, T0 + 10), (2, 2, T0 + 10), (3, 2, T0 + 100)] {
        s.create_session(&session(n, staff, exp))
            .unwrap()
            .durable()
            .await
            .unwrap();
    }
    assert_eq!(s.session(&[1; 32]).unwrap(), Some(session(1, 1, T0 + 10)));
    assert_eq!(
        s.purge_expired_sessions(T0 + 50)
            .unwrap()
            .durable()
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.session(&[1; 32]).unwrap(), None);
    assert_eq!(
        s.delete_sessions_of(StaffId(2))
            .unwrap()
            .durable()
            .await
            .unwrap(),
        1
    );
    assert!(!s.delete_session(&[3; 32]).unwrap().durable().await.unwrap());

    let entry = AuditEntry {
        at: T0 + 500,
        actor: Actor::Staff(StaffId(1)),
        action: "login".into(),
        target: "staff-1".into(),
        detail: "from 192.0.2.9".into(),
    };
    s.append_audit(&entry).unwrap().durable().await.unwrap();
    let page = s
        .audit(&AuditFilter::default(), &PageRequest::first(1))
        .unwrap();
    assert_eq!(page.items, std::slice::from_ref(&entry), "newest first");
    let creates = AuditFilter {
        action_prefix: Some("router.create".into()),
        ..AuditFilter::default()
    };
    let page = s.audit(&creates, &PageRequest::first(100)).unwrap();
    assert_eq!(page.items.len(), 3);
    assert!(
        page.items
            .iter()
            .all(|e| e.actor == Actor::System && e.at == T0)
    );
    let until = AuditFilter {
        until: Some(T0 + 500),
        ..AuditFilter::default()
    };
    let older = s.audit(&until, &PageRequest::first(500)).unwrap();
    assert!(!older.items.contains(&entry) && older.next.is_none());

    let total = Tally {
        issued_central: 3,
        ..Tally::default()
    };
    let mut body = ReportBody {
        total: total.clone(),
        ..ReportBody::default()
    };
    body.sites.insert(site("s1"), total);
    for (i, date) in ["2026-05-01", "2026-05-02", "2026-05-03"]
        .into_iter()
        .enumerate()
    {
        let report = Report {
            date: date.into(),
            generated_at: T0 + i as i64,
            body: body.clone(),
        };
        s.put_report(&report).unwrap().durable().await.unwrap();
    }
    assert_eq!(s.report("2026-05-02").unwrap().unwrap().body, body);
    let first = s.reports(&PageRequest::first(2)).unwrap();
    let dates: Vec<_> = first.items.iter().map(|r| r.date.as_str()).collect();
    assert_eq!(dates, ["2026-05-03", "2026-05-02"]);
    let rest = s
        .reports(&PageRequest {
            limit: 2,
            after: first.next,
        })
        .unwrap();
    assert_eq!((rest.items.len(), rest.next), (1, None));
    let bad = Report {
        date: "May 1".into(),
        generated_at: 0,
        body: ReportBody::default(),
    };
    assert!(matches!(s.put_report(&bad), Err(StoreError::Invalid(_))));
}

#[tokio::test]
async fn enrollment_tokens_are_spent_once_and_revocations_persist() {
    let f = fleet().await;
    let s = &f.store;
    let now = OffsetDateTime::from_unix_timestamp(T0).unwrap();
    let (token, record) = EnrollmentToken::new(
        site("s1"),
        [9; 32],
        now + time::Duration::hours(1),
        &mut rand::rng(),
    );
    s.put_enrollment_token(&record, &admin())
        .unwrap()
        .durable()
        .await
        .unwrap();
    let spent = s
        .spend_enrollment_token(&token, now)
        .unwrap()
        .durable()
        .await
        .unwrap();
    assert!(spent.used);
    assert!(matches!(
        s.spend_enrollment_token(&token, now),
        Err(StoreError::Enroll(EnrollError::AlreadyUsed))
    ));
    let (other, _) = EnrollmentToken::new(site("s1"), [9; 32], now, &mut rand::rng());
    assert!(matches!(
        s.spend_enrollment_token(&other, now),
        Err(StoreError::Enroll(EnrollError::Invalid))
    ));

    let serial: Serial = "0a0b0c".parse().unwrap();
    assert!(
        s.revoke_serial(&serial, &admin())
            .unwrap()
            .durable()
            .await
            .unwrap()
    );
    assert!(
        !s.revoke_serial(&serial, &admin())
            .unwrap()
            .durable()
            .await
            .unwrap()
    );
    assert!(s.revocations().unwrap().is_revoked(&serial));
    let w = s.set_site_revoked(&site("s2"), true, &admin()).unwrap();
    assert!(w.durable().await.unwrap().revoked);
    let refused = s.create_router(new_router(&site("s2"), "late", "pw"), &keyring(), &admin());
    assert!(matches!(refused, Err(StoreError::Conflict(_))));
}

#[tokio::test]
async fn durable_writes_survive_a_reopen() {
    let f = fleet().await;
    let path = ledger_path(&f.dir);
    let v = voucher("KEEPME22", 1, 2, 1, T0);
    f.store
        .insert_vouchers(vec![v.clone()], &Stamp::staff(StaffId(2), T0))
        .unwrap()
        .durable()
        .await
        .unwrap();
    let expected_routers = f.store.routers(None).unwrap();
    drop(f.store);
    let store = EmbeddedStore::open(&path).expect("reopen");
    assert_eq!(store.voucher("KEEPME22").unwrap(), Some(v));
    assert_eq!(store.routers(None).unwrap(), expected_routers);
    assert_eq!(store.sites().unwrap().len(), 2);
    assert_eq!(
        store.staff_by_username("alice").unwrap().unwrap().id,
        StaffId(2)
    );
    // Counters continue after the reopen instead of reusing ids.
    let r = store.create_router(new_router(&site("s1"), "gw-d", "pw"), &keyring(), &admin());
    assert_eq!(r.unwrap().durable().await.unwrap().id, RouterId(4));
    assert_eq!(store.verify_vouchers().unwrap(), Ok(()));
}

/// The child half of the crash test: writes, waits for `durable()`, then dies without
/// dropping anything (no barrier on drop, no orderly close of the database).
#[tokio::test]
async fn crash_child() {
    let Ok(path) = std::env::var("LEDGER_CRASH_DIR") else {
        return; // only runs when started by `durable_means_durable_across_a_crash`
    };
    let store = EmbeddedStore::open(&path).expect("open");
    let by = admin();
    store
        .create_site(site("s9"), "crash", &by)
        .unwrap()
        .durable()
        .await
        .unwrap();
    println!("durable");
    std::process::abort();
}

#[test]
fn durable_means_durable_across_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = ledger_path(&dir);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env("LEDGER_CRASH_DIR", &path)
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("durable"), "child: {stdout}");
    assert!(
        !out.status.success(),
        "the child must die, not exit cleanly"
    );
    let store = EmbeddedStore::open(&path).expect("reopen after the crash");
    let site = store
        .site(&site("s9"))
        .unwrap()
        .expect("durable write survived");
    assert_eq!(site.name, "crash");
}

/// A power cut drops every byte not yet synced (unlike `std::process::abort`, which leaves the
/// page cache to the kernel): each change whose `durable()` returned is still there after it,
/// however much of the rest reached the disk, a change not acknowledged is there entirely or
/// not at all, and the indexes agree with the records.
#[tokio::test]
async fn durable_means_durable_across_a_power_cut() {
    use hotspot_storage::powercut::{Keep, PowerCutDisk};
    use hotspot_storage::{Db, Options};

    for keep in [Keep::Nothing, Keep::Some(1), Keep::Some(2), Keep::Some(3)] {
        let disk = PowerCutDisk::new();
        let open = || {
            let db = Db::open_backend(disk.backend(), Options::default()).expect("opens");
            EmbeddedStore::new(&db).expect("ledger")
        };
        let f = populate(tempfile::tempdir().unwrap(), open()).await;
        let acked: Vec<_> = (0..50)
            .map(|i| voucher(&format!("ACK{i:05}"), 1, 2, 1, T0 + i))
            .collect();
        f.store
            .insert_vouchers(acked.clone(), &Stamp::staff(StaffId(2), T0))
            .unwrap()
            .durable()
            .await
            .unwrap();
        let pending: Vec<_> = (0..50)
            .map(|i| voucher(&format!("PEND{i:05}"), 2, 2, 1, T0 + i))
            .collect();
        let unacked = f
            .store
            .insert_vouchers(pending.clone(), &Stamp::staff(StaffId(2), T0))
            .unwrap();
        assert!(f.store.voucher("PEND00000").unwrap().is_some(), "visible");
        disk.cut(keep);
        drop(unacked);
        drop(f);

        let store = open();
        for v in &acked {
            assert_eq!(
                store.voucher(&v.code).unwrap().as_ref(),
                Some(v),
                "{keep:?}"
            );
        }
        let kept = pending
            .iter()
            .filter(|v| store.voucher(&v.code).unwrap().is_some())
            .count();
        assert!(
            kept == 0 || kept == pending.len(),
            "{keep:?}: {kept} of a batch"
        );
        assert_eq!(
            store.staff_by_username("alice").unwrap().unwrap().id,
            StaffId(2)
        );
        assert_eq!(store.verify_vouchers().unwrap(), Ok(()), "{keep:?}");
    }
}
