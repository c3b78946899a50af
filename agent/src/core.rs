//! What every task of the agent shares (`Core`), and the clock that stamps events
//! ([`unix_now`]).
//!
//! Why a module of its own: the apply workers, the jobs, the responder, the local sales and the
//! renewal all hold the core, and [`crate::runtime`] starts all of them. With the core inside
//! the runtime, each task imported the module that starts it, and none could be read or moved
//! without the whole start-up. Here the core sits below its users: it knows the settings, the
//! store, the keyring and the live routers, and nothing of the tasks; the runtime builds it,
//! hands it to each task and takes it apart at stop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use hotspot_link::LinkClient;
use hotspot_shared::fleet::msg::{Answer, Command, Event, Query};
use hotspot_shared::secretbox::Keyring;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

use crate::config::Settings;
use crate::routers::RouterSet;
use crate::store::Store;

/// The agent's end of the fleet link.
pub type Link = LinkClient<Event, Command, Query, Answer>;

/// Unix seconds now: the `at` of events.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What every task of the agent shares.
pub(crate) struct Core {
    pub settings: Settings,
    pub store: Store,
    pub keyring: Keyring,
    pub routers: RouterSet,
    link: Mutex<Option<Link>>,
    /// A write or barrier failed for lack of space (or the database failed otherwise): the
    /// engine refuses further writes until reopened, so nothing more can be made durable. Sales are refused and the
    /// apply workers pause, so nothing reaches a router that is not durably recorded.
    pub storage_failed: AtomicBool,
    pub stop: watch::Sender<bool>,
    tasks: Mutex<JoinSet<()>>,
}

impl Core {
    /// A core with no routers, no link yet, no tasks, storage fine, not stopping.
    pub fn new(settings: Settings, store: Store, keyring: Keyring) -> Core {
        Core {
            settings,
            store,
            keyring,
            routers: RouterSet::new(),
            link: Mutex::new(None),
            storage_failed: AtomicBool::new(false),
            stop: watch::Sender::new(false),
            tasks: Mutex::new(JoinSet::new()),
        }
    }

    /// The link, while the agent runs.
    pub fn link(&self) -> Option<Link> {
        lock(&self.link).clone()
    }

    /// Puts the link in, once it is started.
    pub fn set_link(&self, link: Link) {
        *lock(&self.link) = Some(link);
    }

    /// Takes the link out, to close it: the link holds the responder, which holds the core, so
    /// taking it out at stop breaks that cycle and the database really closes.
    pub fn take_link(&self) -> Option<Link> {
        lock(&self.link).take()
    }

    /// Queues events for the controller; returns once they are durable.
    pub async fn send(&self, events: &[Event]) -> Result<(), String> {
        if events.is_empty() {
            return Ok(());
        }
        let link = self.link().ok_or("the link is not running")?;
        link.send_batch(events)
            .await
            .map(drop)
            .map_err(|e| format!("cannot queue events for the controller: {e}"))
    }

    /// Records that storage failed (see [`Core::storage_failed`]).
    pub fn mark_storage_failed(&self, why: &str) {
        if !self.storage_failed.swap(true, Ordering::SeqCst) {
            tracing::error!(
                "storage failed ({why}): sales refused and router work paused until the agent restarts"
            );
        }
    }

    pub fn storage_is_failed(&self) -> bool {
        self.storage_failed.load(Ordering::SeqCst)
    }

    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) -> AbortHandle {
        lock(&self.tasks).spawn(task)
    }

    /// Takes every spawned task out, to drain or abort them at stop.
    pub fn take_tasks(&self) -> JoinSet<()> {
        std::mem::take(&mut *lock(&self.tasks))
    }
}
