//! Serving the dashboard and API over HTTPS directly (`http.tls_cert` / `http.tls_key`): the
//! certificate files read once at start, and the shared listener of [`hotspot_ui::https`].

use std::path::Path;

use anyhow::Context;
use hotspot_pki::tls::{certs_from_pem, private_key_from_pem, ring_provider};
pub use hotspot_ui::https::TlsListener;
use tokio_rustls::TlsAcceptor;

/// The TLS acceptor for the PEM chain and key at the given paths.
pub fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let read =
        |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let chain = certs_from_pem(&cert.display().to_string(), &read(cert)?)?;
    let key = private_key_from_pem(&key.display().to_string(), &read(key)?)?;
    hotspot_ui::https::acceptor(ring_provider(), chain, key)
        .context("http.tls_cert and http.tls_key do not make a usable certificate")
}
