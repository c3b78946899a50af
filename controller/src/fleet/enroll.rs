//! Enrollment and renewal: the link's [`Enroller`] and [`Renewer`] backed by the ledger and CA.
//!
//! Enrollment spends the token in the ledger (one transaction: a token pasted twice at once
//! still enrolls one agent), makes that durable, and only then signs the CSR for the token's
//! site. Each certificate issued is written to the audit log (`certificate.issue`, target the
//! site, detail the serial) before the agent gets it: that record is how revoking a site finds
//! every certificate it holds. The refusal texts reach the agent's operator verbatim, so they
//! say what happened ("already used", "expired", "not valid") and what to do.
//!
//! Token expiry is judged with the injected [`Clock`]; certificate validity uses the wall
//! clock, because the peer checks it with its own.

use std::sync::Arc;

use hotspot_link::{EnrollGrant, EnrollRefusal, EnrollRequest, Enroller, Renewer};
use hotspot_pki::{EnrollmentToken, FleetCa, IssuedCert, SiteId};
use time::OffsetDateTime;

use crate::app::Clock;
use crate::store::{Actor, Stamp, Store, StoreError};

/// Audit action of every certificate given to an agent.
pub const CERT_ISSUED: &str = "certificate.issue";

/// Signs agents' certificates for the link.
#[derive(Clone)]
pub struct FleetSigner {
    ca: Arc<FleetCa>,
    store: Arc<dyn Store>,
    clock: Clock,
    validity: time::Duration,
    /// The link this signer serves, set once it runs: an enrolled site's link numbering
    /// starts over, since the new agent has no link state.
    /// Weak: the link holds this signer in its hooks, so a strong handle back would be a
    /// cycle that keeps the link and the ledger's database open after shutdown.
    fleet: Arc<std::sync::OnceLock<crate::app::WeakFleet>>,
}

impl FleetSigner {
    /// Gives the signer the link it serves (once; later calls are ignored).
    pub fn attach(&self, fleet: crate::app::Fleet) {
        let _ = self.fleet.set(fleet.downgrade());
    }

    pub fn new(ca: Arc<FleetCa>, store: Arc<dyn Store>, clock: Clock) -> Self {
        FleetSigner {
            ca,
            store,
            clock,
            validity: hotspot_pki::DEFAULT_AGENT_CERT_VALIDITY,
            fleet: Arc::default(),
        }
    }

    /// Certificates valid for `validity` instead of 90 days (tests of rotation).
    pub fn with_validity(mut self, validity: time::Duration) -> Self {
        self.validity = validity;
        self
    }

    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp((self.clock)()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Refuses sites that do not exist or are revoked.
    fn check_site(&self, site: &SiteId) -> Result<(), String> {
        match self.store.site(site) {
            Ok(Some(s)) if s.revoked => Err(format!(
                "site {site} is revoked; ask the controller's operator to create a new site"
            )),
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(format!("site {site} does not exist on this controller")),
            Err(e) => Err(internal(&e)),
        }
    }

    /// Signs `csr_der` for `site` and records the certificate before anyone sees it.
    async fn sign(&self, site: &SiteId, csr_der: &[u8]) -> Result<IssuedCert, String> {
        let cert = self
            .ca
            .sign_agent_csr(csr_der, site, self.validity, OffsetDateTime::now_utc())
            .map_err(|e| e.to_string())?;
        let stamp = Stamp::new(Actor::Site(site.clone()), (self.clock)());
        let detail = format!("{} until {}", cert.serial, cert.not_after.unix_timestamp());
        self.store
            .append_audit(&stamp.audit(CERT_ISSUED, site, detail))
            .map_err(|e| internal(&e))?
            .durable()
            .await
            .map_err(|e| internal(&e))?;
        tracing::info!(%site, serial = %cert.serial, "certificate issued");
        Ok(cert)
    }

    fn chain_pem(&self, cert: &IssuedCert) -> String {
        format!("{}{}", cert.cert_pem, self.ca.cert_pem())
    }
}

fn internal(e: &StoreError) -> String {
    tracing::error!(error = %e, "enrollment storage failed");
    "the controller could not record this; try again in a minute".to_string()
}

fn refusal_of(e: StoreError) -> String {
    match e {
        StoreError::Enroll(e) => e.to_string(),
        other => internal(&other),
    }
}

impl Enroller for FleetSigner {
    async fn enroll(&self, request: EnrollRequest) -> Result<EnrollGrant, EnrollRefusal> {
        let token: EnrollmentToken = request
            .token
            .parse()
            .map_err(|e: hotspot_pki::TokenParseError| EnrollRefusal(e.to_string()))?;
        if token.ca_fingerprint() != self.ca.fingerprint_sha256() {
            return Err(EnrollRefusal(hotspot_pki::EnrollError::Invalid.to_string()));
        }
        let record = self
            .store
            .spend_enrollment_token(&token, self.now())
            .map_err(|e| EnrollRefusal(refusal_of(e)))?
            .durable()
            .await
            .map_err(|e| EnrollRefusal(refusal_of(e)))?;
        // After the token check, so a forged token learns nothing about which sites exist.
        self.check_site(&record.site_id).map_err(EnrollRefusal)?;
        let cert = self
            .sign(&record.site_id, &request.csr_der)
            .await
            .map_err(EnrollRefusal)?;
        if let Some(fleet) = self.fleet.get().and_then(|f| f.upgrade()) {
            let loss = fleet.reset_site(&record.site_id).await.map_err(|e| {
                EnrollRefusal(format!(
                    "the controller could not reset the site's link: {e}"
                ))
            })?;
            if loss.is_some() {
                tracing::info!(site = %record.site_id, "site enrolled again: new link numbering; it will be healed");
            }
        }
        Ok(EnrollGrant {
            site_id: record.site_id,
            cert_chain_pem: self.chain_pem(&cert),
            ca_pem: self.ca.cert_pem().to_string(),
        })
    }
}

impl Renewer for FleetSigner {
    async fn renew(&self, site: SiteId, csr_der: Vec<u8>) -> Result<String, String> {
        self.check_site(&site)?;
        let cert = self.sign(&site, &csr_der).await?;
        Ok(self.chain_pem(&cert))
    }
}
