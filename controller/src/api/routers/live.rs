//! Router calls that need the router's answer: test, info, stats, active users, kick, sync.
//!
//! Each goes to the site's agent with a deadline ([`ask`]) and never waits longer. When the
//! agent cannot answer (site offline, no answer in time) the answer is the last known state
//! from the router record, marked `"stale": true` with its `age_secs` and the reason; with no
//! known state the call fails (503 `site_offline`, 504 `timeout`) rather than inventing values.
//! A fresh answer is recorded in the ledger, so the next stale answer is as recent as possible.
//! What the router itself refuses (bad credentials, unreachable) is explained in words a
//! non-engineer can act on ([`router_failure`]).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hotspot_shared::fleet::msg::{Answer, Command, Query};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ask::{
    Freshness, READ_DEADLINE, TEST_DEADLINE, Unanswered, ask, observe, odd_answer, router_failure,
};
use super::view::{FailureView, HealthView, InfoView, SessionView};
use super::visible;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{AdminOnly, PathParam, Principal, fmt_time, link_err, store_err};
use crate::app::AppState;
use crate::store::RouterObservation;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(test_router))
        .routes(routes!(router_info))
        .routes(routes!(router_stats))
        .routes(routes!(active_users))
        .routes(routes!(kick_session))
        .routes(routes!(sync_router))
}

/// Result of a connection test.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestAnswer {
    /// The router accepted the connection and login.
    pub ok: bool,
    pub info: Option<InfoView>,
    #[serde(flatten)]
    pub freshness: Freshness,
}

/// Test the connection to the router now.
#[utoipa::path(post, path = "/api/routers/{id}/test", tag = "routers",
    params(("id" = u64, Path, description = "Router id")),
    responses(
        (status = 200, description = "Tested now, or the last known result marked stale", body = TestAnswer),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, description = "Site offline and nothing known", body = ErrorBody),
        (status = 504, description = "No answer in time and nothing known", body = ErrorBody),
    ))]
pub(crate) async fn test_router(
    state: State<AppState>,
    who: Principal,
    PathParam(id): PathParam<u64>,
) -> ApiResult<Json<TestAnswer>> {
    let r = visible(&state, &who, id)?;
    let spec = r.spec(&state.keyring).map_err(ApiError::internal)?;
    let now = state.now();
    let answer = match ask(&state, &r.site, Query::TestRouter(spec), TEST_DEADLINE).await {
        Ok(Answer::Tested(info)) => {
            observe(&state, r.id, RouterObservation::Info(info.clone()), now).await;
            TestAnswer {
                ok: true,
                info: Some((&info).into()),
                freshness: Freshness::fresh(now),
            }
        }
        Ok(Answer::Failed(f)) => {
            observe(&state, r.id, RouterObservation::Down(f.clone()), now).await;
            let mut freshness = Freshness::fresh(now);
            freshness.failure = Some(FailureView::of(&f, Some(now)));
            TestAnswer {
                ok: false,
                info: None,
                freshness,
            }
        }
        Ok(other) => return Err(odd_answer("TestRouter", &other)),
        Err(why) => {
            let seen = r.last_seen();
            let failed = r.last_error.as_ref();
            let at = match (seen, failed.map(|(_, at)| *at)) {
                (None, None) => return Err(why.into_error(&r)),
                (s, f) => s.max(f).unwrap_or(now),
            };
            let ok = failed.is_none_or(|(_, f)| seen.is_some_and(|s| s >= *f));
            TestAnswer {
                ok,
                info: r.info.as_ref().map(|(i, _)| i.into()),
                freshness: Freshness::stale(now, at, why.reason(), failed.map(|(f, _)| f)),
            }
        }
    };
    Ok(Json(answer))
}

/// Model, identity and firmware.
#[derive(Debug, Serialize, ToSchema)]
pub struct InfoAnswer {
    pub info: InfoView,
    #[serde(flatten)]
    pub freshness: Freshness,
}

/// Read model, identity, RouterOS version and firmware from the router.
#[utoipa::path(get, path = "/api/routers/{id}/info", tag = "routers",
    params(("id" = u64, Path, description = "Router id")),
    responses(
        (status = 200, description = "Read now, or the last known info marked stale", body = InfoAnswer),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "The router refused (settings at fault)", body = ErrorBody),
        (status = 502, description = "The router failed", body = ErrorBody),
        (status = 503, body = ErrorBody), (status = 504, body = ErrorBody),
    ))]
async fn router_info(
    state: State<AppState>,
    who: Principal,
    PathParam(id): PathParam<u64>,
) -> ApiResult<Json<InfoAnswer>> {
    let r = visible(&state, &who, id)?;
    let now = state.now();
    let query = Query::RouterInfo { router: r.id };
    let (why, failure) = match ask(&state, &r.site, query, READ_DEADLINE).await {
        Ok(Answer::Info(info)) => {
            observe(&state, r.id, RouterObservation::Info(info.clone()), now).await;
            let info = (&info).into();
            let freshness = Freshness::fresh(now);
            return Ok(Json(InfoAnswer { info, freshness }));
        }
        Ok(Answer::Failed(f)) => {
            observe(&state, r.id, RouterObservation::Down(f.clone()), now).await;
            (Unanswered::Other(router_failure(&f)), Some(f))
        }
        Ok(other) => return Err(odd_answer("RouterInfo", &other)),
        Err(why) => (why, None),
    };
    let Some((info, at)) = &r.info else {
        return Err(why.into_error(&r));
    };
    let freshness = Freshness::stale(now, *at, why.reason(), failure.as_ref());
    Ok(Json(InfoAnswer {
        info: info.into(),
        freshness,
    }))
}

/// CPU, memory, uptime and active users.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsAnswer {
    pub stats: HealthView,
    #[serde(flatten)]
    pub freshness: Freshness,
}

/// Read CPU load, memory, uptime and the active-user count from the router.
#[utoipa::path(get, path = "/api/routers/{id}/stats", tag = "routers",
    params(("id" = u64, Path, description = "Router id")),
    responses(
        (status = 200, description = "Read now, or the last known reading marked stale", body = StatsAnswer),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody),
        (status = 503, body = ErrorBody), (status = 504, body = ErrorBody),
    ))]
pub(crate) async fn router_stats(
    state: State<AppState>,
    who: Principal,
    PathParam(id): PathParam<u64>,
) -> ApiResult<Json<StatsAnswer>> {
    let r = visible(&state, &who, id)?;
    let now = state.now();
    let (why, failure) = match ask(
        &state,
        &r.site,
        Query::Stats { router: r.id },
        READ_DEADLINE,
    )
    .await
    {
        Ok(Answer::Stats(sample)) => {
            let at = sample.at;
            observe(&state, r.id, RouterObservation::Health(sample.clone()), at).await;
            let stats = (&sample).into();
            let freshness = Freshness::fresh(at);
            return Ok(Json(StatsAnswer { stats, freshness }));
        }
        Ok(Answer::Failed(f)) => {
            observe(&state, r.id, RouterObservation::Down(f.clone()), now).await;
            (Unanswered::Other(router_failure(&f)), Some(f))
        }
        Ok(other) => return Err(odd_answer("Stats", &other)),
        Err(why) => (why, None),
    };
    let Some((sample, at)) = &r.health else {
        return Err(why.into_error(&r));
    };
    let freshness = Freshness::stale(now, *at, why.reason(), failure.as_ref());
    Ok(Json(StatsAnswer {
        stats: sample.into(),
        freshness,
    }))
}

/// The router's open hotspot sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveUsers {
    pub items: Vec<SessionView>,
    /// Always null: the router answers all sessions at once.
    pub next: Option<String>,
}

/// List the active hotspot sessions (only live: sessions are not kept, so an offline site
/// answers 503).
#[utoipa::path(get, path = "/api/routers/{id}/active-users", tag = "routers",
    params(("id" = u64, Path, description = "Router id")),
    responses(
        (status = 200, body = ActiveUsers),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody),
        (status = 503, body = ErrorBody), (status = 504, body = ErrorBody),
    ))]
pub(crate) async fn active_users(
    state: State<AppState>,
    who: Principal,
    PathParam(id): PathParam<u64>,
) -> ApiResult<Json<ActiveUsers>> {
    let r = visible(&state, &who, id)?;
    let query = Query::ActiveUsers { router: r.id };
    match ask(&state, &r.site, query, READ_DEADLINE).await {
        Ok(Answer::Active(sessions)) => Ok(Json(ActiveUsers {
            items: sessions.iter().map(SessionView::from).collect(),
            next: None,
        })),
        Ok(Answer::Failed(f)) => Err(router_failure(&f)),
        Ok(other) => Err(odd_answer("ActiveUsers", &other)),
        Err(why) => Err(why.into_error(&r)),
    }
}

/// A session was ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct Kicked {
    pub kicked: bool,
    pub session: String,
}

/// End one hotspot session now (super admins).
#[utoipa::path(post, path = "/api/routers/{id}/active-users/{session}/kick", tag = "routers",
    params(("id" = u64, Path, description = "Router id"),
           ("session" = String, Path, description = "The session id from active-users, e.g. `*1A`")),
    responses(
        (status = 200, body = Kicked),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 502, body = ErrorBody),
        (status = 503, description = "Site offline: sessions can only be ended live", body = ErrorBody),
        (status = 504, body = ErrorBody),
    ))]
pub(crate) async fn kick_session(
    state: State<AppState>,
    admin: AdminOnly,
    PathParam((id, session)): PathParam<(u64, String)>,
) -> ApiResult<Json<Kicked>> {
    let r = visible(&state, &admin, id)?;
    // Not the shape of a router's item id: no router has such a session, and it is never sent.
    if !hotspot_shared::routeros::is_item_id(&session) {
        return Err(ApiError::not_found(format!(
            "active session {:?} (session ids look like *1A)",
            session.chars().take(64).collect::<String>()
        )));
    }
    let query = Query::Kick {
        router: r.id,
        session: session.clone(),
    };
    match ask(&state, &r.site, query, READ_DEADLINE).await {
        Ok(Answer::Kicked) => {
            let stamp = admin.stamp(state.now());
            let entry = stamp.audit("router.kick", r.id, format!("session {session}"));
            state
                .store
                .append_audit(&entry)
                .map_err(store_err)?
                .durable()
                .await
                .map_err(store_err)?;
            Ok(Json(Kicked {
                kicked: true,
                session,
            }))
        }
        Ok(Answer::Failed(f)) => Err(router_failure(&f)),
        Ok(other) => Err(odd_answer("Kick", &other)),
        Err(why) => Err(why.into_error(&r)),
    }
}

/// What a sync did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncAnswer {
    /// Usage was read now.
    pub synced: bool,
    /// Vouchers whose usage was read.
    pub samples: Option<usize>,
    /// The site is offline: a durable "sync now" is queued for when it returns.
    pub queued: bool,
    pub last_sync_at: Option<String>,
    #[serde(flatten)]
    pub freshness: Freshness,
}

/// Read voucher usage from the router now (or queue the sync while the site is offline).
#[utoipa::path(post, path = "/api/routers/{id}/sync", tag = "routers",
    params(("id" = u64, Path, description = "Router id")),
    responses(
        (status = 200, description = "Synced now", body = SyncAnswer),
        (status = 202, description = "Site offline or slow: queued, last sync shown", body = SyncAnswer),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody),
    ))]
pub(crate) async fn sync_router(
    state: State<AppState>,
    who: Principal,
    PathParam(id): PathParam<u64>,
) -> ApiResult<(StatusCode, Json<SyncAnswer>)> {
    let r = visible(&state, &who, id)?;
    let now = state.now();
    let why = match ask(&state, &r.site, Query::Sync { router: r.id }, TEST_DEADLINE).await {
        Ok(Answer::Synced { samples }) => {
            observe(&state, r.id, RouterObservation::Synced, now).await;
            let answer = SyncAnswer {
                synced: true,
                samples: Some(samples),
                queued: false,
                last_sync_at: Some(fmt_time(now)),
                freshness: Freshness::fresh(now),
            };
            return Ok((StatusCode::OK, Json(answer)));
        }
        Ok(Answer::Failed(f)) => {
            observe(&state, r.id, RouterObservation::Down(f.clone()), now).await;
            return Err(router_failure(&f));
        }
        Ok(other) => return Err(odd_answer("Sync", &other)),
        Err(why) => why,
    };
    let queued = matches!(why, Unanswered::Offline);
    if queued {
        let cmd = Command::SyncNow { router: Some(r.id) };
        state.fleet.send(&r.site, &cmd).await.map_err(link_err)?;
    } else if let Unanswered::Refused(_) | Unanswered::Other(_) = why {
        return Err(why.into_error(&r));
    }
    let at = r.last_sync_at.unwrap_or(r.created_at);
    let answer = SyncAnswer {
        synced: false,
        samples: None,
        queued,
        last_sync_at: r.last_sync_at.map(fmt_time),
        freshness: Freshness::stale(now, at, why.reason(), None),
    };
    Ok((StatusCode::ACCEPTED, Json(answer)))
}
