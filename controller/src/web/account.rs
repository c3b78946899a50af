//! The signed-in person's own account: `/account` shows two-factor sign-in and sets it up
//! (`/account/two-factor/setup` → a QR code and a confirming code → recovery codes shown
//! once), renews recovery codes and turns it off. Runs the API's functions of
//! [`crate::api::two_factor`]. A super admin who must have a second factor and has none is
//! sent here by every other page until it is on.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hotspot_ui::Layout;
use serde::Deserialize;

use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::ClientAddr;
use crate::api::two_factor::{begin, confirm, renew_codes, status_of, turn_off};
use crate::app::AppState;
use crate::web::admin::common::sentence;
use crate::web::error::{PageResult, WebError};
use crate::web::layout::layout_for;
use crate::web::render::render;
use crate::web::session::{CsrfForm, Viewer};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(show))
        .route("/account/two-factor/setup", post(setup))
        .route("/account/two-factor/confirm", post(confirm_setup))
        .route("/account/two-factor/recovery-codes", post(renew))
        .route("/account/two-factor/disable", post(disable))
}

/// A set-up in progress: what the app needs.
pub struct SetupView {
    pub qr_svg: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    enabled: bool,
    required: bool,
    must_enrol: bool,
    codes_left: u32,
    setup: Option<SetupView>,
    codes: Option<Vec<String>>,
    error: String,
    notice: String,
}

/// What happened on the last POST, for the page.
#[derive(Default)]
struct Outcome {
    setup: Option<SetupView>,
    codes: Option<Vec<String>>,
    error: String,
    notice: String,
}

fn page(state: &AppState, viewer: &Viewer, outcome: Outcome) -> PageResult {
    let status = status_of(state, &viewer.staff)?;
    let failed = !outcome.error.is_empty();
    let p = AccountPage {
        layout: layout_for(viewer, "Account"),
        enabled: status.enabled,
        required: status.required,
        must_enrol: status.required && !status.enabled,
        codes_left: status.recovery_codes_left,
        setup: outcome.setup,
        codes: outcome.codes,
        error: outcome.error,
        notice: outcome.notice,
    };
    let code = if failed {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    Ok((code, render(&p)).into_response())
}

/// The page after a POST: what it did, or an API refusal as the page's error line (a page
/// of its own for the rest: throttled, server faults).
fn answered(state: &AppState, viewer: &Viewer, done: Result<Outcome, ApiError>) -> PageResult {
    let e = match done {
        Ok(outcome) => return page(state, viewer, outcome),
        Err(e) => e,
    };
    let message = match e.code() {
        ErrorCode::InvalidCredentials => "Wrong password or code.".to_owned(),
        ErrorCode::Conflict | ErrorCode::ValidationFailed => e.message().to_owned(),
        _ => return Err(WebError::from(e)),
    };
    let outcome = Outcome {
        error: sentence(&message),
        ..Outcome::default()
    };
    page(state, viewer, outcome)
}

/// A page showing new recovery codes, with `notice`.
fn with_codes(codes: Vec<String>, notice: &str) -> Outcome {
    Outcome {
        codes: Some(codes),
        notice: notice.to_owned(),
        ..Outcome::default()
    }
}

async fn show(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    page(&state, &viewer, Outcome::default())
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

#[derive(Deserialize)]
struct PasswordCodeForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

async fn setup(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> PageResult {
    let begun = begin(&state, addr, &viewer.staff, &form.password).await;
    let done = begun.and_then(|(secret, uri)| {
        let qr_svg = hotspot_ui::qr_svg_labelled(&uri, "QR code for an authenticator app")
            .map_err(ApiError::internal)?;
        let setup = SetupView {
            qr_svg,
            secret: secret.base32(),
        };
        Ok(Outcome {
            setup: Some(setup),
            ..Outcome::default()
        })
    });
    answered(&state, &viewer, done)
}

async fn confirm_setup(
    State(state): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> PageResult {
    let done = confirm(&state, &viewer.staff, &form.code).await;
    let done = done.map(|codes| with_codes(codes, "Two-factor sign-in is on."));
    answered(&state, &viewer, done)
}

async fn renew(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> PageResult {
    let done = renew_codes(&state, addr, &viewer.staff, &form.password).await;
    let notice = "New recovery codes; the old ones no longer work.";
    answered(&state, &viewer, done.map(|codes| with_codes(codes, notice)))
}

async fn disable(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<PasswordCodeForm>,
) -> PageResult {
    let done = turn_off(&state, addr, &viewer.staff, &form.password, &form.code).await;
    let done = done.map(|()| Outcome {
        notice: "Two-factor sign-in is off.".to_owned(),
        ..Outcome::default()
    });
    answered(&state, &viewer, done)
}
