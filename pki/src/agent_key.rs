//! The agent's own key pair and its certificate signing request.
//!
//! The agent makes its key at the site and only ever sends the CSR: the private
//! key never leaves the machine. The CSR carries a subject naming the site for
//! the benefit of humans reading logs, but the controller ignores it (see
//! [`crate::issue`]); the site is bound by the enrollment token instead.

use std::fmt;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256, PublicKeyData,
};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::PkiError;
use crate::site::SiteId;

/// An agent's ECDSA P-256 private key.
pub struct AgentKey {
    key: KeyPair,
}

impl AgentKey {
    /// Makes a new P-256 key.
    pub fn generate() -> Result<AgentKey, PkiError> {
        Ok(AgentKey {
            key: KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?,
        })
    }

    /// Loads a key written earlier with [`AgentKey::key_pem`].
    pub fn from_pem(pem: &str) -> Result<AgentKey, PkiError> {
        let key = KeyPair::from_pem(pem).map_err(|e| PkiError::BadPem {
            what: "agent key".to_string(),
            reason: e.to_string(),
        })?;
        Ok(AgentKey { key })
    }

    /// A PKCS#10 CSR (DER) for this key, self-signed with it.
    pub fn make_csr(&self, site_id: &SiteId) -> Result<Vec<u8>, PkiError> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, format!("site {site_id}"));
        params.distinguished_name = dn;
        let csr = params.serialize_request(&self.key)?;
        Ok(csr.der().to_vec())
    }

    /// The private key as PKCS#8 PEM, to be stored with mode 0600.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// The private key for a rustls config.
    pub fn private_key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key.subject_public_key_info()
    }
}

impl fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AgentKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_keeps_the_key() {
        let key = AgentKey::generate().unwrap();
        let again = AgentKey::from_pem(&key.key_pem()).unwrap();
        assert_eq!(key.public_key_der(), again.public_key_der());
        assert!(AgentKey::from_pem("garbage").is_err());
        assert!(!format!("{key:?}").contains("PRIVATE"));
    }
}
