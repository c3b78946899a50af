//! The local staff server: the JSON API (a contract the fault suite codes against; keep it
//! exact) and the HTML page ([`super::page`]) on one axum router.
//!
//! - `POST /api/session` `{"username","password"}` → 200 `{"csrf_token"}` and the
//!   `hs_local` cookie (`HttpOnly; SameSite=Strict; Path=/`, plus `Secure` over HTTPS);
//!   401 `bad_credentials`; 429 `throttled`. `DELETE /api/session` logs out.
//! - `POST /api/vouchers` (cookie + `X-CSRF-Token`) `{"router","package","count"}` →
//!   200 `{"vouchers":[{"code","password","state"}]}` once the sale is durable;
//!   403 `not_assigned`, 409 `code_space_exhausted`, 507 `storage_full`, 400 bad input.
//! - `GET /api/status` → `{"link":{"online","offline_since"},"pending_sales","pending_events"}`.
//! - `GET /api/vouchers?limit=N` → the newest local sales with their states.
//!
//! Errors are always `{"error":{"code","message"}}`. Bodies are capped at
//! [`MAX_BODY`] and parsed here (not by axum's extractor) so that a bad body is a JSON
//! error too. Router and package ids are the controller API's numbers; `"7"` and
//! `"router-7"` are accepted as well.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hotspot_shared::domain::{PackageId, RouterId};
use hotspot_shared::fleet::msg::StaffEntry;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{LoginError, Session, same};
use super::sell::{MAX_SALE, SaleView, SellError};
use super::state::{LocalState, MAX_LIST};

/// Header carrying the CSRF token on API writes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Largest request body.
pub const MAX_BODY: usize = 16 * 1024;
/// `{"error":{"code","message"}}` with `status`.
pub fn error(status: u16, code: &str, message: impl std::fmt::Display) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({ "error": { "code": code, "message": message.to_string() } });
    (status, axum::Json(body)).into_response()
}

fn sell_error(e: &SellError) -> Response {
    let (status, code) = e.status();
    error(status, code, e)
}

/// The security headers (`hotspot_ui::headers`), HSTS only when the page speaks HTTPS.
async fn headers(
    State(state): State<LocalState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(req).await;
    hotspot_ui::headers::apply(response.headers_mut(), state.secure);
    response
}

/// The whole local server: API and page.
pub fn router(state: LocalState) -> Router {
    Router::new()
        .route("/api/session", post(api_login).delete(api_logout))
        .route("/api/vouchers", post(api_sell).get(api_list))
        .route("/api/status", get(api_status))
        .merge(super::page::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers))
        .with_state(state)
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            400,
            "bad_request",
            format!("the body is not the expected JSON: {e}"),
        ))
    })
}

async fn api_login(State(st): State<LocalState>, body: Bytes) -> Response {
    let b: LoginBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if b.username.len() > 200 {
        return error(400, "bad_request", "username too long");
    }
    match st.login(&b.username, &b.password).await {
        Ok((token, csrf, _)) => {
            let mut r = axum::Json(json!({ "csrf_token": csrf })).into_response();
            if let Ok(v) = HeaderValue::from_str(&st.set_cookie(&token)) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e @ LoginError::Throttled) => error(429, "throttled", e),
        Err(e @ LoginError::BadCredentials) => error(401, "bad_credentials", e),
    }
}

async fn api_logout(State(st): State<LocalState>, headers: HeaderMap) -> Response {
    if let Some((token, _)) = st.session(&headers) {
        st.sessions.close(&token);
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&st.clear_cookie()) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The caller's session and current directory entry, or the error to answer.
fn authorise(
    st: &LocalState,
    headers: &HeaderMap,
    csrf: bool,
) -> Result<(Session, StaffEntry), Box<Response>> {
    let Some((_, session)) = st.session(headers) else {
        return Err(Box::new(error(401, "unauthorized", "log in first")));
    };
    if csrf {
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !same(sent, &session.csrf) {
            return Err(Box::new(error(
                403,
                "csrf",
                "missing or wrong X-CSRF-Token header",
            )));
        }
    }
    let Some(staff) = st.staff_of(&session) else {
        return Err(Box::new(error(
            401,
            "unauthorized",
            "this account is disabled or no longer sells at this site",
        )));
    };
    Ok((session, staff))
}

/// An id given as a number, `"7"` or `"<kind>-7"`.
fn id_of(v: &Value, kind: &str) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            s.strip_prefix(kind)
                .and_then(|r| r.strip_prefix('-'))
                .unwrap_or(s)
                .parse()
                .ok()
        }
        _ => None,
    }
}

#[derive(Deserialize)]
struct SellBody {
    router: Value,
    package: Value,
    #[serde(default)]
    count: Option<Value>,
}

async fn api_sell(State(st): State<LocalState>, headers: HeaderMap, body: Bytes) -> Response {
    let (_, staff) = match authorise(&st, &headers, true) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let b: SellBody = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(router) = id_of(&b.router, "router") else {
        return error(400, "bad_request", "router must be a router id");
    };
    let Some(package) = id_of(&b.package, "package") else {
        return error(400, "bad_request", "package must be a package id");
    };
    let count = match &b.count {
        None => 1,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) if (1..=MAX_SALE as u64).contains(&n) => n as usize,
            _ => return error(400, "bad_request", format!("count must be 1..={MAX_SALE}")),
        },
        Some(_) => return error(400, "bad_request", "count must be a number"),
    };
    match st
        .seller
        .sell(&staff, RouterId(router), PackageId(package), count)
        .await
    {
        Ok(sold) => {
            let vouchers: Vec<Value> = sold
                .iter()
                .map(|s| json!({ "code": s.code, "password": s.password, "state": s.state.as_str() }))
                .collect();
            axum::Json(json!({ "vouchers": vouchers })).into_response()
        }
        Err(e) => sell_error(&e),
    }
}

/// The page's link line and the API's status, from one place.
pub fn status_json(st: &LocalState) -> Value {
    let (online, since) = st.link.get(st.seller.link_up());
    json!({
        "link": { "online": online, "offline_since": since },
        "pending_sales": st.seller.pending_sales(),
        "pending_events": st.seller.pending_events(),
    })
}

async fn api_status(State(st): State<LocalState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorise(&st, &headers, false) {
        return *r;
    }
    axum::Json(status_json(&st)).into_response()
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

/// One sale as the API lists it.
pub fn sale_json(v: &SaleView) -> Value {
    let s = &v.sale;
    json!({
        "code": s.code,
        "password": s.password,
        "state": v.state.as_str(),
        "router": s.router.0,
        "package": s.package.0,
        "package_name": s.package_name,
        "price_minor": s.price.minor,
        "currency": s.price.currency.to_string(),
        "staff": s.staff.0,
        "staff_username": s.staff_name,
        "issued_at": s.issued_at,
        "synced": !v.pending,
    })
}

async fn api_list(
    State(st): State<LocalState>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(r) = authorise(&st, &headers, false) {
        return *r;
    }
    let Ok(Query(q)) = query else {
        return error(400, "bad_request", "limit must be a number");
    };
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_LIST);
    match st.seller.recent(limit) {
        Ok(list) => {
            let vouchers: Vec<Value> = list.iter().map(sale_json).collect();
            axum::Json(json!({ "vouchers": vouchers })).into_response()
        }
        Err(e) => sell_error(&e),
    }
}
