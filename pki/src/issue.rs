//! Issuing leaf certificates: the controller's server certificate and agents'
//! client certificates.
//!
//! The one rule that shapes this file: **from a CSR we take only the public
//! key**. We parse the request ourselves with x509-parser, verify its
//! self-signature (proof that the requester holds the key), and ignore
//! everything else in it — subject, SANs, key usages, basic constraints, any
//! extension. Every name, extension, the serial and the validity are set here.
//! (rcgen's own `CertificateSigningRequestParams::from_der` copies requested
//! names and extensions into the certificate, and refuses unknown ones: the
//! opposite of what a CA wants.)

use std::net::IpAddr;

use rcgen::string::Ia5String;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519, PublicKeyData,
    SanType, SubjectPublicKeyInfo,
};
use rustls_pki_types::{CertificateDer, DnsName};
use time::{Duration, OffsetDateTime};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;

use crate::ca::FleetCa;
use crate::error::PkiError;
use crate::inspect::site_uri;
use crate::revocation::Serial;
use crate::site::SiteId;
use crate::validity::{backdated, whole_seconds_utc};

/// Default lifetime of an agent certificate.
pub const DEFAULT_AGENT_CERT_VALIDITY: Duration = Duration::days(90);
/// Default lifetime of the controller certificate.
pub const DEFAULT_CONTROLLER_CERT_VALIDITY: Duration = Duration::days(365);
/// Longest lifetime we put on any leaf certificate.
pub const MAX_LEAF_VALIDITY: Duration = Duration::days(10 * 365);
/// Largest CSR we look at; a P-256 CSR is about 250 bytes.
pub const MAX_CSR_BYTES: usize = 16 * 1024;
/// Subject CN of the controller certificate.
pub const CONTROLLER_COMMON_NAME: &str = "hotspot-fleet controller";

/// A certificate signed by the fleet CA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedCert {
    pub cert_der: CertificateDer<'static>,
    pub cert_pem: String,
    pub serial: Serial,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

/// The controller's server certificate with its freshly made key.
pub struct ControllerCert {
    pub cert: IssuedCert,
    /// PEM chain as written to `controller.cert.pem`: the leaf, then the CA.
    pub chain_pem: String,
    /// PKCS#8 PEM of the private key, for `controller.key.pem` (mode 0600).
    pub key_pem: String,
}

impl std::fmt::Debug for ControllerCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerCert")
            .field("cert", &self.cert)
            .field("key_pem", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl FleetCa {
    /// Issues the controller's TLS server certificate (EKU serverAuth) for
    /// `sans`: each is an IP address or a DNS name agents use to reach it.
    pub fn issue_controller_cert(
        &self,
        sans: &[String],
        validity: Duration,
    ) -> Result<ControllerCert, PkiError> {
        if sans.is_empty() {
            return Err(PkiError::NoSans);
        }
        let names = sans
            .iter()
            .map(|s| controller_san(s))
            .collect::<Result<Vec<_>, _>>()?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let now = whole_seconds_utc(OffsetDateTime::now_utc());
        let not_before = backdated(now);
        let not_after = now + checked_validity(validity)?;
        let cert = self.sign_leaf(
            &key,
            CONTROLLER_COMMON_NAME,
            names,
            ExtendedKeyUsagePurpose::ServerAuth,
            not_before,
            not_after,
        )?;
        let chain_pem = format!("{}{}", cert.cert_pem, self.cert_pem());
        Ok(ControllerCert {
            cert,
            chain_pem,
            key_pem: key.serialize_pem(),
        })
    }

    /// Signs an agent's CSR into a client certificate for `site_id`, valid
    /// from `now` for `validity` (normally [`DEFAULT_AGENT_CERT_VALIDITY`]).
    /// Only the CSR's public key is used; see the module docs.
    pub fn sign_agent_csr(
        &self,
        csr_der: &[u8],
        site_id: &SiteId,
        validity: Duration,
        now: OffsetDateTime,
    ) -> Result<IssuedCert, PkiError> {
        let public_key = public_key_from_csr(csr_der)?;
        let not_before = whole_seconds_utc(now);
        let not_after = not_before + checked_validity(validity)?;
        let uri = Ia5String::try_from(site_uri(site_id))?;
        self.sign_leaf(
            &public_key,
            &format!("site {site_id}"),
            vec![SanType::URI(uri)],
            ExtendedKeyUsagePurpose::ClientAuth,
            not_before,
            not_after,
        )
    }

    fn sign_leaf(
        &self,
        public_key: &impl PublicKeyData,
        common_name: &str,
        sans: Vec<SanType>,
        eku: ExtendedKeyUsagePurpose,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCert, PkiError> {
        let serial = Serial::random(&mut rand::rng());
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.subject_alt_names = sans;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![eku];
        params.serial_number = Some((&serial).into());
        params.not_before = not_before;
        params.not_after = not_after;
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(public_key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            serial,
            not_before,
            not_after,
        })
    }
}

/// Parses a CSR, checks its key type and self-signature, and returns only its
/// public key.
fn public_key_from_csr(csr_der: &[u8]) -> Result<SubjectPublicKeyInfo, PkiError> {
    let bad = |reason: String| PkiError::BadCsr { reason };
    if csr_der.len() > MAX_CSR_BYTES {
        return Err(bad(format!(
            "{} bytes; at most {MAX_CSR_BYTES} are accepted",
            csr_der.len()
        )));
    }
    let (rest, csr) =
        X509CertificationRequest::from_der(csr_der).map_err(|e| bad(e.to_string()))?;
    if !rest.is_empty() {
        return Err(bad("trailing bytes after the request".to_string()));
    }
    let spki = &csr.certification_request_info.subject_pki;
    let unsupported = || PkiError::UnsupportedKeyAlgorithm {
        found: spki.algorithm.algorithm.to_id_string(),
    };
    let key = SubjectPublicKeyInfo::from_der(spki.raw).map_err(|_| unsupported())?;
    let allowed = [
        &PKCS_ECDSA_P256_SHA256,
        &PKCS_ECDSA_P384_SHA384,
        &PKCS_ED25519,
    ];
    if !allowed.contains(&key.algorithm()) {
        return Err(unsupported());
    }
    csr.verify_signature()
        .map_err(|_| PkiError::CsrSignatureInvalid)?;
    Ok(key)
}

/// One controller SAN: an IP address (IPv6 may be bracketed) or a DNS name.
fn controller_san(s: &str) -> Result<SanType, PkiError> {
    let s = s.trim();
    let unbracketed = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let invalid = |reason: &str| PkiError::InvalidSan {
        san: s.to_string(),
        reason: reason.to_string(),
    };
    if s.contains(':') {
        return Err(invalid("give the host without a port"));
    }
    DnsName::try_from(s).map_err(|_| invalid("neither an IP address nor a valid DNS name"))?;
    let ia5 = Ia5String::try_from(s.to_ascii_lowercase()).map_err(|e| invalid(&e.to_string()))?;
    Ok(SanType::DnsName(ia5))
}

fn checked_validity(validity: Duration) -> Result<Duration, PkiError> {
    if validity <= Duration::ZERO {
        return Err(PkiError::InvalidValidity {
            reason: format!("{validity} is not a positive duration"),
        });
    }
    if validity > MAX_LEAF_VALIDITY {
        return Err(PkiError::InvalidValidity {
            reason: format!(
                "{} days is longer than the {} days we allow",
                validity.whole_days(),
                MAX_LEAF_VALIDITY.whole_days()
            ),
        });
    }
    Ok(validity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sans_are_classified() {
        assert!(matches!(
            controller_san("10.0.0.1"),
            Ok(SanType::IpAddress(_))
        ));
        assert!(matches!(controller_san("[::1]"), Ok(SanType::IpAddress(_))));
        assert!(matches!(
            controller_san("ctl.example.net"),
            Ok(SanType::DnsName(_))
        ));
        assert!(matches!(
            controller_san("localhost"),
            Ok(SanType::DnsName(_))
        ));
        assert!(controller_san("ctl.example.net:4433").is_err());
        assert!(controller_san("not a name").is_err());
        assert!(controller_san("").is_err());
    }

    #[test]
    fn validity_bounds() {
        assert!(checked_validity(Duration::ZERO).is_err());
        assert!(checked_validity(Duration::days(-1)).is_err());
        assert!(checked_validity(Duration::days(90)).is_ok());
        assert!(checked_validity(Duration::days(10 * 365 + 1)).is_err());
    }
}
