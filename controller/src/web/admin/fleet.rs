//! Sites & routers: the overview (`/admin`, its live fragment `/admin/fleet`, polled by the
//! page every few seconds), "Add router" (`/admin/routers/new`: the site's agent tests the
//! connection first, through the API's own `create_router`), and a router's page
//! (`/admin/routers/{id}`: info, stats, active sessions with kick, sync now, test).
//!
//! What a router told us last is kept in its record; when its site is offline (or the news
//! is old) the page shows that last known state marked stale with its age.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use hotspot_shared::domain::RouterId;
use hotspot_ui::fmt::{bytes, duration};
use hotspot_ui::{Flash, Layout};
use serde::Deserialize;

use super::common::{Done, FormError, ago, api_admin, last_heal, sentence, unix, when};
use crate::api::error::ApiError;
use crate::api::extract::{JsonBody, PathParam, store_err};
use crate::api::routers::input::CreateRouter;
use crate::api::routers::{RouterStatus, freshness_secs, live, status_of};
use crate::app::AppState;
use crate::store::RouterRecord;
use crate::web::error::{PageResult, WebError, redirect};
use crate::web::layout::layout_for;
use crate::web::render::render;
use crate::web::session::{AdminViewer, CsrfForm};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(overview))
        .route("/admin/fleet", get(fragment))
        .route("/admin/routers", get(|| async { redirect("/admin") }))
        .route("/admin/routers/new", get(new_router).post(add_router))
        .route("/admin/routers/{id}", get(detail))
        .route("/admin/routers/{id}/test", post(test))
        .route("/admin/routers/{id}/sync", post(sync))
        .route("/admin/routers/{id}/kick", post(kick))
        .route("/admin/routers/{id}/remove", post(remove))
}

/// One router in the overview.
pub struct RouterRow {
    pub id: u64,
    pub name: String,
    pub location: String,
    /// `online`, `offline`, `unknown`.
    pub status: &'static str,
    /// The figures are the last known ones: `Some(age)`.
    pub stale: Option<String>,
    pub model: String,
    pub identity: String,
    pub version: String,
    pub cpu: Option<u8>,
    /// Used memory in percent, and `used of total`.
    pub memory: Option<(u8, String)>,
    pub active_users: Option<u32>,
    pub last_sync: String,
    pub problem: String,
}

/// One site in the overview.
pub struct SiteRow {
    pub id: String,
    pub name: String,
    pub online: bool,
    pub revoked: bool,
    pub last_heartbeat: String,
    pub queue: u64,
    pub queue_max: u64,
    pub routers: Vec<RouterRow>,
    /// The last heal after lost link state, for people (empty: none on record).
    pub heal: String,
}

fn status_name(s: RouterStatus) -> &'static str {
    match s {
        RouterStatus::Online => "online",
        RouterStatus::Offline => "offline",
        RouterStatus::Unknown => "unknown",
    }
}

fn router_row(state: &AppState, r: &RouterRecord, site_online: bool, now: i64) -> RouterRow {
    let fresh = freshness_secs(&state.config);
    let status = status_of(r, site_online, now, fresh);
    let seen = r.last_seen();
    let stale = match seen {
        Some(s) if !site_online || now.saturating_sub(s) > fresh => Some(ago(now, s)),
        _ => None,
    };
    let info = r.info.as_ref().map(|(i, _)| i);
    let health = r.health.as_ref().map(|(h, _)| h);
    let memory = health.filter(|h| h.total_memory > 0).map(|h| {
        let used = h.total_memory.saturating_sub(h.free_memory);
        let pct = u8::try_from(used.saturating_mul(100) / h.total_memory).unwrap_or(100);
        (pct, format!("{} of {}", bytes(used), bytes(h.total_memory)))
    });
    let problem = match &r.last_error {
        Some((f, at)) if seen.is_none_or(|s| *at > s) => f.explain(),
        _ => String::new(),
    };
    RouterRow {
        id: r.id.0,
        name: r.name.clone(),
        location: r.location.clone(),
        status: status_name(status),
        stale,
        model: info
            .map(|i| i.model.clone().unwrap_or_else(|| i.board_name.clone()))
            .unwrap_or_default(),
        identity: info.map(|i| i.identity.clone()).unwrap_or_default(),
        version: health
            .map(|h| h.version.clone())
            .or_else(|| info.map(|i| i.version.clone()))
            .unwrap_or_default(),
        cpu: health.map(|h| h.cpu_load.min(100)),
        memory,
        active_users: health.map(|h| h.active_users),
        last_sync: r
            .last_sync_at
            .map(|t| ago(now, t))
            .unwrap_or_else(|| "never".to_owned()),
        problem,
    }
}

/// Every site with its routers, as the overview shows them.
fn site_rows(state: &AppState) -> Result<Vec<SiteRow>, WebError> {
    let now = state.now();
    let mut sites = state.store.sites().map_err(store_err)?;
    sites.sort_by(|a, b| a.id.cmp(&b.id));
    let mut rows = Vec::with_capacity(sites.len());
    for s in sites {
        let status = state.fleet.site_status(&s.id).map_err(ApiError::internal)?;
        let mut routers = state.store.routers(Some(&s.id)).map_err(store_err)?;
        routers.sort_by_key(|r| r.id);
        rows.push(SiteRow {
            id: s.id.to_string(),
            name: s.name.clone(),
            online: status.online,
            revoked: s.revoked,
            last_heartbeat: status
                .last_seen
                .map(|t| ago(now, unix(t)))
                .unwrap_or_else(|| "never (since the controller started)".to_owned()),
            queue: status.outbox_len,
            queue_max: status.outbox_max,
            heal: last_heal(state, &s.id, now).map_err(store_err)?,
            routers: routers
                .iter()
                .map(|r| router_row(state, r, status.online, now))
                .collect(),
        });
    }
    Ok(rows)
}

#[derive(Template)]
#[template(path = "admin/fleet.html")]
struct Fragment {
    sites: Vec<SiteRow>,
    updated: String,
}

fn fragment_html(state: &AppState) -> Result<String, WebError> {
    let page = Fragment {
        sites: site_rows(state)?,
        updated: when(state.now()),
    };
    page.render().map_err(|e| {
        tracing::error!(error = %e, "fleet fragment failed");
        WebError::page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "the fleet table could not be drawn",
        )
    })
}

#[derive(Template)]
#[template(path = "admin/home.html")]
struct Overview {
    layout: Layout,
    fleet: String,
}

const DONE: &[(&str, &str)] = &[(
    "removed",
    "The router was removed; its site's agent stops managing it. Its vouchers stay in the ledger.",
)];

async fn overview(
    State(state): State<AppState>,
    admin: AdminViewer,
    Query(done): Query<Done>,
) -> PageResult {
    let page = Overview {
        layout: layout_for(&admin, "Sites & routers").with_flash(done.flash(DONE)),
        fleet: fragment_html(&state).map_err(|e| e.with_viewer(&admin))?,
    };
    Ok(render(&page))
}

/// The overview's table alone, for the page's live refresh.
async fn fragment(State(state): State<AppState>, _admin: AdminViewer) -> PageResult {
    Ok(Html(fragment_html(&state)?).into_response())
}

/// What the add-router form holds (everything but the password is drawn back on error).
#[derive(Debug, Default, Deserialize)]
pub struct RouterForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub site_id: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub port: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub tls_fingerprint: String,
}

#[derive(Template)]
#[template(path = "admin/router_new.html")]
struct NewRouterPage {
    layout: Layout,
    form: RouterForm,
    sites: Vec<(String, String)>,
    error: FormError,
    /// The connection test ran and failed.
    test_failed: bool,
}

fn open_sites(state: &AppState) -> Result<Vec<(String, String)>, WebError> {
    let mut sites = state.store.sites().map_err(store_err)?;
    sites.retain(|s| !s.revoked);
    sites.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(sites
        .into_iter()
        .map(|s| (s.id.to_string(), s.name))
        .collect())
}

#[derive(Deserialize)]
struct NewQuery {
    site: Option<String>,
}

async fn new_router(
    State(state): State<AppState>,
    admin: AdminViewer,
    Query(q): Query<NewQuery>,
) -> PageResult {
    let page = NewRouterPage {
        layout: layout_for(&admin, "Add a router"),
        form: RouterForm {
            site_id: q.site.unwrap_or_default(),
            port: "8728".into(),
            username: "api".into(),
            ..RouterForm::default()
        },
        sites: open_sites(&state)?,
        error: FormError::default(),
        test_failed: false,
    };
    Ok(render(&page))
}

/// Whether the API's error came from the connection test (not from a field's format).
fn from_test(e: &ApiError) -> bool {
    e.details().and_then(|d| d.get("kind")).is_some()
        || matches!(
            e.code(),
            crate::api::error::ErrorCode::SiteOffline
                | crate::api::error::ErrorCode::Timeout
                | crate::api::error::ErrorCode::RouterError
        )
}

async fn add_router(
    State(state): State<AppState>,
    admin: AdminViewer,
    CsrfForm(form): CsrfForm<RouterForm>,
) -> PageResult {
    let port = form.port.trim();
    let port = if port.is_empty() {
        Ok(None)
    } else {
        port.parse::<u16>().map(Some).map_err(|_| {
            FormError::new(
                "port",
                "The API port must be a number: 8728, or 8729 for API-SSL",
            )
        })
    };
    let fingerprint = form.tls_fingerprint.trim();
    let result = match port {
        Err(e) => Err((e, false)),
        Ok(port) => {
            let tls = port == Some(8729) || !fingerprint.is_empty();
            // People's trailing spaces are trimmed here; the API refuses them.
            let req = CreateRouter {
                name: form.name.trim().to_owned(),
                site_id: form.site_id.trim().to_owned(),
                location: form.location.trim().to_owned(),
                host: form.host.trim().to_owned(),
                port,
                username: form.username.trim().to_owned(),
                password: form.password.clone(),
                tls,
                tls_fingerprint: (!fingerprint.is_empty()).then(|| fingerprint.to_owned()),
                tls_ca_pem: None,
            };
            crate::api::routers::create_router(
                State(state.clone()),
                api_admin(&admin),
                JsonBody(req),
            )
            .await
            .map(|(_, view)| view.0)
            .map_err(|e| (FormError::of(&e), from_test(&e)))
        }
    };
    match result {
        Ok(view) => Ok(redirect(&format!("/admin/routers/{}?done=added", view.id))),
        Err((error, test_failed)) => {
            let page = NewRouterPage {
                layout: layout_for(&admin, "Add a router"),
                form: RouterForm {
                    password: String::new(),
                    ..form
                },
                sites: open_sites(&state)?,
                error,
                test_failed,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}

/// One open hotspot session on the router's page.
pub struct SessionRow {
    pub id: String,
    pub user: String,
    pub address: String,
    pub mac: String,
    pub uptime: String,
    pub traffic: String,
}

#[derive(Template)]
#[template(path = "admin/router.html")]
struct DetailPage {
    layout: Layout,
    site_name: String,
    site_online: bool,
    row: RouterRow,
    host: String,
    port: u16,
    username: String,
    tls: String,
    info: Vec<(&'static str, String)>,
    stats: Vec<(&'static str, String)>,
    /// Why the stats are the last known ones (empty when read now).
    stats_note: String,
    sessions: Option<Vec<SessionRow>>,
    sessions_note: String,
}

const DETAIL_DONE: &[(&str, &str)] = &[
    (
        "added",
        "The connection test passed and the router was added. Its site's agent now manages it.",
    ),
    ("kicked", "The session was ended."),
];

fn load(state: &AppState, id: u64) -> Result<RouterRecord, WebError> {
    state
        .store
        .router(RouterId(id))
        .map_err(store_err)?
        .ok_or_else(|| WebError::not_found(format!("There is no router {id}.")))
}

async fn draw_detail(
    state: &AppState,
    admin: &AdminViewer,
    id: u64,
    flash: Option<Flash>,
) -> PageResult {
    let r = load(state, id).map_err(|e| e.with_viewer(admin))?;
    let online = state.fleet.site_status(&r.site).is_ok_and(|s| s.online);
    let site_name = state
        .store
        .site(&r.site)
        .map_err(store_err)?
        .map(|s| s.name)
        .unwrap_or_else(|| r.site.to_string());
    let who = || api_admin(admin).0;
    let now = state.now();
    // Live reads, each bounded by the API's deadline; asked together.
    let (stats, active) = tokio::join!(
        live::router_stats(State(state.clone()), who(), PathParam(id)),
        live::active_users(State(state.clone()), who(), PathParam(id)),
    );
    let r = load(state, id)?; // re-read: the live answers were recorded
    let mut stats_note = String::new();
    let stats_rows = match stats {
        Ok(s) => {
            let s = s.0;
            if s.freshness.stale {
                stats_note = format!(
                    "Last known reading, {} old: {}.",
                    duration(s.freshness.age_secs),
                    s.freshness.reason.unwrap_or_default()
                );
            }
            let h = s.stats;
            let used = h.total_memory.saturating_sub(h.free_memory);
            vec![
                ("CPU load", format!("{} %", h.cpu_load)),
                (
                    "Memory used",
                    format!("{} of {}", bytes(used), bytes(h.total_memory)),
                ),
                ("Uptime", duration(h.uptime_secs)),
                ("Active users", h.active_users.to_string()),
                ("RouterOS", h.version),
            ]
        }
        Err(e) => {
            stats_note = sentence(e.message());
            Vec::new()
        }
    };
    let (sessions, sessions_note) = match active {
        Ok(a) => (
            Some(
                a.0.items
                    .into_iter()
                    .map(|s| SessionRow {
                        id: s.id,
                        user: s.user,
                        address: s.address,
                        mac: s.mac_address,
                        uptime: duration(s.uptime_secs),
                        traffic: format!("{} down · {} up", bytes(s.bytes_out), bytes(s.bytes_in)),
                    })
                    .collect(),
            ),
            String::new(),
        ),
        Err(e) => (None, sentence(e.message())),
    };
    let info = r
        .info
        .as_ref()
        .map(|(i, at)| {
            vec![
                ("Identity", i.identity.clone()),
                (
                    "Model",
                    i.model.clone().unwrap_or_else(|| i.board_name.clone()),
                ),
                ("RouterOS", i.version.clone()),
                ("Firmware", i.firmware.clone().unwrap_or_default()),
                ("Serial", i.serial.clone().unwrap_or_default()),
                ("Architecture", i.architecture.clone()),
                ("Read", ago(now, *at)),
            ]
        })
        .unwrap_or_default();
    let tls = match &r.tls {
        None => "plain API".to_owned(),
        Some(hotspot_shared::domain::RouterTls::Pin(pin)) => {
            format!("API-SSL, certificate pinned ({}…)", &hex::encode(pin)[..16])
        }
        Some(hotspot_shared::domain::RouterTls::CaPem(_)) => "API-SSL, verified by a CA".into(),
    };
    let page = DetailPage {
        layout: layout_for(admin, &r.name).with_flash(flash),
        site_name,
        site_online: online,
        row: router_row(state, &r, online, now),
        host: r.host.clone(),
        port: r.port,
        username: r.username.clone(),
        tls,
        info,
        stats: stats_rows,
        stats_note,
        sessions,
        sessions_note,
    };
    Ok(render(&page))
}

async fn detail(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<u64>,
    Query(done): Query<Done>,
) -> PageResult {
    draw_detail(&state, &admin, id, done.flash(DETAIL_DONE)).await
}

#[derive(Deserialize)]
struct Empty {}

async fn test(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<u64>,
    CsrfForm(_): CsrfForm<Empty>,
) -> PageResult {
    let flash =
        match live::test_router(State(state.clone()), api_admin(&admin).0, PathParam(id)).await {
            Ok(t) => {
                let t = t.0;
                let failure = t.freshness.failure.as_ref().map(|f| f.explanation.clone());
                match (t.ok, t.freshness.stale) {
                    (true, false) => Flash::success("Connection test passed: the router answered."),
                    (false, false) => Flash::error(format!(
                        "Connection test failed. {}",
                        failure.unwrap_or_default()
                    )),
                    (_, true) => Flash::info(format!(
                        "The router could not be tested now ({}); the last known result is shown.",
                        t.freshness.reason.unwrap_or_default()
                    )),
                }
            }
            Err(e) => Flash::error(sentence(e.message())),
        };
    draw_detail(&state, &admin, id, Some(flash)).await
}

async fn sync(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<u64>,
    CsrfForm(_): CsrfForm<Empty>,
) -> PageResult {
    let flash = match live::sync_router(State(state.clone()), api_admin(&admin).0, PathParam(id))
        .await
    {
        Ok((_, a)) => {
            let a = a.0;
            if a.synced {
                Flash::success(format!(
                    "Synced: usage of {} voucher(s) read from the router.",
                    a.samples.unwrap_or(0)
                ))
            } else if a.queued {
                Flash::info(
                    "The site is offline: the sync is queued and runs when its agent reconnects.",
                )
            } else {
                Flash::info(format!(
                    "The sync did not finish now: {}.",
                    a.freshness.reason.unwrap_or_default()
                ))
            }
        }
        Err(e) => Flash::error(sentence(e.message())),
    };
    draw_detail(&state, &admin, id, Some(flash)).await
}

#[derive(Deserialize)]
struct KickForm {
    session: String,
}

async fn kick(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<u64>,
    CsrfForm(form): CsrfForm<KickForm>,
) -> PageResult {
    match live::kick_session(
        State(state.clone()),
        api_admin(&admin),
        PathParam((id, form.session)),
    )
    .await
    {
        Ok(_) => Ok(redirect(&format!("/admin/routers/{id}?done=kicked"))),
        Err(e) => {
            let flash = Flash::error(format!(
                "The session could not be ended. {}",
                sentence(e.message())
            ));
            draw_detail(&state, &admin, id, Some(flash)).await
        }
    }
}

async fn remove(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<u64>,
    CsrfForm(_): CsrfForm<Empty>,
) -> PageResult {
    match crate::api::routers::delete_router(State(state.clone()), api_admin(&admin), PathParam(id))
        .await
    {
        Ok(_) => Ok(redirect("/admin?done=removed")),
        Err(e) => {
            let flash = Flash::error(format!(
                "The router was not removed. {}",
                sentence(e.message())
            ));
            draw_detail(&state, &admin, id, Some(flash)).await
        }
    }
}
