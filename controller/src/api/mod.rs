//! The HTTP API under `/api`, plus `/healthz` and `/metrics`.
//!
//! Each module owns one resource and exposes `routes()`, an `OpenApiRouter` whose handlers are
//! annotated with `#[utoipa::path]`; [`router`] merges them, so `/api/openapi.json` is generated
//! from exactly the handlers that serve. The seed's `/api/tokens/*` paths are kept for what
//! this system calls vouchers.

pub mod audit;
pub mod auth;
pub mod bounds;
pub mod error;
pub mod extract;
pub mod keys;
mod layers;
pub mod openapi;
pub mod packages;
pub mod reports;
pub mod routers;
pub mod sites;
pub mod staff;
pub mod system;
pub mod tokens;
pub mod two_factor;

use axum::Router;

use crate::app::AppState;

/// The whole HTTP application: the API, and the dashboard's pages ([`crate::web`]).
pub fn router(state: AppState) -> Result<Router, serde_json::Error> {
    let (api, mut doc) = openapi::router()
        .merge(auth::routes())
        .merge(two_factor::routes())
        .merge(keys::routes())
        .merge(staff::routes())
        .merge(packages::routes())
        .merge(tokens::routes())
        .merge(audit::routes())
        .merge(routers::routes())
        .merge(sites::routes())
        .merge(reports::routes())
        .merge(system::routes())
        .split_for_parts();
    openapi::complete(&mut doc);
    let app = api
        .merge(openapi::serve(&doc)?)
        .merge(crate::web::router())
        .fallback(crate::web::fallback)
        .with_state(state.clone());
    Ok(layers::wrap(app, &state))
}
