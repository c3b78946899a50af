//! The payloads of the fleet link: commands (controller → agent, durable), events
//! (agent → controller, durable), and queries with their answers (request/response with a
//! deadline, not durable).
//!
//! Router credentials never travel in a durable message: they would rest in a durable outbox in
//! plain text. They go in [`Query::SetRouter`] / [`Query::TestRouter`], which exist only in
//! memory and inside TLS; the agent seals them at rest under its own key.

use serde::{Deserialize, Serialize};

use crate::domain::{
    ActiveSession, HealthSample, Money, Origin, Package, PackageId, ProfileSpec, RemovalReason,
    RouterFailure, RouterId, RouterInfo, RouterSpec, StaffId, UsageSample, VoucherUser,
};

/// Most vouchers in one [`Command::CreateVouchers`] (keeps frames far below the cap).
pub const MAX_VOUCHERS_PER_COMMAND: usize = 500;
/// Most usage samples in one [`Event::Usage`].
pub const MAX_SAMPLES_PER_EVENT: usize = 1000;
/// Most vouchers in one [`Event::Inventory`] part.
pub const MAX_VOUCHERS_PER_INVENTORY: usize = 500;

/// Controller → agent, durable and applied exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Create these hotspot users (the profile first, if missing). Idempotent on the agent.
    /// `issue` is the ledger's record of the sale, which the agent keeps: should the ledger
    /// ever lose it, the agent's inventory gives it back.
    CreateVouchers {
        router: RouterId,
        profile: ProfileSpec,
        issue: Issue,
        vouchers: Vec<VoucherUser>,
    },
    /// Healing after lost state: the vouchers that should be on the router, for the agent to
    /// add those it does not know (an entry it has is left as it is).
    EnsureVouchers {
        router: RouterId,
        profile: ProfileSpec,
        issue: Issue,
        vouchers: Vec<VoucherUser>,
    },
    /// Healing after the controller found lost link state: send an [`Event::Inventory`].
    SendInventory { reason: String },
    /// Remove a voucher's hotspot user and kick its sessions.
    RemoveVoucher {
        router: RouterId,
        code: String,
        reason: RemovalReason,
    },
    /// Forget a router (its queue and desired state go with it).
    RemoveRouter { router: RouterId },
    /// The package catalogue, for issuance at the site.
    Catalogue { packages: Vec<Package> },
    /// Staff who may sell at this site, with Argon2id hashes (never passwords).
    StaffDirectory { staff: Vec<StaffEntry> },
    /// Code space for vouchers made at the site: codes start with `prefix` (unique to the site;
    /// central codes never start with a site prefix), and the site may hold at most `budget`
    /// sales the controller has not acknowledged yet.
    ///
    /// Why a budget of *unacknowledged* sales: random codes under a site prefix never run out in
    /// practice, so "used up" has to mean something an operator can reason about: how many
    /// vouchers a site (or a stolen agent box) can mint without the ledger knowing. Each sale's
    /// `IssuedAtSite` event counts against the budget until the controller acknowledges it
    /// (after it is durable in the ledger); the acknowledgement is the top-up, and the agent
    /// asks for more simply by delivering its sales whenever the link is up. While the link is
    /// down the budget is what the site can sell; beyond it the agent refuses with
    /// `code_space_exhausted`. The controller sets the size per site.
    CodeGrant { prefix: String, budget: u64 },
    /// Read usage and users now instead of at the next interval.
    SyncNow { router: Option<RouterId> },
}

/// Who sold a voucher, when, for how much: the ledger's facts that the router's user lacks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Issue {
    pub package: PackageId,
    pub package_name: String,
    pub staff: StaffId,
    pub price: Money,
    pub issued_at: i64,
    pub origin: Origin,
}

/// Where a voucher stands at the agent, as its inventory reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeldStatus {
    /// Queued for the router.
    Pending,
    /// On the router.
    OnRouter,
    /// A removal is queued.
    Removing,
    Removed,
    /// The router refused it.
    Failed,
}

/// One voucher the agent holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldVoucher {
    pub router: RouterId,
    pub user: VoucherUser,
    pub issue: Issue,
    pub status: HeldStatus,
    pub first_used_at: Option<i64>,
}

/// A staff member as the agent's local page needs them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffEntry {
    pub id: StaffId,
    pub username: String,
    /// PHC string of an Argon2id hash.
    pub password_hash: String,
    pub routers: Vec<RouterId>,
    pub disabled: bool,
}

/// Agent → controller, durable and applied exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// The voucher is on the router (created now, or found identical).
    Applied {
        router: RouterId,
        code: String,
        at: i64,
    },
    /// The router refused it; `conflict` when a different user of that name exists.
    Failed {
        router: RouterId,
        code: String,
        reason: String,
        conflict: bool,
        at: i64,
    },
    /// The voucher's user was removed from the router.
    Removed {
        router: RouterId,
        code: String,
        reason: RemovalReason,
        at: i64,
    },
    /// A voucher sold at the site.
    IssuedAtSite(SiteVoucher),
    /// Usage of the vouchers on a router.
    Usage {
        router: RouterId,
        at: i64,
        samples: Vec<UsageSample>,
    },
    Health {
        router: RouterId,
        sample: HealthSample,
    },
    Info {
        router: RouterId,
        info: RouterInfo,
    },
    /// What the agent found on the router that does not match its desired state.
    Drift {
        router: RouterId,
        at: i64,
        unknown: Vec<String>,
        restored: Vec<String>,
    },
    /// The agent cannot reach the router.
    RouterDown {
        router: RouterId,
        failure: RouterFailure,
        at: i64,
    },
    /// Healing after lost link state: every voucher the agent holds, in parts; the ledger adds
    /// what it lacks (marked recovered) and, after the `last` part, sends back what the agent
    /// lacks. `round` tells one inventory's parts from another's.
    Inventory {
        round: u64,
        /// Why (the loss as the side that found it described it).
        reason: String,
        vouchers: Vec<HeldVoucher>,
        last: bool,
    },
}

/// A voucher issued at the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteVoucher {
    pub router: RouterId,
    pub package: PackageId,
    pub staff: StaffId,
    pub code: String,
    pub password: String,
    pub price: Money,
    pub issued_at: i64,
}

/// Questions either side may ask with a deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Query {
    /// Connect to this router now and report what it is (nothing is stored).
    TestRouter(RouterSpec),
    /// Store (or replace) this router's connection settings.
    SetRouter(RouterSpec),
    RouterInfo {
        router: RouterId,
    },
    Stats {
        router: RouterId,
    },
    ActiveUsers {
        router: RouterId,
    },
    Kick {
        router: RouterId,
        session: String,
    },
    /// Sync now and answer with the usage read.
    Sync {
        router: RouterId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    Tested(RouterInfo),
    Stored,
    Info(RouterInfo),
    Stats(HealthSample),
    Active(Vec<ActiveSession>),
    Kicked,
    Synced { samples: usize },
    Failed(RouterFailure),
}
