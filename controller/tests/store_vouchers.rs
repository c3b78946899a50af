//! Voucher batches: fleet-wide unique codes, all-or-nothing batches, the 10,000 cap.

mod store_support;

use std::time::Instant;

use hotspot_controller::store::{
    AuditFilter, CountScope, MAX_BATCH, PageRequest, Stamp, Store, StoreError,
};
use hotspot_shared::domain::{RouterId, StaffId, VoucherState};
use store_support::*;

fn codes(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:05}")).collect()
}

fn alice() -> Stamp {
    Stamp::staff(StaffId(2), T0)
}

#[tokio::test]
async fn a_code_is_unique_across_the_fleet_and_a_refused_batch_writes_nothing() {
    let f = fleet().await;
    let s = &f.store;
    let first: Vec<_> = codes("AAA", 100)
        .iter()
        .map(|c| voucher(c, 1, 2, 1, T0))
        .collect();
    assert_eq!(
        s.insert_vouchers(first, &alice())
            .unwrap()
            .durable()
            .await
            .unwrap(),
        100
    );
    let before = s.voucher_counts(&CountScope::Fleet).unwrap();
    let audit_before = s
        .audit(&AuditFilter::default(), &PageRequest::first(500))
        .unwrap();

    // Another site, another router: one code overlaps.
    let mut second: Vec<_> = codes("BBB", 99)
        .iter()
        .map(|c| voucher(c, 3, 1, 2, T0 + 1))
        .collect();
    second.push(voucher("AAA00050", 3, 1, 2, T0 + 1));
    match s.insert_vouchers(second, &Stamp::system(T0 + 1)) {
        Err(StoreError::DuplicateCodes(dups)) => assert_eq!(dups, ["AAA00050"]),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    assert_eq!(
        s.voucher("BBB00000").unwrap(),
        None,
        "nothing of the refused batch"
    );
    assert_eq!(s.voucher("AAA00050").unwrap().unwrap().router, RouterId(1));
    assert_eq!(s.voucher_counts(&CountScope::Fleet).unwrap(), before);
    let audit_after = s
        .audit(&AuditFilter::default(), &PageRequest::first(500))
        .unwrap();
    assert_eq!(audit_after.items, audit_before.items);
    assert_eq!(s.verify_vouchers().unwrap(), Ok(()));

    // A batch that repeats a code inside itself is refused too.
    let twice = vec![
        voucher("CCC00001", 2, 2, 1, T0),
        voucher("CCC00001", 3, 1, 1, T0),
    ];
    assert!(
        matches!(s.insert_vouchers(twice, &alice()), Err(StoreError::DuplicateCodes(d)) if d == ["CCC00001"])
    );
    // References are checked: a router of another site, an unknown package.
    let mut wrong_site = voucher("CCC00002", 3, 1, 1, T0);
    wrong_site.site = site("s1");
    assert!(matches!(
        s.insert_vouchers(vec![wrong_site], &alice()),
        Err(StoreError::Conflict(_))
    ));
    let no_package = voucher("CCC00003", 1, 1, 9, T0);
    assert!(matches!(
        s.insert_vouchers(vec![no_package], &alice()),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.verify_vouchers().unwrap(), Ok(()));
}

#[tokio::test]
async fn ten_thousand_vouchers_are_one_transaction_and_one_barrier() {
    let f = fleet().await;
    let batch: Vec<_> = codes("TEN", MAX_BATCH)
        .iter()
        .map(|c| voucher(c, 1, 2, 1, T0))
        .collect();
    let started = Instant::now();
    let barriers = f.store.barriers();
    let n = f
        .store
        .insert_vouchers(batch, &alice())
        .unwrap()
        .durable()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(n, MAX_BATCH);
    assert_eq!(
        f.store.barriers(),
        barriers + 1,
        "one barrier for the batch"
    );
    eprintln!("10,000 vouchers stored and made durable in {took:?}");
    let counts = f
        .store
        .voucher_counts(&CountScope::Router(RouterId(1)))
        .unwrap();
    assert_eq!(counts.get(VoucherState::Issued), MAX_BATCH as u64);
    let too_many: Vec<_> = codes("BIG", MAX_BATCH + 1)
        .iter()
        .map(|c| voucher(c, 1, 2, 1, T0))
        .collect();
    assert!(matches!(
        f.store.insert_vouchers(too_many, &alice()),
        Err(StoreError::TooMany { .. })
    ));
    assert_eq!(f.store.verify_vouchers().unwrap(), Ok(()));
}
