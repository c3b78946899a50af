//! The controller's shared state and its HTTP application.
//!
//! One [`AppState`] (cheap to clone: an `Arc`) holds everything a handler may need: the ledger
//! behind its trait, the keyring that seals router passwords, the fleet link to the agents,
//! configuration, password hashing, the login throttle and metrics. [`router`] assembles the
//! API from the modules under [`crate::api`], each of which mounts its handlers with utoipa so
//! the OpenAPI document is generated from the same code that serves.
//!
//! The web layer never talks to a router: it writes to the ledger and the site's outbox, or
//! asks the site's agent through [`Fleet::request`] with a deadline.

use std::sync::{Arc, Mutex};

use hotspot_link::LinkServer;
use hotspot_shared::fleet::msg::{Answer, Command, Event, Query};
use hotspot_shared::secretbox::Keyring;

use crate::auth::password::PasswordHasher;
use crate::auth::throttle::LoginThrottle;
use crate::auth::two_factor::SignInTickets;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;

/// The controller's end of the fleet link.
pub type Fleet = LinkServer<Command, Event, Query, Answer>;
/// A [`Fleet`] handle that does not keep it alive.
pub type WeakFleet = hotspot_link::WeakLinkServer<Command, Event, Query, Answer>;

/// Unix seconds now; injected so jobs and expiry can be tested without sleeping.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(|| time::OffsetDateTime::now_utc().unix_timestamp())
}

/// Everything handlers and jobs share.
pub struct AppInner {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub keyring: Arc<Keyring>,
    pub fleet: Fleet,
    pub hasher: PasswordHasher,
    pub throttle: Mutex<LoginThrottle>,
    /// Dashboard sign-ins between their password step and their code step.
    pub sign_in_tickets: Mutex<SignInTickets>,
    pub metrics: Metrics,
    pub clock: Clock,
}

/// Shared state of the HTTP handlers and jobs.
#[derive(Clone)]
pub struct AppState(pub Arc<AppInner>);

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl AppState {
    pub fn now(&self) -> i64 {
        (self.clock)()
    }
}
