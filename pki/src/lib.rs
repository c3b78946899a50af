//! The fleet's small PKI: CA, controller certificate, agent enrollment.
//!
//! One crate holds every decision about certificates so that the controller and
//! the agent cannot disagree about them: what the CA looks like ([`ca`]), what
//! goes into a certificate and what is ignored from a CSR ([`issue`]), the
//! certificate times both of them sign with ([`validity`]), how a site is named
//! in a certificate and read back ([`inspect`]), how the controller recognises
//! revoked certificates ([`revocation`]), what an enrollment token is
//! ([`token`]), and how TLS is configured on each side ([`tls`]). It does file IO only where keys are written or read ([`files`]);
//! time is always passed in where a decision depends on it, so expiry and
//! renewal can be tested without waiting.
//!
//! The `hotspot-pki` binary is a thin CLI over this library.

pub mod agent_key;
pub mod ca;
pub mod controller_files;
pub mod error;
pub mod files;
pub mod inspect;
pub mod issue;
pub mod keyfile;
pub mod local_https;
pub mod revocation;
pub mod site;
pub mod tls;
pub mod token;
pub mod validity;

pub use agent_key::AgentKey;
pub use ca::{CA_CERT_FILE, CA_KEY_FILE, FleetCa};
pub use controller_files::{CONTROLLER_CERT_FILE, CONTROLLER_KEY_FILE, load_controller_identity};
pub use error::PkiError;
pub use inspect::{
    SITE_URI_PREFIX, fingerprint_sha256, renewal_due, serial_of, site_id_from_cert, validity_of,
};
pub use issue::{
    ControllerCert, DEFAULT_AGENT_CERT_VALIDITY, DEFAULT_CONTROLLER_CERT_VALIDITY, IssuedCert,
};
pub use keyfile::{
    KeyFileError, create_next_key, keyring_from_files, load_keyring, load_or_create,
    load_or_create_from_env, load_or_create_keyring, resolve_key_path,
};
pub use revocation::{Revocations, Serial, SharedRevocations};
pub use site::{SiteId, SiteIdError};
pub use tls::{
    FleetClientVerifier, PinnedCaServerVerifier, agent_client_config, agent_enrollment_config,
    controller_server_config,
};
pub use token::{EnrollError, EnrollmentToken, TokenParseError, TokenRecord};
