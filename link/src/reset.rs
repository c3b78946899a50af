//! The agent's half of starting the link numbering over after it enrolls.
//!
//! Enrolling gives a site a new identity and, usually, a fresh data directory; the controller
//! starts the site's numbering over when it grants the certificate
//! ([`crate::LinkServer::reset_site`]). An agent that enrolls again *with* its old data
//! directory must do the same on its side, or the two would disagree about where they are and
//! refuse each other. Events not yet acknowledged are kept and renumbered, never dropped.

use std::sync::Arc;

use hotspot_shared::fleet::MAX_FRAME_LEN;

use crate::durable::Flusher;
use crate::error::LinkError;
use crate::outbox::Outbox;
use crate::peer::PeerId;

/// Restarts this agent's numbering towards the controller; returns how many events are still
/// pending. Call it before [`crate::LinkClient::start`], never while a client runs on `db`.
pub async fn reset_controller_state(db: &sled::Db) -> Result<u64, LinkError> {
    let flusher = Arc::new(Flusher::new(db.clone()));
    let peer = PeerId::Controller;
    db.open_tree("link/inbox")?.remove(peer.storage_key())?;
    let outbox = Outbox::open(db, flusher, &peer, u64::MAX, MAX_FRAME_LEN)?;
    outbox.restart_numbering().await
}
