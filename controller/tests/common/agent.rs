//! What both fake agents (`support::agent`, `fleet_support::agent`) start from: a certificate
//! for their site signed directly by the fleet CA, and fast link settings.

use std::net::SocketAddr;
use std::time::Duration;

use hotspot_link::{ClientConfig, ClientTls, LinkConfig};
use hotspot_pki::{AgentKey, FleetCa, SiteId};
use time::OffsetDateTime;

/// A fresh key and a 30-day certificate naming `site`, as enrollment would give.
pub fn site_tls(ca: &FleetCa, site: &SiteId) -> ClientTls {
    let key = AgentKey::generate().expect("agent key");
    let csr = key.make_csr(site).expect("csr");
    let cert = ca
        .sign_agent_csr(
            &csr,
            site,
            time::Duration::days(30),
            OffsetDateTime::now_utc(),
        )
        .expect("agent cert");
    ClientTls {
        ca: ca.cert_der().clone(),
        cert_chain: vec![cert.cert_der],
        key: key.private_key_der(),
    }
}

/// Test intervals: heartbeats and reconnects in fractions of a second.
pub fn client_config(controller: SocketAddr) -> ClientConfig {
    ClientConfig {
        link: LinkConfig::fast_for_tests(),
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(300),
        stable_after: Duration::from_secs(1),
        ..ClientConfig::new(controller, "localhost")
    }
}
