//! Enrollment: `/admin/sites` lists the sites and creates one; creating a site (or asking a
//! new token for one) shows its one-time enrollment command, once: the controller keeps only
//! the token's hash. Runs the API's `create_site` and `create_enrollment`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hotspot_ui::Layout;
use serde::Deserialize;

use super::common::{FormError, ago, api_admin, last_heal, unix};
use crate::api::extract::{JsonBody, OptionalJsonBody, PathParam, store_err};
use crate::api::sites::{CreateSite, EnrollmentToken};
use crate::app::AppState;
use crate::web::error::{PageResult, WebError};
use crate::web::layout::layout_for;
use crate::web::render::render;
use crate::web::session::{AdminViewer, CsrfForm};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/sites", get(list).post(create))
        .route("/admin/sites/{id}/enroll", post(enroll))
}

pub struct SiteLine {
    pub id: String,
    pub name: String,
    pub online: bool,
    pub revoked: bool,
    pub last_seen: String,
    pub routers: usize,
    pub code_prefix: String,
    /// The last heal after lost link state, for people (empty: none on record).
    pub heal: String,
}

/// The enrollment command to show once.
pub struct Issued {
    pub site: String,
    pub command: String,
    pub expires_at: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct SiteForm {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub valid_hours: String,
}

#[derive(Template)]
#[template(path = "admin/sites.html")]
struct SitesPage {
    layout: Layout,
    sites: Vec<SiteLine>,
    form: SiteForm,
    error: FormError,
    issued: Option<Issued>,
}

fn lines(state: &AppState) -> Result<Vec<SiteLine>, WebError> {
    let now = state.now();
    let mut sites = state.store.sites().map_err(store_err)?;
    sites.sort_by(|a, b| a.id.cmp(&b.id));
    sites
        .into_iter()
        .map(|s| {
            let status = state.fleet.site_status(&s.id).ok();
            Ok(SiteLine {
                routers: state.store.routers(Some(&s.id)).map_err(store_err)?.len(),
                id: s.id.to_string(),
                name: s.name,
                online: status.as_ref().is_some_and(|st| st.online),
                revoked: s.revoked,
                last_seen: status
                    .and_then(|st| st.last_seen)
                    .map(|t| ago(now, unix(t)))
                    .unwrap_or_else(|| "never".to_owned()),
                heal: last_heal(state, &s.id, now).map_err(store_err)?,
                code_prefix: s.code_prefix,
            })
        })
        .collect()
}

fn page(
    state: &AppState,
    admin: &AdminViewer,
    form: SiteForm,
    error: FormError,
    issued: Option<Issued>,
) -> PageResult {
    let p = SitesPage {
        layout: layout_for(admin, "Sites & enrollment"),
        sites: lines(state)?,
        form,
        error,
        issued,
    };
    let status = p.error.status();
    Ok((status, render(&p)).into_response())
}

async fn list(State(state): State<AppState>, admin: AdminViewer) -> PageResult {
    let form = SiteForm {
        valid_hours: "24".into(),
        ..SiteForm::default()
    };
    page(&state, &admin, form, FormError::default(), None)
}

fn hours(text: &str) -> Result<Option<u64>, FormError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<u64>()
        .ok()
        .filter(|h| (1..=720).contains(h))
        .map(Some)
        .ok_or_else(|| FormError::new("valid_hours", "The token's lifetime is 1 to 720 hours"))
}

/// Asks the API for a token for `site` valid `hours`.
async fn issue(
    state: &AppState,
    admin: &AdminViewer,
    site: &str,
    hours: Option<u64>,
) -> Result<EnrollmentToken, FormError> {
    let body = crate::api::sites::EnrollmentRequest { valid_hours: hours };
    crate::api::sites::create_enrollment(
        State(state.clone()),
        api_admin(admin),
        PathParam(site.to_owned()),
        OptionalJsonBody(Some(body)),
    )
    .await
    .map(|(_, t)| t.0)
    .map_err(|e| FormError::of(&e))
}

fn issued(t: EnrollmentToken) -> Issued {
    Issued {
        site: t.site_id,
        command: t.command,
        expires_at: t.expires_at,
    }
}

async fn create(
    State(state): State<AppState>,
    admin: AdminViewer,
    CsrfForm(form): CsrfForm<SiteForm>,
) -> PageResult {
    let valid = match hours(&form.valid_hours) {
        Ok(h) => h,
        Err(e) => return page(&state, &admin, form, e, None),
    };
    let req = CreateSite {
        id: form.id.trim().to_owned(),
        name: form.name.trim().to_owned(),
    };
    if form.name.trim().is_empty() {
        let e = FormError::new("name", "Give the site a name people recognise");
        return page(&state, &admin, form, e, None);
    }
    let created =
        crate::api::sites::create_site(State(state.clone()), api_admin(&admin), JsonBody(req))
            .await;
    let site = match created {
        Ok((_, v)) => v.0.id,
        Err(e) => return page(&state, &admin, form, FormError::of(&e), None),
    };
    match issue(&state, &admin, &site, valid).await {
        Ok(t) => page(
            &state,
            &admin,
            SiteForm::default(),
            FormError::default(),
            Some(issued(t)),
        ),
        Err(e) => page(&state, &admin, SiteForm::default(), e, None),
    }
}

#[derive(Deserialize)]
struct EnrollForm {
    #[serde(default)]
    valid_hours: String,
}

async fn enroll(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<EnrollForm>,
) -> PageResult {
    let result = match hours(&form.valid_hours) {
        Ok(h) => issue(&state, &admin, &id, h).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(t) => page(
            &state,
            &admin,
            SiteForm::default(),
            FormError::default(),
            Some(issued(t)),
        ),
        Err(e) => page(&state, &admin, SiteForm::default(), e, None),
    }
}
