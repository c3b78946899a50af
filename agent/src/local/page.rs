//! The staff page (HTML, the shared `hotspot-ui` look): sign in, pick router and package,
//! generate one or a batch, see recent sales with their states, print a sheet of cards, and
//! a plain line about the link ("offline since 14:02 UTC, 37 sales waiting to sync").
//!
//! Forms carry the session's CSRF token in a `csrf_token` field; the cookie is
//! `SameSite=Strict`, and a POST whose `Origin` names another host is refused as well. A sale
//! answers with a redirect (post/redirect/get), so reloading the page never sells twice.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use hotspot_shared::domain::{PackageId, RouterId};
use hotspot_ui::{Card, Flash, Layout, NavItem};
use serde::Deserialize;

use super::auth::{LoginError, Session, same};
use super::sell::{MAX_SALE, SaleView};
use super::state::{LocalState, MAX_LIST};

/// Most rows in the recent list.
const RECENT: usize = 50;

pub fn routes() -> Router<LocalState> {
    Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/sell", post(sell))
        .route("/print", get(print))
        .route("/static/{*path}", get(static_file))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    username: String,
    next: String,
}

struct Row {
    code: String,
    package: String,
    price: String,
    staff: String,
    when: String,
    state: &'static str,
    synced: bool,
}

struct JustSold {
    code: String,
    password: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "local_sell.html")]
struct SellPage {
    layout: Layout,
    link_class: &'static str,
    link_line: String,
    routers: Vec<(u64, String)>,
    packages: Vec<(u64, String)>,
    max_sale: usize,
    sold: Vec<JustSold>,
    sold_codes: String,
    recent: Vec<Row>,
    mine: String,
    mine_count: usize,
}

fn brand(st: &LocalState) -> String {
    format!("Hotspot Fleet · {}", st.site)
}

fn html(page: impl Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut r = Html(body).into_response();
            let h = r.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert("x-frame-options", HeaderValue::from_static("DENY"));
            h.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            r
        }
        Err(e) => {
            tracing::error!("local page template: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "page could not be drawn").into_response()
        }
    }
}

fn login_page(st: &LocalState, flash: Option<Flash>, username: &str) -> Response {
    html(LoginPage {
        layout: Layout::public("Sign in", brand(st)).with_flash(flash),
        username: username.to_owned(),
        next: String::new(),
    })
}

/// `HH:MM` UTC of a Unix time.
fn clock(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .map(|t| format!("{:02}:{:02}", t.hour(), t.minute()))
        .unwrap_or_default()
}

fn day_clock(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .map(|t| {
            format!(
                "{}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

/// The plain sentence about the link.
pub fn link_line(online: bool, since: Option<i64>, pending: usize) -> String {
    let waiting = match pending {
        0 => "no sales waiting to sync".to_owned(),
        1 => "1 sale waiting to sync".to_owned(),
        n => format!("{n} sales waiting to sync"),
    };
    if online {
        format!("Online, {waiting}.")
    } else {
        let since = since.map_or(String::new(), |s| format!(" since {} UTC", clock(s)));
        format!("Offline{since}, {waiting}. Selling goes on; sales sync when the link is back.")
    }
}

fn session_of(st: &LocalState, headers: &HeaderMap) -> Option<(String, Session)> {
    st.session(headers)
}

/// A POST from another origin (when the browser says so) is refused.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split("://").nth(1).unwrap_or(origin);
    origin == "null" && host.is_empty() || origin_host == host
}

fn form<T: serde::de::DeserializeOwned>(body: &Bytes) -> Option<T> {
    serde_urlencoded_parse(body)
}

/// `application/x-www-form-urlencoded` into `T` through a JSON object of strings.
fn serde_urlencoded_parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Option<T> {
    let text = std::str::from_utf8(body).ok()?;
    let mut map = serde_json::Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.insert(decode(k)?, serde_json::Value::String(decode(v)?));
    }
    serde_json::from_value(serde_json::Value::Object(map)).ok()
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[derive(Deserialize)]
struct HomeQuery {
    sold: Option<String>,
    error: Option<String>,
}

async fn home(
    State(st): State<LocalState>,
    headers: HeaderMap,
    query: Result<Query<HomeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some((_, session)) = session_of(&st, &headers) else {
        return login_page(&st, None, "");
    };
    let Some(staff) = st.staff_of(&session) else {
        return login_page(
            &st,
            Some(Flash::error(
                "This account is disabled or no longer sells at this site.",
            )),
            "",
        );
    };
    let q = query.map(|Query(q)| q).unwrap_or(HomeQuery {
        sold: None,
        error: None,
    });
    let routers = st
        .seller
        .routers_of(&staff)
        .unwrap_or_default()
        .into_iter()
        .map(|(id, name)| (id.0, name))
        .collect();
    let packages = st
        .seller
        .catalogue()
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            (
                p.id.0,
                format!("{} · {}", p.name, hotspot_ui::fmt::money(&p.price)),
            )
        })
        .collect();
    let recent = st.seller.recent(RECENT).unwrap_or_default();
    let sold_codes: Vec<&str> = q
        .sold
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|c| !c.is_empty())
        .take(MAX_SALE)
        .collect();
    let sold: Vec<JustSold> = sold_codes
        .iter()
        .filter_map(|c| recent_or_lookup(&st, &recent, c))
        .filter(|v| v.sale.staff == staff.id)
        .map(|v| JustSold {
            code: v.sale.code.clone(),
            password: v.sale.password.clone(),
            state: v.state.as_str(),
        })
        .collect();
    let mine: Vec<&str> = recent
        .iter()
        .filter(|v| v.sale.staff == staff.id)
        .take(20)
        .map(|v| v.sale.code.as_str())
        .collect();
    let (online, since) = st.link.get(st.seller.link_up());
    let pending = st.seller.pending_sales();
    let flash = match (&q.error, sold.len()) {
        (Some(e), _) => Some(Flash::error(e.clone())),
        (None, 0) => None,
        (None, 1) => Some(Flash::success("Sold 1 voucher.")),
        (None, n) => Some(Flash::success(format!("Sold {n} vouchers."))),
    };
    let layout = Layout {
        title: "Sell".into(),
        brand: brand(&st),
        home: "/".into(),
        nav: vec![NavItem::new("/", "Sell", "/")],
        user: Some(format!("{} · staff", session.username)),
        csrf: Some(session.csrf.clone()),
        logout: Some("/logout".into()),
        flash,
        asset_version: hotspot_ui::assets::version(),
    };
    html(SellPage {
        layout,
        link_class: if online {
            "flash flash-ok"
        } else {
            "flash flash-info"
        },
        link_line: link_line(online, since, pending),
        routers,
        packages,
        max_sale: MAX_SALE,
        sold_codes: sold
            .iter()
            .map(|s| s.code.as_str())
            .collect::<Vec<_>>()
            .join(","),
        sold,
        recent: recent.iter().map(row).collect(),
        mine_count: mine.len(),
        mine: mine.join(","),
    })
}

fn recent_or_lookup(st: &LocalState, recent: &[SaleView], code: &str) -> Option<SaleView> {
    if let Some(v) = recent.iter().find(|v| v.sale.code == code) {
        return Some(v.clone());
    }
    st.seller
        .recent(MAX_LIST)
        .ok()?
        .into_iter()
        .find(|v| v.sale.code == code)
}

fn row(v: &SaleView) -> Row {
    Row {
        code: v.sale.code.clone(),
        package: v.sale.package_name.clone(),
        price: hotspot_ui::fmt::money(&v.sale.price),
        staff: v.sale.staff_name.clone(),
        when: day_clock(v.sale.issued_at),
        state: v.state.as_str(),
        synced: !v.pending,
    }
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
}

async fn login(State(st): State<LocalState>, headers: HeaderMap, body: Bytes) -> Response {
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "cross-origin form refused").into_response();
    }
    let Some(f) = form::<LoginForm>(&body) else {
        return login_page(
            &st,
            Some(Flash::error("Give a username and a password.")),
            "",
        );
    };
    match st.login(&f.username, &f.password).await {
        Ok((token, _, _)) => {
            let mut r = Redirect::to("/").into_response();
            if let Ok(v) = HeaderValue::from_str(&st.set_cookie(&token)) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e @ (LoginError::BadCredentials | LoginError::Throttled)) => {
            let mut r = login_page(&st, Some(Flash::error(e.to_string())), &f.username);
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

async fn logout(State(st): State<LocalState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some((token, session)) = session_of(&st, &headers) {
        let f: CsrfForm = form(&body).unwrap_or(CsrfForm {
            csrf_token: String::new(),
        });
        if same_origin(&headers) && same(&f.csrf_token, &session.csrf) {
            st.sessions.close(&token);
        } else {
            return (StatusCode::FORBIDDEN, "missing or wrong form token").into_response();
        }
    }
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&st.clear_cookie()) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
struct SellForm {
    #[serde(default)]
    csrf_token: String,
    router: String,
    package: String,
    count: String,
}

fn back_with_error(message: impl std::fmt::Display) -> Response {
    let text: String = message.to_string().chars().take(400).collect();
    let mut q = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            q.push(b as char);
        } else {
            q.push_str(&format!("%{b:02X}"));
        }
    }
    Redirect::to(&format!("/?error={q}")).into_response()
}

async fn sell(State(st): State<LocalState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some((_, session)) = session_of(&st, &headers) else {
        return Redirect::to("/").into_response();
    };
    let Some(f) = form::<SellForm>(&body) else {
        return back_with_error("Pick a router, a package and how many.");
    };
    if !same_origin(&headers) || !same(&f.csrf_token, &session.csrf) {
        return (StatusCode::FORBIDDEN, "missing or wrong form token").into_response();
    }
    let Some(staff) = st.staff_of(&session) else {
        return Redirect::to("/").into_response();
    };
    let (Ok(router), Ok(package), Ok(count)) = (
        f.router.trim().parse::<u64>(),
        f.package.trim().parse::<u64>(),
        f.count.trim().parse::<usize>(),
    ) else {
        return back_with_error("Pick a router, a package and how many.");
    };
    match st
        .seller
        .sell(&staff, RouterId(router), PackageId(package), count)
        .await
    {
        Ok(sold) => {
            let codes: Vec<&str> = sold.iter().map(|s| s.code.as_str()).collect();
            Redirect::to(&format!("/?sold={}", codes.join(","))).into_response()
        }
        Err(e) => back_with_error(e),
    }
}

async fn print(
    State(st): State<LocalState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let Some((_, session)) = session_of(&st, &headers) else {
        return Redirect::to("/").into_response();
    };
    let Some(staff) = st.staff_of(&session) else {
        return Redirect::to("/").into_response();
    };
    let wanted: Vec<String> = q
        .unwrap_or_default()
        .split('&')
        .find_map(|p| p.strip_prefix("codes="))
        .and_then(decode)
        .unwrap_or_default()
        .split(',')
        .filter(|c| !c.is_empty())
        .take(MAX_SALE)
        .map(str::to_owned)
        .collect();
    let recent = st.seller.recent(MAX_LIST).unwrap_or_default();
    let catalogue = st.seller.catalogue().unwrap_or_default();
    let cards: Vec<Card> = wanted
        .iter()
        .filter_map(|c| recent.iter().find(|v| &v.sale.code == c))
        .filter(|v| v.sale.staff == staff.id)
        .map(|v| {
            let s = &v.sale;
            let limits = catalogue
                .iter()
                .find(|p| p.id == s.package)
                .map(|p| {
                    let mut parts = Vec::new();
                    if let Some(t) = p.time_limit {
                        parts.push(hotspot_ui::fmt::duration(t.as_secs()));
                    }
                    if let Some(b) = p.data_limit {
                        parts.push(hotspot_ui::fmt::bytes(b));
                    }
                    if let Some(v) = p.validity {
                        parts.push(format!("valid {}", hotspot_ui::fmt::duration(v.as_secs())));
                    }
                    parts.join(" · ")
                })
                .unwrap_or_default();
            Card {
                code: s.code.clone(),
                password: s.password.clone(),
                package: s.package_name.clone(),
                limits,
                price: hotspot_ui::fmt::money(&s.price),
                site: st.site.clone(),
                login_url: hotspot_ui::login_url("", &s.code, &s.password),
            }
        })
        .collect();
    if cards.is_empty() {
        return back_with_error("Nothing to print: pick vouchers you sold.");
    }
    match hotspot_ui::render_sheet(&format!("Vouchers · {}", st.site), &cards) {
        Ok(body) => {
            let mut r = Html(body).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => back_with_error(e),
    }
}

async fn static_file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = hotspot_ui::assets::get(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == asset.etag)
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut r = asset.body.into_owned().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(&asset.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_line_says_it_plainly() {
        assert_eq!(
            link_line(true, None, 0),
            "Online, no sales waiting to sync."
        );
        let at = 1_700_000_000 - 1_700_000_000 % 86_400 + 14 * 3600 + 2 * 60;
        let line = link_line(false, Some(at), 37);
        assert!(
            line.starts_with("Offline since 14:02 UTC, 37 sales waiting to sync."),
            "{line}"
        );
    }

    #[test]
    fn forms_decode() {
        let f: LoginForm =
            serde_urlencoded_parse(&Bytes::from_static(b"username=ana+b&password=p%26w"))
                .expect("parses");
        assert_eq!((f.username.as_str(), f.password.as_str()), ("ana b", "p&w"));
    }
}

#[cfg(test)]
mod script_policy_tests {
    #[test]
    fn the_staff_page_templates_run_no_inline_script() {
        // The page is served with `hotspot_ui::headers`' policy: scripts from /static only.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        assert!(dir.is_dir());
        let found = hotspot_ui::headers::templates_with_inline_script(&dir);
        assert!(found.is_empty(), "{found:?}");
    }
}
