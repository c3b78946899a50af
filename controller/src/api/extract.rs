//! What every handler takes from a request: who is calling ([`Principal`], [`AdminOnly`]), from
//! which address ([`ClientAddr`]), and the body, query and path through wrappers whose
//! rejections are our JSON errors ([`JsonBody`], [`QueryParams`], [`PathParam`]); plus the
//! one-place mapping of ledger and link errors to [`ApiError`]s, and times for answers.
//!
//! Why the caller is resolved so:
//! - **Bearer first.** `Authorization: Bearer` is never attached by a browser on its own, so a
//!   bearer call is exempt from CSRF checks; a request with that header is judged by it alone
//!   (a bad bearer token is a 401 even if a good cookie rides along).
//! - **Cookie second, then CSRF** on unsafe methods (Origin/Referer against
//!   `http.public_url`, else the `Host`-derived origin; then the session's synchronizer token),
//!   via [`crate::auth::csrf::check`].
//! - **Fresh every request.** The session and the staff record are read from the ledger each
//!   time, so disabling an account, changing its role or its routers takes effect at once.
//! - **Idle time.** The ledger's session record has no last-seen field, so cookie-session
//!   activity is kept here in memory (written at most once a minute per session, bounded). A
//!   session this process has not seen counts as idle since its creation: after a restart,
//!   cookie sessions idle for longer than the idle timeout must sign in again (fail closed).
//!
//! Extractors that need the caller come first in a handler's arguments, so an unauthenticated
//! request is answered 401 before its body is looked at.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Deref;
use std::sync::{LazyLock, Mutex, PoisonError};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use hotspot_link::LinkError;
use hotspot_shared::domain::StaffId;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::api::bounds;
use crate::api::error::{ApiError, ErrorCode};
use crate::app::AppState;
use crate::auth::csrf::{self, CsrfError};
use crate::auth::roles::{self, RoleKind};
use crate::auth::token::{
    ApiKeyToken, SessionError, SessionKind as TokenKind, SessionToken, TokenHash,
};
use crate::config::ProxyNet;
use crate::store::{
    ApiKeyScope, MAX_PAGE, PageRequest, Role, SessionKind, SessionRecord, StaffRecord, Stamp,
    StoreError, TwoFactorRecord,
};

/// Most sessions whose activity is tracked; past it, entries idle longer than the idle
/// timeout are dropped, then all (which fails closed: see the module comment).
const MAX_TRACKED_SESSIONS: usize = 100_000;

/// The signed-in caller: the policy view, the staff record and the session.
#[derive(Clone, Debug)]
pub struct Principal {
    pub policy: roles::Principal,
    pub staff: StaffRecord,
    pub session: SessionRecord,
    /// Hash of the presented token: the session's key in the ledger.
    pub token_hash: TokenHash,
    /// The API key the call came with (then `session` stands for it: bearer, its lifetime).
    pub api_key: Option<u64>,
}

impl Deref for Principal {
    type Target = roles::Principal;
    fn deref(&self) -> &roles::Principal {
        &self.policy
    }
}

impl Principal {
    pub fn staff_id(&self) -> StaffId {
        self.staff.id
    }

    /// Who and when, for a change this caller makes at `at`.
    pub fn stamp(&self, at: i64) -> Stamp {
        Stamp::staff(self.staff.id, at)
    }

    pub fn kind(&self) -> TokenKind {
        token_kind(self.session.kind)
    }

    /// Refuses a call made with an API key (`why`: what only a person in a session may do).
    pub fn in_person(&self, why: &str) -> Result<(), ApiError> {
        match self.api_key {
            Some(_) => Err(ApiError::forbidden(why)),
            None => Ok(()),
        }
    }
}

/// A caller who is a super admin; staff get 403 `forbidden`.
#[derive(Clone, Debug)]
pub struct AdminOnly(pub Principal);

impl Deref for AdminOnly {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(&parts.method, parts.uri.path(), &parts.headers, state).await
    }
}

impl FromRequestParts<AppState> for AdminOnly {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let p = authenticate(&parts.method, parts.uri.path(), &parts.headers, state).await?;
        p.require_admin("this needs a super admin")?;
        Ok(AdminOnly(p))
    }
}

/// The store's session kind as the auth layer names it.
pub fn token_kind(kind: SessionKind) -> TokenKind {
    match kind {
        SessionKind::Cookie => TokenKind::Cookie,
        SessionKind::Bearer => TokenKind::Bearer,
    }
}

/// Unix seconds as the auth layer's time (out-of-range values clamp to the epoch).
pub fn odt(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Resolves the caller of a request to `path` (see the module comment for the order of
/// checks).
pub async fn authenticate(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Principal, ApiError> {
    if let Some(key) = ApiKeyToken::from_authorization(headers)? {
        return authenticate_key(method, path, &key, state).await;
    }
    let token = match SessionToken::from_authorization(headers)? {
        Some(t) => t,
        None => state
            .config
            .cookie_settings()
            .read(headers)
            .ok_or_else(ApiError::unauthorized)?,
    };
    let token_hash = token.hash();
    let session = state
        .store
        .session(&token_hash.0)
        .map_err(store_err)?
        .filter(|s| token_kind(s.kind) == token.kind())
        .ok_or(SessionError::Unknown)?;
    let kind = token.kind();
    let now = state.now();
    let policy = state.config.auth.session_policy();
    let last_seen = activity()
        .last_seen(&token_hash)
        .unwrap_or(session.created_at);
    let alive = policy
        .check(kind, odt(session.created_at), odt(last_seen), odt(now))
        .and_then(|()| {
            if now >= session.expires_at {
                Err(SessionError::Expired {
                    expired_at: odt(session.expires_at),
                })
            } else {
                Ok(())
            }
        });
    if let Err(e) = alive {
        end_session(state, &token_hash).await;
        return Err(e.into());
    }
    if kind == TokenKind::Cookie && !csrf::is_safe_method(method) {
        let origin = expected_origin(state, headers).ok_or(CsrfError::MissingOrigin)?;
        let stored = session.csrf_hash.map(TokenHash);
        csrf::check(method, headers, &origin, kind, stored.as_ref(), None)?;
    }
    let staff = match state.store.staff(session.staff).map_err(store_err)? {
        Some(s) if !s.disabled => s,
        _ => {
            end_session(state, &token_hash).await;
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "the account is disabled or no longer exists",
            ));
        }
    };
    if needs_enrolment(state, &staff, path)? {
        return Err(ApiError::new(
            ErrorCode::TwoFactorSetupRequired,
            "super admins sign in with a second factor here: set it up first (the \
             dashboard's Account page, or POST /api/auth/two-factor/setup)",
        ));
    }
    if policy.should_touch(kind, odt(last_seen), odt(now)) {
        let idle = policy.cookie_idle.whole_seconds();
        activity().touch(token_hash, now, idle);
    }
    let policy = roles::Principal {
        staff_id: staff.id.0,
        role: match staff.role {
            Role::SuperAdmin => RoleKind::SuperAdmin,
            Role::Staff => RoleKind::Staff,
        },
        routers: staff.routers.iter().map(|r| r.0).collect(),
    };
    Ok(Principal {
        policy,
        staff,
        session,
        token_hash,
        api_key: None,
    })
}

/// Resolves a caller by API key: known, not revoked or expired, its maker still an enabled
/// super admin, and a read-only key only reading. Each use of a live key is audited with
/// what it asked (a refused one too), and its last use kept; that write is not waited for,
/// as nothing is acknowledged by it.
async fn authenticate_key(
    method: &Method,
    path: &str,
    key: &ApiKeyToken,
    state: &AppState,
) -> Result<Principal, ApiError> {
    let token_hash = key.hash();
    let now = state.now();
    let record = state
        .store
        .api_key_by_hash(&token_hash.0)
        .map_err(store_err)?
        .ok_or(SessionError::Unknown)?;
    if let Some(at) = record.revoked_at {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            format!("this API key was revoked at {}", fmt_time(at)),
        ));
    }
    if let Some(at) = record.expires_at.filter(|at| now >= *at) {
        return Err(SessionError::Expired {
            expired_at: odt(at),
        }
        .into());
    }
    let staff = match state.store.staff(record.owner).map_err(store_err)? {
        Some(s) if !s.disabled && s.role == Role::SuperAdmin => s,
        _ => {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "the API key's maker is no longer an enabled super admin",
            ));
        }
    };
    let asked: String = format!("{method} {path}").chars().take(200).collect();
    if let Err(e) = state.store.api_key_used(record.id, now, &asked) {
        tracing::warn!(key = record.id, "cannot record the API key's use: {e}");
    }
    if record.scope == ApiKeyScope::ReadOnly && !csrf::is_safe_method(method) {
        return Err(ApiError::forbidden("this API key is read-only"));
    }
    let policy = match &record.scope {
        ApiKeyScope::ReadOnly | ApiKeyScope::Admin => roles::Principal {
            staff_id: staff.id.0,
            role: RoleKind::SuperAdmin,
            routers: Vec::new(),
        },
        ApiKeyScope::Seller { routers } => roles::Principal {
            staff_id: staff.id.0,
            role: RoleKind::Staff,
            routers: routers.iter().map(|r| r.0).collect(),
        },
    };
    let session = SessionRecord {
        token_hash: token_hash.0,
        staff: staff.id,
        kind: SessionKind::Bearer,
        csrf_hash: None,
        created_at: record.created_at,
        expires_at: record.expires_at.unwrap_or(i64::MAX),
    };
    Ok(Principal {
        policy,
        staff,
        session,
        token_hash,
        api_key: Some(record.id),
    })
}

/// Our origin for CSRF checks: the configured public URL's, else the one `Host` names.
pub fn expected_origin(state: &AppState, headers: &HeaderMap) -> Option<String> {
    match &state.config.http.public_url {
        Some(url) => Some(url.origin().to_owned()),
        None => csrf::origin_from_host(headers, state.config.cookie_secure()),
    }
}

/// Deletes a session (expired, signed out, account disabled) and forgets its activity.
/// Best effort: a failure is logged, the caller is refused either way.
pub async fn end_session(state: &AppState, token_hash: &TokenHash) {
    activity().forget(token_hash);
    let deleted = match state.store.delete_session(&token_hash.0) {
        Ok(w) => w.durable().await.map(drop),
        Err(e) => Err(e),
    };
    if let Err(e) = deleted {
        tracing::warn!(error = %e, "could not delete a session");
    }
}

/// Whether `staff` may not be without a second factor (`auth.require_2fa_for_admins`).
pub fn second_factor_required(state: &AppState, staff: &StaffRecord) -> bool {
    state.config.auth.require_2fa_for_admins && staff.role == Role::SuperAdmin
}

/// Whether `staff`, who must have a second factor and has none yet, asks for something other
/// than setting it up (or signing out).
fn needs_enrolment(state: &AppState, staff: &StaffRecord, path: &str) -> Result<bool, ApiError> {
    if !second_factor_required(state, staff) || enrolment_path(path) {
        return Ok(false);
    }
    Ok(two_factor_of(state, staff)?.is_none())
}

/// The account's enabled second factor, if it has one (a set-up not yet confirmed is none).
pub fn two_factor_of(
    state: &AppState,
    staff: &StaffRecord,
) -> Result<Option<TwoFactorRecord>, ApiError> {
    let record = state.store.two_factor(staff.id).map_err(store_err)?;
    Ok(record.filter(TwoFactorRecord::is_enabled))
}

/// What a super admin without a required second factor may still reach.
fn enrolment_path(path: &str) -> bool {
    path.starts_with("/api/auth/") || path.starts_with("/account") || path == "/logout"
}

/// When each cookie session was last active, in this process.
struct Activity(Mutex<HashMap<TokenHash, i64>>);

fn activity() -> &'static Activity {
    static ACTIVITY: LazyLock<Activity> = LazyLock::new(|| Activity(Mutex::new(HashMap::new())));
    &ACTIVITY
}

impl Activity {
    fn last_seen(&self, hash: &TokenHash) -> Option<i64> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(hash).copied()
    }

    fn touch(&self, hash: TokenHash, now: i64, idle_secs: i64) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_TRACKED_SESSIONS && !map.contains_key(&hash) {
            map.retain(|_, seen| now - *seen < idle_secs);
            if map.len() >= MAX_TRACKED_SESSIONS {
                map.clear();
            }
        }
        map.insert(hash, now);
    }

    fn forget(&self, hash: &TokenHash) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(hash);
    }
}

/// The client's IP address (from `ConnectInfo`; serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`), through the `http.trusted_proxies`
/// (see [`client_ip`]). Without `ConnectInfo` every client shares `0.0.0.0`, which makes the
/// per-address login throttle global: a warning is logged.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => Ok(ClientAddr(client_ip(
                peer.ip(),
                &parts.headers,
                &state.config.http.trusted_proxies,
            ))),
            None => {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    tracing::warn!(
                        "no client address (ConnectInfo); login throttling per address is global"
                    );
                });
                Ok(ClientAddr(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
            }
        }
    }
}

/// The client of a request that arrived from `peer`. When `peer` is one of the `trusted`
/// proxies, the `X-Forwarded-For` entries are read from the right (each proxy appends the
/// address it got the request from) and the first one that is not a trusted proxy is the
/// client; entries left of it were written by the client and are ignored. An entry that is not
/// an address stops the walk at the last trusted hop. Otherwise the client is `peer`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ProxyNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = forwarded_ip(entry.trim()) else {
            return client;
        };
        client = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: `IP`, `IPv4:port` or `[IPv6]:port`.
fn forwarded_ip(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

/// A JSON body; a bad one is answered with our JSON error (400, 413, 415 or 422).
///
/// A number with a zero fraction (`538.0`) is an integer to JSON Schema, so it is read as one
/// wherever the body wants an integer. No body is an array.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(mut value) =
            axum::Json::<serde_json::Value>::from_request(req, state).await?;
        // serde reads a struct from an array of its fields too (`[null]`); the API's bodies
        // are objects, and the schema says so.
        if value.is_array() {
            return Err(ApiError::validation(
                "the body must be a JSON object, not an array",
            ));
        }
        integral_floats_as_integers(&mut value);
        serde_path_to_error::deserialize(value)
            .map(JsonBody)
            .map_err(|e| ApiError::validation(format!("{}: {}", e.path(), e.inner())))
    }
}

/// Rewrites every float with no fraction part that an `i64` or `u64` can hold as that integer.
fn integral_floats_as_integers(value: &mut serde_json::Value) {
    use serde_json::{Number, Value};
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // The bounds are exact powers of two, so the casts below cannot saturate.
            let integer = if f.fract() != 0.0 {
                None
            } else if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                Some(Number::from(f as u64))
            } else if (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
                Some(Number::from(f as i64))
            } else {
                None
            };
            if let Some(i) = integer {
                *n = i;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// A JSON body that may be left out: an empty body (or JSON `null`) is `None`; one that is
/// there is read by [`JsonBody`] (415 when it is not JSON, 400 or 422 when it cannot be read).
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes =
            axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
                .await
                .map_err(|e| ApiError::bad_request(e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(None));
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        let JsonBody(value) = JsonBody::<Option<T>>::from_request(req, state).await?;
        Ok(OptionalJsonBody(value))
    }
}

/// Query parameters, with our JSON error on a bad one.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(QueryParams(value))
    }
}

/// Path parameters, with our JSON error on a bad one.
#[derive(Debug)]
pub struct PathParam<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(value) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(PathParam(value))
    }
}

/// `limit` and `after` of a listing's query, checked (`limit` 1..=[`MAX_PAGE`]).
pub fn page_request(limit: Option<usize>, after: Option<String>) -> Result<PageRequest, ApiError> {
    let limit = match limit {
        None => 0,
        Some(n) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "limit",
                format!("limit must be 1 to {MAX_PAGE}"),
            ));
        }
    };
    Ok(PageRequest {
        limit,
        after: bounds::cursor_of(after)?.map(Into::into),
    })
}

/// A time in a query ([`bounds::time_filter`]): Unix seconds (digits only), RFC 3339
/// (`2026-11-02T10:00:00Z`) or a UTC date (`2026-11-02`, its midnight).
pub fn parse_time(field: &str, text: &str) -> Result<i64, ApiError> {
    let digits = text.len() <= bounds::MAX_UNIX_DIGITS && text.bytes().all(|b| b.is_ascii_digit());
    if !text.is_empty()
        && digits
        && let Ok(secs) = text.parse::<i64>()
    {
        return Ok(secs);
    }
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    match bounds::parse_date(text) {
        Some(d) => Ok(d.midnight().assume_utc().unix_timestamp()),
        None => Err(ApiError::invalid_field(
            field,
            format!("{field}: expected Unix seconds, an RFC 3339 time or YYYY-MM-DD"),
        )),
    }
}

/// An optional time filter of a query ([`parse_time`]'s forms); left empty, it is absent (as
/// an empty `after` is).
pub fn parse_optional_time(field: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    text.filter(|t| !t.is_empty())
        .map(|t| parse_time(field, t))
        .transpose()
}

/// Unix seconds as RFC 3339 in UTC, for answers.
pub fn fmt_time(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| secs.to_string())
}

/// A ledger error as the API answers it.
pub fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { kind, id } => ApiError::not_found(format!("{kind} {id}")),
        StoreError::Conflict(m) => ApiError::conflict(m),
        e @ (StoreError::DuplicateCodes(_) | StoreError::WrongState { .. }) => {
            ApiError::conflict(e.to_string())
        }
        StoreError::Invalid(m) => ApiError::validation(m),
        e @ (StoreError::BadCursor | StoreError::TooMany { .. }) => {
            ApiError::bad_request(e.to_string())
        }
        other => ApiError::internal(other),
    }
}

/// A fleet-link error as the API answers it.
pub fn link_err(e: LinkError) -> ApiError {
    match e {
        e @ LinkError::OutboxFull { .. } => ApiError::site_offline(format!(
            "{e}; nothing more can be queued for this site until its agent reconnects"
        )),
        e @ LinkError::Offline { .. } => ApiError::site_offline(e.to_string()),
        e @ LinkError::Timeout(_) => ApiError::new(ErrorCode::Timeout, e.to_string()),
        other => ApiError::internal(other),
    }
}

#[cfg(test)]
mod client_ip_tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().expect("header value"));
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<ProxyNet> {
        list.iter().map(|n| n.parse().expect("net")).collect()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let h = xff(&["203.0.113.5"]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &[]), ip("127.0.0.1"));
        let other = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &other), ip("127.0.0.1"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_what_the_client_wrote_is_ignored() {
        let trusted = nets(&["127.0.0.1", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        assert_eq!(
            client_ip(peer, &xff(&["203.0.113.5"]), &trusted),
            ip("203.0.113.5")
        );
        // The client sent "1.2.3.4" itself; the proxy appended the real address.
        assert_eq!(
            client_ip(peer, &xff(&["1.2.3.4, 203.0.113.5"]), &trusted),
            ip("203.0.113.5")
        );
        // Two proxies in a row (one header line each), the inner one trusted too.
        assert_eq!(
            client_ip(peer, &xff(&["1.2.3.4, 203.0.113.5", "10.0.0.7"]), &trusted),
            ip("203.0.113.5")
        );
        assert_eq!(
            client_ip(peer, &xff(&["[2001:db8::5]:4711"]), &trusted),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_ip(peer, &xff(&["198.51.100.7:5555"]), &trusted),
            ip("198.51.100.7")
        );
        // No header: the proxy itself.
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), peer);
        // Everything trusted: the leftmost hop.
        assert_eq!(
            client_ip(peer, &xff(&["10.1.1.1, 10.2.2.2"]), &trusted),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn garbage_stops_at_the_last_trusted_hop() {
        let trusted = nets(&["127.0.0.1", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        assert_eq!(client_ip(peer, &xff(&["unknown"]), &trusted), peer);
        assert_eq!(
            client_ip(peer, &xff(&["203.0.113.5, junk, 10.0.0.7"]), &trusted),
            ip("10.0.0.7")
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::integral_floats_as_integers;

    #[test]
    fn integral_floats_become_integers_and_others_stay() {
        let mut v = json!({"routers": [538.0, 1.5, -2.0], "n": 0.0, "big": 1e30, "s": "3.0"});
        integral_floats_as_integers(&mut v);
        assert_eq!(
            v,
            json!({"routers": [538, 1.5, -2], "n": 0, "big": 1e30, "s": "3.0"})
        );
        assert!(v["routers"][0].is_u64() && v["routers"][2].is_i64());
    }
}
