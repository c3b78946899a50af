//! Enrollment on the wire: the one exchange a connection without a client certificate may make.
//!
//! The agent has only the SHA-256 of the fleet CA (from its token), so it connects with
//! [`hotspot_pki::agent_enrollment_config`], opens the stream, sends one [`EnrollRequest`] and
//! reads one [`EnrollReply`]. The controller hands the request to the application's
//! [`crate::Enroller`] (token check, CSR signing), answers, and closes. Anything else on such a
//! connection (a Hello, garbage, a second message) gets a refusal and a close: an
//! unauthenticated peer never reaches a session, an outbox or a responder. At most
//! `max_enrollments` exchanges run at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hotspot_pki::agent_enrollment_config;
use hotspot_pki::tls::certs_from_pem;
use hotspot_shared::fleet::ALPN;
use tokio::sync::Semaphore;

use crate::error::LinkError;
use crate::hooks::DynEnroller;
use crate::wire::{
    CloseCode, ENROLL_VERSION, EnrollGrant, EnrollReply, EnrollRequest, FrameReader,
    MAX_ENROLL_FRAME, close_now, connection_error, encode, write_all,
};

/// How long the controller lets an enrolling agent read the reply before closing.
const READ_GRACE: Duration = Duration::from_secs(2);

/// The controller's side of one unauthenticated connection.
pub(crate) async fn serve(
    conn: quinn::Connection,
    enroller: Option<Arc<dyn DynEnroller>>,
    permits: &Semaphore,
    deadline: Duration,
) {
    let remote = conn.remote_address();
    let Some(enroller) = enroller else {
        tracing::info!(%remote, "connection without a client certificate refused: enrollment is not enabled");
        return close_now(
            &conn,
            CloseCode::Unauthenticated,
            "a client certificate is required (enrollment is not enabled on this controller)",
        );
    };
    let Ok(_permit) = permits.try_acquire() else {
        return close_now(
            &conn,
            CloseCode::Busy,
            "too many enrollments at once; retry shortly",
        );
    };
    let (mut send, recv) = match tokio::time::timeout(deadline, conn.accept_bi()).await {
        Ok(Ok(streams)) => streams,
        _ => return close_now(&conn, CloseCode::Protocol, "no enrollment request in time"),
    };
    let mut reader = FrameReader::new(recv, MAX_ENROLL_FRAME);
    let reply = match reader
        .read_one::<EnrollRequest>(deadline, "enrollment request")
        .await
    {
        Err(end) => EnrollReply::Refused(format!(
            "only enrollment is allowed without a client certificate, and this was not an enrollment request: {}",
            end.into_error()
        )),
        Ok(req) if req.version != ENROLL_VERSION => EnrollReply::Refused(format!(
            "enrollment version {} is not supported (this controller speaks {ENROLL_VERSION}); without a client certificate only enrollment is allowed",
            req.version
        )),
        Ok(req) => match tokio::time::timeout(deadline, enroller.enroll(req)).await {
            Ok(Ok(grant)) => EnrollReply::Granted(grant),
            Ok(Err(refusal)) => EnrollReply::Refused(refusal.0),
            Err(_) => {
                EnrollReply::Refused("the controller did not decide in time; try again".into())
            }
        },
    };
    match &reply {
        EnrollReply::Granted(g) => tracing::info!(%remote, site = %g.site_id, "enrollment granted"),
        EnrollReply::Refused(reason) => tracing::warn!(%remote, "enrollment refused: {reason}"),
    }
    let mut frame = Vec::new();
    if encode(&reply, MAX_ENROLL_FRAME, &mut frame).is_ok() {
        let _ = tokio::time::timeout(READ_GRACE, async {
            if write_all(&mut send, &frame).await.is_ok() && send.finish().is_ok() {
                // The agent closes once it has read the reply.
                conn.closed().await;
            }
        })
        .await;
    }
    close_now(&conn, CloseCode::Enrolled, "enrollment answered");
}

/// Enrolls this agent: connects to `controller` trusting only the CA whose SHA-256 is
/// `ca_fingerprint` (from the token), sends `token` and the CSR, and returns the grant. The
/// grant's CA is checked against the fingerprint. Everything is bounded by `deadline`.
pub async fn enroll(
    controller: SocketAddr,
    server_name: &str,
    ca_fingerprint: [u8; 32],
    token: &str,
    csr_der: Vec<u8>,
    deadline: Duration,
) -> Result<EnrollGrant, LinkError> {
    let tls = agent_enrollment_config(ca_fingerprint, &[ALPN])
        .map_err(|e| LinkError::Tls(e.to_string()))?;
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| LinkError::Tls(e.to_string()))?;
    let config = quinn::ClientConfig::new(Arc::new(crypto));
    let endpoint = quinn::Endpoint::client(crate::client::bind_addr_for(controller))?;
    let request = EnrollRequest {
        version: ENROLL_VERSION,
        token: token.to_string(),
        csr_der,
    };
    let exchange = async {
        let conn = endpoint
            .connect_with(config, controller, server_name)
            .map_err(|e| LinkError::Connect(e.to_string()))?
            .await
            .map_err(|e| connection_error(&e))?;
        let result = async {
            let (mut send, recv) = conn.open_bi().await.map_err(|e| connection_error(&e))?;
            let mut frame = Vec::new();
            encode(&request, MAX_ENROLL_FRAME, &mut frame)?;
            write_all(&mut send, &frame)
                .await
                .map_err(|e| e.into_error())?;
            let mut reader = FrameReader::new(recv, MAX_ENROLL_FRAME);
            reader
                .read_one::<EnrollReply>(deadline, "enrollment reply")
                .await
                .map_err(|e| e.into_error())
        }
        .await;
        close_now(&conn, CloseCode::Normal, "enrollment reply read");
        result
    };
    let reply = tokio::time::timeout(deadline, exchange)
        .await
        .map_err(|_| LinkError::Timeout(deadline));
    endpoint.close(CloseCode::Normal.to_varint(), b"");
    let _ = tokio::time::timeout(Duration::from_millis(200), endpoint.wait_idle()).await;
    match reply?? {
        EnrollReply::Refused(reason) => Err(LinkError::Denied(reason)),
        EnrollReply::Granted(grant) => {
            let ca = certs_from_pem("the granted CA", &grant.ca_pem)
                .map_err(|e| LinkError::Protocol(e.to_string()))?;
            if ca.len() != 1 || hotspot_pki::fingerprint_sha256(&ca[0]) != ca_fingerprint {
                return Err(LinkError::Protocol(
                    "the granted CA is not the one the token names".into(),
                ));
            }
            Ok(grant)
        }
    }
}
