//! Staff accounts: `/admin/staff` (list + create), `/admin/staff/{id}` (role, routers,
//! disable / enable, reset password). A password left empty is generated and shown once, on
//! the answer to that POST only; passwords and hashes are never drawn otherwise. Runs the
//! API's `create_staff`, `update_staff` and `reset_password` (policy, hashing, ending the
//! member's sessions, "last super admin" guard).

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hotspot_shared::domain::StaffId;
use hotspot_ui::{Flash, Layout};
use rand::RngExt;

use super::common::{Done, FormError, api_admin, when};
use crate::api::auth::RoleName;
use crate::api::extract::{JsonBody, PathParam, store_err};
use crate::api::staff::{CreateStaff, ResetPassword, UpdateStaff};
use crate::app::AppState;
use crate::store::{Role, StaffRecord};
use crate::web::error::{PageResult, WebError, redirect};
use crate::web::layout::layout_for;
use crate::web::render::render;
use crate::web::session::{AdminViewer, CsrfForm};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/staff", get(list).post(create))
        .route("/admin/staff/{id}", get(edit).post(update))
        .route("/admin/staff/{id}/access", post(set_disabled))
        .route("/admin/staff/{id}/password", post(reset))
        .route("/admin/staff/{id}/two-factor/reset", post(reset_two_factor))
}

/// Letters and digits that cannot be mistaken for one another.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A password to hand to a person: 3 groups of 4 (`k7mq-3hxv-9tpa`).
pub fn generate_password() -> String {
    let mut rng = rand::rng();
    let groups: Vec<String> = (0..3)
        .map(|_| {
            (0..4)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect()
        })
        .collect();
    groups.join("-")
}

/// A router to tick.
pub struct RouterChoice {
    pub id: u64,
    pub label: String,
    pub checked: bool,
}

pub struct StaffLine {
    pub id: u64,
    pub username: String,
    pub admin: bool,
    pub routers: String,
    pub disabled: bool,
    pub created: String,
}

/// The new-account form as typed (a map: router checkboxes are `router_<id>=on`).
pub(super) type Fields = BTreeMap<String, String>;

pub(super) fn field<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.get(name).map_or("", |s| s.as_str())
}

pub(super) fn ticked(f: &Fields) -> Vec<u64> {
    f.keys()
        .filter_map(|k| k.strip_prefix("router_"))
        .filter_map(|id| id.parse().ok())
        .collect()
}

fn role_of(f: &Fields) -> RoleName {
    if field(f, "role") == "super_admin" {
        RoleName::SuperAdmin
    } else {
        RoleName::Staff
    }
}

pub(super) fn choices(state: &AppState, ticked: &[u64]) -> Result<Vec<RouterChoice>, WebError> {
    let mut routers = state.store.routers(None).map_err(store_err)?;
    routers.sort_by(|a, b| (&a.site, a.id).cmp(&(&b.site, b.id)));
    Ok(routers
        .iter()
        .map(|r| RouterChoice {
            id: r.id.0,
            label: format!("{} ({})", r.name, r.site),
            checked: ticked.contains(&r.id.0),
        })
        .collect())
}

#[derive(Template)]
#[template(path = "admin/staff.html")]
struct ListPage {
    layout: Layout,
    staff: Vec<StaffLine>,
    username: String,
    admin_role: bool,
    routers: Vec<RouterChoice>,
    error: FormError,
    /// A new account's generated password, shown once.
    created: Option<(String, String)>,
}

fn list_page(
    state: &AppState,
    admin: &AdminViewer,
    form: &Fields,
    error: FormError,
    created: Option<(String, String)>,
) -> PageResult {
    let mut staff = state.store.staff_list().map_err(store_err)?;
    staff.sort_by_key(|s| (s.disabled, s.id));
    let names: BTreeMap<u64, String> = state
        .store
        .routers(None)
        .map_err(store_err)?
        .into_iter()
        .map(|r| (r.id.0, r.name))
        .collect();
    let status = error.status();
    let keep = if created.is_some() {
        Vec::new()
    } else {
        ticked(form)
    };
    let page = ListPage {
        layout: layout_for(admin, "Staff"),
        staff: staff
            .iter()
            .map(|s| StaffLine {
                id: s.id.0,
                username: s.username.clone(),
                admin: s.role == Role::SuperAdmin,
                routers: if s.role == Role::SuperAdmin {
                    "all".to_owned()
                } else if s.routers.is_empty() {
                    "none".to_owned()
                } else {
                    s.routers
                        .iter()
                        .map(|r| names.get(&r.0).cloned().unwrap_or_else(|| r.to_string()))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                disabled: s.disabled,
                created: when(s.created_at),
            })
            .collect(),
        username: if created.is_some() {
            String::new()
        } else {
            field(form, "username").to_owned()
        },
        admin_role: created.is_none() && role_of(form) == RoleName::SuperAdmin,
        routers: choices(state, &keep)?,
        error,
        created,
    };
    Ok((status, render(&page)).into_response())
}

async fn list(State(state): State<AppState>, admin: AdminViewer) -> PageResult {
    list_page(&state, &admin, &Fields::new(), FormError::default(), None)
}

async fn create(
    State(state): State<AppState>,
    admin: AdminViewer,
    CsrfForm(form): CsrfForm<Fields>,
) -> PageResult {
    let typed = field(&form, "password");
    let generated = typed.is_empty();
    let password = if generated {
        generate_password()
    } else {
        typed.to_owned()
    };
    let req = CreateStaff {
        username: field(&form, "username").trim().to_owned(),
        password: password.clone(),
        role: role_of(&form),
        routers: ticked(&form),
    };
    match crate::api::staff::create_staff(State(state.clone()), api_admin(&admin), JsonBody(req))
        .await
    {
        Ok((_, view)) => {
            let shown = if generated { password } else { String::new() };
            list_page(
                &state,
                &admin,
                &form,
                FormError::default(),
                Some((view.0.username, shown)),
            )
        }
        Err(e) => list_page(&state, &admin, &form, FormError::of(&e), None),
    }
}

#[derive(Template)]
#[template(path = "admin/staff_edit.html")]
struct EditPage {
    layout: Layout,
    id: u64,
    username: String,
    admin_role: bool,
    disabled: bool,
    routers: Vec<RouterChoice>,
    error: FormError,
    /// A new password to hand over, shown once.
    new_password: String,
    /// The account signs in with a second factor.
    two_factor: bool,
    /// It is the viewer's own account.
    own: bool,
}

fn load(state: &AppState, id: u64) -> Result<StaffRecord, WebError> {
    state
        .store
        .staff(StaffId(id))
        .map_err(store_err)?
        .ok_or_else(|| WebError::not_found(format!("There is no staff account {id}.")))
}

const DONE: &[(&str, &str)] = &[
    ("saved", "Saved."),
    (
        "disabled",
        "The account is disabled and its sessions were ended.",
    ),
    ("enabled", "The account can sign in again."),
    (
        "password",
        "The password was changed and the member's sessions were ended.",
    ),
    (
        "two-factor",
        "Two-factor sign-in was reset: the next sign-in asks for the password only (a super admin is then asked to set it up again).",
    ),
];

fn edit_page(
    state: &AppState,
    admin: &AdminViewer,
    id: u64,
    error: FormError,
    new_password: String,
    flash: Option<Flash>,
) -> PageResult {
    let s = load(state, id).map_err(|e| e.with_viewer(admin))?;
    let ticked: Vec<u64> = s.routers.iter().map(|r| r.0).collect();
    let status = error.status();
    let page = EditPage {
        layout: layout_for(admin, &format!("Staff: {}", s.username)).with_flash(flash),
        id,
        username: s.username.clone(),
        admin_role: s.role == Role::SuperAdmin,
        disabled: s.disabled,
        routers: choices(state, &ticked)?,
        error,
        new_password,
        two_factor: crate::api::extract::two_factor_of(state, &s)?.is_some(),
        own: s.id == admin.staff_id(),
    };
    Ok((status, render(&page)).into_response())
}

async fn edit(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<u64>,
    Query(done): Query<Done>,
) -> PageResult {
    edit_page(
        &state,
        &admin,
        id,
        FormError::default(),
        String::new(),
        done.flash(DONE),
    )
}

async fn apply(
    state: &AppState,
    admin: &AdminViewer,
    id: u64,
    update: UpdateStaff,
) -> Result<(), FormError> {
    crate::api::staff::update_staff(
        State(state.clone()),
        api_admin(admin),
        PathParam(id),
        JsonBody(update),
    )
    .await
    .map(|_| ())
    .map_err(|e| FormError::of(&e))
}

async fn update(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<u64>,
    CsrfForm(form): CsrfForm<Fields>,
) -> PageResult {
    let update = UpdateStaff {
        username: None,
        role: Some(role_of(&form)),
        routers: Some(ticked(&form)),
        disabled: None,
    };
    match apply(&state, &admin, id, update).await {
        Ok(()) => Ok(redirect(&format!("/admin/staff/{id}?done=saved"))),
        Err(e) => edit_page(&state, &admin, id, e, String::new(), None),
    }
}

async fn set_disabled(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<u64>,
    CsrfForm(form): CsrfForm<Fields>,
) -> PageResult {
    let disable = field(&form, "disabled") == "true";
    let update = UpdateStaff {
        username: None,
        role: None,
        routers: None,
        disabled: Some(disable),
    };
    match apply(&state, &admin, id, update).await {
        Ok(()) => {
            let done = if disable { "disabled" } else { "enabled" };
            Ok(redirect(&format!("/admin/staff/{id}?done={done}")))
        }
        Err(e) => edit_page(&state, &admin, id, e, String::new(), None),
    }
}

async fn reset(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<u64>,
    CsrfForm(form): CsrfForm<Fields>,
) -> PageResult {
    let typed = field(&form, "password");
    let generated = typed.is_empty();
    let password = if generated {
        generate_password()
    } else {
        typed.to_owned()
    };
    let req = ResetPassword {
        password: password.clone(),
    };
    match crate::api::staff::reset_password(
        State(state.clone()),
        api_admin(&admin),
        PathParam(id),
        JsonBody(req),
    )
    .await
    {
        Ok(_) if generated => {
            let flash = Flash::success(
                "The password was changed and the member's sessions were ended. Hand over the new password below; it is shown only now.",
            );
            edit_page(
                &state,
                &admin,
                id,
                FormError::default(),
                password,
                Some(flash),
            )
        }
        Ok(_) => Ok(redirect(&format!("/admin/staff/{id}?done=password"))),
        Err(e) => edit_page(&state, &admin, id, FormError::of(&e), String::new(), None),
    }
}

async fn reset_two_factor(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<u64>,
    CsrfForm(_): CsrfForm<Fields>,
) -> PageResult {
    match crate::api::two_factor::reset(&state, &admin.principal, StaffId(id)).await {
        Ok(()) => Ok(redirect(&format!("/admin/staff/{id}?done=two-factor"))),
        Err(e) => edit_page(&state, &admin, id, FormError::of(&e), String::new(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_pass_the_policy() {
        for _ in 0..50 {
            let p = generate_password();
            assert_eq!(p.len(), 14);
            crate::auth::password::check_new_password(&p, "someone").unwrap();
        }
        assert_ne!(generate_password(), generate_password());
    }
}
