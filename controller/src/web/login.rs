//! Signing in and out with the browser: `GET /` (the sign-in page, or the signed-in person's
//! home), `POST /login`, `POST /logout`.
//!
//! Sign-in runs the API's own path ([`crate::api::auth::sign_in`]: throttle, Argon2,
//! disabled accounts) after the same login-CSRF origin check as `POST /api/auth/session`, then
//! sets the session cookie and the page CSRF cookie ([`super::session`]).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hotspot_ui::{Flash, Layout};
use serde::Deserialize;

use super::error::{PageResult, WebError, redirect};
use super::layout::{home_of, public};
use super::render::render;
use super::session::{CsrfForm, Viewer, clear_csrf_cookie, csrf_cookie};
use crate::api::auth::{check_code, check_password, open_session, signed_in};
use crate::api::error::ErrorCode;
use crate::api::extract::{ClientAddr, authenticate, end_session, expected_origin, two_factor_of};
use crate::app::AppState;
use crate::auth::csrf::{self, CsrfError};
use crate::auth::token::{SessionKind, TokenHash, sign_in_ticket};
use crate::auth::two_factor::{PendingSignIn, SignInTickets, TICKET_SECS};
use crate::store::StaffRecord;
use hotspot_shared::domain::StaffId;

pub fn routes() -> axum::Router<AppState> {
    Router::new()
        .route("/", get(start))
        .route("/login", post(login))
        .route("/login/code", post(login_code))
        .route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    /// Its flash is drawn inside the sign-in box. (The agent's local page fills the same
    /// template: keep the fields in step.)
    layout: Layout,
    username: String,
    next: String,
}

#[derive(Deserialize)]
struct StartQuery {
    next: Option<String>,
}

/// Only a local path may be the target after sign-in (no open redirect).
fn safe_next(next: Option<&str>) -> Option<&str> {
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n.contains('\\')
            && n.len() <= 512
            && !n.bytes().any(|b| b.is_ascii_control())
    })
}

async fn start(
    State(state): State<AppState>,
    Query(q): Query<StartQuery>,
    headers: HeaderMap,
) -> Response {
    if let Ok(p) = authenticate(&Method::GET, "/login", &headers, &state).await
        && p.kind() == SessionKind::Cookie
    {
        return redirect(home_of(&p));
    }
    let next = safe_next(q.next.as_deref()).unwrap_or("").to_owned();
    let flash = (!next.is_empty()).then(|| Flash::info("Please sign in to continue."));
    render(&LoginPage {
        layout: public("Sign in").with_flash(flash),
        username: String::new(),
        next,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "login_code.html")]
struct CodePage {
    layout: Layout,
    username: String,
    ticket: String,
    next: String,
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    code: String,
    next: Option<String>,
}

/// The sign-in page again, with what went wrong.
fn login_again(status: StatusCode, message: String, username: String, next: String) -> Response {
    let page = LoginPage {
        layout: public("Sign in").with_flash(Some(Flash::error(message))),
        username,
        next,
    };
    (status, render(&page)).into_response()
}

fn refused(e: &crate::api::error::ApiError) -> String {
    match e.code() {
        ErrorCode::InvalidCredentials => "Wrong username or password.".to_owned(),
        ErrorCode::ValidationFailed => "Enter your username and password.".to_owned(),
        _ => e.message().to_owned(),
    }
}

/// Login CSRF: only our own pages sign a browser in.
fn check_login_origin(state: &AppState, headers: &HeaderMap) -> Result<(), CsrfError> {
    expected_origin(state, headers)
        .ok_or(CsrfError::MissingOrigin)
        .and_then(|o| csrf::check_origin(headers, &o))
}

async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref()).unwrap_or("").to_owned();
    if let Err(e) = check_login_origin(&state, &headers) {
        return WebError::from(e).into_response();
    }
    let staff = match check_password(&state, addr, &form.username, &form.password).await {
        Ok(s) => s,
        Err(e) => return login_again(e.status(), refused(&e), form.username, next),
    };
    match two_factor_of(&state, &staff) {
        Ok(None) => {}
        Ok(Some(_)) => return code_step(&state, &staff, next),
        Err(e) => return WebError::from(e).into_response(),
    }
    signed_in(&state, addr, &staff);
    start_session(&state, &staff, &next).await
}

/// The code step of a sign-in whose password was right: a ticket stands for it until the
/// code comes.
fn code_step(state: &AppState, staff: &StaffRecord, next: String) -> Response {
    let ticket = sign_in_ticket(&mut rand::rng());
    let now = state.now();
    let pending = PendingSignIn {
        staff: staff.id.0,
        username: staff.username.clone(),
        next: next.clone(),
        expires_at: now + TICKET_SECS,
    };
    tickets(state).insert(TokenHash::of(&ticket), pending, now);
    render(&code_page(staff.username.clone(), ticket, next, None))
}

fn code_page(username: String, ticket: String, next: String, flash: Option<Flash>) -> CodePage {
    CodePage {
        layout: public("Two-factor sign-in").with_flash(flash),
        username,
        ticket,
        next,
    }
}

fn tickets(state: &AppState) -> std::sync::MutexGuard<'_, SignInTickets> {
    state
        .sign_in_tickets
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn login_code(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CodeForm>,
) -> Response {
    if let Err(e) = check_login_origin(&state, &headers) {
        return WebError::from(e).into_response();
    }
    let hash = TokenHash::of(&form.ticket);
    let pending = tickets(&state).get(&hash, state.now()).cloned();
    let Some(pending) = pending else {
        let message = "That sign-in took too long: sign in again.".to_owned();
        let next = safe_next(form.next.as_deref()).unwrap_or("").to_owned();
        return login_again(StatusCode::UNAUTHORIZED, message, String::new(), next);
    };
    let staff = match state.store.staff(StaffId(pending.staff)) {
        Ok(Some(s)) if !s.disabled => s,
        Ok(_) => {
            tickets(&state).remove(&hash);
            let message = "This account is disabled.".to_owned();
            return login_again(
                StatusCode::FORBIDDEN,
                message,
                pending.username,
                pending.next,
            );
        }
        Err(e) => return WebError::from(crate::api::extract::store_err(e)).into_response(),
    };
    if let Err(e) = check_code(&state, addr, &staff, form.code.trim()).await {
        if e.code() == ErrorCode::Throttled {
            tickets(&state).remove(&hash);
            return login_again(
                e.status(),
                e.message().to_owned(),
                pending.username,
                pending.next,
            );
        }
        // The same ticket stays good for another try (the throttle counts them).
        let flash = Flash::error("Wrong or already used code.".to_owned());
        let page = code_page(staff.username, form.ticket, pending.next, Some(flash));
        return (e.status(), render(&page)).into_response();
    }
    tickets(&state).remove(&hash);
    signed_in(&state, addr, &staff);
    start_session(&state, &staff, &pending.next).await
}

/// Opens a cookie session for `staff` and sends them on.
async fn start_session(state: &AppState, staff: &StaffRecord, next: &str) -> Response {
    let session = match open_session(state, staff, SessionKind::Cookie).await {
        Ok(s) => s,
        Err(e) => return WebError::from(e).into_response(),
    };
    let Some(csrf_token) = session.csrf.as_ref() else {
        return WebError::page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "the session has no CSRF token",
        )
        .into_response();
    };
    let settings = state.config.cookie_settings();
    let home = if staff.role == crate::store::Role::SuperAdmin {
        "/admin"
    } else {
        "/staff"
    };
    let to = if next.is_empty() { home } else { next };
    let mut response = redirect(to);
    let h = response.headers_mut();
    h.append(SET_COOKIE, settings.set_cookie(&session.token));
    h.append(SET_COOKIE, csrf_cookie(&settings, csrf_token.expose()));
    response
}

#[derive(Deserialize)]
struct Empty {}

async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    CsrfForm(_): CsrfForm<Empty>,
) -> PageResult {
    end_session(&state, &viewer.token_hash).await;
    let settings = state.config.cookie_settings();
    let mut response = redirect("/");
    let h = response.headers_mut();
    h.append(SET_COOKIE, settings.clear_cookie());
    h.append(SET_COOKIE, clear_csrf_cookie(&settings));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/staff/vouchers")), Some("/staff/vouchers"));
        for bad in [
            "//evil.example/x",
            "https://evil.example/",
            "/\\evil.example",
            "staff",
            "/x\ny",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(safe_next(None), None);
    }
}
