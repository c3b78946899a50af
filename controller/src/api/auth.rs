//! Signing in and out: `POST /api/auth/login` (a bearer token for scripts and the API),
//! `POST /api/auth/session` (the dashboard's cookie session and its CSRF token),
//! `POST /api/auth/logout`, `GET /api/auth/me`, `GET /api/auth/csrf` (a new CSRF token for
//! a cookie session whose page lost it).
//!
//! Why it is shaped so:
//! - **Throttle before Argon2.** A locked-out account or address is answered 429 with
//!   `Retry-After` without hashing anything; only a verified failure is recorded. Unknown
//!   usernames cost one dummy verification, so timing does not tell which accounts exist.
//! - **Argon2 off the async threads, bounded.** Verification runs on the blocking pool, at most
//!   [`MAX_CONCURRENT_HASHES`] at once, so a login flood queues instead of starving the API.
//! - **Login CSRF.** The cookie variant also checks the request's origin, so another site
//!   cannot sign a browser into the attacker's account.
//! - **Second factor after the password.** An account with two-factor sign-in is answered
//!   `two_factor_required` until the request also carries `code`; a wrong code counts as a
//!   failed sign-in, and a success is recorded only when every factor passed.
//! - **Logging.** Failures are logged with the username and address, never the password.
//!   Sign-ins are not audit entries: the audit log records changes.

use std::net::IpAddr;
use std::time::Instant;

use axum::Json;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::api::extract::{
    ClientAddr, JsonBody, Principal, end_session, expected_origin, fmt_time, odt, store_err,
    two_factor_of,
};
use crate::app::AppState;
use crate::auth::csrf::{self, CsrfError};
use crate::auth::password::MAX_PASSWORD_BYTES;
use crate::auth::throttle::ThrottleDecision;
use crate::auth::token::{CsrfToken, NewSession, SessionKind as TokenKind};
use crate::auth::two_factor::{SecondFactor, TotpSecret, recovery_hash};
use crate::store::{
    Role, SessionKind, SessionRecord, SpendFactor, StaffRecord, StaffUpdate, Stamp, TwoFactorRecord,
};

/// Password verifications running at once; more wait their turn.
pub const MAX_CONCURRENT_HASHES: usize = 4;
/// Longest username looked up.
const MAX_USERNAME_BYTES: usize = 256;

static HASH_SLOTS: Semaphore = Semaphore::const_new(MAX_CONCURRENT_HASHES);

/// This module's handlers.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(cookie_session))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(new_csrf_token))
}

/// A role as the API names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    SuperAdmin,
    Staff,
}

impl From<Role> for RoleName {
    fn from(r: Role) -> RoleName {
        match r {
            Role::SuperAdmin => RoleName::SuperAdmin,
            Role::Staff => RoleName::Staff,
        }
    }
}

impl From<RoleName> for Role {
    fn from(r: RoleName) -> Role {
        match r {
            RoleName::SuperAdmin => Role::SuperAdmin,
            RoleName::Staff => Role::Staff,
        }
    }
}

/// Credentials. `Debug` does not show the password or the code.
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// For an account with two-factor sign-in: the six digits the authenticator app shows,
    /// or one of its recovery codes. Without it such an account is answered
    /// `two_factor_required`.
    #[serde(default)]
    pub code: Option<String>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A bearer session: send `Authorization: Bearer <token>`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub token: String,
    pub role: RoleName,
    pub staff_id: u64,
    pub username: String,
    /// RFC 3339; the token stops working then.
    pub expires_at: String,
}

/// A cookie session: the cookie is set; send `csrf_token` in `X-CSRF-Token` on writes.
#[derive(Debug, Serialize, ToSchema)]
pub struct CookieSessionResponse {
    pub role: RoleName,
    pub csrf_token: String,
    pub staff_id: u64,
    pub username: String,
    /// RFC 3339; the session ends then at the latest (earlier after idle time).
    pub expires_at: String,
}

/// How the caller is signed in.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionVia {
    Bearer,
    Cookie,
}

/// The signed-in caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub id: u64,
    pub username: String,
    pub role: RoleName,
    /// Routers a staff member may sell on (empty for super admins, who may use all).
    pub routers: Vec<u64>,
    pub session: SessionVia,
    pub expires_at: String,
}

/// Sign in for a bearer token.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "Wrong username, password or code; or `two_factor_required`: \
            the account needs `code`", body = ErrorBody),
        (status = 403, description = "Account disabled", body = ErrorBody),
        (status = 429, description = "Too many failures; see Retry-After", body = ErrorBody),
    ))]
async fn login(
    state: axum::extract::State<AppState>,
    ClientAddr(addr): ClientAddr,
    JsonBody(req): JsonBody<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let staff = sign_in(&state, addr, &req).await?;
    let session = open_session(&state, &staff, TokenKind::Bearer).await?;
    Ok(Json(LoginResponse {
        token: session.token.expose().to_owned(),
        role: staff.role.into(),
        staff_id: staff.id.0,
        username: staff.username,
        expires_at: fmt_time(session.expires_at.unix_timestamp()),
    }))
}

/// Sign the dashboard in: sets the session cookie and returns the CSRF token.
#[utoipa::path(post, path = "/api/auth/session", tag = "auth", security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; `Set-Cookie` carries the session",
            body = CookieSessionResponse),
        (status = 401, description = "Wrong username, password or code; or `two_factor_required`: \
            the account needs `code`", body = ErrorBody),
        (status = 403, description = "Cross-origin request, or account disabled", body = ErrorBody),
        (status = 429, description = "Too many failures; see Retry-After", body = ErrorBody),
    ))]
async fn cookie_session(
    state: axum::extract::State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    JsonBody(req): JsonBody<LoginRequest>,
) -> ApiResult<Response> {
    let origin = expected_origin(&state, &headers).ok_or(CsrfError::MissingOrigin)?;
    csrf::check_origin(&headers, &origin)?;
    let staff = sign_in(&state, addr, &req).await?;
    let session = open_session(&state, &staff, TokenKind::Cookie).await?;
    let csrf_token = session
        .csrf
        .as_ref()
        .map(|c| c.expose().to_owned())
        .ok_or_else(|| ApiError::internal("cookie session without a CSRF token"))?;
    let cookie = state.config.cookie_settings().set_cookie(&session.token);
    let body = CookieSessionResponse {
        role: staff.role.into(),
        csrf_token,
        staff_id: staff.id.0,
        username: staff.username,
        expires_at: fmt_time(session.expires_at.unix_timestamp()),
    };
    Ok(([(SET_COOKIE, cookie)], Json(body)).into_response())
}

/// Sign out: the session (bearer or cookie) ends now.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn logout(state: axum::extract::State<AppState>, caller: Principal) -> Response {
    end_session(&state, &caller.token_hash).await;
    match caller.kind() {
        TokenKind::Cookie => {
            let clear = state.config.cookie_settings().clear_cookie();
            (StatusCode::NO_CONTENT, [(SET_COOKIE, clear)]).into_response()
        }
        TokenKind::Bearer => StatusCode::NO_CONTENT.into_response(),
    }
}

/// Who am I?
#[utoipa::path(get, path = "/api/auth/me", tag = "auth",
    responses(
        (status = 200, description = "The caller", body = MeResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn me(caller: Principal) -> Json<MeResponse> {
    Json(MeResponse {
        id: caller.staff.id.0,
        username: caller.staff.username.clone(),
        role: caller.staff.role.into(),
        routers: caller.staff.routers.iter().map(|r| r.0).collect(),
        session: match caller.kind() {
            TokenKind::Bearer => SessionVia::Bearer,
            TokenKind::Cookie => SessionVia::Cookie,
        },
        expires_at: fmt_time(caller.session.expires_at),
    })
}

/// A fresh CSRF token for the caller's cookie session.
#[derive(Debug, Serialize, ToSchema)]
pub struct CsrfResponse {
    pub csrf_token: String,
}

/// A new CSRF token for a cookie session (after a page reload lost it). It replaces the
/// previous one: other tabs holding that one get `csrf_failed` and ask again.
#[utoipa::path(get, path = "/api/auth/csrf", tag = "auth",
    responses(
        (status = 200, body = CsrfResponse),
        (status = 401, body = ErrorBody),
        (status = 409, description = "A bearer session has no CSRF token (it needs none)", body = ErrorBody),
    ))]
async fn new_csrf_token(
    state: axum::extract::State<AppState>,
    caller: Principal,
) -> ApiResult<Json<CsrfResponse>> {
    if caller.kind() != TokenKind::Cookie {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "bearer sessions are exempt from CSRF checks and have no CSRF token",
        ));
    }
    // Narrows (does not close) the race with a concurrent sign-out or reset, which must not
    // bring the session back; a compare-and-set in the store would close it.
    let still_there = state
        .store
        .session(&caller.token_hash.0)
        .map_err(store_err)?;
    if still_there.is_none() {
        return Err(ApiError::unauthorized());
    }
    let csrf = CsrfToken::generate(&mut rand::rng());
    let record = SessionRecord {
        csrf_hash: Some(csrf.hash().0),
        ..caller.session.clone()
    };
    let written = state.store.create_session(&record).map_err(store_err)?;
    written.durable().await.map_err(store_err)?;
    Ok(Json(CsrfResponse {
        csrf_token: csrf.expose().to_owned(),
    }))
}

/// Signs `req` in: the password, then the second factor if the account has one. Records the
/// outcome in the throttle. Returns the account.
pub(crate) async fn sign_in(
    state: &AppState,
    addr: IpAddr,
    req: &LoginRequest,
) -> ApiResult<StaffRecord> {
    let staff = check_password(state, addr, &req.username, &req.password).await?;
    if two_factor_of(state, &staff)?.is_some() {
        let code = req.code.as_deref().map(str::trim).unwrap_or("");
        if code.is_empty() {
            return Err(ApiError::two_factor_required());
        }
        check_code(state, addr, &staff, code).await?;
    }
    signed_in(state, addr, &staff);
    Ok(staff)
}

/// Checks the throttle, then the password; records a failure (a success is recorded by
/// [`signed_in`] once every factor passed, so a known password cannot reset the count of
/// wrong codes). Refuses disabled accounts. Returns the account.
pub(crate) async fn check_password(
    state: &AppState,
    addr: IpAddr,
    username: &str,
    password: &str,
) -> ApiResult<StaffRecord> {
    // No account has an empty or oversized name or password: such credentials are wrong like
    // any other (401), without a hash or a throttle entry spent on them.
    let username = username.trim();
    if username.is_empty()
        || password.is_empty()
        || username.len() > MAX_USERNAME_BYTES
        || password.len() > MAX_PASSWORD_BYTES
    {
        return Err(ApiError::invalid_credentials());
    }
    let shown = shown(username);
    let staff = {
        // Throttle check, verification and recording happen while holding a hashing slot,
        // so at most MAX_CONCURRENT_HASHES attempts can slip past a lockout.
        let _slot = HASH_SLOTS.acquire().await.map_err(ApiError::internal)?;
        let decision = lock(state).check(username, addr, Instant::now());
        if let ThrottleDecision::Throttled { retry_after } = decision {
            tracing::warn!(username = ?shown, %addr, "sign-in refused: throttled");
            return Err(ApiError::throttled(retry_after));
        }
        let staff = state.store.staff_by_username(username).map_err(store_err)?;
        let stored = staff.as_ref().map(|s| s.password_hash.clone());
        let typed = password.to_owned();
        let st = state.clone();
        let verified =
            tokio::task::spawn_blocking(move || st.hasher.verify_login(&typed, stored.as_deref()))
                .await
                .map_err(ApiError::internal)?;
        match staff.filter(|_| verified) {
            Some(staff) => staff,
            None => {
                lock(state).record_failure(username, addr, Instant::now());
                tracing::warn!(username = ?shown, %addr, "sign-in failed: wrong credentials");
                return Err(ApiError::invalid_credentials());
            }
        }
    };
    if staff.disabled {
        tracing::warn!(username = ?shown, %addr, "sign-in refused: account disabled");
        return Err(ApiError::forbidden("this account is disabled"));
    }
    if state.hasher.needs_rehash(&staff.password_hash) {
        rehash(state, &staff, password.to_owned()).await;
    }
    Ok(staff)
}

/// Checks `code` (a TOTP code or a recovery code) for `staff`, throttled like passwords, and
/// spends it (durably) before it lets the caller through.
pub(crate) async fn check_code(
    state: &AppState,
    addr: IpAddr,
    staff: &StaffRecord,
    code: &str,
) -> ApiResult<()> {
    let now = state.now();
    let Some(record) = two_factor_of(state, staff)? else {
        return Err(ApiError::wrong_code());
    };
    let secret = two_factor_secret(state, &record)?;
    let shown = shown(&staff.username);
    let spend = {
        // The check, the verification (microseconds) and the recording happen under one lock:
        // no parallel guesses slip past a lockout.
        let mut throttle = lock(state);
        let decision = throttle.check(&staff.username, addr, Instant::now());
        if let ThrottleDecision::Throttled { retry_after } = decision {
            tracing::warn!(username = ?shown, %addr, "second factor refused: throttled");
            return Err(ApiError::throttled(retry_after));
        }
        let spend = match SecondFactor::parse(code) {
            Some(SecondFactor::Totp(digits)) => secret
                .check(&digits, now, record.last_step)
                .map(SpendFactor::Step),
            Some(SecondFactor::Recovery(normal)) => {
                let hash = recovery_hash(staff.id.0, &normal);
                let known = record
                    .recovery
                    .iter()
                    .fold(false, |found, h| found | bool::from(h.ct_eq(&hash)));
                known.then_some(SpendFactor::Recovery(hash))
            }
            None => None,
        };
        match spend {
            Some(spend) => spend,
            None => {
                throttle.record_failure(&staff.username, addr, Instant::now());
                tracing::warn!(username = ?shown, %addr, "sign-in failed: wrong code");
                return Err(ApiError::wrong_code());
            }
        }
    };
    let written = state
        .store
        .spend_two_factor(staff.id, spend, now)
        .map_err(store_err)?;
    if !written.durable().await.map_err(store_err)? {
        // Another sign-in spent the same code a moment ago.
        lock(state).record_failure(&staff.username, addr, Instant::now());
        tracing::warn!(username = ?shown, %addr, "sign-in failed: code already used");
        return Err(ApiError::wrong_code());
    }
    if matches!(spend, SpendFactor::Recovery(_)) {
        tracing::warn!(username = ?shown, %addr, staff = %staff.id, "signed in with a recovery code");
    }
    Ok(())
}

/// The TOTP secret of `record`, opened.
pub(crate) fn two_factor_secret(
    state: &AppState,
    record: &TwoFactorRecord,
) -> ApiResult<TotpSecret> {
    let place = TwoFactorRecord::secret_place(record.staff);
    let opened = state
        .keyring
        .open(&place, &record.secret)
        .map_err(ApiError::internal)?;
    TotpSecret::from_bytes(opened.expose().to_vec()).map_err(ApiError::internal)
}

/// Records a complete sign-in (every factor passed).
pub(crate) fn signed_in(state: &AppState, addr: IpAddr, staff: &StaffRecord) {
    lock(state).record_success(&staff.username);
    let shown = shown(&staff.username);
    tracing::info!(username = ?shown, %addr, staff = %staff.id, "signed in");
}

/// A user name for the log: shown with Debug (control characters escaped) and cut short.
fn shown(username: &str) -> String {
    username.chars().take(64).collect()
}

fn lock(state: &AppState) -> std::sync::MutexGuard<'_, crate::auth::throttle::LoginThrottle> {
    state
        .throttle
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs Argon2 work on the blocking pool, at most [`MAX_CONCURRENT_HASHES`] at once.
pub async fn hashing<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&AppState) -> T + Send + 'static,
) -> ApiResult<T> {
    let _permit = HASH_SLOTS.acquire().await.map_err(ApiError::internal)?;
    let st = state.clone();
    tokio::task::spawn_blocking(move || work(&st))
        .await
        .map_err(ApiError::internal)
}

/// Stores a hash with the current parameters (best effort: the sign-in stands either way).
async fn rehash(state: &AppState, staff: &StaffRecord, password: String) {
    let hashed = hashing(state, move |st| st.hasher.hash(&password)).await;
    let Ok(Ok(hash)) = hashed else {
        tracing::warn!(staff = %staff.id, "could not rehash the password");
        return;
    };
    let update = StaffUpdate {
        password_hash: Some(hash),
        ..StaffUpdate::default()
    };
    let stamp = Stamp::staff(staff.id, state.now());
    let written = state.store.update_staff(staff.id, update, &stamp);
    if let Err(e) = async { written?.durable().await }.await {
        tracing::warn!(staff = %staff.id, error = %e, "could not store the rehashed password");
    }
}

/// Makes a session of `kind` for `staff` and stores it (durably) before it is handed out.
pub(crate) async fn open_session(
    state: &AppState,
    staff: &StaffRecord,
    kind: TokenKind,
) -> ApiResult<NewSession> {
    let now = state.now();
    let policy = state.config.auth.session_policy();
    let new = NewSession::create(kind, &policy, odt(now), &mut rand::rng());
    let record = SessionRecord {
        token_hash: new.token_hash().0,
        staff: staff.id,
        kind: match kind {
            TokenKind::Cookie => SessionKind::Cookie,
            TokenKind::Bearer => SessionKind::Bearer,
        },
        csrf_hash: new.csrf_hash().map(|h| h.0),
        created_at: now,
        expires_at: new.expires_at.unix_timestamp(),
    };
    let written = state.store.create_session(&record).map_err(store_err)?;
    written.durable().await.map_err(store_err)?;
    Ok(new)
}
