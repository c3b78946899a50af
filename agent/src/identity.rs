//! The agent's files in its data directory: who it is to the controller.
//!
//! ```text
//! agent.key.pem        the agent's private key (ECDSA P-256, mode 0600, made here, never sent)
//! agent.cert.pem       its certificate from the fleet CA (leaf, then CA), naming the site
//! fleet-ca.cert.pem    the fleet CA: the only issuer trusted for the controller
//! keys/                master key(s) sealing router passwords at rest (0600, made at enrollment)
//! agent.redb           the database (queues, desired state, the link's outbox and inbox)
//! renewal/             a renewed key and certificate while they are being put in place
//! ```
//!
//! Why it is shaped so: keys are written with `hotspot_pki::files` (created 0600 in the same
//! `open(2)`, fsynced), and the certificate is written *last* at enrollment, so its presence
//! means "enrolled". A renewal must replace two files together, which no rename can do: the
//! new pair is written complete into `renewal/` first, then moved key first, certificate
//! second; [`recover_renewal`] finishes (or discards) an interrupted switch at the next start.

use std::path::{Path, PathBuf};

use hotspot_link::{ClientTls, EnrollGrant};
use hotspot_pki::files::{self, CERT_FILE_MODE, KEY_FILE_MODE};
use hotspot_pki::tls::{certs_from_pem, private_key_from_pem};
use hotspot_pki::{AgentKey, PkiError, SiteId, site_id_from_cert, validity_of};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

pub const KEY_FILE: &str = "agent.key.pem";
pub const CERT_FILE: &str = "agent.cert.pem";
pub const CA_FILE: &str = "fleet-ca.cert.pem";
pub const KEYS_DIR: &str = "keys";
pub const DB_FILE: &str = "agent.redb";
pub const RENEWAL_DIR: &str = "renewal";

/// Why the agent's identity could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "{dir} holds no enrolled agent ({missing} is missing): run `hotspot-agent enroll --data-dir {dir} ...` first"
    )]
    NotEnrolled { dir: PathBuf, missing: PathBuf },
    #[error(
        "{dir} already holds an enrolled agent ({cert}); use another --data-dir, or move it away to enroll again"
    )]
    AlreadyEnrolled { dir: PathBuf, cert: PathBuf },
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The agent's certificate, key and CA, loaded.
pub struct Identity {
    pub site: SiteId,
    pub chain: Vec<CertificateDer<'static>>,
    pub ca: CertificateDer<'static>,
    key_pem: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("site", &self.site)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads the identity in `dir`, finishing an interrupted renewal first.
    pub fn load(dir: &Path) -> Result<Identity, IdentityError> {
        recover_renewal(dir)?;
        let cert_path = dir.join(CERT_FILE);
        if !cert_path.exists() {
            return Err(IdentityError::NotEnrolled {
                dir: dir.to_path_buf(),
                missing: cert_path,
            });
        }
        let chain_pem = files::read_text(&cert_path)?;
        let chain = certs_from_pem(&cert_path.display().to_string(), &chain_pem)?;
        let ca_path = dir.join(CA_FILE);
        let ca =
            certs_from_pem(&ca_path.display().to_string(), &files::read_text(&ca_path)?)?.remove(0);
        let key_pem = files::read_private_key(&dir.join(KEY_FILE))?;
        Identity::from_parts(chain, ca, key_pem)
    }

    fn from_parts(
        chain: Vec<CertificateDer<'static>>,
        ca: CertificateDer<'static>,
        key_pem: String,
    ) -> Result<Identity, IdentityError> {
        let leaf = chain
            .first()
            .ok_or_else(|| IdentityError::Invalid("the certificate file is empty".into()))?;
        let site = site_id_from_cert(leaf)?;
        let (not_before, not_after) = validity_of(leaf)?;
        let identity = Identity {
            site,
            chain,
            ca,
            key_pem,
            not_before,
            not_after,
        };
        // rustls checks that the key belongs to the certificate.
        hotspot_pki::agent_client_config(
            &identity.ca,
            identity.chain.clone(),
            identity.key()?,
            &[hotspot_shared::fleet::ALPN],
        )
        .map_err(|e| {
            IdentityError::Invalid(format!("the agent key and certificate do not fit: {e}"))
        })?;
        Ok(identity)
    }

    fn key(&self) -> Result<rustls_pki_types::PrivateKeyDer<'static>, IdentityError> {
        Ok(private_key_from_pem("agent key", &self.key_pem)?)
    }

    /// What the link needs to connect as this agent.
    pub fn client_tls(&self) -> Result<ClientTls, IdentityError> {
        Ok(ClientTls {
            ca: self.ca.clone(),
            cert_chain: self.chain.clone(),
            key: self.key()?,
        })
    }
}

/// Writes what enrollment produced: CA, key, then certificate (the mark of completion), and
/// creates the master key that seals router passwords.
pub fn write_enrollment(
    dir: &Path,
    key: &AgentKey,
    grant: &EnrollGrant,
) -> Result<Identity, IdentityError> {
    files::ensure_private_dir(dir)?;
    let cert_path = dir.join(CERT_FILE);
    if cert_path.exists() {
        return Err(IdentityError::AlreadyEnrolled {
            dir: dir.to_path_buf(),
            cert: cert_path,
        });
    }
    let chain = certs_from_pem("the granted certificate", &grant.cert_chain_pem)?;
    let ca = certs_from_pem("the granted CA", &grant.ca_pem)?.remove(0);
    let identity = Identity::from_parts(chain, ca, key.key_pem())?;
    if identity.site != grant.site_id {
        return Err(IdentityError::Invalid(format!(
            "the certificate names site {} but the grant says {}",
            identity.site, grant.site_id
        )));
    }
    files::replace(&dir.join(CA_FILE), grant.ca_pem.as_bytes(), CERT_FILE_MODE)?;
    files::replace(&dir.join(KEY_FILE), key.key_pem().as_bytes(), KEY_FILE_MODE)?;
    files::write_new(&cert_path, grant.cert_chain_pem.as_bytes(), CERT_FILE_MODE)?;
    files::sync_dir(dir)?;
    hotspot_pki::load_or_create_keyring(&dir.join(KEYS_DIR))
        .map_err(|e| IdentityError::Invalid(e.to_string()))?;
    Ok(identity)
}

/// Puts a renewed key and certificate for `site` in place (see the module comment) and returns
/// the new identity.
pub fn install_renewal(
    dir: &Path,
    key: &AgentKey,
    chain_pem: &str,
    ca: CertificateDer<'static>,
    site: &SiteId,
) -> Result<Identity, IdentityError> {
    let chain = certs_from_pem("the renewed certificate", chain_pem)?;
    let identity = Identity::from_parts(chain, ca, key.key_pem())?;
    if identity.site != *site {
        return Err(IdentityError::Invalid(format!(
            "the renewed certificate names site {} instead of {site}",
            identity.site
        )));
    }
    let staging = dir.join(RENEWAL_DIR);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| io("remove", &staging, e))?;
    }
    files::ensure_private_dir(&staging)?;
    files::write_new(
        &staging.join(KEY_FILE),
        key.key_pem().as_bytes(),
        KEY_FILE_MODE,
    )?;
    files::write_new(
        &staging.join(CERT_FILE),
        chain_pem.as_bytes(),
        CERT_FILE_MODE,
    )?;
    files::sync_dir(&staging)?;
    recover_renewal(dir)?;
    Ok(identity)
}

/// Finishes a renewal that `renewal/` holds completely (its certificate is there), or
/// discards one that was cut off while being written.
pub fn recover_renewal(dir: &Path) -> Result<(), IdentityError> {
    let staging = dir.join(RENEWAL_DIR);
    if !staging.exists() {
        return Ok(());
    }
    let (new_key, new_cert) = (staging.join(KEY_FILE), staging.join(CERT_FILE));
    if new_cert.exists() {
        for (from, to) in [
            (&new_key, dir.join(KEY_FILE)),
            (&new_cert, dir.join(CERT_FILE)),
        ] {
            if from.exists() {
                std::fs::rename(from, &to).map_err(|e| io("rename into place", &to, e))?;
            }
        }
        files::sync_dir(dir)?;
        tracing::info!(dir = %dir.display(), "renewed certificate in place");
    }
    std::fs::remove_dir_all(&staging).map_err(|e| io("remove", &staging, e))?;
    Ok(())
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> IdentityError {
    IdentityError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `dir` already holds an enrolled agent.
pub fn is_enrolled(dir: &Path) -> bool {
    dir.join(CERT_FILE).exists()
}
