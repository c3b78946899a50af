//! API keys for scripts and integrations (super admins): `GET/POST /api/api-keys`,
//! `DELETE /api/api-keys/{id}`.
//!
//! A key acts as the super admin who made it, narrowed to its scope: `read_only` (reads what
//! a super admin reads, changes nothing), `seller` (like a staff member assigned to the given
//! routers) or `admin`. It is shown once, when made; the ledger keeps its SHA-256, its last
//! use, and an audit entry for each use. Keys are managed from a signed-in session only, so a
//! key cannot make or keep keys of its own. A key stops working when revoked, when it expires,
//! or when its maker is disabled or no longer a super admin.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::ArrayBuilder;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::bounds;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{AdminOnly, JsonBody, PathParam, fmt_time, store_err};
use crate::api::staff::known_routers;
use crate::app::AppState;
use crate::auth::token::ApiKeyToken;
use crate::store::{ApiKeyRecord, ApiKeyScope, NewApiKey};

/// Longest lifetime a key may be given (days).
const MAX_VALID_DAYS: u32 = 3650;

/// This module's handlers.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

/// What a key may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum ScopeView {
    /// Read what a super admin reads; change nothing.
    ReadOnly,
    /// Sell on these routers, like a staff member assigned to them.
    Seller {
        #[schema(schema_with = routers)]
        routers: Vec<u64>,
    },
    /// What a super admin may do, but manage API keys.
    Admin,
}

fn routers() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(bounds::id_filter())
        .min_items(Some(1))
        .max_items(Some(1000))
}

impl From<&ApiKeyScope> for ScopeView {
    fn from(s: &ApiKeyScope) -> ScopeView {
        match s {
            ApiKeyScope::ReadOnly => ScopeView::ReadOnly,
            ApiKeyScope::Seller { routers } => ScopeView::Seller {
                routers: routers.iter().map(|r| r.0).collect(),
            },
            ApiKeyScope::Admin => ScopeView::Admin,
        }
    }
}

/// A key as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: u64,
    pub name: String,
    pub scope: ScopeView,
    /// The super admin it acts as.
    pub owner_id: u64,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<&ApiKeyRecord> for ApiKeyView {
    fn from(k: &ApiKeyRecord) -> ApiKeyView {
        ApiKeyView {
            id: k.id,
            name: k.name.clone(),
            scope: ScopeView::from(&k.scope),
            owner_id: k.owner.0,
            created_at: fmt_time(k.created_at),
            expires_at: k.expires_at.map(fmt_time),
            last_used_at: k.last_used_at.map(fmt_time),
            revoked_at: k.revoked_at.map(fmt_time),
        }
    }
}

/// Every key, revoked ones included.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyView>,
}

/// A key to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// What it is for, e.g. `accounting export`.
    #[schema(schema_with = bounds::name)]
    pub name: String,
    pub scope: ScopeView,
    /// Days until it stops working; absent: until revoked.
    #[schema(minimum = 1, maximum = 3650)]
    pub valid_days: Option<u32>,
}

// The schema's bounds (attributes take literals only): `valid_days`, and the routers of a
// seller key, as many as a staff member may be assigned.
const _: () = assert!(MAX_VALID_DAYS == 3650);
const _: () = assert!(crate::store::embedded::MAX_ASSIGNED_ROUTERS == 1000);

/// The key just made: `key` is shown this once.
#[derive(Serialize, ToSchema)]
pub struct NewApiKeyView {
    /// `Authorization: Bearer <key>`. Not stored: keep it now.
    pub key: String,
    #[serde(flatten)]
    pub view: ApiKeyView,
}

/// Keys are managed from a signed-in session, not with a key.
fn by_person(admin: &AdminOnly) -> ApiResult<()> {
    admin.in_person("API keys are managed from a signed-in session, not with an API key")
}

/// List API keys.
#[utoipa::path(get, path = "/api/api-keys", tag = "auth",
    responses(
        (status = 200, body = ApiKeyList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
async fn list_keys(state: State<AppState>, admin: AdminOnly) -> ApiResult<Json<ApiKeyList>> {
    by_person(&admin)?;
    let keys = state.store.api_keys().map_err(store_err)?;
    Ok(Json(ApiKeyList {
        items: keys.iter().map(ApiKeyView::from).collect(),
    }))
}

/// Make an API key; its secret is in this answer only.
#[utoipa::path(post, path = "/api/api-keys", tag = "auth", request_body = CreateApiKey,
    responses(
        (status = 201, body = NewApiKeyView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "A bad name or lifetime, or a router that does not exist",
            body = ErrorBody),
    ))]
pub(crate) async fn create_key(
    state: State<AppState>,
    admin: AdminOnly,
    JsonBody(req): JsonBody<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<NewApiKeyView>)> {
    by_person(&admin)?;
    let name = bounds::text("name", &req.name, bounds::MAX_NAME, false)?;
    let scope = match req.scope {
        ScopeView::ReadOnly => ApiKeyScope::ReadOnly,
        ScopeView::Admin => ApiKeyScope::Admin,
        ScopeView::Seller { routers } => ApiKeyScope::Seller {
            routers: known_routers(&state, &routers)?,
        },
    };
    let now = state.now();
    let expires_at = match req.valid_days {
        None => None,
        Some(d) if (1..=MAX_VALID_DAYS).contains(&d) => Some(now + i64::from(d) * 86_400),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "valid_days",
                format!("valid_days must be 1 to {MAX_VALID_DAYS}"),
            ));
        }
    };
    let token = ApiKeyToken::generate(&mut rand::rng());
    let new = NewApiKey {
        name,
        token_hash: token.hash().0,
        scope,
        expires_at,
    };
    let record = state
        .store
        .create_api_key(new, &admin.stamp(now))
        .map_err(store_err)?
        .durable()
        .await
        .map_err(store_err)?;
    let answer = NewApiKeyView {
        key: token.expose().to_owned(),
        view: ApiKeyView::from(&record),
    };
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Revoke an API key: it stops working at once (revoking again changes nothing).
#[utoipa::path(delete, path = "/api/api-keys/{id}", tag = "auth",
    params(("id" = u64, Path, description = "API key id")),
    responses(
        (status = 200, body = ApiKeyView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub(crate) async fn revoke_key(
    state: State<AppState>,
    admin: AdminOnly,
    PathParam(id): PathParam<u64>,
) -> ApiResult<Json<ApiKeyView>> {
    by_person(&admin)?;
    let record = state
        .store
        .revoke_api_key(id, &admin.stamp(state.now()))
        .map_err(store_err)?
        .durable()
        .await
        .map_err(store_err)?;
    Ok(Json(ApiKeyView::from(&record)))
}
