//! The controller's certificate and key on disk.
//!
//! `controller.cert.pem` holds the chain the controller serves: its leaf, then
//! the fleet CA. Sending the CA is what lets an enrolling agent, which knows the
//! CA only by hash, find and pin it. `controller.key.pem` is created 0600.
//! Unlike the CA, these files may be replaced on purpose (a renewed
//! certificate), but only when asked to.

use std::path::Path;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::PkiError;
use crate::files;
use crate::issue::ControllerCert;
use crate::tls::{certs_from_pem, private_key_from_pem};

/// File name of the controller's certificate chain (leaf, then CA).
pub const CONTROLLER_CERT_FILE: &str = "controller.cert.pem";
/// File name of the controller's private key (mode 0600).
pub const CONTROLLER_KEY_FILE: &str = "controller.key.pem";

impl ControllerCert {
    /// Writes `controller.cert.pem` and `controller.key.pem` into `dir`.
    /// Without `replace`, refuses with [`PkiError::AlreadyExists`] if either
    /// exists; with it, each file is swapped in atomically.
    pub fn write_to(&self, dir: &Path, replace: bool) -> Result<(), PkiError> {
        let cert_path = dir.join(CONTROLLER_CERT_FILE);
        let key_path = dir.join(CONTROLLER_KEY_FILE);
        files::ensure_private_dir(dir)?;
        if replace {
            files::replace(&key_path, self.key_pem.as_bytes(), files::KEY_FILE_MODE)?;
            files::replace(&cert_path, self.chain_pem.as_bytes(), files::CERT_FILE_MODE)?;
        } else {
            for path in [&cert_path, &key_path] {
                if path.symlink_metadata().is_ok() {
                    return Err(PkiError::AlreadyExists { path: path.clone() });
                }
            }
            files::write_new(&key_path, self.key_pem.as_bytes(), files::KEY_FILE_MODE)?;
            let written =
                files::write_new(&cert_path, self.chain_pem.as_bytes(), files::CERT_FILE_MODE);
            if let Err(e) = written {
                let _ = std::fs::remove_file(&key_path);
                return Err(e);
            }
        }
        files::sync_dir(dir)
    }
}

/// Reads the controller's chain and key from `dir`, for
/// [`crate::tls::controller_server_config`].
pub fn load_controller_identity(
    dir: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), PkiError> {
    let cert_path = dir.join(CONTROLLER_CERT_FILE);
    let key_path = dir.join(CONTROLLER_KEY_FILE);
    let chain = certs_from_pem(
        &cert_path.display().to_string(),
        &files::read_text(&cert_path)?,
    )?;
    let key = private_key_from_pem(
        &key_path.display().to_string(),
        &files::read_private_key(&key_path)?,
    )?;
    Ok((chain, key))
}
