//! API keys: `/admin/api-keys` lists them (never their secrets) and makes one, whose secret
//! is shown on the answer to that POST only; `/admin/api-keys/{id}/revoke` revokes one. Runs
//! the API's `create_key` and `revoke_key` (from this signed-in session: keys are not managed
//! with keys).

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hotspot_ui::Layout;

use super::common::{FormError, api_admin, when};
use super::staff::{Fields, RouterChoice, choices, field, ticked};
use crate::api::extract::{JsonBody, PathParam, store_err};
use crate::api::keys::{CreateApiKey, ScopeView};
use crate::app::AppState;
use crate::store::ApiKeyScope;
use crate::web::error::{PageResult, WebError};
use crate::web::layout::layout_for;
use crate::web::render::render;
use crate::web::session::{AdminViewer, CsrfForm};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/api-keys", get(list).post(create))
        .route("/admin/api-keys/{id}/revoke", post(revoke))
}

pub struct KeyLine {
    pub id: u64,
    pub name: String,
    pub scope: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub revoked: bool,
}

/// The key just made, shown once.
pub struct Made {
    pub name: String,
    pub key: String,
}

#[derive(Template)]
#[template(path = "admin/api_keys.html")]
struct KeysPage {
    layout: Layout,
    keys: Vec<KeyLine>,
    routers: Vec<RouterChoice>,
    name: String,
    scope: String,
    valid_days: String,
    error: FormError,
    made: Option<Made>,
}

fn scope_text(s: &ApiKeyScope) -> String {
    match s {
        ApiKeyScope::ReadOnly => "read-only".to_owned(),
        ApiKeyScope::Admin => "admin".to_owned(),
        ApiKeyScope::Seller { routers } => {
            let ids: Vec<String> = routers.iter().map(|r| r.0.to_string()).collect();
            format!("seller on router {}", ids.join(", "))
        }
    }
}

fn lines(state: &AppState) -> Result<Vec<KeyLine>, WebError> {
    let mut keys = state.store.api_keys().map_err(store_err)?;
    keys.reverse();
    Ok(keys
        .iter()
        .map(|k| KeyLine {
            id: k.id,
            name: k.name.clone(),
            scope: scope_text(&k.scope),
            created: when(k.created_at),
            expires: k.expires_at.map_or_else(|| "never".to_owned(), when),
            last_used: k.last_used_at.map_or_else(|| "never".to_owned(), when),
            revoked: k.revoked_at.is_some(),
        })
        .collect())
}

fn page(
    state: &AppState,
    admin: &AdminViewer,
    form: &Fields,
    error: FormError,
    made: Option<Made>,
) -> PageResult {
    let scope = match field(form, "scope") {
        "" => "read_only",
        s => s,
    };
    let p = KeysPage {
        layout: layout_for(admin, "API keys"),
        keys: lines(state)?,
        routers: choices(state, &ticked(form))?,
        name: field(form, "name").to_owned(),
        scope: scope.to_owned(),
        valid_days: field(form, "valid_days").to_owned(),
        error,
        made,
    };
    let status = p.error.status();
    Ok((status, render(&p)).into_response())
}

async fn list(State(state): State<AppState>, admin: AdminViewer) -> PageResult {
    page(&state, &admin, &Fields::new(), FormError::default(), None)
}

/// The form as the API's request, or the field at fault.
fn request(form: &Fields) -> Result<CreateApiKey, FormError> {
    let scope = match field(form, "scope") {
        "" | "read_only" => ScopeView::ReadOnly,
        "admin" => ScopeView::Admin,
        "seller" => ScopeView::Seller {
            routers: ticked(form),
        },
        _ => return Err(FormError::new("scope", "Choose what the key may do")),
    };
    let valid_days = match field(form, "valid_days").trim() {
        "" => None,
        t => Some(t.parse::<u32>().map_err(|_| {
            FormError::new(
                "valid_days",
                "Days until it expires: a whole number, 1 to 3650",
            )
        })?),
    };
    Ok(CreateApiKey {
        name: field(form, "name").trim().to_owned(),
        scope,
        valid_days,
    })
}

async fn create(
    State(state): State<AppState>,
    admin: AdminViewer,
    CsrfForm(form): CsrfForm<Fields>,
) -> PageResult {
    let req = match request(&form) {
        Ok(r) => r,
        Err(e) => return page(&state, &admin, &form, e, None),
    };
    let made =
        crate::api::keys::create_key(State(state.clone()), api_admin(&admin), JsonBody(req)).await;
    match made {
        Ok((_, answer)) => {
            let made = Made {
                name: answer.0.view.name.clone(),
                key: answer.0.key.clone(),
            };
            page(
                &state,
                &admin,
                &Fields::new(),
                FormError::default(),
                Some(made),
            )
        }
        Err(e) => page(&state, &admin, &form, FormError::of(&e), None),
    }
}

async fn revoke(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<u64>,
    CsrfForm(_form): CsrfForm<Fields>,
) -> PageResult {
    let done =
        crate::api::keys::revoke_key(State(state.clone()), api_admin(&admin), PathParam(id)).await;
    let error = done.err().map(|e| FormError::of(&e)).unwrap_or_default();
    page(&state, &admin, &Fields::new(), error, None)
}
