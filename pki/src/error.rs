//! One error type for the PKI boundary.
//!
//! Every variant names what went wrong *and* what the operator or caller can do
//! about it (which file, which flag, which command), because these errors end up
//! verbatim in CLI output and in the controller's enrollment answers. Parsing
//! problems with enrollment tokens have their own types in [`crate::token`],
//! since those face a different audience (the site operator).

use std::path::PathBuf;

use crate::site::SiteIdError;

/// What can go wrong in CA, certificate and TLS-config operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A file we would write is already there; we never overwrite key material.
    #[error(
        "{path} already exists; refusing to overwrite it (move it away first if you really mean to replace it)"
    )]
    AlreadyExists { path: PathBuf },

    /// `load` found no CA in the directory.
    #[error(
        "no fleet CA in {dir}: {missing} is missing (create one with `hotspot-pki init --dir {dir}`)"
    )]
    CaNotFound { dir: PathBuf, missing: PathBuf },

    /// Reading or writing a file failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A private key file is readable or writable by group or others.
    #[error("{path} has mode {mode:o}, readable by others; run `chmod 600 {path}` and try again")]
    InsecureKeyFile { path: PathBuf, mode: u32 },

    /// A PEM file or string did not hold what it should.
    #[error("{what} is not valid PEM: {reason}")]
    BadPem { what: String, reason: String },

    /// The CA key file does not belong to the CA certificate next to it.
    #[error("{key} does not match the certificate {cert}; the CA directory is inconsistent")]
    KeyMismatch { key: PathBuf, cert: PathBuf },

    /// Certificate DER that does not parse or lacks what we need.
    #[error("bad certificate: {reason}")]
    BadCertificate { reason: String },

    /// A certificate from the fleet CA that does not name exactly one site.
    #[error("certificate does not name a site: {reason}")]
    NoSiteInCertificate { reason: String },

    /// CSR bytes that are not a PKCS#10 request.
    #[error("certificate signing request does not parse: {reason}")]
    BadCsr { reason: String },

    /// The CSR's self-signature does not verify: the requester does not hold the key.
    #[error(
        "certificate signing request has an invalid signature (the requester does not prove it holds the key)"
    )]
    CsrSignatureInvalid,

    /// A key type we do not issue certificates for.
    #[error(
        "unsupported key algorithm {found}; agent keys must be ECDSA P-256, ECDSA P-384 or Ed25519"
    )]
    UnsupportedKeyAlgorithm { found: String },

    /// A validity that is zero, negative or absurd.
    #[error("invalid certificate validity: {reason}")]
    InvalidValidity { reason: String },

    /// A controller name that is neither an IP address nor a DNS name.
    #[error("invalid subject alternative name {san:?}: {reason}")]
    InvalidSan { san: String, reason: String },

    /// `controller-cert` without any `--san`.
    #[error(
        "a controller certificate needs at least one name (give --san HOST, a DNS name or IP address agents use to reach it)"
    )]
    NoSans,

    /// A site id that fails validation.
    #[error(transparent)]
    InvalidSiteId(#[from] SiteIdError),

    /// rcgen refused to build or sign a certificate.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),

    /// rustls refused a configuration (e.g. key does not match certificate).
    #[error("TLS configuration refused: {0}")]
    Tls(#[from] rustls::Error),

    /// The client-certificate verifier could not be built.
    #[error("cannot build the client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),

    /// The server-certificate verifier could not be built.
    #[error("cannot build the server certificate verifier: {0}")]
    ServerVerifier(String),
}

impl PkiError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        PkiError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad_cert(reason: impl std::fmt::Display) -> Self {
        PkiError::BadCertificate {
            reason: reason.to_string(),
        }
    }
}
