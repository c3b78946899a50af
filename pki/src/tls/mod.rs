//! rustls configurations for the fleet link, all built on the ring provider.
//!
//! Every config here is made with `builder_with_provider(ring)` instead of the
//! process-default provider, so these functions work no matter what else is
//! linked or installed (DESIGN.md, "One crypto provider"), and they are
//! TLS 1.3 only because QUIC requires it. The trust model is small: the
//! controller trusts client certificates from the fleet CA that are not
//! revoked and name a site ([`FleetClientVerifier`]); an enrolled agent trusts
//! only the fleet CA ([`agent_client_config`]); an enrolling agent, which has
//! only the CA's hash from its token, trusts a server chain that contains a CA
//! with that hash ([`agent_enrollment_config`]).

mod client_verifier;
mod config;
mod pinned;

pub use client_verifier::FleetClientVerifier;
pub use config::{
    agent_client_config, agent_enrollment_config, certs_from_pem, controller_server_config,
    private_key_from_pem, ring_provider,
};
pub use pinned::PinnedCaServerVerifier;
