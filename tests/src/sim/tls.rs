//! The API-SSL certificate: self-signed, as on most routers.
//!
//! Made with rcgen for `localhost` and `127.0.0.1` (an IP SAN, so clients that check the
//! host name against the address they dialled accept it), or reloaded from the state file so a
//! pinned fingerprint survives a restart. The rustls server config is built with the ring
//! provider passed explicitly — ring is the only provider in our tree, and we never rely on a
//! process-wide default.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};
use tokio_rustls::TlsAcceptor;

use super::SimError;
use super::state::TlsPem;

/// The simulator's certificate and key.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    pub pem: TlsPem,
    pub cert_der: Vec<u8>,
    pub sha256: [u8; 32],
}

impl TlsIdentity {
    /// A new self-signed certificate for `localhost` and `127.0.0.1`.
    pub fn generate() -> Result<Self, SimError> {
        let ck = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .map_err(|e| SimError::Tls(format!("generating certificate: {e}")))?;
        let pem = TlsPem {
            cert: ck.cert.pem(),
            key: ck.signing_key.serialize_pem(),
        };
        Self::from_pem(pem)
    }

    /// Reuses a stored certificate when there is one (and it parses), else makes one.
    pub fn load_or_generate(stored: Option<TlsPem>) -> Result<Self, SimError> {
        match stored.map(Self::from_pem) {
            Some(Ok(id)) => Ok(id),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "stored certificate unusable, generating a new one");
                Self::generate()
            }
            None => Self::generate(),
        }
    }

    pub fn from_pem(pem: TlsPem) -> Result<Self, SimError> {
        let cert = CertificateDer::from_pem_slice(pem.cert.as_bytes())
            .map_err(|e| SimError::Tls(format!("reading certificate PEM: {e}")))?;
        // The key must parse too, or the acceptor would fail later.
        PrivateKeyDer::from_pem_slice(pem.key.as_bytes())
            .map_err(|e| SimError::Tls(format!("reading key PEM: {e}")))?;
        let cert_der = cert.as_ref().to_vec();
        let sha256: [u8; 32] = Sha256::digest(&cert_der).into();
        Ok(TlsIdentity {
            pem,
            cert_der,
            sha256,
        })
    }

    pub fn acceptor(&self) -> Result<TlsAcceptor, SimError> {
        let key = PrivateKeyDer::from_pem_slice(self.pem.key.as_bytes())
            .map_err(|e| SimError::Tls(format!("reading key PEM: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SimError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(self.cert_der.clone())], key)
            .map_err(|e| SimError::Tls(e.to_string()))?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_identity_round_trips_through_pem() {
        let id = TlsIdentity::generate().expect("generates");
        let again = TlsIdentity::from_pem(id.pem.clone()).expect("parses");
        assert_eq!(again.sha256, id.sha256);
        assert!(id.acceptor().is_ok());
    }
}
