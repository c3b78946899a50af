//! The store's transactions on a real database file: outcomes recorded with the queue, repair
//! re-queues only what is confirmed and lost, removals are never undone by a late create.

use hotspot_shared::domain::voucher::{Origin, router_comment};
use hotspot_shared::domain::{PackageId, ProfileSpec, RemovalReason, RouterId, VoucherUser};

use super::records::{desired_key, encode, queue_key};
use super::*;

const R: RouterId = RouterId(3);

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path().join("db"), hotspot_storage::Options::default()).expect("opens");
    (dir, Store::open(&db).expect("store"))
}

fn voucher(code: &str) -> VoucherUser {
    VoucherUser {
        code: code.into(),
        password: "pw".into(),
        profile: "p".into(),
        limit_uptime: None,
        limit_bytes_total: None,
        validity: None,
        comment: router_comment(PackageId(1), Origin::Central),
    }
}

fn profile() -> ProfileSpec {
    ProfileSpec {
        name: "p".into(),
        rate_limit: None,
        shared_users: None,
    }
}

/// What the inbound handler writes for one voucher (outside a transaction); the queue seq.
fn put(store: &Store, code: &str, status: DesiredStatus) -> u64 {
    let entry = DesiredEntry {
        user: voucher(code),
        profile: profile(),
        issue: crate::fixtures::issue(),
        status,
        first_used_at: None,
    };
    let item = ApplyItem {
        router: R,
        op: ApplyOp::Create {
            user: voucher(code),
            profile: profile(),
        },
    };
    store
        .db
        .write(|tx| {
            let seq = next_queue_seq(tx)?;
            tx.insert(
                table::DESIRED,
                &desired_key(R, code),
                &encode(&entry).expect("encodes"),
            )?;
            tx.insert(
                table::QUEUE,
                &queue_key(R, seq),
                &encode(&item).expect("encodes"),
            )?;
            Ok::<_, StoreError>(seq)
        })
        .expect("writes")
}

fn clear_queue(store: &Store) {
    store
        .db
        .write(|tx| tx.remove_range(table::QUEUE, hotspot_storage::ALL))
        .expect("clears");
}

fn status(store: &Store, code: &str) -> DesiredStatus {
    store
        .desired(R)
        .expect("reads")
        .into_iter()
        .find(|e| e.user.code == code)
        .expect("entry")
        .status
}

#[test]
fn finishing_takes_items_off_the_queue_and_records_the_outcome() {
    let (_dir, store) = open();
    let a = put(&store, "A", DesiredStatus::Pending);
    let b = put(&store, "B", DesiredStatus::Removing);
    let c = put(&store, "C", DesiredStatus::Pending);
    assert_eq!(store.queue_len(R), 3);
    let done = |seq, code: &str, status| Done {
        seq,
        code: code.into(),
        status,
    };
    store
        .finish(
            R,
            &[
                done(a, "A", DesiredStatus::OnRouter),
                done(b, "B", DesiredStatus::OnRouter),
            ],
        )
        .expect("finishes");
    let left = store.queue_batch(R, 10).expect("reads");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0, c);
    assert_eq!(status(&store, "A"), DesiredStatus::OnRouter);
    assert_eq!(
        status(&store, "B"),
        DesiredStatus::Removing,
        "a create finishing late does not cancel a queued removal"
    );
    assert_eq!(store.queue_len(RouterId(4)), 0, "other routers untouched");
}

#[test]
fn repair_requeues_only_confirmed_vouchers_after_everything_queued() {
    let (_dir, store) = open();
    put(&store, "ON", DesiredStatus::OnRouter);
    put(&store, "PENDING", DesiredStatus::Pending);
    put(&store, "GOING", DesiredStatus::Removing);
    clear_queue(&store);
    let later = put(&store, "LATER", DesiredStatus::Pending);
    let codes: Vec<String> = ["ON", "PENDING", "GOING", "NOPE"]
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let restored = store.requeue_missing(R, &codes).expect("requeues");
    assert_eq!(restored, ["ON"]);
    assert_eq!(status(&store, "ON"), DesiredStatus::Pending);
    assert_eq!(status(&store, "GOING"), DesiredStatus::Removing);
    let queue = store.queue_batch(R, 10).expect("reads");
    let codes: Vec<&str> = queue.iter().map(|(_, item)| item.op.code()).collect();
    assert_eq!(
        codes,
        ["LATER", "ON"],
        "re-queued items sort after queued ones"
    );
    assert!(queue[1].0 > later);
}

#[test]
fn expiry_queues_a_removal_once() {
    let (_dir, store) = open();
    put(&store, "X", DesiredStatus::OnRouter);
    clear_queue(&store);
    assert!(
        store
            .queue_removal(R, "X", RemovalReason::Expired)
            .expect("queues")
    );
    assert!(
        !store
            .queue_removal(R, "X", RemovalReason::Expired)
            .expect("reads"),
        "already removing"
    );
    let queue = store.queue_batch(R, 10).expect("reads");
    assert!(matches!(
        &queue[..],
        [(
            _,
            ApplyItem {
                op: ApplyOp::Remove {
                    reason: RemovalReason::Expired,
                    ..
                },
                ..
            }
        )]
    ));
    store.mark_first_use(R, "X", 100).expect("marks");
    store.mark_first_use(R, "X", 200).expect("marks");
    let entry = &store.desired(R).expect("reads")[0];
    assert_eq!(entry.first_used_at, Some(100), "the first use is kept");
}

#[test]
fn sync_flags_are_taken_once_and_a_retired_router_is_purged() {
    let (_dir, store) = open();
    let mark = |t: &str, key: &[u8]| store.db.write(|tx| tx.insert(t, key, &[])).expect("writes");
    mark(table::SYNC, SYNC_ALL);
    mark(table::SYNC, &records::router_key(R));
    let mut flags = store.take_sync_flags().expect("takes");
    flags.sort();
    assert_eq!(flags, [None, Some(R)]);
    assert!(store.take_sync_flags().expect("takes").is_empty());

    put(&store, "A", DesiredStatus::Pending);
    mark(table::RETIRED, &records::router_key(R));
    assert_eq!(store.retired().expect("reads"), [R]);
    store.purge(R).expect("purges");
    assert_eq!(store.queue_len(R), 0);
    assert!(store.desired(R).expect("reads").is_empty());
    assert!(store.retired().expect("reads").is_empty());
}
