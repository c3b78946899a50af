//! Voucher states and what a router needs to create one.

use serde::{Deserialize, Serialize};

use crate::units::RosDuration;

/// Where a voucher is in its life, as the API and the dashboard show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VoucherState {
    /// Recorded in the ledger, not yet handed to the agent.
    Issued,
    /// In the site's durable queue, not yet confirmed on the router.
    Queued,
    /// A hotspot user on the router, never used.
    Active,
    /// A customer has logged in with it.
    InUse,
    /// Its time or data limit is used up.
    Exhausted,
    /// Its validity after first login has ended; removed from the router.
    Expired,
    /// Removed from the router for another reason (router replaced, operator action).
    Removed,
    /// The router refused it (with its reason).
    Failed,
    /// Revoked by an admin: removed from the router, record kept.
    Revoked,
}

impl VoucherState {
    pub const ALL: [VoucherState; 9] = [
        VoucherState::Issued,
        VoucherState::Queued,
        VoucherState::Active,
        VoucherState::InUse,
        VoucherState::Exhausted,
        VoucherState::Expired,
        VoucherState::Removed,
        VoucherState::Failed,
        VoucherState::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VoucherState::Issued => "issued",
            VoucherState::Queued => "queued",
            VoucherState::Active => "active",
            VoucherState::InUse => "in-use",
            VoucherState::Exhausted => "exhausted",
            VoucherState::Expired => "expired",
            VoucherState::Removed => "removed",
            VoucherState::Failed => "failed",
            VoucherState::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<VoucherState> {
        VoucherState::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Should the voucher exist as a hotspot user on its router?
    pub fn belongs_on_router(self) -> bool {
        matches!(
            self,
            VoucherState::Issued
                | VoucherState::Queued
                | VoucherState::Active
                | VoucherState::InUse
                | VoucherState::Exhausted
        )
    }
}

/// Who made the voucher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Through the controller's API or dashboard.
    Central,
    /// At the site, through the agent's local page (possibly while offline).
    Site,
}

/// Why a hotspot user was removed from a router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemovalReason {
    Expired,
    Revoked,
}

/// One hotspot user to create on a router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherUser {
    /// The hotspot user name: the voucher code.
    pub code: String,
    pub password: String,
    pub profile: String,
    pub limit_uptime: Option<RosDuration>,
    pub limit_bytes_total: Option<u64>,
    /// Wall-clock validity after first login (the agent enforces it).
    pub validity: Option<RosDuration>,
    /// The comment on the router that ties the user to the ledger.
    pub comment: String,
}

/// Prefix of every comment we write on a router: how a user is recognised as ours.
pub const COMMENT_PREFIX: &str = "hotspot-fleet";

/// The router comment for a voucher: `hotspot-fleet <package> <origin>`.
pub fn router_comment(package: super::PackageId, origin: Origin) -> String {
    let origin = match origin {
        Origin::Central => "central",
        Origin::Site => "site",
    };
    format!("{COMMENT_PREFIX} {package} {origin}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip() {
        for s in VoucherState::ALL {
            assert_eq!(VoucherState::parse(s.as_str()), Some(s));
        }
        assert_eq!(VoucherState::parse("bogus"), None);
    }

    #[test]
    fn comments_carry_the_prefix() {
        let c = router_comment(super::super::PackageId(3), Origin::Site);
        assert_eq!(c, "hotspot-fleet package-3 site");
        assert!(c.starts_with(COMMENT_PREFIX));
    }
}
