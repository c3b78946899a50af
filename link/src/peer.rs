//! Who is at the other end, and how that is named in storage.
//!
//! On the controller a peer is a site, named by its certificate; on an agent the only peer is
//! the controller. The storage key is the one place a peer turns into bytes: outbox trees are
//! `link/outbox/<key>`, inbox positions are keyed by `<key>`. Site ids are `[a-z0-9-]`, so keys
//! never contain `/`-ambiguities or NUL.

use std::fmt;

use hotspot_pki::SiteId;

/// The other end of a link.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerId {
    /// An agent, as named by its client certificate.
    Site(SiteId),
    /// The controller (the agent's only peer).
    Controller,
}

impl PeerId {
    /// The key under which this peer's state is stored.
    pub fn storage_key(&self) -> String {
        match self {
            PeerId::Site(site) => format!("site/{site}"),
            PeerId::Controller => "controller".to_string(),
        }
    }

    /// The peer a [`PeerId::storage_key`] names, if it names one.
    pub fn from_storage_key(key: &str) -> Option<PeerId> {
        if key == "controller" {
            return Some(PeerId::Controller);
        }
        let site = key.strip_prefix("site/")?;
        SiteId::new(site).ok().map(PeerId::Site)
    }

    /// The site, if this peer is one.
    pub fn site(&self) -> Option<&SiteId> {
        match self {
            PeerId::Site(site) => Some(site),
            PeerId::Controller => None,
        }
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerId::Site(site) => write!(f, "site {site}"),
            PeerId::Controller => f.write_str("the controller"),
        }
    }
}
