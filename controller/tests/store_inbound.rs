//! Agents' events applied to the ledger: forward-only voucher states, site-issued vouchers
//! kept with their original facts, and a site acting only for its own routers.

mod store_support;

use std::sync::Arc;

use hotspot_controller::store::VoucherChange;
use hotspot_controller::store::{
    AuditEntry, AuditFilter, EmbeddedStore, LedgerInbound, PageRequest, Stamp, Store,
};
use hotspot_link::{Inbound, PeerId};
use hotspot_shared::domain::{
    FailureKind, HealthSample, Origin, PackageId, RemovalReason, RouterFailure, RouterId,
    RouterInfo, StaffId, UsageSample, VoucherState,
};
use hotspot_shared::fleet::msg::{Event, HeldStatus, HeldVoucher, Issue, SiteVoucher};
use store_support::*;

const NOW: i64 = T0 + 1_000;

fn s1() -> PeerId {
    PeerId::Site(site("s1"))
}

fn inbound(store: &EmbeddedStore) -> LedgerInbound {
    store.inbound().with_clock(Arc::new(|| NOW))
}

fn audit(store: &EmbeddedStore, prefix: &str) -> Vec<AuditEntry> {
    let filter = AuditFilter {
        action_prefix: Some(prefix.into()),
        ..Default::default()
    };
    store
        .audit(&filter, &PageRequest::first(500))
        .unwrap()
        .items
}

async fn with_vouchers() -> Fleet {
    let f = fleet().await;
    let batch = ["V1", "V2", "V3", "V4"]
        .map(|c| voucher(c, 1, 2, 1, T0))
        .to_vec();
    f.store
        .insert_vouchers(batch, &Stamp::staff(StaffId(2), T0))
        .unwrap()
        .durable()
        .await
        .unwrap();
    f
}

fn applied(code: &str, at: i64) -> Event {
    Event::Applied {
        router: RouterId(1),
        code: code.into(),
        at,
    }
}

fn usage(code: &str, uptime: u64, bytes: u64, at: i64) -> Event {
    let sample = UsageSample {
        code: code.into(),
        uptime_secs: uptime,
        bytes_in: bytes,
        bytes_out: 0,
        online: true,
    };
    Event::Usage {
        router: RouterId(1),
        at,
        samples: vec![sample],
    }
}

#[tokio::test]
async fn applied_failed_and_usage_move_vouchers_forward_only() {
    let f = with_vouchers().await;
    let (s, ib) = (&f.store, inbound(&f.store));
    let state = |code: &str| s.voucher(code).unwrap().unwrap().state;

    ib.apply_direct(&s1(), &applied("V1", T0 + 10)).unwrap();
    assert_eq!(state("V1"), VoucherState::Active);
    assert_eq!(s.voucher("V1").unwrap().unwrap().applied_at, Some(T0 + 10));

    let failed = Event::Failed {
        router: RouterId(1),
        code: "V2".into(),
        reason: "already have user with this name".into(),
        conflict: true,
        at: T0 + 11,
    };
    ib.apply_direct(&s1(), &failed).unwrap();
    let v2 = s.voucher("V2").unwrap().unwrap();
    assert_eq!(v2.state, VoucherState::Failed);
    assert!(v2.reason.unwrap().starts_with("conflict:"));
    ib.apply_direct(&s1(), &applied("V2", T0 + 12)).unwrap();
    assert_eq!(state("V2"), VoucherState::Active, "a retry that worked");

    ib.apply_direct(&s1(), &usage("V1", 60, 500, T0 + 100))
        .unwrap();
    let v1 = s.voucher("V1").unwrap().unwrap();
    assert_eq!(v1.state, VoucherState::InUse);
    assert_eq!(
        (v1.first_login_at, v1.expires_at),
        (Some(T0 + 100), Some(T0 + 100 + 86_400))
    );
    assert_eq!((v1.uptime_secs, v1.bytes_in), (60, 500));
    // Late news does not move it back.
    ib.apply_direct(&s1(), &applied("V1", T0 + 101)).unwrap();
    assert_eq!(state("V1"), VoucherState::InUse);
    ib.apply_direct(&s1(), &usage("V1", 3600, 600, T0 + 200))
        .unwrap();
    assert_eq!(state("V1"), VoucherState::Exhausted);
    ib.apply_direct(&s1(), &applied("V1", T0 + 201)).unwrap();
    assert_eq!(state("V1"), VoucherState::Exhausted);
    let late_failure = Event::Failed {
        router: RouterId(1),
        code: "V1".into(),
        reason: "late".into(),
        conflict: false,
        at: T0 + 202,
    };
    ib.apply_direct(&s1(), &late_failure).unwrap();
    assert_eq!(state("V1"), VoucherState::Exhausted);
    assert_eq!(audit(s, "fleet.stale-event").len(), 1);

    let removed = |code: &str, reason| Event::Removed {
        router: RouterId(1),
        code: code.into(),
        reason,
        at: T0 + 300,
    };
    ib.apply_direct(&s1(), &removed("V1", RemovalReason::Expired))
        .unwrap();
    assert_eq!(state("V1"), VoucherState::Expired);
    ib.apply_direct(&s1(), &removed("V3", RemovalReason::Revoked))
        .unwrap();
    assert_eq!(state("V3"), VoucherState::Revoked);
    ib.apply_direct(&s1(), &applied("V3", T0 + 301)).unwrap();
    assert_eq!(
        state("V3"),
        VoucherState::Revoked,
        "revoked stays revoked (record kept)"
    );

    // Unknown codes are audited and accepted, so the stream goes on.
    ib.apply_direct(&s1(), &applied("NOSUCH", T0)).unwrap();
    assert_eq!(audit(s, "fleet.unknown-voucher").len(), 1);
    let moves = audit(s, "voucher.state");
    assert!(
        moves
            .iter()
            .all(|e| e.actor == hotspot_controller::store::Actor::Site(site("s1")) && e.at == NOW)
    );
    assert_eq!(s.verify_vouchers().unwrap(), Ok(()));
}

#[tokio::test]
async fn vouchers_issued_at_the_site_keep_their_facts_and_are_idempotent() {
    let f = fleet().await;
    let (s, ib) = (&f.store, inbound(&f.store));
    let prefix = s.site(&site("s1")).unwrap().unwrap().code_prefix;
    let sold = SiteVoucher {
        router: RouterId(2),
        package: PackageId(2),
        staff: StaffId(2),
        code: format!("{prefix}K7M2Q9"),
        password: "pw-site".into(),
        price: usd(450),
        issued_at: T0 - 3_600,
    };
    let event = Event::IssuedAtSite(sold.clone());
    ib.apply_direct(&s1(), &event).unwrap();
    ib.apply_direct(&s1(), &event).unwrap();
    let v = s.voucher(&sold.code).unwrap().unwrap();
    assert_eq!(
        (v.origin, v.state, v.site.clone()),
        (Origin::Site, VoucherState::Queued, site("s1"))
    );
    assert_eq!(
        (v.issued_at, v.staff, v.price, v.router),
        (sold.issued_at, sold.staff, sold.price, sold.router)
    );
    assert_eq!(v.package_name, "1 day");
    assert_eq!(v.limits.validity_secs, Some(86_400));
    assert_eq!(
        audit(s, "voucher.issue-at-site").len(),
        1,
        "the redelivery was a no-op"
    );
    assert_eq!(audit(s, "fleet.code-outside-grant").len(), 0);

    // The same code with other facts: a collision, recorded, not applied, not an error.
    let clash = Event::IssuedAtSite(SiteVoucher {
        staff: StaffId(1),
        price: usd(1),
        ..sold.clone()
    });
    ib.apply_direct(&s1(), &clash).unwrap();
    assert_eq!(s.voucher(&sold.code).unwrap().unwrap(), v);
    assert_eq!(audit(s, "fleet.code-collision").len(), 1);

    // A code outside the site's grant is still recorded (money was taken), and flagged.
    let stray = SiteVoucher {
        code: "ZZZZZZZZZZ".into(),
        ..sold.clone()
    };
    ib.apply_direct(&s1(), &Event::IssuedAtSite(stray)).unwrap();
    assert!(s.voucher("ZZZZZZZZZZ").unwrap().is_some());
    assert_eq!(audit(s, "fleet.code-outside-grant").len(), 1);
    assert_eq!(s.verify_vouchers().unwrap(), Ok(()));
}

#[tokio::test]
async fn a_site_acts_only_for_its_own_routers() {
    let f = with_vouchers().await;
    let (s, ib) = (&f.store, inbound(&f.store));
    let s2 = PeerId::Site(site("s2"));
    // Site s2 reports on router 1, which belongs to s1.
    ib.apply_direct(&s2, &applied("V1", T0)).unwrap();
    let foreign = SiteVoucher {
        router: RouterId(1),
        package: PackageId(1),
        staff: StaffId(1),
        code: "FOREIGN22".into(),
        password: "x".into(),
        price: usd(1),
        issued_at: T0,
    };
    ib.apply_direct(&s2, &Event::IssuedAtSite(foreign)).unwrap();
    let health = HealthSample {
        at: T0,
        ..HealthSample::default()
    };
    ib.apply_direct(
        &s2,
        &Event::Health {
            router: RouterId(1),
            sample: health,
        },
    )
    .unwrap();
    assert_eq!(
        s.voucher("V1").unwrap().unwrap().state,
        VoucherState::Issued
    );
    assert_eq!(s.voucher("FOREIGN22").unwrap(), None);
    assert_eq!(s.router(RouterId(1)).unwrap().unwrap().health, None);
    let refused = audit(s, "fleet.foreign-router");
    assert_eq!(refused.len(), 3);
    assert!(
        refused
            .iter()
            .all(|e| e.actor == hotspot_controller::store::Actor::Site(site("s2")))
    );
    ib.apply_direct(&s2, &applied("V1", T0)).unwrap();
    ib.apply_direct(&PeerId::Controller, &applied("V1", T0))
        .unwrap();
    ib.apply_direct(
        &s1(),
        &Event::Applied {
            router: RouterId(77),
            code: "V1".into(),
            at: T0,
        },
    )
    .unwrap();
    assert_eq!(audit(s, "fleet.unknown-router").len(), 1);
    assert_eq!(
        s.voucher("V1").unwrap().unwrap().state,
        VoucherState::Issued
    );
}

#[tokio::test]
async fn router_events_update_the_router_and_drift_is_audited() {
    let f = with_vouchers().await;
    let (s, ib) = (&f.store, inbound(&f.store));
    let health = HealthSample {
        at: T0 + 5,
        cpu_load: 12,
        active_users: 3,
        ..HealthSample::default()
    };
    ib.apply_direct(
        &s1(),
        &Event::Health {
            router: RouterId(1),
            sample: health.clone(),
        },
    )
    .unwrap();
    let info = RouterInfo {
        identity: "gw-a".into(),
        version: "7.16".into(),
        ..RouterInfo::default()
    };
    ib.apply_direct(
        &s1(),
        &Event::Info {
            router: RouterId(1),
            info: info.clone(),
        },
    )
    .unwrap();
    let failure = RouterFailure::new(FailureKind::Unreachable, "no route");
    ib.apply_direct(
        &s1(),
        &Event::RouterDown {
            router: RouterId(1),
            failure: failure.clone(),
            at: NOW + 1,
        },
    )
    .unwrap();
    ib.apply_direct(&s1(), &usage("V4", 0, 0, NOW + 2)).unwrap();
    let r = s.router(RouterId(1)).unwrap().unwrap();
    assert_eq!(r.health, Some((health, T0 + 5)));
    assert_eq!(r.info, Some((info, NOW)));
    assert_eq!(r.last_sync_at, Some(NOW + 2));
    assert_eq!(
        r.last_error, None,
        "the later sync shows it reachable again"
    );

    let drift = Event::Drift {
        router: RouterId(1),
        at: T0 + 9,
        unknown: vec!["STRANGER".into()],
        restored: vec!["V2".into()],
    };
    ib.apply_direct(&s1(), &drift).unwrap();
    let lines = audit(s, "fleet.drift");
    assert_eq!(lines.len(), 1);
    let detail: serde_json::Value = serde_json::from_str(&lines[0].detail).unwrap();
    assert_eq!(detail["unknown"][0], "STRANGER");
    assert_eq!(detail["restored"][0], "V2");
    assert_eq!(lines[0].target, "router-1");
}

/// The link applies an event and records its sequence number in one transaction of the
/// ledger's own database: the event's writes go through that transaction only, so they commit
/// with the sequence record or not at all.
#[tokio::test]
async fn the_inbound_writes_only_through_the_links_transaction() {
    let f = with_vouchers().await;
    let (s, ib) = (&f.store, inbound(&f.store));
    let db = s.db().clone();
    let seq = |db: &hotspot_storage::Db| db.read().unwrap().get("test/seq", b"s1").unwrap();
    let rolled_back = db.write(|tx| {
        tx.insert("test/seq", b"s1", &1u64.to_be_bytes())?;
        Inbound::apply(&ib, tx, &s1(), 1, &applied("V1", T0 + 1)).expect("applies");
        Err::<(), _>(hotspot_storage::StorageError::Engine("rolled back".into()))
    });
    assert!(rolled_back.is_err());
    assert_eq!(seq(&db), None);
    assert_eq!(
        s.voucher("V1").unwrap().unwrap().state,
        VoucherState::Issued,
        "the event went with the rollback"
    );
    assert!(audit(s, "voucher.state").is_empty(), "its audit line too");

    db.write(|tx| {
        tx.insert("test/seq", b"s1", &1u64.to_be_bytes())?;
        Inbound::apply(&ib, tx, &s1(), 1, &applied("V1", T0 + 1)).expect("applies");
        Ok::<_, hotspot_storage::StorageError>(())
    })
    .unwrap();
    assert_eq!(seq(&db), Some(1u64.to_be_bytes().to_vec()));
    assert_eq!(
        s.voucher("V1").unwrap().unwrap().state,
        VoucherState::Active
    );
    assert_eq!(audit(s, "voucher.state").len(), 1);
    assert_eq!(s.verify_vouchers().unwrap(), Ok(()));
}

#[tokio::test]
async fn usage_that_arrives_after_a_revoke_is_reported() {
    let f = with_vouchers().await;
    let (s, ib) = (&f.store, inbound(&f.store));
    ib.apply_direct(&s1(), &applied("V1", T0)).unwrap();
    s.change_voucher(
        "V1",
        hotspot_controller::store::VoucherChange::Revoke {
            reason: Some("refund".into()),
        },
        &Stamp::staff(StaffId(2), T0 + 10),
    )
    .unwrap()
    .durable()
    .await
    .unwrap();
    // The site was offline: its usage of the meantime arrives after the revoke.
    ib.apply_direct(&s1(), &usage("V1", 60, 5_000, T0 + 5))
        .unwrap();
    let v = s.voucher("V1").unwrap().unwrap();
    assert_eq!(v.state, VoucherState::Revoked, "usage never revives it");
    assert_eq!(v.bytes_in, 5_000, "the usage is kept");
    let said = audit(s, "voucher.used-after-revoke");
    assert_eq!(said.len(), 1, "the ledger says it was used meanwhile");
    assert!(
        said[0].detail.contains("5000 bytes"),
        "{:?}",
        said[0].detail
    );
    ib.apply_direct(&s1(), &usage("V1", 60, 5_000, T0 + 6))
        .unwrap();
    assert_eq!(
        audit(s, "voucher.used-after-revoke").len(),
        1,
        "said once per change"
    );
}

/// What an inventory names: `code` on router 1 of s1 in `status`, sold as `origin`.
fn held(code: &str, router: u64, status: HeldStatus, origin: Origin) -> HeldVoucher {
    let v = voucher(code, router, 2, 1, T0);
    HeldVoucher {
        router: RouterId(router),
        user: v.router_user("hf-1h"),
        issue: Issue {
            package: PackageId(1),
            package_name: "1 hour".into(),
            staff: StaffId(2),
            price: usd(150),
            issued_at: T0 - 60,
            origin,
        },
        status,
        first_used_at: None,
    }
}

fn inventory(round: u64, vouchers: Vec<HeldVoucher>, last: bool) -> Event {
    Event::Inventory {
        round,
        reason: "the agent found lost link state: test".into(),
        vouchers,
        last,
    }
}

#[tokio::test]
async fn an_inventory_recovers_what_the_ledger_lost_and_moves_the_rest_forward() {
    let f = with_vouchers().await;
    let (s, ib) = (&f.store, inbound(&f.store));
    let by = Stamp::staff(StaffId(2), T0);
    s.change_vouchers(&["V1".into(), "V2".into()], VoucherChange::Queued, &by)
        .unwrap()
        .durable()
        .await
        .unwrap();
    let revoke = VoucherChange::Revoke { reason: None };
    s.change_voucher("V3", revoke, &admin())
        .unwrap()
        .durable()
        .await
        .unwrap();
    let first = vec![
        // Lost by the ledger: one central, one sold at the site.
        held("LOST1", 1, HeldStatus::OnRouter, Origin::Central),
        held("LOST2", 2, HeldStatus::Pending, Origin::Site),
        // Known: the agent's news moves it on.
        held("V1", 1, HeldStatus::OnRouter, Origin::Central),
    ];
    ib.apply_direct(&s1(), &inventory(7, first, false)).unwrap();
    assert!(
        s.heals_due().unwrap().is_empty(),
        "not before the last part"
    );
    let second = vec![
        held("V2", 1, HeldStatus::Removed, Origin::Central),
        // Revoked in the ledger but still held by the agent: to be removed.
        held("V3", 1, HeldStatus::OnRouter, Origin::Central),
        // Another site's router under s1's name: refused.
        held("OTHER", 3, HeldStatus::OnRouter, Origin::Central),
    ];
    ib.apply_direct(&s1(), &inventory(7, second, true)).unwrap();

    let lost1 = s.voucher("LOST1").unwrap().expect("recovered");
    assert_eq!(lost1.state, VoucherState::Active);
    assert_eq!(
        (lost1.price, lost1.staff, lost1.issued_at),
        (usd(150), StaffId(2), T0 - 60)
    );
    assert!(
        lost1
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("recovered"))
    );
    assert_eq!(
        lost1.limits.uptime_secs,
        Some(3600),
        "limits from the router user"
    );
    let lost2 = s.voucher("LOST2").unwrap().expect("recovered");
    assert_eq!(
        (lost2.state, lost2.origin, lost2.router),
        (VoucherState::Queued, Origin::Site, RouterId(2))
    );
    assert_eq!(
        s.voucher("V1").unwrap().unwrap().state,
        VoucherState::Active
    );
    assert_eq!(
        s.voucher("V2").unwrap().unwrap().state,
        VoucherState::Expired,
        "the agent removes vouchers whose validity ended"
    );
    assert_eq!(
        s.voucher("V3").unwrap().unwrap().state,
        VoucherState::Revoked
    );
    assert!(s.voucher("OTHER").unwrap().is_none());
    assert_eq!(audit(s, "voucher.recovered").len(), 2);
    assert_eq!(audit(s, "fleet.heal.inventory").len(), 1, "once per round");
    assert!(
        !audit(s, "fleet.anomaly").is_empty(),
        "the foreign router is audited"
    );

    let due = s.heals_due().unwrap();
    assert_eq!(due.len(), 1);
    let heal = &due[0];
    assert_eq!((heal.round, heal.recovered, heal.updated), (7, 2, 2));
    assert_eq!(heal.remove, vec![(RouterId(1), "V3".to_string())]);
    s.finish_heal(&site("s1"), 6, &admin())
        .unwrap()
        .durable()
        .await
        .unwrap();
    assert_eq!(
        s.heals_due().unwrap().len(),
        1,
        "another round's finish changes nothing"
    );
    s.finish_heal(&site("s1"), 7, &admin())
        .unwrap()
        .durable()
        .await
        .unwrap();
    assert!(s.heals_due().unwrap().is_empty());
    let done = audit(s, "fleet.heal.done");
    assert_eq!(done.len(), 1);
    assert!(
        done[0].detail.contains("2 vouchers recovered"),
        "{}",
        done[0].detail
    );

    // The same inventory again (a redelivery, a second round) recovers nothing twice.
    let again = vec![held("LOST1", 1, HeldStatus::OnRouter, Origin::Central)];
    ib.apply_direct(&s1(), &inventory(8, again, true)).unwrap();
    assert_eq!(audit(s, "voucher.recovered").len(), 2);
    assert_eq!(s.heals_due().unwrap()[0].recovered, 0);
}
