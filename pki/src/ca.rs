//! The fleet certificate authority: one self-signed ECDSA P-256 root, two files.
//!
//! The CA is deliberately tiny: no intermediates (path length 0), no CRL or
//! OCSP endpoints (revocation is a serial set the controller consults, see
//! [`crate::revocation`]). Its files are named for what they are
//! (`fleet-ca.cert.pem`, `fleet-ca.key.pem`); `init` never overwrites either,
//! because replacing the CA silently would orphan every site. Loading always
//! goes through the certificate on disk ([`rcgen::Issuer::from_ca_cert_der`]),
//! so a freshly created CA and a reloaded one sign identically.

use std::fmt;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::{Duration, OffsetDateTime};

use crate::error::PkiError;
use crate::files;
use crate::inspect::{fingerprint_sha256, parse_cert};
use crate::revocation::Serial;
use crate::validity::{backdated, whole_seconds_utc};

/// File name of the CA certificate.
pub const CA_CERT_FILE: &str = "fleet-ca.cert.pem";
/// File name of the CA private key (mode 0600).
pub const CA_KEY_FILE: &str = "fleet-ca.key.pem";
/// Subject common name of the CA.
pub const CA_COMMON_NAME: &str = "hotspot-fleet CA";
/// Lifetime of the CA certificate: 20 years.
pub const CA_VALIDITY: Duration = Duration::days(20 * 365 + 5);

/// The fleet CA, able to issue controller and agent certificates.
pub struct FleetCa {
    pub(crate) issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
}

impl FleetCa {
    /// Creates a new CA in `dir` (created with mode 0700 if missing):
    /// `fleet-ca.cert.pem` and `fleet-ca.key.pem` (mode 0600). Refuses with
    /// [`PkiError::AlreadyExists`] if either file exists, touching neither.
    pub fn init(dir: &Path) -> Result<FleetCa, PkiError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        for path in [&cert_path, &key_path] {
            // symlink_metadata: a dangling symlink also counts as "something there".
            if path.symlink_metadata().is_ok() {
                return Err(PkiError::AlreadyExists { path: path.clone() });
            }
        }
        files::ensure_private_dir(dir)?;
        let (ca, key_pem) = FleetCa::generate(OffsetDateTime::now_utc())?;
        files::write_new(&key_path, key_pem.as_bytes(), files::KEY_FILE_MODE)?;
        if let Err(e) = files::write_new(&cert_path, ca.cert_pem.as_bytes(), files::CERT_FILE_MODE)
        {
            // Only remove what we created in this call; `write_new` succeeded for the key.
            let _ = std::fs::remove_file(&key_path);
            return Err(e);
        }
        files::sync_dir(dir)?;
        Ok(ca)
    }

    /// Makes a CA in memory, returning it with its private key as PKCS#8 PEM.
    /// `init` uses this; tests elsewhere can use it to avoid the file system.
    pub fn generate(now: OffsetDateTime) -> Result<(FleetCa, String), PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, CA_COMMON_NAME);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.serial_number = Some((&Serial::random(&mut rand::rng())).into());
        let now = whole_seconds_utc(now);
        params.not_before = backdated(now);
        params.not_after = now + CA_VALIDITY;
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        let ca = FleetCa::from_parts(cert.pem(), key)?;
        Ok((ca, key_pem))
    }

    /// Loads the CA from `dir`, checking that the key file is private (no
    /// group/other access) and belongs to the certificate.
    pub fn load(dir: &Path) -> Result<FleetCa, PkiError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        for path in [&cert_path, &key_path] {
            if !path.exists() {
                return Err(PkiError::CaNotFound {
                    dir: dir.to_path_buf(),
                    missing: path.clone(),
                });
            }
        }
        let cert_pem = files::read_text(&cert_path)?;
        let key_pem = files::read_private_key(&key_path)?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| PkiError::BadPem {
            what: key_path.display().to_string(),
            reason: e.to_string(),
        })?;
        FleetCa::from_parts(cert_pem, key).map_err(|e| match e {
            PkiError::KeyMismatch { .. } => PkiError::KeyMismatch {
                key: key_path,
                cert: cert_path,
            },
            other => other,
        })
    }

    /// Builds the CA from its certificate PEM and key.
    fn from_parts(cert_pem: String, key: KeyPair) -> Result<FleetCa, PkiError> {
        let cert_der =
            CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| PkiError::BadPem {
                what: CA_CERT_FILE.to_string(),
                reason: e.to_string(),
            })?;
        {
            let parsed = parse_cert(&cert_der)?;
            if !parsed.is_ca() {
                return Err(PkiError::bad_cert("the fleet CA certificate is not a CA"));
            }
            if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
                return Err(PkiError::KeyMismatch {
                    key: CA_KEY_FILE.into(),
                    cert: CA_CERT_FILE.into(),
                });
            }
        }
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)?;
        Ok(FleetCa {
            issuer,
            cert_der,
            cert_pem,
        })
    }

    /// The CA certificate as PEM (what agents pin and store).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate as DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// SHA-256 of the CA certificate DER; carried in enrollment tokens.
    pub fn fingerprint_sha256(&self) -> [u8; 32] {
        fingerprint_sha256(&self.cert_der)
    }
}

impl fmt::Debug for FleetCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetCa")
            .field(
                "fingerprint_sha256",
                &hex::encode(self.fingerprint_sha256()),
            )
            .finish_non_exhaustive()
    }
}
