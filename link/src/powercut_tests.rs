//! Power cuts at every disk write of a sender's outbox and a receiver's inbox.
//!
//! One sender pushes numbered messages in small batches; a receiver applies what the outbox
//! holds, waits for its barrier, acknowledges, and the sender deletes what was acknowledged —
//! the link's protocol without the network. The power of one side is cut at its Nth disk write
//! (nothing, or a seeded part, of the unsynced writes kept), for every N the workload reaches,
//! and after each step of the protocol (a write that never reached the disk cannot be cut at
//! its write: a missing barrier makes no disk writes at all).
//! After the restart the two sides must agree where they stand (the receiver's position is
//! one the sender handed out: no number reused), delivery must finish without a gap, and the
//! receiver must hold every message whose push was acknowledged, each applied exactly once.

use std::sync::Arc;

use hotspot_storage::powercut::{Keep, PowerCutDisk};
use hotspot_storage::{Db, Options};

use crate::inbox::Inbox;
use crate::outbox::Outbox;
use crate::peer::PeerId;
use crate::recording::RecordingInbox;

const ROUNDS: u64 = 8;
const PER_PUSH: u64 = 3;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Sender,
    Receiver,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cut {
    /// The side's `n`th disk write fails and cuts the power.
    AtWrite(u64),
    /// The power goes right after protocol step `k` (a push or a delivery) returned.
    AfterStep(u64),
}

struct Ends {
    outbox: Outbox,
    inbox: Inbox<u64>,
    record: RecordingInbox,
}

fn open(sender: &PowerCutDisk, receiver: &PowerCutDisk) -> Ends {
    let sdb = Db::open_backend(sender.backend(), Options::default()).expect("sender opens");
    let rdb = Db::open_backend(receiver.backend(), Options::default()).expect("receiver opens");
    let record = RecordingInbox::new(&rdb, "received");
    Ends {
        outbox: Outbox::open(&sdb, &site(), 10_000, 4096).expect("outbox opens"),
        inbox: Inbox::open(&rdb, Arc::new(record.clone())),
        record,
    }
}

fn site() -> PeerId {
    PeerId::Site("site-1".parse().expect("site id"))
}

/// One delivery round trip; `Err` when a disk failed (the power went).
async fn deliver(ends: &Ends) -> Result<(), String> {
    // What the Hello does: the receiver follows the sender's numbering.
    let (epoch, base) = ends.outbox.numbering().map_err(|e| e.to_string())?;
    let from = ends
        .inbox
        .enter_epoch(&PeerId::Controller, epoch, base)
        .map_err(|e| e.to_string())?
        .seq;
    let upto = ends.outbox.last_seq().map_err(|e| e.to_string())?;
    let batch: Vec<(u64, u64)> = ends
        .outbox
        .read(from + 1, upto, 100)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(seq, bytes)| (seq, postcard::from_bytes(&bytes).expect("decodes")))
        .collect();
    if !batch.is_empty() {
        ends.inbox
            .offer_batch(&PeerId::Controller, &batch)
            .map_err(|e| format!("{e:?}"))?;
    }
    let position = ends
        .inbox
        .last_applied(&PeerId::Controller)
        .map_err(|e| e.to_string())?;
    ends.inbox.flush().await.map_err(|e| e.to_string())?;
    ends.outbox.ack(position).map_err(|e| e.to_string())?;
    Ok(())
}

/// Runs the workload with `side` cut at `n`. `None`: the workload ended first.
async fn crash_point(side: Side, n: Cut, keep: Keep) -> Option<u64> {
    let (sd, rd) = (PowerCutDisk::new(), PowerCutDisk::new());
    let mut acknowledged = Vec::new();
    {
        let ends = open(&sd, &rd);
        let disk = if side == Side::Sender { &sd } else { &rd };
        if let Cut::AtWrite(n) = n {
            disk.cut_after_writes(n, keep);
        }
        let mut next = 1u64;
        let mut step = 0;
        let mut stepped = |disk: &PowerCutDisk| {
            step += 1;
            if n == Cut::AfterStep(step) {
                disk.cut(keep);
                return true;
            }
            false
        };
        'work: for _ in 0..ROUNDS {
            let bodies: Vec<u64> = (next..next + PER_PUSH).collect();
            next += PER_PUSH;
            if ends.outbox.push_batch(&bodies).await.is_err() {
                break 'work;
            }
            acknowledged.extend(bodies);
            if stepped(disk) || deliver(&ends).await.is_err() || stepped(disk) {
                break 'work;
            }
        }
        if disk.cuts() == 0 {
            return None;
        }
    }
    // Both restart; the cut side with what its disk kept.
    let ends = open(&sd, &rd);
    let position = ends.inbox.position(&PeerId::Controller).expect("reads");
    match ends
        .outbox
        .judge(position.epoch, position.seq)
        .expect("judges")
    {
        crate::outbox::Verdict::Resume { .. } => {}
        lost => panic!("{side:?} cut {n:?} {keep:?}: a power cut looks like lost state: {lost:?}"),
    }
    for _ in 0..20 {
        deliver(&ends)
            .await
            .unwrap_or_else(|e| panic!("{side:?} cut {n:?}: {e}"));
        if ends.outbox.is_empty() {
            break;
        }
    }
    assert!(
        ends.outbox.is_empty(),
        "{side:?} cut {n:?}: delivery finishes"
    );
    let got: Vec<u64> = ends
        .record
        .messages::<u64>(&PeerId::Controller)
        .expect("reads")
        .into_iter()
        .map(|(_, body)| body)
        .collect();
    let count = ends.record.apply_count(&PeerId::Controller).expect("reads");
    assert_eq!(
        count,
        got.len() as u64,
        "{side:?} cut {n:?}: applied once each"
    );
    let mut sorted = got.clone();
    sorted.dedup();
    assert_eq!(sorted, got, "{side:?} cut {n:?}: in order, no duplicates");
    for body in &acknowledged {
        assert!(
            got.contains(body),
            "{side:?} cut {n:?} {keep:?}: acknowledged message {body} lost"
        );
    }
    Some(acknowledged.len() as u64)
}

/// Walks `cut(1), cut(2), …` until the workload ends before the cut; returns how many cut.
async fn walk(side: Side, cut: impl Fn(u64) -> Cut) -> u64 {
    let mut points = 0;
    for n in 1.. {
        let nothing = crash_point(side, cut(n), Keep::Nothing).await;
        let some = crash_point(side, cut(n), Keep::Some(n)).await;
        if nothing.is_none() && some.is_none() {
            break;
        }
        points += 1;
    }
    points
}

#[tokio::test]
async fn every_acknowledged_message_survives_a_power_cut_at_any_write_of_either_side() {
    for side in [Side::Sender, Side::Receiver] {
        let writes = walk(side, Cut::AtWrite).await;
        assert!(writes >= 30, "{side:?}: {writes} write crash points walked");
        let steps = walk(side, Cut::AfterStep).await;
        assert_eq!(
            steps,
            2 * ROUNDS,
            "{side:?}: a cut after every protocol step"
        );
    }
}
