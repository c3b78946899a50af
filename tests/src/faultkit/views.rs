//! The three views a scenario ends with — the ledger (controller API), the agent's database (opened
//! after the agent stopped), the simulated router's users — read into [`Views`] for the judge
//! ([`super::judge::compare`]).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use hotspot_agent::store::{DesiredStatus, Store};
use hotspot_shared::domain::RouterId;
use serde_json::{Value, json};

use crate::demo::http::Api;
use crate::sim::SimUser;

/// A voucher as the ledger shows it.
#[derive(Debug, Clone)]
pub struct LedgerVoucher {
    pub code: String,
    pub state: String,
    pub price_minor: i64,
    pub origin: String,
    pub uptime_secs: u64,
}

/// A voucher in the agent's desired state.
#[derive(Debug, Clone)]
pub struct AgentVoucher {
    pub code: String,
    pub profile: String,
    pub status: DesiredStatus,
}

/// A hotspot user on the router. The router's view is a list, not a set keyed by name: a name
/// held twice (under two hotspot servers, say) shows as a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterUser {
    pub name: String,
    pub server: String,
    pub profile: String,
}

/// What the three views held at the end of a run.
#[derive(Debug, Clone, Default)]
pub struct Views {
    pub ledger: Vec<LedgerVoucher>,
    /// Today's revenue in the ledger's reconciliation report, minor units.
    pub report_revenue: i64,
    pub agent: Vec<AgentVoucher>,
    /// Items left in the agent's apply queue.
    pub agent_queue: usize,
    pub router: Vec<RouterUser>,
    /// A router profile's package price (how the agent's and the router's revenue are
    /// counted).
    pub prices: HashMap<String, i64>,
}

/// The simulated router's users.
pub fn router(users: &[SimUser]) -> Vec<RouterUser> {
    users
        .iter()
        .map(|u| RouterUser {
            name: u.name.clone(),
            server: u.server.clone(),
            profile: u.profile.clone(),
        })
        .collect()
}

/// Every voucher of `router` in the ledger (`GET /api/tokens/all`, all pages).
pub async fn ledger(admin: &Api, router: u64) -> anyhow::Result<Vec<LedgerVoucher>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = format!("/api/tokens/all?router_id={router}&limit=500");
        if let Some(a) = &after {
            path.push_str(&format!("&after={a}"));
        }
        let page = admin.expect_ok("GET", &path, None).await?;
        for v in page["items"].as_array().context("items")? {
            out.push(LedgerVoucher {
                code: v["code"].as_str().context("code")?.to_owned(),
                state: v["state"].as_str().context("state")?.to_owned(),
                price_minor: v["price"]["minor"].as_i64().context("price")?,
                origin: v["origin"].as_str().unwrap_or_default().to_owned(),
                uptime_secs: v["uptime_secs"].as_u64().unwrap_or(0),
            });
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => return Ok(out),
        }
    }
}

/// Today's revenue in the ledger's reconciliation report (`POST /api/reports/run`), minor
/// units of USD.
pub async fn report_revenue(admin: &Api) -> anyhow::Result<i64> {
    let report: Value = admin
        .expect_ok("POST", "/api/reports/run", Some(&json!({})))
        .await?;
    let revenue = report["total"]["revenue"].as_array().context("revenue")?;
    Ok(revenue
        .iter()
        .filter(|m| m["currency"] == "USD")
        .filter_map(|m| m["minor"].as_i64())
        .sum())
}

/// The agent's desired state and apply-queue length for `router`, read from its database file
/// (the agent must have stopped; its lock is waited for up to 10 s).
pub fn agent(db_path: &Path, router: u64) -> anyhow::Result<(Vec<AgentVoucher>, usize)> {
    let start = std::time::Instant::now();
    let db = loop {
        match hotspot_agent::store::open_db(db_path) {
            Err(hotspot_storage::StorageError::InUse)
                if start.elapsed() < Duration::from_secs(10) =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => break other.with_context(|| format!("opening {}", db_path.display()))?,
        }
    };
    let store = Store::open(&db)?;
    let desired = store
        .desired(RouterId(router))?
        .into_iter()
        .map(|d| AgentVoucher {
            code: d.user.code,
            profile: d.user.profile,
            status: d.status,
        })
        .collect();
    let queued = store.queue_len(RouterId(router));
    Ok((desired, queued))
}
