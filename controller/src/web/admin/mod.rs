//! Super-admin pages under `/admin`. Every handler takes an [`AdminViewer`], so staff get the
//! 403 page whatever the URL; POST handlers take a [`CsrfForm`](super::session::CsrfForm).
//!
//! To add a section: a module here with its handlers, its routes merged in [`routes`], its
//! templates under `ui/templates/admin/` extending `base.html` (a `layout: Layout` field filled
//! by [`layout_for`]), and its link in [`NAV`].

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use hotspot_ui::Layout;

use super::layout::layout_for;
use super::render;
use super::session::AdminViewer;
use crate::app::AppState;

/// The admin sections in the navigation (href, label), in order.
pub const NAV: &[(&str, &str)] = &[("/admin", "Overview")];

/// The admin pages.
pub fn routes() -> Router<AppState> {
    Router::new().route("/admin", get(home))
}

#[derive(Template)]
#[template(path = "admin/home.html")]
struct Home {
    layout: Layout,
    sites: usize,
    routers: usize,
    packages: usize,
    staff: usize,
}

async fn home(State(state): State<AppState>, admin: AdminViewer) -> Response {
    let count = |n: Result<usize, _>| n.unwrap_or(0);
    let page = Home {
        layout: layout_for(&admin, "Overview"),
        sites: count(state.store.sites().map(|s| s.len())),
        routers: count(state.store.routers(None).map(|r| r.len())),
        packages: count(state.store.packages(false).map(|p| p.len())),
        staff: count(state.store.staff_list().map(|s| s.len())),
    };
    render(&page)
}
