//! API-SSL (TLS on TCP 8729) with rustls, trusting either a CA or a pinned certificate.
//!
//! Routers usually present a self-signed certificate, so next to ordinary webpki verification
//! ([`TlsTrust::Ca`]) we offer pinning ([`TlsTrust::Pin`]): the SHA-256 of the end-entity
//! certificate's DER must equal the pin. There is deliberately no "accept anything" mode. A pinned
//! connection still checks the handshake signatures, so whoever answers must hold the
//! certificate's private key, not just a copy of the certificate.
//!
//! Configs are built with the ring provider passed explicitly, never with a process-wide default,
//! so this module works whatever the binary installed. A pin mismatch travels through rustls and
//! tokio-rustls as a typed error and is recovered here as [`RouterError::PinMismatch`].

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, OtherError, RootCertStore,
    SignatureScheme,
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::error::RouterError;

/// How the router's certificate is trusted.
#[derive(Clone, PartialEq, Eq)]
pub enum TlsTrust {
    /// Verify the chain against these roots (DER) and the host name or IP address.
    Ca(Vec<CertificateDer<'static>>),
    /// Accept exactly the certificate whose DER has this SHA-256.
    Pin([u8; 32]),
}

impl fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsTrust::Ca(roots) => write!(f, "Ca({} roots)", roots.len()),
            TlsTrust::Pin(pin) => write!(f, "Pin({})", hex::encode(pin)),
        }
    }
}

impl TlsTrust {
    /// A pin from 64 hex digits; `:` separators (as browsers show fingerprints) are allowed.
    pub fn pin_from_hex(text: &str) -> Result<TlsTrust, String> {
        let cleaned: String = text.trim().chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(&cleaned).map_err(|e| format!("pin is not hex: {e}"))?;
        let pin: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("pin must be 32 bytes (SHA-256), got {}", b.len()))?;
        Ok(TlsTrust::Pin(pin))
    }
}

/// SHA-256 of a certificate's DER: what [`TlsTrust::Pin`] compares.
pub fn cert_fingerprint(cert: &CertificateDer<'_>) -> [u8; 32] {
    Sha256::digest(cert.as_ref()).into()
}

/// Carried inside `rustls::Error` from the verifier to [`connect`].
#[derive(Debug)]
struct PinMismatchError {
    expected: [u8; 32],
    got: [u8; 32],
}

impl fmt::Display for PinMismatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "certificate SHA-256 {} is not the pinned {}",
            hex::encode(self.got),
            hex::encode(self.expected)
        )
    }
}

impl std::error::Error for PinMismatchError {}

/// Accepts the one certificate with the pinned SHA-256, and verifies handshake signatures with
/// the provider's algorithms.
#[derive(Debug)]
struct PinVerifier {
    pin: [u8; 32],
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = cert_fingerprint(end_entity);
        if got == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            let err = PinMismatchError {
                expected: self.pin,
                got,
            };
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(err)),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls client config for `trust`, with the ring provider.
pub fn client_config(trust: &TlsTrust) -> Result<Arc<ClientConfig>, RouterError> {
    let provider = provider();
    let algorithms = provider.signature_verification_algorithms;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RouterError::Tls(e.to_string()))?;
    let config = match trust {
        TlsTrust::Ca(roots) => {
            let mut store = RootCertStore::empty();
            for root in roots {
                store
                    .add(root.clone())
                    .map_err(|e| RouterError::Tls(format!("bad CA certificate: {e}")))?;
            }
            builder.with_root_certificates(store).with_no_client_auth()
        }
        TlsTrust::Pin(pin) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinVerifier {
                pin: *pin,
                algorithms,
            }))
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The TLS handshake over an open TCP stream. The caller bounds it with its connect timeout.
pub async fn connect(
    tcp: TcpStream,
    host: &str,
    trust: &TlsTrust,
) -> Result<TlsStream<TcpStream>, RouterError> {
    let config = client_config(trust)?;
    let name = match ServerName::try_from(host.to_owned()) {
        Ok(name) => name,
        // The name is not checked under a pin; any syntactically valid one will do.
        Err(_) if matches!(trust, TlsTrust::Pin(_)) => {
            ServerName::try_from("router.invalid").map_err(|e| RouterError::Tls(e.to_string()))?
        }
        Err(e) => {
            return Err(RouterError::Tls(format!(
                "{host:?} is not a valid TLS server name: {e}"
            )));
        }
    };
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| map_handshake_error(&e))
}

/// Recovers the pin mismatch from the io error tokio-rustls wraps around `rustls::Error`.
fn map_handshake_error(err: &std::io::Error) -> RouterError {
    let rustls_err = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    if let Some(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner)))) =
        rustls_err
        && let Some(mismatch) = inner.downcast_ref::<PinMismatchError>()
    {
        return RouterError::PinMismatch {
            expected: hex::encode(mismatch.expected),
            got: hex::encode(mismatch.got),
        };
    }
    match rustls_err {
        Some(e) => RouterError::Tls(e.to_string()),
        None => RouterError::Tls(format!("handshake failed: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_parses_with_or_without_colons() {
        let hex64 = "ab".repeat(32);
        assert_eq!(
            TlsTrust::pin_from_hex(&hex64),
            Ok(TlsTrust::Pin([0xab; 32]))
        );
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(
            TlsTrust::pin_from_hex(&colons),
            Ok(TlsTrust::Pin([0xab; 32]))
        );
        assert!(TlsTrust::pin_from_hex("abcd").is_err());
        assert!(TlsTrust::pin_from_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn mismatch_is_recovered_from_the_io_error() {
        let err = PinMismatchError {
            expected: [1; 32],
            got: [2; 32],
        };
        let rustls_err =
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(err))));
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls_err);
        assert_eq!(
            map_handshake_error(&io),
            RouterError::PinMismatch {
                expected: "01".repeat(32),
                got: "02".repeat(32)
            }
        );
        let other =
            std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert!(matches!(map_handshake_error(&other), RouterError::Tls(_)));
    }

    #[test]
    fn configs_build_without_a_process_default_provider() {
        assert!(client_config(&TlsTrust::Pin([0; 32])).is_ok());
        assert!(client_config(&TlsTrust::Ca(Vec::new())).is_ok());
    }

    #[test]
    fn debug_shows_the_pin_in_hex() {
        assert_eq!(
            format!("{:?}", TlsTrust::Pin([0xff; 32])),
            format!("Pin({})", "ff".repeat(32))
        );
    }
}
