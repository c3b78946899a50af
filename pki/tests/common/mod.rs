//! Helpers shared by the integration tests: an in-memory CA, agent
//! certificates, and an in-memory TLS handshake driver.

#![allow(dead_code)]

use std::sync::Arc;

use hotspot_pki::{AgentKey, FleetCa, IssuedCert, SiteId};
use rustls::pki_types::UnixTime;
use rustls::{ClientConnection, ServerConnection};
use time::{Duration, OffsetDateTime};

pub const ALPN: &[u8] = b"hotspot-fleet/1";

pub fn ca() -> FleetCa {
    FleetCa::generate(OffsetDateTime::now_utc()).unwrap().0
}

pub fn site(s: &str) -> SiteId {
    s.parse().unwrap()
}

/// An agent key and a certificate for it, issued at `now` for `validity`.
pub fn agent(
    ca: &FleetCa,
    site_id: &str,
    now: OffsetDateTime,
    validity: Duration,
) -> (AgentKey, IssuedCert) {
    let key = AgentKey::generate().unwrap();
    let csr = key.make_csr(&site(site_id)).unwrap();
    let cert = ca
        .sign_agent_csr(&csr, &site(site_id), validity, now)
        .unwrap();
    (key, cert)
}

pub fn unix_now() -> UnixTime {
    UnixTime::now()
}

pub fn unix(t: OffsetDateTime) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.unix_timestamp() as u64))
}

/// Drives a handshake between two in-memory connections. Returns the first
/// error either side reports.
pub fn handshake(
    client: &mut ClientConnection,
    server: &mut ServerConnection,
) -> Result<(), rustls::Error> {
    for _ in 0..32 {
        let mut buf = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            server.read_tls(&mut rd).unwrap();
            server.process_new_packets()?;
        }
        let mut buf = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut buf).unwrap();
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            client.read_tls(&mut rd).unwrap();
            client.process_new_packets()?;
        }
        if !client.is_handshaking()
            && !server.is_handshaking()
            && !client.wants_write()
            && !server.wants_write()
        {
            return Ok(());
        }
    }
    panic!("handshake did not finish");
}

pub fn connect(
    client_config: rustls::ClientConfig,
    server_config: rustls::ServerConfig,
    server_name: &str,
) -> (
    ClientConnection,
    ServerConnection,
    Result<(), rustls::Error>,
) {
    let name = rustls::pki_types::ServerName::try_from(server_name.to_string()).unwrap();
    let mut client = ClientConnection::new(Arc::new(client_config), name).unwrap();
    let mut server = ServerConnection::new(Arc::new(server_config)).unwrap();
    let result = handshake(&mut client, &mut server);
    (client, server, result)
}
