//! The controller's certificates on disk: made on first start, loaded for the link.
//!
//! `hotspot-controller serve` must work from an empty data directory, so [`bootstrap`] creates
//! what is missing: the fleet CA (`FleetCa::init`, never overwritten) and the controller's
//! server certificate for `fleet.server_name`, `127.0.0.1` and `localhost`. Operators who run
//! `hotspot-pki` themselves point `fleet.ca_cert` / `fleet.cert` / `fleet.key` at its files;
//! the CA key is always read beside the CA certificate, because enrollment signs with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hotspot_link::ServerTls;
use hotspot_pki::ca::CA_CERT_FILE;
use hotspot_pki::controller_files::{CONTROLLER_CERT_FILE, CONTROLLER_KEY_FILE};
use hotspot_pki::{
    DEFAULT_CONTROLLER_CERT_VALIDITY, FleetCa, PkiError, SharedRevocations,
    load_controller_identity,
};

use crate::config::Config;

/// Why the controller's PKI files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PkiFilesError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// The PKI crate reads fixed file names inside a directory.
    #[error("{setting} = {path}: the file must be named {expected} (its key is read beside it)")]
    FileName {
        setting: &'static str,
        path: PathBuf,
        expected: &'static str,
    },
    #[error("{setting} and {other} must be in the same directory ({dir_a} and {dir_b} differ)")]
    SplitDirs {
        setting: &'static str,
        other: &'static str,
        dir_a: PathBuf,
        dir_b: PathBuf,
    },
}

/// What [`bootstrap`] had to create.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Created {
    pub ca: bool,
    pub controller_cert: bool,
}

fn dir_of(
    setting: &'static str,
    path: &Path,
    expected: &'static str,
) -> Result<PathBuf, PkiFilesError> {
    if path.file_name().and_then(|n| n.to_str()) != Some(expected) {
        return Err(PkiFilesError::FileName {
            setting,
            path: path.to_owned(),
            expected,
        });
    }
    Ok(path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from(".")))
}

/// The directory holding the CA certificate and key.
pub fn ca_dir(config: &Config) -> Result<PathBuf, PkiFilesError> {
    dir_of("fleet.ca_cert", &config.fleet_ca_cert(), CA_CERT_FILE)
}

/// The directory holding the controller's certificate chain and key.
pub fn controller_dir(config: &Config) -> Result<PathBuf, PkiFilesError> {
    let cert = dir_of("fleet.cert", &config.fleet_cert(), CONTROLLER_CERT_FILE)?;
    let key = dir_of("fleet.key", &config.fleet_key(), CONTROLLER_KEY_FILE)?;
    if cert != key {
        return Err(PkiFilesError::SplitDirs {
            setting: "fleet.cert",
            other: "fleet.key",
            dir_a: cert,
            dir_b: key,
        });
    }
    Ok(cert)
}

/// The names agents may dial, for the controller certificate.
pub fn controller_sans(config: &Config) -> Vec<String> {
    let mut sans = vec![config.fleet.server_name.clone()];
    let listen = config.fleet.listen.ip();
    if !listen.is_unspecified() {
        sans.push(listen.to_string());
    }
    sans.extend(["127.0.0.1".to_string(), "localhost".to_string()]);
    let mut seen = std::collections::HashSet::new();
    sans.retain(|s| seen.insert(s.to_ascii_lowercase()));
    sans
}

/// Creates the fleet CA and the controller certificate when they are missing.
pub fn bootstrap(config: &Config) -> Result<Created, PkiFilesError> {
    let ca_dir = ca_dir(config)?;
    let cert_dir = controller_dir(config)?;
    let mut created = Created::default();
    let ca = if config.fleet_ca_cert().exists() {
        FleetCa::load(&ca_dir)?
    } else {
        created.ca = true;
        tracing::info!(dir = %ca_dir.display(), "creating the fleet CA");
        FleetCa::init(&ca_dir)?
    };
    if !config.fleet_cert().exists() && !config.fleet_key().exists() {
        let sans = controller_sans(config);
        tracing::info!(?sans, "issuing the controller certificate");
        ca.issue_controller_cert(&sans, DEFAULT_CONTROLLER_CERT_VALIDITY)?
            .write_to(&cert_dir, false)?;
        created.controller_cert = true;
    }
    Ok(created)
}

/// The fleet CA (with its key, for signing agents' CSRs).
pub fn load_ca(config: &Config) -> Result<FleetCa, PkiFilesError> {
    Ok(FleetCa::load(&ca_dir(config)?)?)
}

/// The SHA-256 of the fleet CA certificate, as carried in enrollment tokens.
pub fn ca_fingerprint(config: &Config) -> Result<[u8; 32], PkiFilesError> {
    Ok(load_ca(config)?.fingerprint_sha256())
}

/// The link's TLS settings from the files, with the given revocation set.
pub fn server_tls(
    config: &Config,
    ca: &Arc<FleetCa>,
    revocations: SharedRevocations,
) -> Result<ServerTls, PkiFilesError> {
    let (cert_chain, key) = load_controller_identity(&controller_dir(config)?)?;
    Ok(ServerTls {
        cert_chain,
        key,
        ca: ca.cert_der().clone(),
        revocations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sans_are_deduplicated_and_include_loopback() {
        let mut config = Config::default();
        config.fleet.server_name = "LOCALHOST".into();
        assert_eq!(controller_sans(&config), ["LOCALHOST", "127.0.0.1"]);
        config.fleet.server_name = "ctl.example.net".into();
        config.fleet.listen = "192.0.2.7:4433".parse().unwrap();
        assert_eq!(
            controller_sans(&config),
            ["ctl.example.net", "192.0.2.7", "127.0.0.1", "localhost"]
        );
    }

    #[test]
    fn bootstrap_creates_once_and_then_loads() {
        let _ = Arc::unwrap_or_clone(hotspot_pki::tls::ring_provider()).install_default();
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let first = bootstrap(&config).unwrap();
        assert!(first.ca && first.controller_cert);
        assert_eq!(bootstrap(&config).unwrap(), Created::default());
        let ca = Arc::new(load_ca(&config).unwrap());
        assert_eq!(ca_fingerprint(&config).unwrap(), ca.fingerprint_sha256());
        let revs = hotspot_pki::Revocations::new().into_shared();
        let tls = server_tls(&config, &ca, revs).unwrap();
        assert_eq!(tls.cert_chain.len(), 2);
    }
}
