//! `hotspot-agent enroll`: turn a one-time token into this agent's certificate.
//!
//! The token (`hfe1.<site>.<secret>.<ca-sha256>`) carries the SHA-256 of the fleet CA, so the
//! agent can trust the controller before it has any certificate (the `kubeadm join` model).
//! The key pair is made here and only a CSR leaves the machine. The data directory is checked
//! *before* the token is spent, so a second enrollment into the same directory does not burn a
//! token. Every failure is one sentence an operator can act on: the controller's own words for
//! a refused, expired, reused or forged token; "not the fleet's CA" when the controller does
//! not present the CA the token names.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hotspot_link::LinkError;
use hotspot_pki::{AgentKey, EnrollmentToken, SiteId, TokenParseError};
use time::OffsetDateTime;

use crate::config::host_of;
use crate::identity::{self, IdentityError};

/// Default deadline of the whole exchange.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// What `enroll` needs.
#[derive(Debug, Clone)]
pub struct EnrollOptions {
    /// `HOST:PORT` of the controller's fleet link.
    pub controller: String,
    pub token: String,
    pub data_dir: PathBuf,
    /// Name the controller's certificate must carry; default: the host part of `controller`.
    pub server_name: Option<String>,
    pub deadline: Duration,
}

/// A successful enrollment.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub site: SiteId,
    pub not_after: OffsetDateTime,
    pub data_dir: PathBuf,
}

/// Why enrollment failed, in the operator's terms.
#[derive(Debug, thiserror::Error)]
pub enum EnrollFailure {
    #[error("{0}")]
    Token(#[from] TokenParseError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("cannot resolve the controller address {address}: {reason}")]
    Resolve { address: String, reason: String },
    #[error("cannot reach the controller at {address}: {reason}")]
    Unreachable { address: String, reason: String },
    #[error("the controller refused the enrollment: {0}")]
    Refused(String),
    #[error(
        "the controller at {address} does not present the fleet CA named in the token (CA fingerprint mismatch): check the address, or ask this controller's operator for a token"
    )]
    CaMismatch { address: String },
    #[error("secure connection to the controller at {address} failed: {reason}")]
    Tls { address: String, reason: String },
    #[error("enrollment failed: {0}")]
    Other(String),
}

/// Resolves `HOST:PORT` to a socket address (the first one).
pub async fn resolve(address: &str) -> Result<SocketAddr, EnrollFailure> {
    let resolve_err = |reason: String| EnrollFailure::Resolve {
        address: address.to_owned(),
        reason,
    };
    tokio::net::lookup_host(address)
        .await
        .map_err(|e| resolve_err(e.to_string()))?
        .next()
        .ok_or_else(|| resolve_err("no address found".into()))
}

/// Enrolls: makes the key, asks for the certificate with the token, writes the files.
pub async fn enroll(opts: &EnrollOptions) -> Result<Enrolled, EnrollFailure> {
    let token: EnrollmentToken = opts.token.parse()?;
    if identity::is_enrolled(&opts.data_dir) {
        return Err(IdentityError::AlreadyEnrolled {
            dir: opts.data_dir.clone(),
            cert: opts.data_dir.join(identity::CERT_FILE),
        }
        .into());
    }
    let addr = resolve(&opts.controller).await?;
    let server_name = opts
        .server_name
        .clone()
        .unwrap_or_else(|| host_of(&opts.controller).to_owned());
    let key = AgentKey::generate().map_err(|e| EnrollFailure::Other(e.to_string()))?;
    let csr = key
        .make_csr(token.site_id())
        .map_err(|e| EnrollFailure::Other(e.to_string()))?;
    let grant = hotspot_link::enroll(
        addr,
        &server_name,
        token.ca_fingerprint(),
        opts.token.trim(),
        csr,
        opts.deadline,
    )
    .await
    .map_err(|e| failure_of(e, &opts.controller))?;
    if grant.site_id != *token.site_id() {
        return Err(EnrollFailure::Other(format!(
            "the controller granted site {} for a token of site {}",
            grant.site_id,
            token.site_id()
        )));
    }
    let written = identity::write_enrollment(&opts.data_dir, &key, &grant)?;
    Ok(Enrolled {
        site: written.site,
        not_after: written.not_after,
        data_dir: opts.data_dir.clone(),
    })
}

fn failure_of(e: LinkError, address: &str) -> EnrollFailure {
    let address = address.to_owned();
    match e {
        LinkError::Denied(reason) => EnrollFailure::Refused(reason),
        LinkError::Tls(reason) => {
            let lower = reason.to_ascii_lowercase().replace(' ', "");
            if lower.contains("unknownissuer") {
                EnrollFailure::CaMismatch { address }
            } else {
                EnrollFailure::Tls { address, reason }
            }
        }
        LinkError::Protocol(reason) if reason.contains("CA") => {
            EnrollFailure::CaMismatch { address }
        }
        LinkError::Timeout(d) => EnrollFailure::Unreachable {
            address,
            reason: format!("no answer within {d:?}"),
        },
        e @ (LinkError::Connect(_)
        | LinkError::Io(_)
        | LinkError::Closed
        | LinkError::ClosedByPeer { .. }
        | LinkError::Offline { .. }) => EnrollFailure::Unreachable {
            address,
            reason: e.to_string(),
        },
        other => EnrollFailure::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bad_token_fails_before_any_network() {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = EnrollOptions {
            controller: "127.0.0.1:1".into(),
            token: "not-a-token".into(),
            data_dir: dir.path().to_path_buf(),
            server_name: None,
            deadline: Duration::from_secs(1),
        };
        let err = enroll(&opts).await.expect_err("refused");
        assert!(matches!(err, EnrollFailure::Token(_)), "{err}");
        assert!(err.to_string().contains("hfe1"), "{err}");
    }

    #[test]
    fn link_errors_read_as_operator_sentences() {
        let e = failure_of(LinkError::Denied("token expired".into()), "c:1");
        assert_eq!(
            e.to_string(),
            "the controller refused the enrollment: token expired"
        );
        let e = failure_of(
            LinkError::Tls("invalid peer certificate: UnknownIssuer".into()),
            "c:1",
        );
        assert!(matches!(e, EnrollFailure::CaMismatch { .. }), "{e}");
        let e = failure_of(LinkError::Timeout(Duration::from_secs(3)), "c:1");
        assert!(
            e.to_string()
                .starts_with("cannot reach the controller at c:1"),
            "{e}"
        );
    }
}
