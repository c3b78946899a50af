//! The ledger through every crash point (issue 11 §4): the power is cut at the Nth disk write of
//! a workload that sells vouchers and moves them (issued → queued → active), for every N the
//! workload reaches, with nothing or a seeded random part of the unsynced writes kept. After
//! each cut the ledger must open, hold every voucher whose `durable()` returned in at least the
//! state that was acknowledged (a later, unacknowledged step may or may not have survived, but
//! never half a transaction), keep its indexes in step with its records, and take new work.

mod store_support;

use std::collections::BTreeMap;

use hotspot_controller::store::{EmbeddedStore, Stamp, Store, VoucherChange};
use hotspot_shared::domain::{StaffId, VoucherState};
use hotspot_storage::powercut::{Keep, PowerCutDisk};
use hotspot_storage::{Db, Options};
use store_support::*;

const BATCHES: usize = 4;
const PER_BATCH: usize = 3;

fn open(disk: &PowerCutDisk) -> Option<EmbeddedStore> {
    let db = Db::open_backend(disk.backend(), Options::default()).ok()?;
    EmbeddedStore::new(&db).ok()
}

/// Each code's states in the order the workload moves it, and how many of them were
/// acknowledged (`durable()` returned Ok).
type Progress = BTreeMap<String, (Vec<VoucherState>, usize)>;

const STEPS: [VoucherState; 3] = [
    VoucherState::Issued,
    VoucherState::Queued,
    VoucherState::Active,
];

/// Sells `BATCHES` batches and moves each through queued and applied, each step acknowledged
/// by its own barrier, until the first failure (the power went).
async fn workload(store: &EmbeddedStore, tag: &str) -> Progress {
    let by = Stamp::staff(StaffId(2), T0);
    let mut progress = Progress::new();
    for b in 0..BATCHES {
        let codes: Vec<String> = (0..PER_BATCH).map(|i| format!("{tag}{b}X{i}")).collect();
        let vouchers = codes
            .iter()
            .map(|c| voucher(c, 1, 2, 1, T0 + b as i64))
            .collect();
        for c in &codes {
            progress.insert(c.clone(), (STEPS.to_vec(), 0));
        }
        let Ok(sold) = store.insert_vouchers(vouchers, &by) else {
            return progress;
        };
        if sold.durable().await.is_err() {
            return progress;
        }
        for (step, change) in [VoucherChange::Queued, VoucherChange::Applied]
            .into_iter()
            .enumerate()
        {
            for c in &codes {
                if let Some(p) = progress.get_mut(c) {
                    p.1 = step + 1;
                }
            }
            let Ok(moved) = store.change_vouchers(&codes, change, &by) else {
                return progress;
            };
            if moved.durable().await.is_err() {
                return progress;
            }
        }
        for c in &codes {
            if let Some(p) = progress.get_mut(c) {
                p.1 = STEPS.len();
            }
        }
    }
    progress
}

#[tokio::test]
async fn every_acknowledged_voucher_survives_a_cut_at_any_write() {
    // How many disk writes the workload makes: one crash point each.
    let probe = PowerCutDisk::new();
    let f = populate(tempfile::tempdir().unwrap(), open(&probe).expect("opens")).await;
    let before = probe.stats().writes;
    let full = workload(&f.store, "P").await;
    assert!(full.values().all(|(_, acked)| *acked == STEPS.len()));
    let total = probe.stats().writes - before;
    assert!(total > 30, "the workload reaches the disk: {total} writes");
    drop(f);

    let (mut points, mut lost_unacked) = (0, 0usize);
    for n in 1..=total {
        for keep in [Keep::Nothing, Keep::Some(n)] {
            let disk = PowerCutDisk::new();
            let f = populate(tempfile::tempdir().unwrap(), open(&disk).expect("opens")).await;
            disk.cut_after_writes(n, keep);
            let progress = workload(&f.store, "V").await;
            assert_eq!(disk.cuts(), 1, "crash point {n} was reached");
            drop(f);

            let store = open(&disk)
                .unwrap_or_else(|| panic!("crash point {n} {keep:?}: the ledger must reopen"));
            for (code, (states, acked)) in &progress {
                let found = store.voucher(code).expect("reads").map(|v| v.state);
                match found {
                    // Never acknowledged at all: absent, or whole.
                    None => {
                        assert_eq!(*acked, 0, "crash point {n} {keep:?}: {code} lost");
                        lost_unacked += 1;
                    }
                    Some(state) => {
                        let at = states.iter().position(|s| *s == state).unwrap_or_else(|| {
                            panic!("crash point {n} {keep:?}: {code} in {state:?}")
                        });
                        // `acked` counts the steps acknowledged: state index acked-1 at least.
                        assert!(
                            at + 1 >= *acked,
                            "crash point {n} {keep:?}: {code} went back to {state:?} \
                             after {acked} acknowledged steps"
                        );
                    }
                }
            }
            assert_eq!(
                store.verify_vouchers().expect("reads"),
                Ok(()),
                "crash point {n} {keep:?}: indexes agree with records"
            );
            // The ledger takes new work after the cut.
            let more = workload(&store, "W").await;
            assert!(
                more.values().all(|(_, acked)| *acked == STEPS.len()),
                "crash point {n} {keep:?}: resumes"
            );
            points += 1;
        }
    }
    println!("{points} crash points walked, {lost_unacked} unacknowledged sales dropped");
    assert!(points >= 60, "{points} crash points walked");
    assert!(lost_unacked > 0, "some cuts dropped unacknowledged sales");
}
