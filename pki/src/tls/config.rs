//! Builders for the agent's `ClientConfig` and the controller's `ServerConfig`,
//! plus PEM loading for the files `hotspot-pki` writes.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::pinned::PinnedCaServerVerifier;
use crate::error::PkiError;

/// The ring crypto provider, the only one in this workspace.
pub fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn alpn_list(alpn: &[&[u8]]) -> Vec<Vec<u8>> {
    alpn.iter().map(|p| p.to_vec()).collect()
}

/// Config of an enrolled agent: trusts only the fleet CA (`ca_der`),
/// authenticates with its own certificate chain and key.
pub fn agent_client_config(
    ca_der: &CertificateDer<'_>,
    client_chain: Vec<CertificateDer<'static>>,
    client_key: PrivateKeyDer<'static>,
    alpn: &[&[u8]],
) -> Result<ClientConfig, PkiError> {
    let mut roots = RootCertStore::empty();
    roots.add(ca_der.clone().into_owned())?;
    let mut config = ClientConfig::builder_with_provider(ring_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_client_auth_cert(client_chain, client_key)?;
    config.alpn_protocols = alpn_list(alpn);
    Ok(config)
}

/// Config of an agent that is enrolling: it has no certificate yet and knows
/// the CA only by the SHA-256 in its token. The controller must send the CA
/// in its chain (`controller.cert.pem` holds leaf then CA); see
/// [`PinnedCaServerVerifier`].
pub fn agent_enrollment_config(
    ca_fingerprint: [u8; 32],
    alpn: &[&[u8]],
) -> Result<ClientConfig, PkiError> {
    let provider = ring_provider();
    let verifier = PinnedCaServerVerifier::new(ca_fingerprint, provider.clone());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = alpn_list(alpn);
    Ok(config)
}

/// Config of the controller: its server chain and key, and the verifier that
/// decides which agents may connect (normally a [`super::FleetClientVerifier`]).
pub fn controller_server_config(
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
    client_verifier: Arc<dyn ClientCertVerifier>,
    alpn: &[&[u8]],
) -> Result<ServerConfig, PkiError> {
    let mut config = ServerConfig::builder_with_provider(ring_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(server_chain, server_key)?;
    config.alpn_protocols = alpn_list(alpn);
    // No TLS session resumption: a resumed session restores the client certificate without
    // asking the verifier again, so a revoked or expired agent would get back in on a ticket.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// All certificates in a PEM text, in order; `what` names the source in errors.
pub fn certs_from_pem(what: &str, pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::BadPem {
            what: what.to_string(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(PkiError::BadPem {
            what: what.to_string(),
            reason: "no CERTIFICATE section".to_string(),
        });
    }
    // The PEM reader takes a section with nothing between its lines as zero bytes of DER.
    if certs.iter().any(|c| c.is_empty()) {
        return Err(PkiError::BadPem {
            what: what.to_string(),
            reason: "an empty CERTIFICATE section".to_string(),
        });
    }
    Ok(certs)
}

/// The first private key in a PEM text.
pub fn private_key_from_pem(what: &str, pem: &str) -> Result<PrivateKeyDer<'static>, PkiError> {
    let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| PkiError::BadPem {
        what: what.to_string(),
        reason: e.to_string(),
    })?;
    if key.secret_der().is_empty() {
        return Err(PkiError::BadPem {
            what: what.to_string(),
            reason: "the PRIVATE KEY section is empty".to_string(),
        });
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_pem_sections_are_refused() {
        // Found by the fuzz target `pki_pem` (fuzz/), minimised: an empty section was read as
        // a key (or certificate) of zero bytes, which then failed later with a misleading
        // message ("the agent key and certificate do not fit").
        let key = "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----";
        assert!(matches!(
            private_key_from_pem("k.pem", key),
            Err(PkiError::BadPem { reason, .. }) if reason.contains("empty")
        ));
        let cert = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            certs_from_pem("c.pem", cert),
            Err(PkiError::BadPem { reason, .. }) if reason.contains("empty")
        ));
    }
}
