//! What the jobs remember about one router between runs ([`JobState`]).
//!
//! Why a module of its own: each [`LiveRouter`](crate::routers::LiveRouter) carries its jobs'
//! memory (behind the lock that also keeps two syncs apart), so the live routers need this
//! type, while the jobs themselves need the live routers and the agent's core: kept here, the
//! state is below both and neither imports the other back.

use std::collections::{BTreeSet, HashMap};

use hotspot_shared::domain::{RouterInfo, UsageSample};

/// What the jobs remember about one router between runs (in memory: after a restart
/// everything is simply reported again).
#[derive(Debug, Default)]
pub struct JobState {
    /// The last usage sample sent per voucher: only changes are sent again.
    pub(crate) last_sent: HashMap<String, UsageSample>,
    /// Unknown users already reported.
    pub(crate) unknown: BTreeSet<String>,
    /// The last router info sent.
    pub(crate) last_info: Option<RouterInfo>,
    /// The router's uptime at the last look (seconds): less now means it rebooted.
    pub(crate) last_uptime: Option<u64>,
}
