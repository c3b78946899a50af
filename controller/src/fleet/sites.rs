//! Site operations shared by the HTTP API and the command line: enrollment tokens and
//! revocation.
//!
//! Both work on the ledger alone, so `hotspot-controller site add` / `site revoke` can run
//! while the controller is stopped; with a running link ([`Fleet`]) revocation also closes the
//! site's open connection at once. A site's certificates are found from the audit log, where
//! [`super::enroll`] records each one before handing it out.

use std::time::Duration;

use hotspot_pki::{EnrollmentToken, Serial, SiteId};
use time::OffsetDateTime;

use super::enroll::CERT_ISSUED;
use crate::app::Fleet;
use crate::config::Config;
use crate::store::{AuditFilter, PageRequest, Site, Stamp, Store, StoreError};

/// Lifetime of an enrollment token when none is asked for.
pub const DEFAULT_TOKEN_VALIDITY: Duration = Duration::from_secs(24 * 3600);
/// Longest lifetime of an enrollment token.
pub const MAX_TOKEN_VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why a site operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum SiteOpError {
    #[error("site {0} not found")]
    NotFound(SiteId),
    #[error("site {0} is revoked; create a new site for a replacement agent")]
    Revoked(SiteId),
    #[error("token lifetime must be between 1 minute and {} hours", MAX_TOKEN_VALIDITY.as_secs() / 3600)]
    BadValidity,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A freshly made enrollment token: shown once, stored only as a hash.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub site: SiteId,
    pub token: String,
    pub expires_at: OffsetDateTime,
    /// What the site operator runs.
    pub command: String,
}

/// `HOST:PORT` agents dial: `fleet.server_name` and the fleet port.
pub fn controller_address(config: &Config) -> String {
    let host = &config.fleet.server_name;
    let port = config.fleet.listen.port();
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The command that enrolls an agent with `token`.
pub fn enroll_command(controller: &str, token: &str) -> String {
    format!(
        "hotspot-agent enroll --controller {controller} --token {token} --data-dir /var/lib/hotspot-agent"
    )
}

fn existing(store: &dyn Store, id: &SiteId) -> Result<Site, SiteOpError> {
    store
        .site(id)?
        .ok_or_else(|| SiteOpError::NotFound(id.clone()))
}

/// Makes a one-time token for `site`, valid for `valid_for` from `by.at`.
pub async fn issue_token(
    store: &dyn Store,
    ca_fingerprint: [u8; 32],
    controller: &str,
    site: &SiteId,
    valid_for: Duration,
    by: &Stamp,
) -> Result<IssuedToken, SiteOpError> {
    if valid_for < Duration::from_secs(60) || valid_for > MAX_TOKEN_VALIDITY {
        return Err(SiteOpError::BadValidity);
    }
    let s = existing(store, site)?;
    if s.revoked {
        return Err(SiteOpError::Revoked(site.clone()));
    }
    let issued_at = OffsetDateTime::from_unix_timestamp(by.at)
        .map_err(|e| StoreError::Invalid(format!("time {}: {e}", by.at)))?;
    let expires_at = issued_at + valid_for;
    let (token, record) =
        EnrollmentToken::new(site.clone(), ca_fingerprint, expires_at, &mut rand::rng());
    store.put_enrollment_token(&record, by)?.durable().await?;
    let token = token.to_string();
    Ok(IssuedToken {
        site: site.clone(),
        command: enroll_command(controller, &token),
        token,
        expires_at,
    })
}

/// Serials of every certificate issued to `site`, from the audit log (oldest first).
pub fn issued_serials(store: &dyn Store, site: &SiteId) -> Result<Vec<Serial>, StoreError> {
    let filter = AuditFilter {
        action_prefix: Some(CERT_ISSUED.to_string()),
        target: Some(site.to_string()),
        ..AuditFilter::default()
    };
    let mut page = PageRequest::first(crate::store::MAX_PAGE);
    let mut serials = Vec::new();
    loop {
        let found = store.audit(&filter, &page)?;
        for entry in found.items.iter().filter(|e| e.action == CERT_ISSUED) {
            let first = entry.detail.split_whitespace().next().unwrap_or_default();
            match first.parse::<Serial>() {
                Ok(serial) => serials.push(serial),
                Err(e) => tracing::warn!(%site, detail = %entry.detail, "unreadable serial: {e}"),
            }
        }
        match found.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    serials.reverse();
    serials.dedup();
    Ok(serials)
}

/// What revoking a site did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    pub site: SiteId,
    /// Every serial now revoked for the site (issued here, and the one it is connected with).
    pub serials: Vec<Serial>,
    /// Open connections closed now (0 without a running link).
    pub closed: usize,
    /// Whether the site was already revoked before.
    pub already: bool,
}

/// Revokes `site`: marks it revoked, revokes every certificate it holds (durably, before
/// answering), and with a running link closes its open connection and refuses it from the
/// next handshake on.
pub async fn revoke_site(
    store: &dyn Store,
    fleet: Option<&Fleet>,
    site: &SiteId,
    by: &Stamp,
) -> Result<Revoked, SiteOpError> {
    let before = existing(store, site)?;
    let mut serials = issued_serials(store, site)?;
    // The link first, so the open connection is cut now; the ledger below makes it last.
    let live = fleet.and_then(|f| f.revoke_site(site));
    if let Some(live) = &live
        && !serials.contains(live)
    {
        serials.push(live.clone());
    }
    let mut written = store.set_site_revoked(site, true, by)?.map(|_| ());
    for serial in &serials {
        written = written.zip(store.revoke_serial(serial, by)?).map(|_| ());
    }
    written.durable().await?;
    let closed = match fleet {
        Some(f) => {
            let others = serials.iter().filter(|s| Some(*s) != live.as_ref());
            usize::from(live.is_some()) + others.map(|s| f.revoke(s)).sum::<usize>()
        }
        None => 0,
    };
    Ok(Revoked {
        site: site.clone(),
        serials,
        closed,
        already: before.revoked,
    })
}
