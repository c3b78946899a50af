//! Reachability of one router, from the outcome of each call the jobs make to it: one
//! `RouterDown` per outage, and on recovery the apply worker and the health job are woken.
//!
//! Why a module of its own: both [`super::usage`] and [`super::health`] report their calls
//! here, and the scheduler in [`super`] starts them; kept apart, neither job imports the
//! scheduler back.

use hotspot_shared::fleet::msg::Event;

use crate::core::{Core, unix_now};
use crate::routeros::RouterError;
use crate::routers::{LiveRouter, failure_of, means_down};

/// Records the outcome of a call to the router: one `RouterDown` per outage, and on recovery
/// the apply worker and the health job are woken.
pub(crate) async fn observe(core: &Core, live: &LiveRouter, result: Result<(), &RouterError>) {
    match result {
        Ok(()) => {
            if live.mark_up() {
                tracing::info!(router = %live.id, "router reachable again");
                live.wake_apply.notify_one();
                live.wake_health.notify_one();
            }
        }
        Err(e) if means_down(e) => {
            if live.mark_down() {
                tracing::warn!(router = %live.id, error = %e, "router down");
                let down = Event::RouterDown {
                    router: live.id,
                    failure: failure_of(e),
                    at: unix_now(),
                };
                if let Err(e) = core.send(&[down]).await {
                    tracing::error!(router = %live.id, "cannot queue RouterDown: {e}");
                }
            }
        }
        Err(_) => {}
    }
}
