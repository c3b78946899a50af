//! Super-admin pages under `/admin`. Every handler takes an
//! [`AdminViewer`](super::session::AdminViewer), so staff get the 403 page whatever the URL;
//! POST handlers take a [`CsrfForm`](super::session::CsrfForm).
//!
//! To add a section: a module here with its handlers, its routes merged in [`routes`], its
//! templates under `ui/templates/admin/` extending `base.html` (a `layout: Layout` field filled
//! by [`layout_for`](super::layout::layout_for)), and its link in
//! [`nav::ADMIN`](super::nav::ADMIN).
//!
//! Sections: [`fleet`] (sites & routers overview with live refresh, add router, router
//! detail), [`sites`] (create a site, its one-time enrollment command), [`packages`],
//! [`staff`], [`vouchers`] (the ledger, revoke) and [`reports`] (reconciliation, revenue,
//! SVG charts, CSV), [`keys`] (API keys: make one, shown once; revoke). Handlers call the JSON API's handler functions directly (never HTTP), so
//! the rules (validation, connection tests, audit, durability) are the API's; an
//! [`ApiError`](crate::api::error::ApiError) becomes words in the page
//! ([`FormError`](common::FormError)). What the sections share is in [`common`]; this module
//! only mounts them, and none of them imports it.

pub mod common;
pub mod fleet;
pub mod keys;
pub mod packages;
pub mod reports;
pub mod sites;
pub mod staff;
pub mod vouchers;

use axum::Router;

use crate::app::AppState;

/// The admin pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(fleet::routes())
        .merge(sites::routes())
        .merge(keys::routes())
        .merge(packages::routes())
        .merge(staff::routes())
        .merge(vouchers::routes())
        .merge(reports::routes())
}
