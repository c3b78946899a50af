//! Voucher listings: pages that return every voucher exactly once under any filter, cursor
//! checks, per-state counts and the set of vouchers a router should hold.

mod store_support;

use std::collections::BTreeSet;

use hotspot_controller::store::{
    CountScope, PageRequest, Stamp, Store, StoreError, Transition, VoucherChange, VoucherFilter,
    VoucherRecord,
};
use hotspot_shared::domain::{PackageId, RouterId, StaffId, VoucherState};
use store_support::*;

fn alice() -> Stamp {
    Stamp::staff(StaffId(2), T0)
}

/// 1,200 vouchers over three days, three routers, two staff and two packages.
async fn spread() -> (Fleet, Vec<VoucherRecord>) {
    let f = fleet().await;
    let all: Vec<_> = (0..1200u64)
        .map(|i| {
            let at = T0 + (i as i64 % 300) * 900; // ~3 days, many equal times
            voucher(
                &format!("P{i:06}"),
                1 + i % 3,
                1 + i % 2,
                1 + (i / 3) % 2,
                at,
            )
        })
        .collect();
    f.store
        .insert_vouchers(all.clone(), &alice())
        .unwrap()
        .durable()
        .await
        .unwrap();
    (f, all)
}

fn newest_first(mut v: Vec<VoucherRecord>) -> Vec<String> {
    v.sort_by(|a, b| (b.issued_at, &b.code).cmp(&(a.issued_at, &a.code)));
    v.into_iter().map(|v| v.code).collect()
}

#[tokio::test]
async fn pages_return_every_voucher_exactly_once_under_filters() {
    let (f, all) = spread().await;
    let s = &f.store;
    // Some state changes so that the state filter means something.
    let revoke: Vec<_> = all.iter().step_by(7).map(|v| v.code.clone()).collect();
    let by = Stamp::system(T0);
    s.change_vouchers(&revoke, VoucherChange::Revoke { reason: None }, &by)
        .unwrap()
        .durable()
        .await
        .unwrap();
    let all: Vec<_> = all
        .iter()
        .map(|v| s.voucher(&v.code).unwrap().unwrap())
        .collect();

    let filters = [
        VoucherFilter::default(),
        VoucherFilter {
            router: Some(RouterId(2)),
            ..Default::default()
        },
        VoucherFilter {
            staff: Some(StaffId(2)),
            state: Some(VoucherState::Revoked),
            ..Default::default()
        },
        VoucherFilter {
            site: Some(site("s1")),
            package: Some(PackageId(2)),
            ..Default::default()
        },
        VoucherFilter {
            from: Some(T0 + 86_400),
            until: Some(T0 + 2 * 86_400),
            ..Default::default()
        },
        VoucherFilter {
            router: Some(RouterId(3)),
            from: Some(T0 + 1000),
            until: Some(T0 + 90_000),
            ..Default::default()
        },
        VoucherFilter {
            site: Some(site("s2")),
            staff: Some(StaffId(1)),
            ..Default::default()
        },
        VoucherFilter {
            state: Some(VoucherState::Issued),
            from: Some(T0 + 200_000),
            ..Default::default()
        },
    ];
    for filter in &filters {
        let want = newest_first(
            all.iter()
                .filter(|v| {
                    filter.router.is_none_or(|r| r == v.router)
                        && filter.staff.is_none_or(|x| x == v.staff)
                        && filter.site.as_ref().is_none_or(|x| *x == v.site)
                        && filter.package.is_none_or(|x| x == v.package)
                        && filter.state.is_none_or(|x| x == v.state)
                        && filter.from.is_none_or(|t| v.issued_at >= t)
                        && filter.until.is_none_or(|t| v.issued_at < t)
                })
                .cloned()
                .collect(),
        );
        assert!(!want.is_empty(), "{filter:?} should match something");
        for limit in [1, 7, 100, 500] {
            if limit == 1 && want.len() > 300 {
                continue;
            }
            let got: Vec<_> = list_all(s, filter, limit)
                .into_iter()
                .map(|v| v.code)
                .collect();
            assert_eq!(got, want, "{filter:?} in pages of {limit}");
        }
    }
}

#[tokio::test]
async fn pages_stay_exact_while_vouchers_are_added_and_cursors_are_positions() {
    let (f, all) = spread().await;
    let s = &f.store;
    let filter = VoucherFilter {
        router: Some(RouterId(1)),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut page = PageRequest::first(50);
    let mut added = 0;
    loop {
        let got = s.list_vouchers(&filter, &page).unwrap();
        seen.extend(got.items.into_iter().map(|v| v.code));
        // A newer voucher arrives between pages: it belongs before the cursor, not after.
        added += 1;
        let v = voucher(&format!("NEW{added:04}"), 1, 2, 1, T0 + 10_000_000);
        s.insert_vouchers(vec![v], &alice())
            .unwrap()
            .durable()
            .await
            .unwrap();
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let want: BTreeSet<_> = all
        .iter()
        .filter(|v| v.router == RouterId(1))
        .map(|v| v.code.clone())
        .collect();
    assert_eq!(seen.len(), want.len(), "no repeats");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), want);

    // A cursor is a position, whichever listing gave it: reused with another filter, it only
    // moves where the page starts, and what the page lists still matches that filter.
    let first = s.list_vouchers(&filter, &PageRequest::first(10)).unwrap();
    let reuse = PageRequest {
        limit: 10,
        after: first.next.clone(),
    };
    for other in [
        VoucherFilter {
            staff: Some(StaffId(1)),
            ..Default::default()
        },
        VoucherFilter {
            router: Some(RouterId(2)),
            ..Default::default()
        },
    ] {
        let page = s.list_vouchers(&other, &reuse).unwrap();
        assert!(
            page.items
                .iter()
                .all(|v| other.staff.is_none_or(|id| v.staff == id)
                    && other.router.is_none_or(|id| v.router == id)),
            "{other:?}"
        );
    }
    // Past either end of the filter's range: the first page, or nothing.
    let at = |hex: &str| PageRequest {
        limit: 10,
        after: Some(hex.to_string().into()),
    };
    let top = s.list_vouchers(&filter, &at(&"ff".repeat(40))).unwrap();
    assert_eq!(
        top.items.iter().map(|v| &v.code).collect::<Vec<_>>(),
        first.items.iter().map(|v| &v.code).collect::<Vec<_>>(),
        "a cursor above the range starts at its top"
    );
    let bottom = s.list_vouchers(&filter, &at("00")).unwrap();
    assert!(bottom.items.is_empty() && bottom.next.is_none());
    let garbage = PageRequest {
        limit: 10,
        after: Some("xyz".to_string().into()),
    };
    assert!(matches!(
        s.list_vouchers(&filter, &garbage),
        Err(StoreError::BadCursor)
    ));
    assert!(matches!(
        s.list_vouchers(&filter, &PageRequest::first(501)),
        Err(StoreError::TooMany { .. })
    ));
}

#[tokio::test]
async fn counts_states_and_the_set_a_router_should_hold() {
    let (f, all) = spread().await;
    let s = &f.store;
    let by = Stamp::system(T0 + 5);
    let r1: Vec<_> = all
        .iter()
        .filter(|v| v.router == RouterId(1))
        .map(|v| v.code.clone())
        .collect();
    s.change_vouchers(&r1[..100], VoucherChange::Queued, &by)
        .unwrap()
        .durable()
        .await
        .unwrap();
    let out = s
        .change_vouchers(&r1[..50], VoucherChange::Applied, &by)
        .unwrap()
        .durable()
        .await
        .unwrap();
    assert!(out.iter().all(|o| o.transition
        == Transition::Moved {
            from: VoucherState::Queued,
            to: VoucherState::Active
        }));
    let revoked = s
        .change_voucher(
            &r1[0],
            VoucherChange::Revoke {
                reason: Some("refund".into()),
            },
            &by,
        )
        .unwrap();
    assert_eq!(
        revoked.durable().await.unwrap().record.state,
        VoucherState::Revoked
    );

    let c = s.voucher_counts(&CountScope::Router(RouterId(1))).unwrap();
    assert_eq!(
        (
            c.get(VoucherState::Issued),
            c.get(VoucherState::Queued),
            c.get(VoucherState::Active),
            c.get(VoucherState::Revoked)
        ),
        (300, 50, 49, 1)
    );
    assert_eq!(
        s.voucher_counts(&CountScope::Site(site("s1")))
            .unwrap()
            .total(),
        800
    );
    assert_eq!(
        s.voucher_counts(&CountScope::Site(site("s2")))
            .unwrap()
            .total(),
        400
    );
    assert_eq!(s.voucher_counts(&CountScope::Fleet).unwrap().total(), 1200);
    assert_eq!(
        s.voucher_counts(&CountScope::Router(RouterId(42)))
            .unwrap()
            .total(),
        0
    );

    let belongs: Vec<_> = VoucherState::ALL
        .into_iter()
        .filter(|s| s.belongs_on_router())
        .collect();
    let on_router = s.vouchers_on_router(RouterId(1), &belongs).unwrap();
    assert_eq!(on_router.len(), 399);
    assert!(
        on_router
            .iter()
            .all(|v| v.router == RouterId(1) && v.state != VoucherState::Revoked)
    );
    let active = s
        .vouchers_on_router(RouterId(1), &[VoucherState::Active])
        .unwrap();
    assert_eq!(active.len(), 49);

    // Only a voucher that never left the ledger can be withdrawn.
    assert!(matches!(
        s.delete_voucher(&r1[1], &by),
        Err(StoreError::WrongState { .. })
    ));
    let gone = s
        .delete_voucher(&r1[150], &by)
        .unwrap()
        .durable()
        .await
        .unwrap();
    assert_eq!(gone.code, r1[150]);
    assert_eq!(s.voucher(&r1[150]).unwrap(), None);
    assert!(matches!(
        s.delete_voucher(&r1[150], &by),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.change_vouchers(&[r1[2].clone(), "NOPE".into()], VoucherChange::Queued, &by),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.voucher(&r1[2]).unwrap().unwrap().state,
        VoucherState::Active,
        "all or nothing"
    );
    assert_eq!(s.verify_vouchers().unwrap(), Ok(()));
}
