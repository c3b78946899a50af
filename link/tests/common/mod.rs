//! Test fixtures: an in-memory fleet CA with a controller certificate, agent certificates,
//! a controller and agents on loopback with databases in temp dirs, and a raw QUIC client for
//! speaking broken protocol at the controller.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hotspot_link::{
    ClientConfig, ClientTls, ControlHooks, LinkClient, LinkConfig, LinkServer, PeerId,
    RecordingInbox, Responder, ServerConfig, ServerTls,
};
use hotspot_pki::tls::{agent_client_config, certs_from_pem, private_key_from_pem};
use hotspot_pki::{
    AgentKey, DEFAULT_CONTROLLER_CERT_VALIDITY, FleetCa, IssuedCert, Revocations,
    SharedRevocations, SiteId,
};
use hotspot_shared::fleet::{ALPN, Envelope, FrameDecoder, encode_frame};
pub use hotspot_storage::{Db, Options, StorageError};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A command or event in tests: a number and a text.
pub type Msg = (u64, String);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Query {
    Echo(String),
    SleepMs(u64),
    Fail(String),
}

pub type Server = LinkServer<Msg, Msg, Query, String>;
pub type Agent = LinkClient<Msg, Msg, Query, String>;

/// Answers [`Query`]s, naming the peer that asked.
#[derive(Clone, Copy, Debug)]
pub struct TestResponder;

impl Responder<Query, String> for TestResponder {
    async fn respond(&self, peer: PeerId, request: Query) -> Result<String, String> {
        match request {
            Query::Echo(s) => Ok(format!("{s} (asked by {peer})")),
            Query::SleepMs(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok("slept".into())
            }
            Query::Fail(reason) => Err(reason),
        }
    }
}

pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub fn site(s: &str) -> SiteId {
    s.parse().expect("valid site id")
}

/// The fleet CA and the controller's identity.
pub struct Pki {
    pub ca: Arc<FleetCa>,
    pub server_chain: Vec<CertificateDer<'static>>,
    pub server_key_pem: String,
    pub revocations: SharedRevocations,
}

impl Pki {
    pub fn new() -> Pki {
        init();
        let (ca, _) = FleetCa::generate(OffsetDateTime::now_utc()).expect("CA");
        let cc = ca
            .issue_controller_cert(
                &["127.0.0.1".into(), "localhost".into()],
                DEFAULT_CONTROLLER_CERT_VALIDITY,
            )
            .expect("controller cert");
        Pki {
            server_chain: certs_from_pem("chain", &cc.chain_pem).expect("chain"),
            server_key_pem: cc.key_pem,
            ca: Arc::new(ca),
            revocations: Revocations::new().into_shared(),
        }
    }

    pub fn server_tls(&self) -> ServerTls {
        ServerTls {
            cert_chain: self.server_chain.clone(),
            key: private_key_from_pem("key", &self.server_key_pem).expect("key"),
            ca: self.ca.cert_der().clone(),
            revocations: self.revocations.clone(),
        }
    }

    /// An agent certificate for `site_id` issued by `ca`, valid from `not_before` for `days`.
    pub fn agent_cert_from(
        ca: &FleetCa,
        site_id: &str,
        not_before: OffsetDateTime,
        days: i64,
    ) -> (AgentKey, IssuedCert) {
        let key = AgentKey::generate().expect("key");
        let csr = key.make_csr(&site(site_id)).expect("csr");
        let cert = ca
            .sign_agent_csr(&csr, &site(site_id), time::Duration::days(days), not_before)
            .expect("signs");
        (key, cert)
    }

    /// A good agent certificate and the TLS settings using it.
    pub fn agent(&self, site_id: &str) -> (ClientTls, IssuedCert) {
        let (key, cert) = Pki::agent_cert_from(&self.ca, site_id, OffsetDateTime::now_utc(), 90);
        (self.client_tls(&key, &cert), cert)
    }

    pub fn client_tls(&self, key: &AgentKey, cert: &IssuedCert) -> ClientTls {
        ClientTls {
            ca: self.ca.cert_der().clone(),
            cert_chain: vec![cert.cert_der.clone()],
            key: key.private_key_der(),
        }
    }
}

pub fn server_config() -> ServerConfig {
    ServerConfig {
        link: LinkConfig::fast_for_tests(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        offline_after: Duration::from_secs(2),
        ..ServerConfig::default()
    }
}

pub fn client_config(server: SocketAddr) -> ClientConfig {
    ClientConfig {
        link: LinkConfig::fast_for_tests(),
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(400),
        stable_after: Duration::from_secs(1),
        ..ClientConfig::new(server, "localhost")
    }
}

/// Opens the database in directory `dir` (made when missing). A restart inside one test may
/// find the previous handle still held by a task that is finishing: wait a little for it.
pub fn open_db(dir: &Path) -> Db {
    std::fs::create_dir_all(dir).expect("makes the data dir");
    let start = std::time::Instant::now();
    loop {
        match Db::open(dir.join("link.redb"), Options::default()) {
            Err(StorageError::InUse) if start.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => {
                return other.unwrap_or_else(|e| panic!("{} opens: {e}", dir.display()));
            }
        }
    }
}

pub async fn start_server_with(
    pki: &Pki,
    db: &Db,
    config: ServerConfig,
    control: ControlHooks,
) -> (Server, RecordingInbox) {
    let inbox = RecordingInbox::new(db, "test/received");
    let server = Server::start(
        config,
        db,
        pki.server_tls(),
        inbox.clone(),
        TestResponder,
        control,
    )
    .await
    .expect("server starts");
    (server, inbox)
}

pub async fn start_server(pki: &Pki, db: &Db) -> (Server, RecordingInbox) {
    start_server_with(pki, db, server_config(), ControlHooks::new()).await
}

pub async fn start_agent_with(
    tls: ClientTls,
    db: &Db,
    config: ClientConfig,
) -> (Agent, RecordingInbox) {
    let inbox = RecordingInbox::new(db, "test/received");
    let agent = Agent::start(config, db, tls, inbox.clone(), TestResponder)
        .await
        .expect("agent starts");
    (agent, inbox)
}

pub async fn start_agent(tls: ClientTls, db: &Db, server: SocketAddr) -> (Agent, RecordingInbox) {
    start_agent_with(tls, db, client_config(server)).await
}

/// Polls `cond` every 20 ms until it holds or `limit` passes; returns whether it held.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

/// A bare QUIC connection to the controller, for sending what a real agent never would.
pub struct RawPeer {
    pub endpoint: quinn::Endpoint,
    pub conn: quinn::Connection,
    pub send: quinn::SendStream,
    pub recv: quinn::RecvStream,
    decoder: FrameDecoder,
}

pub type RawFrame =
    Envelope<Msg, hotspot_link::wire::LinkRequest<Query>, hotspot_link::wire::LinkResponse<String>>;

impl RawPeer {
    pub async fn connect_with(
        server: SocketAddr,
        config: rustls::ClientConfig,
    ) -> Result<RawPeer, String> {
        let crypto =
            quinn::crypto::rustls::QuicClientConfig::try_from(config).map_err(|e| e.to_string())?;
        let endpoint = quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0)))
            .map_err(|e| e.to_string())?;
        let conn = endpoint
            .connect_with(
                quinn::ClientConfig::new(Arc::new(crypto)),
                server,
                "localhost",
            )
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        let (send, recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
        Ok(RawPeer {
            endpoint,
            conn,
            send,
            recv,
            decoder: FrameDecoder::new(1 << 20),
        })
    }

    /// Connects with an agent certificate.
    pub async fn connect(
        server: SocketAddr,
        ca: &CertificateDer<'_>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<RawPeer, String> {
        let config = agent_client_config(ca, chain, key, &[ALPN]).map_err(|e| e.to_string())?;
        RawPeer::connect_with(server, config).await
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.send.write_all(bytes).await.map_err(|e| e.to_string())
    }

    pub async fn send_frame<T: Serialize>(&mut self, value: &T) -> Result<(), String> {
        let mut buf = Vec::new();
        encode_frame(value, 1 << 20, &mut buf).map_err(|e| e.to_string())?;
        self.send_raw(&buf).await
    }

    pub async fn send_hello(&mut self, version: u16, last_received: u64) -> Result<(), String> {
        self.send_frame(&Envelope::<(), (), ()>::Hello {
            version,
            last_received,
            software: "raw test peer".into(),
            numbering: hotspot_shared::fleet::Numbering::default(),
        })
        .await
    }

    /// The next frame, or the error that ended the stream.
    pub async fn read_frame<T: serde::de::DeserializeOwned>(
        &mut self,
        limit: Duration,
    ) -> Result<T, String> {
        let read = async {
            let mut buf = vec![0u8; 65536];
            loop {
                if let Some(v) = self.decoder.next_frame::<T>().map_err(|e| e.to_string())? {
                    return Ok(v);
                }
                match self.recv.read(&mut buf).await {
                    Ok(Some(n)) => self.decoder.feed(&buf[..n]),
                    Ok(None) => return Err("stream finished".to_string()),
                    Err(quinn::ReadError::ConnectionLost(e)) => {
                        return Err(format!("connection closed: {e}"));
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        };
        tokio::time::timeout(limit, read)
            .await
            .map_err(|_| "timed out".to_string())?
    }

    /// Waits for the connection to close; returns the close error.
    pub async fn closed(&self, limit: Duration) -> Option<quinn::ConnectionError> {
        tokio::time::timeout(limit, self.conn.closed()).await.ok()
    }
}

/// `(code, reason)` of an application close.
pub fn app_close(e: &quinn::ConnectionError) -> Option<(u64, String)> {
    match e {
        quinn::ConnectionError::ApplicationClosed(c) => Some((
            c.error_code.into_inner(),
            String::from_utf8_lossy(&c.reason).into_owned(),
        )),
        _ => None,
    }
}
