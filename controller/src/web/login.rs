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
use crate::api::auth::{LoginRequest, open_session, sign_in};
use crate::api::error::ErrorCode;
use crate::api::extract::{ClientAddr, authenticate, end_session, expected_origin};
use crate::app::AppState;
use crate::auth::csrf::{self, CsrfError};
use crate::auth::token::SessionKind;

pub fn routes() -> axum::Router<AppState> {
    Router::new()
        .route("/", get(start))
        .route("/login", post(login))
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

async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref()).unwrap_or("").to_owned();
    let again = |status: StatusCode, message: String, username: String| {
        let page = LoginPage {
            layout: public("Sign in").with_flash(Some(Flash::error(message))),
            username,
            next: next.clone(),
        };
        (status, render(&page)).into_response()
    };
    let origin_ok = expected_origin(&state, &headers)
        .ok_or(CsrfError::MissingOrigin)
        .and_then(|o| csrf::check_origin(&headers, &o));
    if let Err(e) = origin_ok {
        return WebError::from(e).into_response();
    }
    let req = LoginRequest {
        username: form.username.clone(),
        password: form.password,
    };
    let staff = match sign_in(&state, addr, &req).await {
        Ok(s) => s,
        Err(e) => {
            let message = match e.code() {
                ErrorCode::InvalidCredentials => "Wrong username or password.".to_owned(),
                ErrorCode::ValidationFailed => "Enter your username and password.".to_owned(),
                _ => e.message().to_owned(),
            };
            return again(e.status(), message, form.username);
        }
    };
    let session = match open_session(&state, &staff, SessionKind::Cookie).await {
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
    let to = if next.is_empty() { home } else { next.as_str() };
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
