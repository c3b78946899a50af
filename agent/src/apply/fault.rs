//! Test-only fault injection, compiled in only with the cargo feature `fault-injection` (off by
//! default; no crate of the workspace enables it): a deliberate bug that shows the fault suite
//! notices a lost voucher.
//!
//! With the feature on, the first create each agent process confirms is acknowledged to the
//! controller as applied (its `Applied` event goes out as usual) and then dropped: removed from
//! the router again, and recorded `Pending` as it leaves the queue, so neither the queue nor the
//! repair of the usage sync (which restores only `OnRouter` vouchers) ever brings it back.
//!
//! Build it in a target directory of its own, so that no ordinary test run picks up the broken
//! binary:
//! `CARGO_TARGET_DIR=target/fault-injection cargo build -p hotspot-tests --bins
//! --features hotspot-agent/fault-injection`.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::routers::LiveRouter;
use crate::store::{DesiredStatus, Done};

/// Whether this process dropped its voucher already.
static DROPPED: AtomicBool = AtomicBool::new(false);

/// `done` with its first confirmed create dropped, once per process.
pub(super) async fn drop_one_applied(live: &LiveRouter, mut done: Vec<Done>) -> Vec<Done> {
    let Some(d) = done
        .iter_mut()
        .find(|d| d.status == DesiredStatus::OnRouter)
    else {
        return done;
    };
    if DROPPED.swap(true, Ordering::SeqCst) {
        return done;
    }
    let pool = live.pool();
    if let Ok(Some(user)) = pool.find_hotspot_user(&d.code).await {
        let _ = pool.remove_hotspot_user(&user.id).await;
    }
    d.status = DesiredStatus::Pending;
    tracing::error!(
        router = %live.id,
        code = %d.code,
        "fault injection: dropped an acknowledged voucher"
    );
    done
}
