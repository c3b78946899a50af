//! Routers: `POST/GET /api/routers`, `GET/PUT/DELETE /api/routers/{id}`, and (in `live`) the
//! calls answered by the router through its site's agent.
//!
//! The controller never talks to a router: adding one asks the site's agent to test the
//! settings first ([`Query::TestRouter`]) and stores the router only if the test passes, with
//! its password sealed by the store; the settings then go to the agent in a
//! [`Query::SetRouter`] request, inside TLS and never through a durable outbox. A change of
//! connection settings is tested the same way while the site is online; while it is offline
//! the change is stored, marked "credentials pending" and handed over when the site returns
//! (`fleet::presence`). Staff see only the routers they are assigned; changes need a super
//! admin. No answer has a password field.

mod ask;
pub(crate) mod input;
pub(crate) mod live;
mod view;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hotspot_pki::SiteId;
use hotspot_shared::domain::{RouterId, RouterInfo, RouterSpec};
use hotspot_shared::fleet::msg::{Answer, Command, Query};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use ask::{READ_DEADLINE, TEST_DEADLINE, Unanswered, ask, router_failure};
pub use view::{RouterStatus, RouterView, freshness_secs, status_of};

use crate::api::bounds;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{
    AdminOnly, JsonBody, PathParam, Principal, QueryParams, link_err, page_request, store_err,
};
use crate::app::AppState;
use crate::fleet::presence::mark_credentials_pending;
use crate::store::{NewRouter, RouterObservation, RouterRecord, RouterUpdate};

use input::{CreateRouter, RouterList, UpdateRouter};

/// This module's handlers.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_routers, create_router))
        .routes(routes!(get_router, update_router, delete_router))
        .merge(live::routes())
}

/// The router, if the caller may see it (404 otherwise: existence is not revealed).
pub(crate) fn visible(state: &AppState, who: &Principal, id: u64) -> ApiResult<RouterRecord> {
    let not_found = || ApiError::not_found(format!("router {id}"));
    if !who.can_see_router(id) {
        return Err(not_found());
    }
    state
        .store
        .router(RouterId(id))
        .map_err(store_err)?
        .ok_or_else(not_found)
}

/// The API view of `r` now.
pub fn view_of(state: &AppState, r: &RouterRecord) -> RouterView {
    let online = state.fleet.site_status(&r.site).is_ok_and(|s| s.online);
    RouterView::of(r, online, state.now(), freshness_secs(&state.config))
}

/// Asks the agent to test `spec`: the router's info, or the API error to answer.
async fn test_settings(
    state: &AppState,
    site: &SiteId,
    spec: RouterSpec,
) -> Result<RouterInfo, Unanswered> {
    match ask(state, site, Query::TestRouter(spec), TEST_DEADLINE).await? {
        Answer::Tested(info) => Ok(info),
        Answer::Failed(f) => Err(Unanswered::Other(router_failure(&f))),
        other => Err(Unanswered::Other(ask::odd_answer("TestRouter", &other))),
    }
}

/// Hands the stored settings to the agent; if that fails they are marked pending (and go out
/// when the site comes online).
async fn hand_over(state: &AppState, r: &RouterRecord) -> ApiResult<()> {
    let spec = r.spec(&state.keyring).map_err(ApiError::internal)?;
    let stored = ask(state, &r.site, Query::SetRouter(spec), TEST_DEADLINE).await;
    if !matches!(stored, Ok(Answer::Stored)) {
        tracing::warn!(router = %r.id, "settings not handed over now ({stored:?}); pending");
        mark_credentials_pending(state, r.id)
            .await
            .map_err(store_err)?;
    }
    Ok(())
}

fn reload(state: &AppState, id: RouterId) -> ApiResult<RouterRecord> {
    state
        .store
        .router(id)
        .map_err(store_err)?
        .ok_or_else(|| ApiError::not_found(format!("router {}", id.0)))
}

/// Filters of the router list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RouterQuery {
    /// Only this site's routers.
    #[param(schema_with = bounds::site_filter)]
    pub site_id: Option<String>,
    /// Only routers with this status.
    #[param(inline)]
    pub status: Option<RouterStatus>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// The `next` of the previous page (a router id).
    #[param(schema_with = bounds::id_cursor)]
    pub after: Option<String>,
}

/// List routers with their health status (staff: only their assigned routers).
#[utoipa::path(get, path = "/api/routers", tag = "routers", params(RouterQuery),
    responses(
        (status = 200, body = RouterList),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    ))]
async fn list_routers(
    state: State<AppState>,
    who: Principal,
    QueryParams(q): QueryParams<RouterQuery>,
) -> ApiResult<Json<RouterList>> {
    let limit = page_request(q.limit, None)?
        .checked_limit()
        .map_err(store_err)?;
    let after = bounds::id_cursor_of(q.after.as_deref())?;
    let site = bounds::site_filter_of(q.site_id.as_deref())?;
    let status = q.status;
    let mut routers = if who.is_admin() {
        state.store.routers(site.as_ref())
    } else {
        state.store.routers_of_staff(who.staff_id())
    }
    .map_err(store_err)?;
    routers.retain(|r| r.id.0 > after && site.as_ref().is_none_or(|s| r.site == *s));
    routers.sort_by_key(|r| r.id);
    let mut items = Vec::new();
    let mut next = None;
    for r in &routers {
        let v = view_of(&state, r);
        if status.is_some_and(|s| v.status != s) {
            continue;
        }
        if items.len() == limit {
            next = items.last().map(|v: &RouterView| v.id.to_string());
            break;
        }
        items.push(v);
    }
    Ok(Json(RouterList { items, next }))
}

/// One router.
#[utoipa::path(get, path = "/api/routers/{id}", tag = "routers",
    params(("id" = u64, Path, description = "Router id")),
    responses(
        (status = 200, body = RouterView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn get_router(
    state: State<AppState>,
    who: Principal,
    PathParam(id): PathParam<u64>,
) -> ApiResult<Json<RouterView>> {
    let r = visible(&state, &who, id)?;
    Ok(Json(view_of(&state, &r)))
}

/// Add a router: the site's agent tests the settings first; only a router that passes is
/// stored (password sealed) and handed to the agent.
#[utoipa::path(post, path = "/api/routers", tag = "routers", request_body = CreateRouter,
    responses(
        (status = 201, description = "Tested, stored and handed to the agent", body = RouterView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, description = "Bad input, or the router refused the settings (the message says why)", body = ErrorBody),
        (status = 502, description = "The router or agent failed", body = ErrorBody),
        (status = 503, description = "The site is offline: nothing stored", body = ErrorBody),
        (status = 504, body = ErrorBody),
    ))]
pub(crate) async fn create_router(
    state: State<AppState>,
    admin: AdminOnly,
    JsonBody(req): JsonBody<CreateRouter>,
) -> ApiResult<(StatusCode, Json<RouterView>)> {
    let new: NewRouter = req.into_new()?;
    match state.store.site(&new.site).map_err(store_err)? {
        None => {
            return Err(ApiError::invalid_field(
                "site_id",
                format!("no site {}", new.site),
            ));
        }
        Some(s) if s.revoked => {
            return Err(ApiError::invalid_field(
                "site_id",
                format!("site {} is revoked", new.site),
            ));
        }
        Some(_) => {}
    }
    let probe = RouterSpec {
        id: RouterId(0),
        name: new.name.clone(),
        host: new.host.clone(),
        port: new.port,
        username: new.username.clone(),
        password: new.password.clone(),
        tls: new.tls.clone(),
    };
    let site = new.site.clone();
    let info = test_settings(&state, &site, probe)
        .await
        .map_err(|why| why.into_settings_error(&site))?;
    let now = state.now();
    let record = state
        .store
        .create_router(new, &state.keyring, &admin.stamp(now))
        .map_err(store_err)?
        .durable()
        .await
        .map_err(store_err)?;
    ask::observe(&state, record.id, RouterObservation::Info(info), now).await;
    hand_over(&state, &record).await?;
    let record = reload(&state, record.id)?;
    Ok((StatusCode::CREATED, Json(view_of(&state, &record))))
}

/// Change a router. New connection settings are tested first while the site is online (and
/// refused if the test fails); while it is offline they are stored, marked pending and handed
/// over when the site returns (answer 202).
#[utoipa::path(put, path = "/api/routers/{id}", tag = "routers", request_body = UpdateRouter,
    params(("id" = u64, Path, description = "Router id")),
    responses(
        (status = 200, description = "Changed (and handed to the agent)", body = RouterView),
        (status = 202, description = "Stored; the site is offline, settings pending", body = RouterView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 504, body = ErrorBody),
    ))]
async fn update_router(
    state: State<AppState>,
    admin: AdminOnly,
    PathParam(id): PathParam<u64>,
    JsonBody(req): JsonBody<UpdateRouter>,
) -> ApiResult<(StatusCode, Json<RouterView>)> {
    let r = visible(&state, &admin, id)?;
    let update: RouterUpdate = req.into_update(&r)?;
    let current = r.spec(&state.keyring).map_err(ApiError::internal)?;
    let candidate = RouterSpec {
        id: r.id,
        name: update.name.clone().unwrap_or(current.name.clone()),
        host: update.host.clone().unwrap_or(current.host.clone()),
        port: update.port.unwrap_or(current.port),
        username: update.username.clone().unwrap_or(current.username.clone()),
        password: update.password.clone().unwrap_or(current.password.clone()),
        tls: update.tls.clone().unwrap_or(current.tls.clone()),
    };
    let connection_changed = (&candidate.host, candidate.port, &candidate.username)
        != (&current.host, current.port, &current.username)
        || candidate.password != current.password
        || candidate.tls != current.tls;
    let mut info = None;
    let mut pending = false;
    if connection_changed {
        match test_settings(&state, &r.site, candidate.clone()).await {
            Ok(i) => info = Some(i),
            Err(Unanswered::Offline) => pending = true,
            Err(other) => return Err(other.into_settings_error(&r.site)),
        }
    }
    let now = state.now();
    let record = state
        .store
        .update_router(r.id, update, &state.keyring, &admin.stamp(now))
        .map_err(store_err)?
        .durable()
        .await
        .map_err(store_err)?;
    if let Some(info) = info {
        ask::observe(&state, record.id, RouterObservation::Info(info), now).await;
    }
    if pending {
        mark_credentials_pending(&state, record.id)
            .await
            .map_err(store_err)?;
    } else if candidate != current {
        hand_over(&state, &record).await?;
    }
    let record = reload(&state, record.id)?;
    let status = if pending {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view_of(&state, &record))))
}

/// Remove a router from the controller and its agent (its vouchers stay in the ledger).
#[utoipa::path(delete, path = "/api/routers/{id}", tag = "routers",
    params(("id" = u64, Path, description = "Router id")),
    responses(
        (status = 200, description = "Removed; the agent forgets it (queued if offline)", body = RouterView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub(crate) async fn delete_router(
    state: State<AppState>,
    admin: AdminOnly,
    PathParam(id): PathParam<u64>,
) -> ApiResult<Json<RouterView>> {
    let r = visible(&state, &admin, id)?;
    let removed = state
        .store
        .remove_router(r.id, &admin.stamp(state.now()))
        .map_err(store_err)?
        .durable()
        .await
        .map_err(store_err)?;
    let cmd = Command::RemoveRouter { router: removed.id };
    state
        .fleet
        .send(&removed.site, &cmd)
        .await
        .map_err(link_err)?;
    Ok(Json(view_of(&state, &removed)))
}
