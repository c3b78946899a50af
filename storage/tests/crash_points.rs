//! Walks crash points: the power is cut at the Nth disk write of a workload of acknowledged
//! writes, for every N the workload reaches, with nothing or a random part of the unsynced
//! writes kept. After each cut the database must open, hold every key that a barrier covered
//! before the cut, and take new writes.

use hotspot_storage::powercut::{Keep, PowerCutDisk};
use hotspot_storage::{Db, Options, StorageError};

const BATCHES: u64 = 12;
const PER_BATCH: u64 = 5;

fn key(i: u64) -> [u8; 8] {
    i.to_be_bytes()
}

/// Batches of writes, each batch covered by one barrier; returns the keys acknowledged (the
/// barrier returned Ok) until the first failure.
fn workload(db: &Db, start: u64) -> Vec<u64> {
    let mut acked = Vec::new();
    for b in 0..BATCHES {
        let keys: Vec<u64> = (0..PER_BATCH).map(|i| start + b * PER_BATCH + i).collect();
        let mut ok = true;
        for k in &keys {
            let wrote = db.write(|tx| {
                tx.insert("t", &key(*k), &k.to_le_bytes())?;
                // A second table in the same transaction, as the link's inbox does.
                tx.insert("seq", b"last", &key(*k))?;
                Ok::<_, StorageError>(())
            });
            if wrote.is_err() {
                ok = false;
                break;
            }
        }
        if !ok || db.barrier_blocking().is_err() {
            break;
        }
        acked.extend(keys);
    }
    acked
}

#[test]
fn every_acknowledged_write_survives_a_cut_at_any_write() {
    // How many writes the whole workload makes, to know how many crash points there are.
    let probe = PowerCutDisk::new();
    let db = Db::open_backend(probe.backend(), Options::default()).expect("opens");
    let opened_writes = probe.stats().writes;
    assert_eq!(workload(&db, 0).len() as u64, BATCHES * PER_BATCH);
    let total = probe.stats().writes - opened_writes;
    assert!(total > 50, "the workload reaches the disk: {total} writes");
    drop(db);

    let mut points = 0;
    let mut lost_unacked = 0u64;
    for n in 1..=total {
        for keep in [Keep::Nothing, Keep::Some(n)] {
            let disk = PowerCutDisk::new();
            let db = Db::open_backend(disk.backend(), Options::default()).expect("opens");
            disk.cut_after_writes(n, keep);
            let acked = workload(&db, 0);
            assert_eq!(disk.cuts(), 1, "crash point {n} was reached");
            drop(db);

            let db = Db::open_backend(disk.backend(), Options::default())
                .unwrap_or_else(|e| panic!("crash point {n} {keep:?}: reopen failed: {e}"));
            let r = db.read().expect("reads");
            for k in &acked {
                assert_eq!(
                    r.get("t", &key(*k)).expect("reads"),
                    Some(k.to_le_bytes().to_vec()),
                    "crash point {n} {keep:?}: acknowledged key {k} lost"
                );
            }
            let present = r.len("t").expect("counts");
            assert!(present >= acked.len() as u64);
            lost_unacked += BATCHES * PER_BATCH - present;
            // The seq record is never behind what it covers: it was written with the key.
            if let Some(last) = r.get("seq", b"last").expect("reads") {
                let last = u64::from_be_bytes(last.try_into().expect("8 bytes"));
                assert!(r.contains("t", &key(last)).expect("reads"));
            }
            drop(r);
            // The database takes new work after the cut.
            let more = workload(&db, 1_000);
            assert_eq!(
                more.len() as u64,
                BATCHES * PER_BATCH,
                "crash point {n}: resumes"
            );
            points += 1;
        }
    }
    assert!(points >= 100, "{points} crash points walked");
    assert!(
        lost_unacked > 0,
        "some cuts dropped unacknowledged work (the cuts bite)"
    );
}
