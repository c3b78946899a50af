//! Certificates for the fault suites and the bench, made with `hotspot-pki` and written where
//! `fleet-peer` reads them.
//!
//! - The controller's `--pki DIR`: the CA (`fleet-ca.cert.pem`, `fleet-ca.key.pem`) and the
//!   controller's chain and key (`controller.cert.pem`, `controller.key.pem`), exactly as the
//!   `hotspot-pki` CLI lays them out.
//! - An agent's `--cert-dir DIR`: `fleet-ca.cert.pem`, `agent.cert.pem`, `agent.key.pem` (0600).
//!
//! The bench makes its thousands of agent identities in memory ([`agent_tls`]).

use std::path::Path;

use anyhow::{Context, Result};
use hotspot_link::{ClientTls, ServerTls};
use hotspot_pki::files::{
    CERT_FILE_MODE, KEY_FILE_MODE, ensure_private_dir, read_private_key, read_text, write_new,
};
use hotspot_pki::tls::{certs_from_pem, private_key_from_pem};
use hotspot_pki::{
    AgentKey, CA_CERT_FILE, DEFAULT_AGENT_CERT_VALIDITY, DEFAULT_CONTROLLER_CERT_VALIDITY, FleetCa,
    Revocations, SiteId, load_controller_identity, site_id_from_cert,
};
use time::OffsetDateTime;

/// The agent's certificate file in its `--cert-dir`.
pub const AGENT_CERT_FILE: &str = "agent.cert.pem";
/// The agent's private key file (mode 0600) in its `--cert-dir`.
pub const AGENT_KEY_FILE: &str = "agent.key.pem";

/// Creates the fleet CA and a controller certificate for `localhost` and `127.0.0.1` in `dir`.
pub fn init_controller_pki(dir: &Path) -> Result<FleetCa> {
    let ca = FleetCa::init(dir).context("creating the fleet CA")?;
    ca.issue_controller_cert(
        &["localhost".to_string(), "127.0.0.1".to_string()],
        DEFAULT_CONTROLLER_CERT_VALIDITY,
    )
    .context("issuing the controller certificate")?
    .write_to(dir, false)
    .context("writing the controller certificate")?;
    Ok(ca)
}

/// A key and a 90-day certificate for `site`, signed by `ca`, as the agent's TLS settings.
pub fn agent_tls(ca: &FleetCa, site: &SiteId) -> Result<ClientTls> {
    let key = AgentKey::generate()?;
    let cert = ca.sign_agent_csr(
        &key.make_csr(site)?,
        site,
        DEFAULT_AGENT_CERT_VALIDITY,
        OffsetDateTime::now_utc(),
    )?;
    Ok(ClientTls {
        ca: ca.cert_der().clone(),
        cert_chain: vec![cert.cert_der],
        key: key.private_key_der(),
    })
}

/// Writes an agent identity for `site` into `dir` (see the module comment for the names).
pub fn write_agent_certs(ca: &FleetCa, site: &SiteId, dir: &Path) -> Result<()> {
    let key = AgentKey::generate()?;
    let cert = ca.sign_agent_csr(
        &key.make_csr(site)?,
        site,
        DEFAULT_AGENT_CERT_VALIDITY,
        OffsetDateTime::now_utc(),
    )?;
    ensure_private_dir(dir)?;
    write_new(
        &dir.join(CA_CERT_FILE),
        ca.cert_pem().as_bytes(),
        CERT_FILE_MODE,
    )?;
    write_new(
        &dir.join(AGENT_CERT_FILE),
        cert.cert_pem.as_bytes(),
        CERT_FILE_MODE,
    )?;
    write_new(
        &dir.join(AGENT_KEY_FILE),
        key.key_pem().as_bytes(),
        KEY_FILE_MODE,
    )?;
    Ok(())
}

fn first_cert(dir: &Path, file: &str) -> Result<rustls_pki_types::CertificateDer<'static>> {
    let path = dir.join(file);
    certs_from_pem(&path.display().to_string(), &read_text(&path)?)?
        .into_iter()
        .next()
        .with_context(|| format!("no certificate in {}", path.display()))
}

/// The controller's TLS settings from its `--pki` directory (no revocations).
pub fn load_server_tls(dir: &Path) -> Result<ServerTls> {
    let (cert_chain, key) = load_controller_identity(dir)?;
    Ok(ServerTls {
        cert_chain,
        key,
        ca: first_cert(dir, CA_CERT_FILE)?,
        revocations: Revocations::new().into_shared(),
    })
}

/// The agent's TLS settings and its site (named by its certificate) from its `--cert-dir`.
pub fn load_client_tls(dir: &Path) -> Result<(ClientTls, SiteId)> {
    let cert = first_cert(dir, AGENT_CERT_FILE)?;
    let site = site_id_from_cert(&cert)?;
    let key_path = dir.join(AGENT_KEY_FILE);
    let key = private_key_from_pem(
        &key_path.display().to_string(),
        &read_private_key(&key_path)?,
    )?;
    let tls = ClientTls {
        ca: first_cert(dir, CA_CERT_FILE)?,
        cert_chain: vec![cert],
        key,
    };
    Ok((tls, site))
}
