//! The staff page over HTTPS: the self-signed certificate (made on first start, kept in the
//! data dir by `hotspot_pki::local_https`), served through the shared listener of
//! [`hotspot_ui::https`].

use std::net::SocketAddr;
use std::path::Path;

use hotspot_pki::tls::{certs_from_pem, private_key_from_pem, ring_provider};
pub use hotspot_ui::https::TlsListener;
use tokio_rustls::TlsAcceptor;

/// The acceptor for the page's certificate in `data_dir` (made now if missing), naming
/// `listen`'s address, `localhost` and the host name.
pub fn acceptor(data_dir: &Path, listen: SocketAddr) -> Result<TlsAcceptor, String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !listen.ip().is_unspecified() {
        names.push(listen.ip().to_string());
    }
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        let host = host.trim();
        if !host.is_empty() {
            names.push(host.to_string());
        }
    }
    let made = hotspot_pki::local_https::load_or_create(data_dir, &names)
        .map_err(|e| format!("local page certificate: {e}"))?;
    let chain =
        certs_from_pem("local page certificate", &made.cert_pem).map_err(|e| e.to_string())?;
    let key = private_key_from_pem("local page key", &made.key_pem).map_err(|e| e.to_string())?;
    hotspot_ui::https::acceptor(ring_provider(), chain, key)
        .map_err(|e| format!("local page certificate: {e}"))
}
