//! Selling at the site: the local staff page and the issuance behind it, working whether or
//! not the controller is reachable.
//!
//! ```text
//!  staff ──HTTP(S)──▶ http (session, CSRF) ──▶ sell ── one transaction ──────▶ outbox: IssuedAtSite …
//!                                                     (+ desired, queue, sales)      │ one barrier
//!                                                                                     ▼
//!                                     apply worker ◀── wake ── answer (after the barrier, ≤ 2 s wait)
//! ```
//!
//! - [`auth`]: staff checked offline against the directory the controller pushed (Argon2id;
//!   disabled staff refused; a staff member sells only on the routers assigned to them),
//!   sessions in memory (a restart logs everyone out), CSRF tokens.
//! - [`sell`]: codes under the granted prefix, never colliding with anything the agent knows;
//!   the sale's desired state, apply-queue item, sales record *and* its `IssuedAtSite` event
//!   commit in one transaction with the outbox, made durable by one barrier before the answer.
//!   Because the event is in the outbox from the same commit as the queue item, the apply
//!   worker's later `Applied`/`Failed` always follows it on the wire.
//! - [`http`]: the JSON API (the contract the fault suite codes against) and the page
//!   ([`page`]) on one router; [`state`]: what their handlers share, and the session cookie.
//! - [`tls`]: the HTTPS listener with the self-signed certificate from `hotspot_pki`.
//! - [`LinkWatch`]: when the link went down, for the page's "offline since" line.
//!
//! Disk full: the engine refuses writes after a failed commit (ENOSPC) until the database is
//! reopened. The first
//! failed sale marks the agent's storage failed (`Core::mark_storage_failed`): further sales
//! answer 507 `storage_full` at once, the apply workers pause (and they wait for the barrier before
//! every batch, so nothing that is not on disk reaches a router), and once the data dir takes
//! writes again the agent exits with status 75 for the service manager (`Restart=always`) to
//! start it on a freshly opened database: everything acknowledged is on disk, a refused sale
//! is not. (Chosen over reopening the database in-process: every task holds a handle to it.)
//!
//! Code space: the grant is a prefix plus a budget of sales the controller has not
//! acknowledged yet (see `Command::CodeGrant`); selling beyond it is refused with
//! `code_space_exhausted` until sales sync.

pub mod auth;
pub mod http;
pub mod page;
pub mod sell;
pub mod state;
pub mod tls;

use std::sync::Mutex;
use std::time::Duration;

use crate::core::{Core, unix_now};

/// How often the link's state is looked at for the "offline since" line.
const LINK_POLL: Duration = Duration::from_millis(250);

/// When the link went down, for "offline since": looked at every [`LINK_POLL`]; whether it
/// is up is read from the link itself at each question.
#[derive(Debug)]
pub struct LinkWatch {
    /// `(up at the last look, when it was last seen up or went down)`.
    state: Mutex<(bool, i64)>,
}

impl Default for LinkWatch {
    fn default() -> Self {
        LinkWatch::new()
    }
}

impl LinkWatch {
    /// A watch that counts "offline since" from its creation until the link is first up.
    pub fn new() -> Self {
        LinkWatch {
            state: Mutex::new((false, unix_now())),
        }
    }

    fn observe(&self, online: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = unix_now();
        match (s.0, online) {
            (_, true) => *s = (true, now),
            (true, false) => *s = (false, now),
            (false, false) => {}
        }
    }

    /// `(online, offline_since)` given whether the link is up right now.
    pub fn get(&self, online_now: bool) -> (bool, Option<i64>) {
        if online_now {
            return (true, None);
        }
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (false, Some(s.1))
    }
}

/// Follows the link's connection state until shutdown.
pub(crate) async fn watch_link(core: std::sync::Arc<Core>, watch: std::sync::Arc<LinkWatch>) {
    let mut stop = core.stop.subscribe();
    loop {
        let online = core.link().is_some_and(|l| l.status().connected);
        watch.observe(online);
        tokio::select! {
            _ = tokio::time::sleep(LINK_POLL) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
