//! The agent's local staff page over HTTPS: a self-signed server certificate made on first
//! start and kept in the data directory.
//!
//! A site's LAN has no public name and no CA the staff's browsers trust, so the page uses a
//! certificate of its own; browsers show a warning once, then the connection is encrypted
//! (staff passwords cross the LAN). The key never leaves the box: `local-tls/key.pem` (0600)
//! beside `local-tls/cert.pem`. The certificate names `localhost`, the listen address and
//! the machine's host name when given.

use std::net::IpAddr;
use std::path::Path;

use rcgen::string::Ia5String;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::error::PkiError;
use crate::files::{ensure_private_dir, read_private_key, read_text, write_new};

/// Subdirectory of the data dir holding the page's certificate and key.
pub const LOCAL_TLS_DIR: &str = "local-tls";
pub const LOCAL_CERT_FILE: &str = "cert.pem";
pub const LOCAL_KEY_FILE: &str = "key.pem";
/// Lifetime of the self-signed certificate (renewed by deleting the directory).
pub const LOCAL_CERT_VALIDITY: Duration = Duration::days(5 * 365);

/// A PEM certificate and its PKCS#8 PEM key.
pub struct LocalCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for LocalCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCert")
            .field("key_pem", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Makes a self-signed serverAuth certificate for `names` (IP addresses or DNS names; ones
/// that are neither are skipped).
pub fn self_signed(names: &[String]) -> Result<LocalCert, PkiError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "hotspot-fleet site staff page");
    params.distinguished_name = dn;
    params.subject_alt_names = names
        .iter()
        .filter_map(|n| match n.parse::<IpAddr>() {
            Ok(ip) => Some(SanType::IpAddress(ip)),
            Err(_) => Ia5String::try_from(n.to_ascii_lowercase())
                .ok()
                .map(SanType::DnsName),
        })
        .collect();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + LOCAL_CERT_VALIDITY;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(
        &rand::random::<[u8; 16]>().map(|b| b & 0x7f),
    ));
    let cert = params.self_signed(&key)?;
    Ok(LocalCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The certificate in `data_dir/local-tls/`, made (for `names`) when missing.
pub fn load_or_create(data_dir: &Path, names: &[String]) -> Result<LocalCert, PkiError> {
    let dir = data_dir.join(LOCAL_TLS_DIR);
    let (cert_path, key_path) = (dir.join(LOCAL_CERT_FILE), dir.join(LOCAL_KEY_FILE));
    if cert_path.exists() && key_path.exists() {
        return Ok(LocalCert {
            cert_pem: read_text(&cert_path)?,
            key_pem: read_private_key(&key_path)?,
        });
    }
    ensure_private_dir(&dir)?;
    let made = self_signed(names)?;
    // The key first: a cert without its key would be useless; a lone key is remade.
    let _ = std::fs::remove_file(&key_path);
    write_new(&key_path, made.key_pem.as_bytes(), 0o600)?;
    let _ = std::fs::remove_file(&cert_path);
    write_new(&cert_path, made.cert_pem.as_bytes(), 0o644)?;
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let first = load_or_create(dir.path(), &names).expect("made");
        let again = load_or_create(dir.path(), &names).expect("read");
        assert_eq!(first.cert_pem, again.cert_pem);
        assert!(first.cert_pem.contains("BEGIN CERTIFICATE"));
        let chain = crate::tls::certs_from_pem("cert", &again.cert_pem).expect("parses");
        assert_eq!(chain.len(), 1);
    }
}
