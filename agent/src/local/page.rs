//! The staff page (HTML). Replaced by the shared `ui` look once it is available.

use axum::Router;

use super::http::LocalState;

pub fn routes() -> Router<LocalState> {
    Router::new()
}
