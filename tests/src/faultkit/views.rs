//! The three views a scenario ends with — the ledger (controller API), the agent's database (opened
//! after the agent stopped), the simulated router's users — and their comparison.

use std::collections::{BTreeMap, HashMap, HashSet};
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

/// What the comparison found.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// Paid vouchers: every code whose issuing call answered 2xx, and every ledger voucher that
    /// is not failed or revoked.
    pub vouchers: usize,
    /// Paid vouchers missing from at least one view.
    pub lost: usize,
    /// Codes more than once in some view.
    pub duplicated: usize,
    /// Router users (or agent entries) the ledger does not know.
    pub unknown: usize,
    /// Revenue: the ledger's report, the ledger's vouchers, the agent's, the router's.
    pub revenue: [i64; 4],
    /// Everything wrong, for people.
    pub problems: Vec<String>,
}

impl Verdict {
    pub fn revenue_equal(&self) -> bool {
        self.revenue.iter().all(|r| *r == self.revenue[0])
    }

    pub fn clean(&self) -> bool {
        self.problems.is_empty()
    }
}

fn counts<'a>(codes: impl Iterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut m = HashMap::new();
    for c in codes {
        *m.entry(c).or_insert(0) += 1;
    }
    m
}

/// The three views compared. `expected` holds the codes whose issuing call answered 2xx;
/// `prices` maps a router profile to its package's price (how the agent's and the router's
/// revenue are counted).
pub fn compare(
    expected: &[String],
    ledger: &[LedgerVoucher],
    report_revenue: i64,
    agent: &[AgentVoucher],
    agent_queue: usize,
    router: &[SimUser],
    prices: &HashMap<String, i64>,
) -> Verdict {
    let mut v = Verdict::default();
    let paid_states = |s: &str| !matches!(s, "failed" | "revoked" | "removed");
    let l = counts(ledger.iter().map(|x| x.code.as_str()));
    let a = counts(
        agent
            .iter()
            .filter(|x| x.status == DesiredStatus::OnRouter)
            .map(|x| x.code.as_str()),
    );
    let r = counts(router.iter().map(|u| u.name.as_str()));
    let mut paid: HashSet<&str> = expected.iter().map(String::as_str).collect();
    paid.extend(
        ledger
            .iter()
            .filter(|x| paid_states(&x.state))
            .map(|x| x.code.as_str()),
    );
    v.vouchers = paid.len();
    let mut missing: BTreeMap<&str, usize> = BTreeMap::new();
    for code in &paid {
        let mut lost = false;
        for (view, m) in [("ledger", &l), ("agent", &a), ("router", &r)] {
            if !m.contains_key(code) {
                *missing.entry(view).or_insert(0) += 1;
                lost = true;
            }
        }
        v.lost += usize::from(lost);
    }
    for (view, n) in missing {
        v.problems
            .push(format!("{n} paid vouchers missing from the {view}"));
    }
    let dup: HashSet<&str> = [&l, &a, &r]
        .iter()
        .flat_map(|m| m.iter().filter(|(_, n)| **n > 1).map(|(c, _)| *c))
        .collect();
    v.duplicated = dup.len();
    if v.duplicated > 0 {
        v.problems
            .push(format!("{} codes more than once in a view", v.duplicated));
    }
    let unknown_router = r.keys().filter(|c| !l.contains_key(*c)).count();
    let unknown_agent = agent
        .iter()
        .filter(|x| !l.contains_key(x.code.as_str()))
        .count();
    v.unknown = unknown_router + unknown_agent;
    if unknown_router > 0 {
        v.problems.push(format!(
            "{unknown_router} users on the router the ledger does not know"
        ));
    }
    if unknown_agent > 0 {
        v.problems.push(format!(
            "{unknown_agent} agent entries the ledger does not know"
        ));
    }
    let not_on_router: Vec<_> = agent
        .iter()
        .filter(|x| x.status != DesiredStatus::OnRouter)
        .map(|x| format!("{}={:?}", x.code, x.status))
        .take(5)
        .collect();
    if !not_on_router.is_empty() {
        v.problems.push(format!(
            "agent entries not confirmed on the router: {not_on_router:?}…"
        ));
    }
    if agent_queue > 0 {
        v.problems.push(format!(
            "{agent_queue} items still in the agent's apply queue"
        ));
    }
    let not_active: Vec<_> = ledger
        .iter()
        .filter(|x| matches!(x.state.as_str(), "issued" | "queued" | "failed"))
        .map(|x| format!("{}={}", x.code, x.state))
        .take(5)
        .collect();
    if !not_active.is_empty() {
        v.problems.push(format!(
            "ledger vouchers not on their router: {not_active:?}…"
        ));
    }
    let price = |p: &str| prices.get(p).copied().unwrap_or(0);
    v.revenue = [
        report_revenue,
        ledger
            .iter()
            .filter(|x| paid_states(&x.state))
            .map(|x| x.price_minor)
            .sum(),
        agent
            .iter()
            .filter(|x| x.status == DesiredStatus::OnRouter)
            .map(|x| price(&x.profile))
            .sum(),
        router.iter().map(|u| price(&u.profile)).sum(),
    ];
    if !v.revenue_equal() {
        v.problems.push(format!(
            "revenue differs: report {}, ledger {}, agent {}, router {}",
            v.revenue[0], v.revenue[1], v.revenue[2], v.revenue[3]
        ));
    }
    v
}
