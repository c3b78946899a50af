//! `POST /api/tokens/generate`: vouchers from a package for a router, put on the router
//! through the site's agent, with an honest answer per voucher.
//!
//! The path of a batch, and why each step is where it is:
//! 1. **Check** (no writes): count within `1..=vouchers.max_batch`, prefix and length
//!    ([`CodeSpec`]), the caller may sell on the router (staff: assigned routers only), the
//!    package is on sale, the site is not revoked.
//! 2. **Codes**: drawn with `rand::rng()` from the unambiguous alphabet, never starting with a
//!    site's offline code prefix (those belong to codes the agents make while offline), so
//!    central and site codes cannot meet.
//! 3. **Ledger**: all vouchers in ONE `insert_vouchers` transaction, `issued`; the few codes
//!    another request took meanwhile are redrawn and the batch retried; then made durable.
//! 4. **Outbox**: `CreateVouchers` commands of at most `MAX_VOUCHERS_PER_COMMAND` with the
//!    package's profile, in one `send_batch` (durable when it returns). If that fails (outbox
//!    full) the vouchers are withdrawn from the ledger and the call fails: nothing is claimed.
//! 5. **Queued**: one `change_vouchers(.., Queued)`, made durable. An agent's `Applied` that beats
//!    it wins (the state machine ignores `Queued` after `Active`).
//! 6. **Wait** up to `vouchers.confirm_wait_ms` while the site is online, reading a voucher
//!    again the moment the agent's `Applied`/`Failed` event for it commits (the store's
//!    [`Decisions`](crate::store::Decisions)), then answer each voucher's state:
//!    `active`, `queued` (not yet confirmed) or `failed` with the router's reason. With the site
//!    offline there is no wait: `queued`, `site_offline: true`; the link delivers later.
//!
//! Steps 3 to 5 run in a spawned task: a client that hangs up (or the request timeout) cannot
//! cut the sequence between "in the ledger" and "in the outbox".

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use hotspot_pki::SiteId;
use hotspot_shared::domain::{Origin, Package, PackageId, RouterId, StaffId, VoucherState};
use hotspot_shared::voucher::{CodeError, CodeSpec};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use utoipa::ToSchema;

use super::VoucherView;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{JsonBody, Principal, link_err, store_err};
use crate::app::AppState;
use crate::fleet::commands::{Create, create_commands};
use crate::store::{Decided, MAX_BATCH, Stamp, StoreError, VoucherChange, VoucherRecord};

/// Rounds of redrawing codes that collided with the ledger before giving up.
const MAX_DUPLICATE_ROUNDS: usize = 5;
/// Draws per code before the code space counts as exhausted.
const MAX_DRAWS_PER_CODE: usize = 1000;

// The schema's bound on `prefix` (attributes take literals only).
const _: () = assert!(hotspot_shared::voucher::MAX_PREFIX == 12);

/// Vouchers to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    #[schema(example = 1)]
    pub router_id: u64,
    #[schema(example = 1)]
    pub package_id: u64,
    /// 1 to 10000 (the configured `vouchers.max_batch`); default 1.
    #[schema(minimum = 1, maximum = 10000, example = 1)]
    pub count: Option<u32>,
    /// Up to 12 of `A-Z`, `0-9`, `-`. One that starts with a site's offline code prefix is
    /// taken (409): those codes belong to the agents.
    #[schema(max_length = 12, pattern = "^[A-Z0-9-]*$")]
    pub prefix: Option<String>,
    /// Random characters after the prefix, 6 to 20 (default `vouchers.default_length`).
    #[schema(minimum = 6, maximum = 20, example = 8)]
    pub length: Option<usize>,
    /// `same` (default: password = code) or `separate` (a random password).
    pub password: Option<PasswordMode>,
}

/// Whether a voucher's password is its code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PasswordMode {
    #[default]
    Same,
    Separate,
}

/// How many vouchers ended in which state when the call answered.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct GenerateCounts {
    pub active: usize,
    pub queued: usize,
    pub failed: usize,
    /// Anything else (e.g. already `in-use`).
    pub other: usize,
}

/// The vouchers made, each with its state now.
#[derive(Debug, Serialize, ToSchema)]
pub struct GenerateResponse {
    pub vouchers: Vec<VoucherView>,
    pub router_id: u64,
    pub site_id: String,
    pub package_id: u64,
    /// The site's agent was not connected: nothing was waited for; the vouchers are queued
    /// durably and reach the router when the link returns.
    pub site_offline: bool,
    pub counts: GenerateCounts,
}

/// What was checked and drawn before anything is written.
struct Plan {
    site: SiteId,
    router: RouterId,
    package: Package,
    staff: StaffId,
    spec: CodeSpec,
    reserved: Vec<String>,
    taken: HashSet<String>,
    records: Vec<VoucherRecord>,
}

/// Generate vouchers and put them on the router.
#[utoipa::path(post, path = "/api/tokens/generate", tag = "tokens",
    request_body = GenerateRequest,
    responses(
        (status = 200, description = "Stored durably; each voucher's state says whether the \
            router confirmed it", body = GenerateResponse),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not assigned to this router", body = ErrorBody),
        (status = 404, description = "No such router or package", body = ErrorBody),
        (status = 409, description = "The package is archived, the site revoked, or the prefix is a site's offline prefix", body = ErrorBody),
        (status = 422, description = "Bad count, prefix or length", body = ErrorBody),
        (status = 503, description = "The site's queue is full; nothing was issued",
            body = ErrorBody),
    ))]
pub(super) async fn generate(
    State(state): State<AppState>,
    caller: Principal,
    JsonBody(req): JsonBody<GenerateRequest>,
) -> ApiResult<Json<GenerateResponse>> {
    issue(&state, &caller, req, true).await.map(Json)
}

/// The service behind `POST /api/tokens/generate`, for callers inside the controller (the
/// dashboard). With `wait` false it answers as soon as the vouchers are durable and queued
/// (step 6 skipped): the dashboard shows their progress by polling the ledger instead.
pub async fn issue(
    state: &AppState,
    caller: &Principal,
    req: GenerateRequest,
    wait: bool,
) -> ApiResult<GenerateResponse> {
    let plan = plan(state, caller, req)?;
    let (site, router, package) = (plan.site.clone(), plan.router, plan.package.id);
    // Before anything reaches the outbox: no confirmation can land unseen.
    let decisions = state.store.decisions().subscribe();
    let task = tokio::spawn(commit(state.clone(), plan));
    let (records, online) = task.await.map_err(ApiError::internal)??;
    let records = if online && wait {
        confirm(state, records, decisions).await?
    } else {
        records
    };
    let mut counts = GenerateCounts::default();
    for v in &records {
        match v.state {
            VoucherState::Active => counts.active += 1,
            VoucherState::Queued | VoucherState::Issued => counts.queued += 1,
            VoucherState::Failed => counts.failed += 1,
            _ => counts.other += 1,
        }
    }
    Ok(GenerateResponse {
        vouchers: records.iter().map(VoucherView::from).collect(),
        router_id: router.0,
        site_id: site.to_string(),
        package_id: package.0,
        site_offline: !online,
        counts,
    })
}

/// Step 1 and 2: checks, then draws the codes.
fn plan(state: &AppState, caller: &Principal, req: GenerateRequest) -> ApiResult<Plan> {
    let max = state.config.vouchers.max_batch.get().min(MAX_BATCH as u32);
    let count = req.count.unwrap_or(1);
    if !(1..=max).contains(&count) {
        return Err(ApiError::invalid_field(
            "count",
            format!("count must be 1 to {max}"),
        ));
    }
    let prefix = req.prefix.as_deref().filter(|p| !p.is_empty());
    let length = req.length.unwrap_or(state.config.vouchers.default_length);
    let spec = CodeSpec::new(prefix, Some(length)).map_err(|e| match e {
        CodeError::Length(_) => ApiError::invalid_field("length", e.to_string()),
        CodeError::Prefix(_) => ApiError::invalid_field("prefix", e.to_string()),
    })?;
    if !caller.can_see_router(req.router_id) {
        return Err(ApiError::forbidden(format!(
            "you are not assigned to router {}",
            req.router_id
        )));
    }
    let router = state
        .store
        .router(RouterId(req.router_id))
        .map_err(store_err)?
        .ok_or_else(|| ApiError::not_found(format!("router {}", req.router_id)))?;
    let package = state
        .store
        .package(PackageId(req.package_id))
        .map_err(store_err)?
        .ok_or_else(|| ApiError::not_found(format!("package {}", req.package_id)))?;
    if package.archived {
        return Err(ApiError::conflict(
            "this package is archived and no longer sold",
        ));
    }
    let sites = state.store.sites().map_err(store_err)?;
    if sites.iter().any(|s| s.id == router.site && s.revoked) {
        return Err(ApiError::conflict(format!(
            "site {} is revoked; its routers take no new vouchers",
            router.site
        )));
    }
    let reserved: Vec<String> = sites.into_iter().map(|s| s.code_prefix).collect();
    if let Some(p) = prefix
        && let Some(r) = reserved.iter().find(|r| p.starts_with(r.as_str()))
    {
        return Err(ApiError::conflict(format!(
            "codes starting with {r} are reserved for a site's offline vouchers"
        ))
        .with_details(serde_json::json!({ "field": "prefix" })));
    }
    let separate = req.password.unwrap_or_default() == PasswordMode::Separate;
    let password_spec = CodeSpec::new(None, Some(length)).map_err(ApiError::internal)?;
    let now = state.now();
    let mut plan = Plan {
        site: router.site.clone(),
        router: router.id,
        package: package.package,
        staff: caller.staff_id(),
        spec,
        reserved,
        taken: HashSet::with_capacity(count as usize),
        records: Vec::with_capacity(count as usize),
    };
    let rng = &mut rand::rng();
    for _ in 0..count {
        let code = fresh_code(&mut plan, rng)?;
        let password = if separate {
            password_spec.generate(rng)
        } else {
            code.clone()
        };
        let record = voucher(&plan, code, password, now);
        plan.records.push(record);
    }
    Ok(plan)
}

fn voucher(plan: &Plan, code: String, password: String, now: i64) -> VoucherRecord {
    VoucherRecord::new_sale(
        &plan.package,
        (code, password),
        (plan.router, plan.site.clone()),
        plan.staff,
        Origin::Central,
        now,
    )
}

/// A code not drawn before in this batch and outside every site's offline prefix.
fn fresh_code(plan: &mut Plan, rng: &mut impl Rng) -> ApiResult<String> {
    for _ in 0..MAX_DRAWS_PER_CODE {
        let code = plan.spec.generate(rng);
        let reserved = plan.reserved.iter().any(|r| code.starts_with(r.as_str()));
        if !reserved && plan.taken.insert(code.clone()) {
            return Ok(code);
        }
    }
    Err(ApiError::conflict(
        "no free voucher codes of this prefix and length; choose a longer length",
    ))
}

/// Redraws the codes the ledger refused as taken (they stay in `taken`).
fn redraw(plan: &mut Plan, duplicates: &[String]) -> ApiResult<()> {
    let dup: HashSet<&str> = duplicates.iter().map(String::as_str).collect();
    let rng = &mut rand::rng();
    for i in 0..plan.records.len() {
        if dup.contains(plan.records[i].code.as_str()) {
            let code = fresh_code(plan, rng)?;
            let r = &mut plan.records[i];
            if r.password == r.code {
                r.password = code.clone();
            }
            r.code = code;
        }
    }
    Ok(())
}

/// Steps 3 to 5. Returns the records (queued) and whether the site was online.
async fn commit(state: AppState, mut plan: Plan) -> ApiResult<(Vec<VoucherRecord>, bool)> {
    let stamp = Stamp::staff(plan.staff, state.now());
    let mut rounds = 0;
    let written = loop {
        match state.store.insert_vouchers(plan.records.clone(), &stamp) {
            Ok(w) => break w,
            Err(StoreError::DuplicateCodes(dups)) if rounds < MAX_DUPLICATE_ROUNDS => {
                rounds += 1;
                tracing::info!(n = dups.len(), "voucher codes taken meanwhile; redrawing");
                redraw(&mut plan, &dups)?;
            }
            Err(e) => return Err(store_err(e)),
        }
    };
    let n = written.durable().await.map_err(store_err)?;
    state.metrics.vouchers_issued.inc_by(&["central"], n as u64);
    let online = state.fleet.site_status(&plan.site).is_ok_and(|s| s.online);
    let records: Vec<&VoucherRecord> = plan.records.iter().collect();
    let commands = create_commands(plan.router, &plan.package, &records, Create::All);
    let codes: Vec<String> = plan.records.iter().map(|v| v.code.clone()).collect();
    if let Err(e) = state.fleet.send_batch(&plan.site, &commands).await {
        tracing::warn!(site = %plan.site, error = %e, n, "vouchers not queued; withdrawing");
        withdraw(&state, &codes, &stamp).await;
        return Err(link_err(e));
    }
    let queued = state
        .store
        .change_vouchers(&codes, VoucherChange::Queued, &stamp)
        .map_err(store_err);
    match queued {
        Ok(w) => match w.durable().await {
            Ok(outcomes) => Ok((outcomes.into_iter().map(|o| o.record).collect(), online)),
            Err(e) => Err(store_err(e)),
        },
        // The commands are in the outbox and will land; answer what the ledger holds.
        Err(e) => {
            tracing::error!(error = %e, "vouchers sent but not marked queued");
            Ok((plan.records, online))
        }
    }
}

/// The hotspot user for a voucher.
/// Takes back vouchers that never reached the outbox (one durability barrier for all).
async fn withdraw(state: &AppState, codes: &[String], stamp: &Stamp) {
    let mut all = crate::store::Written::already_durable(0usize);
    for code in codes {
        match state.store.delete_voucher(code, stamp) {
            Ok(w) => all = all.zip(w).map(|(n, _)| n + 1),
            Err(e) => tracing::error!(code, error = %e, "could not withdraw an unsent voucher"),
        }
    }
    match all.durable().await {
        Ok(n) => tracing::info!(n, "withdrew unsent vouchers"),
        Err(e) => tracing::error!(error = %e, "could not make the withdrawn vouchers durable"),
    }
}

/// Step 6: until no voucher is waiting or `confirm_wait_ms` passed, reads again each waiting
/// voucher that a batch of agents' events just moved (all of them after falling behind).
async fn confirm(
    state: &AppState,
    mut records: Vec<VoucherRecord>,
    mut decisions: broadcast::Receiver<Decided>,
) -> ApiResult<Vec<VoucherRecord>> {
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(state.config.vouchers.confirm_wait_ms);
    let waits = |v: &VoucherRecord| matches!(v.state, VoucherState::Issued | VoucherState::Queued);
    let mut waiting: HashMap<String, usize> = records
        .iter()
        .enumerate()
        .filter(|(_, v)| waits(v))
        .map(|(i, v)| (v.code.clone(), i))
        .collect();
    // Every event about these vouchers commits after the subscription (they reached the
    // outbox after it): none is missed.
    while !waiting.is_empty() {
        let again: Vec<usize> = match tokio::time::timeout_at(deadline, decisions.recv()).await {
            Err(_) => break,
            Ok(Ok(codes)) => codes
                .iter()
                .filter_map(|c| waiting.get(c).copied())
                .collect(),
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => waiting.values().copied().collect(),
            Ok(Err(broadcast::error::RecvError::Closed)) => break,
        };
        for i in again {
            if let Some(v) = state.store.voucher(&records[i].code).map_err(store_err)? {
                if !waits(&v) {
                    waiting.remove(&v.code);
                }
                records[i] = v;
            }
        }
    }
    Ok(records)
}
