//! The controller's client-certificate verifier: webpki plus our revocation set.
//!
//! rustls's `WebPkiClientVerifier` does chain building, validity and EKU checks
//! well, but takes revocation only as CRL files fixed at build time. We wrap it
//! instead of re-implementing it: webpki decides first, then we refuse serials
//! in the shared [`Revocations`](crate::Revocations) (read on every handshake,
//! so a revocation needs no config rebuild) and certificates that do not name
//! exactly one site, so that everything the channel accepts has a site id.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore,
    SignatureScheme,
};

use super::config::ring_provider;
use crate::error::PkiError;
use crate::inspect::{serial_of, site_id_from_cert};
use crate::revocation::SharedRevocations;

/// Accepts client certificates issued by the fleet CA, currently valid, with
/// EKU clientAuth, naming one site, and whose serial is not revoked.
#[derive(Debug)]
pub struct FleetClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    revocations: SharedRevocations,
    mandatory: bool,
}

impl FleetClientVerifier {
    /// A verifier trusting only `ca_der`, consulting `revocations` on each
    /// handshake. Client certificates are mandatory.
    pub fn new(
        ca_der: &CertificateDer<'_>,
        revocations: SharedRevocations,
    ) -> Result<FleetClientVerifier, PkiError> {
        let mut roots = RootCertStore::empty();
        roots.add(ca_der.clone().into_owned())?;
        let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), ring_provider())
            .build()?;
        Ok(FleetClientVerifier {
            inner,
            revocations,
            mandatory: true,
        })
    }

    /// Also lets clients connect without a certificate (enrolling agents);
    /// a certificate that *is* presented is still fully checked. The channel
    /// must then allow nothing but enrollment on unauthenticated connections.
    pub fn allow_unauthenticated(mut self) -> FleetClientVerifier {
        self.mandatory = false;
        self
    }

    /// The revocation set this verifier reads.
    pub fn revocations(&self) -> &SharedRevocations {
        &self.revocations
    }
}

impl ClientCertVerifier for FleetClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let serial = serial_of(end_entity)
            .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
        // A poisoned lock means a writer panicked mid-update of a set; the set
        // itself is still a valid set, so keep enforcing it rather than fail open.
        let revoked = match self.revocations.read() {
            Ok(r) => r.is_revoked(&serial),
            Err(poisoned) => poisoned.into_inner().is_revoked(&serial),
        };
        if revoked {
            return Err(Error::InvalidCertificate(CertificateError::Revoked));
        }
        site_id_from_cert(end_entity).map_err(|_| {
            Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
        })?;
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
