//! Certificate rotation before expiry, over the link, without interrupting service.
//!
//! Once two thirds of the certificate's lifetime have passed (`hotspot_pki::renewal_due`), the
//! agent makes a *new* key (the old one is never reused), sends a CSR for it over the
//! authenticated link, writes the new key and certificate in place as a pair
//! ([`identity::install_renewal`]) and only then switches the link to them
//! (`LinkClient::renew_with`): queued events stay queued, the reconnect is immediate. A
//! failure leaves the old pair in use and is retried shortly.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hotspot_pki::{AgentKey, SiteId, renewal_due};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::core::Core;
use crate::identity::{self, Identity};

/// Deadline for the controller's answer to a renewal.
const RENEW_DEADLINE: Duration = Duration::from_secs(30);
/// Wait before trying again when renewal is due but failed or the link is down.
const RETRY_DUE: Duration = Duration::from_secs(30);

/// What renewal needs to know about the current certificate.
pub(crate) struct Current {
    pub site: SiteId,
    pub ca: CertificateDer<'static>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl From<&Identity> for Current {
    fn from(id: &Identity) -> Self {
        Current {
            site: id.site.clone(),
            ca: id.ca.clone(),
            not_before: id.not_before,
            not_after: id.not_after,
        }
    }
}

/// The renewal task; returns at shutdown.
pub(crate) async fn run(core: Arc<Core>, dir: PathBuf, mut current: Current) {
    let mut stop = core.stop.subscribe();
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        wait = core.settings.jobs.renewal_check;
        if !renewal_due(
            current.not_before,
            current.not_after,
            OffsetDateTime::now_utc(),
        ) {
            continue;
        }
        wait = wait.min(RETRY_DUE);
        match renew_once(&core, &dir, &current).await {
            Ok(renewed) => {
                tracing::info!(not_after = %renewed.not_after, "agent certificate renewed");
                current = Current::from(&renewed);
                wait = core.settings.jobs.renewal_check;
            }
            Err(e) => tracing::warn!("certificate renewal failed (will retry): {e}"),
        }
    }
}

async fn renew_once(
    core: &Core,
    dir: &std::path::Path,
    current: &Current,
) -> Result<Identity, String> {
    let link = core.link().ok_or("the link is not running")?;
    if !link.status().connected {
        return Err("not connected to the controller".into());
    }
    let key = AgentKey::generate().map_err(|e| e.to_string())?;
    let csr = key.make_csr(&current.site).map_err(|e| e.to_string())?;
    let chain_pem = link
        .renew(csr, RENEW_DEADLINE)
        .await
        .map_err(|e| e.to_string())?;
    let renewed =
        identity::install_renewal(dir, &key, &chain_pem, current.ca.clone(), &current.site)
            .map_err(|e| e.to_string())?;
    link.renew_with(renewed.chain.clone(), key.private_key_der())
        .map_err(|e| e.to_string())?;
    Ok(renewed)
}
