//! The controller's end of the fleet link: certificates, enrollment, renewal, revocation, and
//! what a site receives when it comes online.
//!
//! The link itself (`hotspot_link::LinkServer`) is generic; this module wires it to the
//! controller: the TLS identity from the data directory ([`pki`]), the revocation set from the
//! ledger, the ledger's inbound handler (agents' events applied exactly once, in the same
//! database as the link, so an event and its sequence number commit together), the
//! [`enroll::FleetSigner`] for enrollment and renewal, and [`presence`] for sites coming
//! online. Agents may ask the controller nothing yet ([`RefuseRequests`]).
//!
//! Invariants: the site of a connection comes from its certificate only; a certificate is
//! recorded in the ledger before the agent receives it; router passwords travel only in
//! requests (inside TLS), never in a durable command.

pub mod commands;
pub mod enroll;
pub mod heal;
pub mod pki;
pub mod presence;
pub mod sites;

use std::sync::Arc;
use std::time::Duration;

use hotspot_link::{ControlHooks, LinkConfig, LinkError, RefuseRequests, ServerConfig};

pub use enroll::FleetSigner;
pub use presence::Presence;

use crate::app::{AppState, Clock, Fleet};
use crate::config::Config;
use crate::store::{EmbeddedStore, Store, StoreError};

/// Why the fleet endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum FleetStartError {
    #[error("fleet certificates: {0}")]
    Pki(#[from] pki::PkiFilesError),
    #[error("reading revocations: {0}")]
    Store(#[from] StoreError),
    #[error("fleet link: {0}")]
    Link(#[from] LinkError),
}

/// The link settings the config asks for.
pub fn server_config(config: &Config) -> ServerConfig {
    ServerConfig {
        link: LinkConfig {
            heartbeat_interval: Duration::from_secs(config.fleet.heartbeat_secs.get()),
            congestion: config.fleet.congestion,
            ..LinkConfig::default()
        },
        listen: config.fleet.listen,
        offline_after: Duration::from_secs(config.fleet.offline_after_secs.get()),
        ..ServerConfig::default()
    }
}

/// Starts the fleet endpoint with the settings from `config` (certificates must exist; see
/// [`pki::bootstrap`]).
pub async fn start(
    config: &Config,
    store: &EmbeddedStore,
    clock: Clock,
) -> Result<Fleet, FleetStartError> {
    start_with(config, server_config(config), store, clock).await
}

/// [`start`] with explicit link settings (tests shorten the intervals).
pub async fn start_with(
    config: &Config,
    link: ServerConfig,
    store: &EmbeddedStore,
    clock: Clock,
) -> Result<Fleet, FleetStartError> {
    let ca = Arc::new(pki::load_ca(config)?);
    let revocations = store.revocations()?.into_shared();
    let tls = pki::server_tls(config, &ca, revocations)?;
    let ledger: Arc<dyn Store> = Arc::new(store.clone());
    let signer = FleetSigner::new(ca, ledger, clock.clone());
    let hooks = ControlHooks::new()
        .with_enroller(signer.clone())
        .with_renewer(signer.clone());
    let inbound = store.inbound().with_clock(clock);
    let fleet = Fleet::start(link, store.db(), tls, inbound, RefuseRequests, hooks).await?;
    signer.attach(fleet.clone());
    Ok(fleet)
}

/// Sets `hotspot_sites_online` and `hotspot_queue_depth{site}` from the link's view.
pub fn refresh_metrics(state: &AppState) {
    let mut sites = state.fleet.sites().unwrap_or_default();
    if let Ok(known) = state.store.sites() {
        sites.extend(known.into_iter().map(|s| s.id));
    }
    sites.sort();
    sites.dedup();
    let mut online = 0u32;
    for site in &sites {
        match state.fleet.site_status(site) {
            Ok(status) => {
                online += u32::from(status.online);
                let depth = status.outbox_len as f64;
                state.metrics.queue_depth.set(&[site.as_str()], depth);
            }
            Err(e) => tracing::debug!(%site, "no link status: {e}"),
        }
    }
    state.metrics.sites_online.set(&[], f64::from(online));
}
