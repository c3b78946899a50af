//! The shutdown signal every proxy task listens to.
//!
//! A `watch` channel rather than a broadcast: late subscribers see a shutdown that already
//! happened, and dropping the sender (the last proxy handle going away) counts as shutdown too,
//! so tasks never outlive every handle.

use tokio::sync::watch;

/// Resolves once shutdown is signalled or the sender is gone. Cancel-safe, so it can sit in
/// a `select!` loop.
pub(crate) async fn wait(rx: &mut watch::Receiver<bool>) {
    // An error means the sender was dropped, which is a shutdown as well.
    let _ = rx.wait_for(|stop| *stop).await;
}
