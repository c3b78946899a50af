//! Reading facts back out of certificates: the site, the serial, the validity.
//!
//! The controller must take a site's identity from the certificate only, never
//! from a message, so [`site_id_from_cert`] is strict: exactly one
//! `hotspot-fleet://site/<id>` URI SAN, and a valid id in it. The parsing uses
//! x509-parser (read-only, no trust decisions); whether a certificate is
//! trustworthy is decided by webpki in [`crate::tls`].

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::error::PkiError;
use crate::revocation::Serial;
use crate::site::SiteId;

/// Prefix of the URI SAN that names a site in an agent certificate.
pub const SITE_URI_PREFIX: &str = "hotspot-fleet://site/";

/// The URI SAN for `site`.
pub fn site_uri(site: &SiteId) -> String {
    format!("{SITE_URI_PREFIX}{site}")
}

/// Parses DER, refusing trailing bytes.
pub(crate) fn parse_cert(cert_der: &[u8]) -> Result<X509Certificate<'_>, PkiError> {
    let (rest, cert) = X509Certificate::from_der(cert_der).map_err(PkiError::bad_cert)?;
    if !rest.is_empty() {
        return Err(PkiError::bad_cert("trailing bytes after the certificate"));
    }
    Ok(cert)
}

/// The site an agent certificate names (its single `hotspot-fleet://site/` URI SAN).
pub fn site_id_from_cert(cert_der: &[u8]) -> Result<SiteId, PkiError> {
    let cert = parse_cert(cert_der)?;
    let no_site = |reason: &str| PkiError::NoSiteInCertificate {
        reason: reason.to_string(),
    };
    let san = cert
        .subject_alternative_name()
        .map_err(|e| no_site(&format!("unreadable subjectAltName: {e}")))?
        .ok_or_else(|| no_site("no subjectAltName extension"))?;
    let mut sites = san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) => uri.strip_prefix(SITE_URI_PREFIX),
            _ => None,
        });
    let site = sites
        .next()
        .ok_or_else(|| no_site("no hotspot-fleet://site/ URI"))?;
    if sites.next().is_some() {
        return Err(no_site("more than one hotspot-fleet://site/ URI"));
    }
    SiteId::new(site).map_err(|e| no_site(&e.to_string()))
}

/// The certificate's serial number.
pub fn serial_of(cert_der: &[u8]) -> Result<Serial, PkiError> {
    let cert = parse_cert(cert_der)?;
    Serial::from_be_bytes(cert.raw_serial()).map_err(PkiError::bad_cert)
}

/// The certificate's `(not_before, not_after)`.
pub fn validity_of(cert_der: &[u8]) -> Result<(OffsetDateTime, OffsetDateTime), PkiError> {
    let cert = parse_cert(cert_der)?;
    let v = cert.validity();
    Ok((v.not_before.to_datetime(), v.not_after.to_datetime()))
}

/// True once two thirds of the lifetime `not_before..not_after` have passed
/// at `now` (and for a lifetime that is empty or negative).
pub fn renewal_due(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
) -> bool {
    let lifetime = (not_after - not_before).whole_nanoseconds();
    let elapsed = (now - not_before).whole_nanoseconds();
    lifetime <= 0 || elapsed.saturating_mul(3) >= lifetime.saturating_mul(2)
}

/// SHA-256 of DER bytes (the CA fingerprint carried in enrollment tokens).
pub fn fingerprint_sha256(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    #[test]
    fn renewal_due_at_two_thirds() {
        let nb = datetime!(2026-01-01 0:00 UTC);
        let na = nb + Duration::days(90);
        assert!(!renewal_due(nb, na, nb));
        assert!(!renewal_due(nb, na, nb + Duration::days(45)));
        assert!(!renewal_due(
            nb,
            na,
            nb + Duration::days(60) - Duration::seconds(1)
        ));
        assert!(renewal_due(nb, na, nb + Duration::days(60)));
        assert!(renewal_due(nb, na, nb + Duration::hours(90 * 24 * 3 / 4)));
        assert!(renewal_due(nb, na, na + Duration::days(1)));
        assert!(renewal_due(nb, nb, nb));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(site_id_from_cert(b"not a cert").is_err());
        assert!(serial_of(&[]).is_err());
        assert!(validity_of(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
    }
}
