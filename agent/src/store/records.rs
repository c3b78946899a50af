//! What the agent keeps in its database, and how keys are laid out.
//!
//! Values are postcard; keys that must sort numerically are big-endian integers. Router ids
//! lead every per-router key (`router ‖ …`), so one router's queue or desired state is one
//! prefix scan and forgetting a router is one prefix delete.

use hotspot_shared::domain::{ProfileSpec, RemovalReason, RouterId, RouterTls, VoucherUser};
use hotspot_shared::fleet::msg::{HeldStatus, Issue};
use hotspot_shared::secretbox::Sealed;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// A router this agent serves: the controller's settings, with the password sealed under the
/// agent's master key for `Place::router_password(id)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterEntry {
    pub id: RouterId,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Sealed,
    pub tls: Option<RouterTls>,
}

/// One thing to do on a router, in queue order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyItem {
    pub router: RouterId,
    pub op: ApplyOp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplyOp {
    /// Create the voucher's hotspot user (its profile first, if missing).
    Create {
        user: VoucherUser,
        profile: ProfileSpec,
    },
    /// Remove the voucher's hotspot user and kick its sessions.
    Remove { code: String, reason: RemovalReason },
}

impl ApplyOp {
    pub fn code(&self) -> &str {
        match self {
            ApplyOp::Create { user, .. } => &user.code,
            ApplyOp::Remove { code, .. } => code,
        }
    }
}

/// Where a voucher stands between the agent and its router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DesiredStatus {
    /// A create is queued.
    Pending,
    /// Confirmed on the router: repair restores it if the router loses it.
    OnRouter,
    /// A removal is queued: repair must not bring it back.
    Removing,
    /// Removed from the router.
    Removed,
    /// The router refused it (or a different user holds the name): left alone.
    Failed,
}

impl DesiredStatus {
    /// As the inventory reports it.
    pub fn held(self) -> HeldStatus {
        match self {
            DesiredStatus::Pending => HeldStatus::Pending,
            DesiredStatus::OnRouter => HeldStatus::OnRouter,
            DesiredStatus::Removing => HeldStatus::Removing,
            DesiredStatus::Removed => HeldStatus::Removed,
            DesiredStatus::Failed => HeldStatus::Failed,
        }
    }
}

/// A voucher that should (or should no longer) exist on a router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredEntry {
    pub user: VoucherUser,
    pub profile: ProfileSpec,
    /// The ledger's facts of the sale, reported back if the ledger ever loses them.
    pub issue: Issue,
    pub status: DesiredStatus,
    /// When usage was first seen (Unix seconds): the start of the voucher's validity.
    pub first_used_at: Option<i64>,
}

/// What the usage sync reads of a [`DesiredEntry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredBrief {
    pub code: String,
    pub status: DesiredStatus,
    pub first_used_at: Option<i64>,
    /// How long the voucher lasts after its first use.
    pub validity: Option<hotspot_shared::units::RosDuration>,
}

/// The code space the controller granted for sales at the site (see
/// `hotspot_shared::fleet::msg::Command::CodeGrant`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub prefix: String,
    /// Most sales not yet acknowledged by the controller.
    pub budget: u64,
}

/// A voucher sold at the site, keyed in `sales` by the outbox sequence number of its
/// `IssuedAtSite` event: everything above the controller's ack is still waiting to sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleRecord {
    pub code: String,
    pub password: String,
    pub router: RouterId,
    pub package: hotspot_shared::domain::PackageId,
    pub package_name: String,
    pub price: hotspot_shared::domain::Money,
    pub staff: hotspot_shared::domain::StaffId,
    pub staff_name: String,
    pub issued_at: i64,
}

/// Usage of one voucher read while the link was down, aggregated: the first and the latest
/// cumulative sample of the outage, with when each was read. Counters only grow, so the
/// latest sample carries all the usage; the first keeps when use began (the start of the
/// voucher's validity in the ledger).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldUsage {
    pub first_at: i64,
    pub first: hotspot_shared::domain::UsageSample,
    pub last_at: i64,
    pub last: hotspot_shared::domain::UsageSample,
}

/// `router` as a key prefix.
pub fn router_key(router: RouterId) -> [u8; 8] {
    router.0.to_be_bytes()
}

/// The router a per-router key starts with.
pub fn router_of_key(key: &[u8]) -> Option<RouterId> {
    let prefix: [u8; 8] = key.get(..8)?.try_into().ok()?;
    Some(RouterId(u64::from_be_bytes(prefix)))
}

/// `router ‖ seq`: queue order within a router.
pub fn queue_key(router: RouterId, seq: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&router_key(router));
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// The sequence number of a queue key.
pub fn seq_of_queue_key(key: &[u8]) -> Option<u64> {
    let seq: [u8; 8] = key.get(8..16)?.try_into().ok()?;
    Some(u64::from_be_bytes(seq))
}

/// `router ‖ code`.
pub fn desired_key(router: RouterId, code: &str) -> Vec<u8> {
    let mut k = router_key(router).to_vec();
    k.extend_from_slice(code.as_bytes());
    k
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value).map_err(|e| StoreError::Codec(e.to_string()))
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Codec(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_keys_sort_by_router_then_seq() {
        let a = queue_key(RouterId(1), 255);
        let b = queue_key(RouterId(1), 256);
        let c = queue_key(RouterId(2), 0);
        assert!(a < b && b < c);
        assert_eq!(router_of_key(&b), Some(RouterId(1)));
        assert_eq!(seq_of_queue_key(&b), Some(256));
        assert_eq!(router_of_key(b"short"), None);
    }

    #[test]
    fn desired_keys_are_prefixed_by_router() {
        let k = desired_key(RouterId(7), "V7K2");
        assert_eq!(router_of_key(&k), Some(RouterId(7)));
        assert_eq!(&k[8..], b"V7K2");
    }
}
