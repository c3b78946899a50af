//! Staff accounts (super admins only): `GET/POST /api/staff`, `GET/PUT /api/staff/{id}`,
//! `POST /api/staff/{id}/password`.
//!
//! Answers never carry a password hash. New passwords pass the policy
//! ([`crate::auth::password::check_new_password`]) and are hashed on the blocking pool.
//! Disabling an account or resetting its password ends all of its sessions; a role or router
//! change takes effect on the member's next request (the caller is re-read every time). The
//! last enabled super admin cannot be disabled or demoted, so the fleet never loses its admin.
//! Every change is in the audit log (the ledger writes it with the change).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hotspot_shared::domain::{RouterId, StaffId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::auth::{RoleName, hashing};
use crate::api::bounds;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{AdminOnly, JsonBody, PathParam, fmt_time, store_err};
use crate::app::AppState;
use crate::auth::password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, check_new_password};
use crate::store::{NewStaff, Role, StaffRecord, StaffUpdate};

/// This module's handlers.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_staff, create_staff))
        .routes(routes!(get_staff, update_staff))
        .routes(routes!(reset_password))
}

/// A staff account as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffView {
    pub id: u64,
    pub username: String,
    pub role: RoleName,
    /// Routers this member may sell on (ignored for super admins).
    pub routers: Vec<u64>,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&StaffRecord> for StaffView {
    fn from(s: &StaffRecord) -> StaffView {
        StaffView {
            id: s.id.0,
            username: s.username.clone(),
            role: s.role.into(),
            routers: s.routers.iter().map(|r| r.0).collect(),
            disabled: s.disabled,
            created_at: fmt_time(s.created_at),
            updated_at: fmt_time(s.updated_at),
        }
    }
}

/// All staff accounts (one page: `next` is always null).
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffList {
    pub items: Vec<StaffView>,
    pub next: Option<String>,
}

/// A new account. `Debug` does not show the password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaff {
    #[schema(schema_with = bounds::name)]
    pub username: String,
    /// The password policy: 10 to 256 characters, not one character repeated, not the
    /// username.
    #[schema(schema_with = new_password)]
    pub password: String,
    pub role: RoleName,
    #[serde(default)]
    #[schema(schema_with = router_ids)]
    pub routers: Vec<u64>,
}

impl std::fmt::Debug for CreateStaff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateStaff")
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// Fields to change; absent ones are kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaff {
    #[schema(schema_with = bounds::name_or_null)]
    pub username: Option<String>,
    pub role: Option<RoleName>,
    #[schema(schema_with = router_ids_or_null)]
    pub routers: Option<Vec<u64>>,
    pub disabled: Option<bool>,
}

/// A new password, set by an admin.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// The password policy, as for a new account.
    #[schema(schema_with = new_password)]
    pub password: String,
}

fn new_password() -> ObjectBuilder {
    bounds::string(false)
        .min_length(Some(MIN_PASSWORD_CHARS))
        .max_length(Some(MAX_PASSWORD_CHARS))
}

fn router_ids() -> ArrayBuilder {
    ArrayBuilder::new().items(bounds::id_filter())
}

fn router_ids_or_null() -> ArrayBuilder {
    router_ids().schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
}

/// List staff accounts.
#[utoipa::path(get, path = "/api/staff", tag = "staff",
    responses(
        (status = 200, description = "Every account", body = StaffList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
async fn list_staff(state: State<AppState>, _admin: AdminOnly) -> ApiResult<Json<StaffList>> {
    let staff = state.store.staff_list().map_err(store_err)?;
    Ok(Json(StaffList {
        items: staff.iter().map(StaffView::from).collect(),
        next: None,
    }))
}

/// Create a staff account.
#[utoipa::path(post, path = "/api/staff", tag = "staff",
    request_body = CreateStaff,
    responses(
        (status = 201, description = "Created", body = StaffView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "Username taken", body = ErrorBody),
        (status = 422, description = "Password policy or unknown router", body = ErrorBody),
    ))]
pub(crate) async fn create_staff(
    state: State<AppState>,
    admin: AdminOnly,
    JsonBody(req): JsonBody<CreateStaff>,
) -> ApiResult<(StatusCode, Json<StaffView>)> {
    let username = bounds::text("username", &req.username, bounds::MAX_NAME, false)?;
    check_new_password(&req.password, &username)?;
    let routers = known_routers(&state, &req.routers)?;
    let password = req.password;
    let hash = hashing(&state, move |st| st.hasher.hash(&password)).await??;
    let new = NewStaff {
        username,
        password_hash: hash,
        role: req.role.into(),
        routers,
    };
    let stamp = admin.stamp(state.now());
    let written = state.store.create_staff(new, &stamp).map_err(store_err)?;
    let record = written.durable().await.map_err(store_err)?;
    crate::fleet::presence::directory_changed();
    Ok((StatusCode::CREATED, Json(StaffView::from(&record))))
}

/// One staff account.
#[utoipa::path(get, path = "/api/staff/{id}", tag = "staff",
    params(("id" = u64, Path, description = "Staff id")),
    responses(
        (status = 200, body = StaffView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn get_staff(
    state: State<AppState>,
    _admin: AdminOnly,
    PathParam(id): PathParam<u64>,
) -> ApiResult<Json<StaffView>> {
    let staff = load(&state, id)?;
    Ok(Json(StaffView::from(&staff)))
}

/// Change role, routers, username or disabled; disabling ends the member's sessions.
#[utoipa::path(put, path = "/api/staff/{id}", tag = "staff",
    params(("id" = u64, Path, description = "Staff id")),
    request_body = UpdateStaff,
    responses(
        (status = 200, body = StaffView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Username taken, or the last super admin", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub(crate) async fn update_staff(
    state: State<AppState>,
    admin: AdminOnly,
    PathParam(id): PathParam<u64>,
    JsonBody(req): JsonBody<UpdateStaff>,
) -> ApiResult<Json<StaffView>> {
    let current = load(&state, id)?;
    let loses_admin = current.role == Role::SuperAdmin
        && !current.disabled
        && (req.disabled == Some(true) || req.role == Some(RoleName::Staff));
    if loses_admin && enabled_admins(&state)? <= 1 {
        return Err(ApiError::conflict(
            "this is the last enabled super admin; make another one first",
        ));
    }
    let routers = match &req.routers {
        Some(r) => Some(known_routers(&state, r)?),
        None => None,
    };
    let update = StaffUpdate {
        username: req
            .username
            .map(|u| bounds::text("username", &u, bounds::MAX_NAME, false))
            .transpose()?,
        password_hash: None,
        role: req.role.map(Role::from),
        routers,
        disabled: req.disabled,
    };
    let stamp = admin.stamp(state.now());
    let written = state
        .store
        .update_staff(current.id, update, &stamp)
        .map_err(store_err)?;
    let record = written.durable().await.map_err(store_err)?;
    crate::fleet::presence::directory_changed();
    if record.disabled && !current.disabled {
        end_sessions(&state, record.id).await?;
    }
    Ok(Json(StaffView::from(&record)))
}

/// Set a new password (policy checked); ends the member's sessions.
#[utoipa::path(post, path = "/api/staff/{id}/password", tag = "staff",
    params(("id" = u64, Path, description = "Staff id")),
    request_body = ResetPassword,
    responses(
        (status = 204, description = "Password changed; the member's sessions ended"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "Password policy", body = ErrorBody),
    ))]
pub(crate) async fn reset_password(
    state: State<AppState>,
    admin: AdminOnly,
    PathParam(id): PathParam<u64>,
    JsonBody(req): JsonBody<ResetPassword>,
) -> ApiResult<StatusCode> {
    let current = load(&state, id)?;
    check_new_password(&req.password, &current.username)?;
    let password = req.password;
    let hash = hashing(&state, move |st| st.hasher.hash(&password)).await??;
    let update = StaffUpdate {
        password_hash: Some(hash),
        ..StaffUpdate::default()
    };
    let stamp = admin.stamp(state.now());
    let written = state
        .store
        .update_staff(current.id, update, &stamp)
        .map_err(store_err)?;
    written.durable().await.map_err(store_err)?;
    crate::fleet::presence::directory_changed();
    end_sessions(&state, current.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn load(state: &AppState, id: u64) -> ApiResult<StaffRecord> {
    state
        .store
        .staff(StaffId(id))
        .map_err(store_err)?
        .ok_or_else(|| ApiError::not_found(format!("staff {id}")))
}

fn enabled_admins(state: &AppState) -> ApiResult<usize> {
    let all = state.store.staff_list().map_err(store_err)?;
    Ok(all
        .iter()
        .filter(|s| s.role == Role::SuperAdmin && !s.disabled)
        .count())
}

/// The ids as routers, each of which must exist (422 naming `routers` otherwise).
pub(crate) fn known_routers(state: &AppState, ids: &[u64]) -> ApiResult<Vec<RouterId>> {
    let mut out: Vec<RouterId> = Vec::with_capacity(ids.len());
    for &id in ids {
        if state
            .store
            .router(RouterId(id))
            .map_err(store_err)?
            .is_none()
        {
            return Err(ApiError::invalid_field(
                "routers",
                format!("router {id} does not exist"),
            ));
        }
        if !out.contains(&RouterId(id)) {
            out.push(RouterId(id));
        }
    }
    Ok(out)
}

async fn end_sessions(state: &AppState, id: StaffId) -> ApiResult<()> {
    let written = state.store.delete_sessions_of(id).map_err(store_err)?;
    let n = written.durable().await.map_err(store_err)?;
    tracing::info!(staff = %id, sessions = n, "ended the sessions of a staff member");
    Ok(())
}
