//! Two-factor sign-in for one's own account: `GET /api/auth/two-factor` (its state),
//! `POST /api/auth/two-factor/setup` (a new secret to scan), `/confirm` (a code from the app
//! turns it on and returns recovery codes), `/recovery-codes` (new ones), `/disable`; and
//! `DELETE /api/staff/{id}/two-factor` for a super admin to reset someone's lost second factor.
//!
//! Why it is shaped so:
//! - **Set-up is two steps.** The secret is kept sealed but inactive until a code from the app
//!   proves the app holds it; a half-finished set-up never locks anyone out.
//! - **Changes ask for the password again** (and turning it off for a code too), throttled
//!   like sign-ins: a session left open on a shared till cannot strip the second factor.
//! - **Recovery codes are shown once**, stored as hashes, spent on use. Making new ones voids
//!   the old ones.
//! - **People, not API keys:** a key cannot change how anyone signs in.
//! - The page handlers of `web::account` call the same functions.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hotspot_shared::domain::StaffId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::auth::{check_code, check_password, two_factor_secret};
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{
    AdminOnly, ClientAddr, JsonBody, PathParam, Principal, second_factor_required, store_err,
    two_factor_of,
};
use crate::app::AppState;
use crate::auth::two_factor::{RECOVERY_CODES, TotpSecret, recovery_code, recovery_hashes};
use crate::store::{StaffRecord, Stamp, TwoFactorRecord};

/// This module's handlers.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_status))
        .routes(routes!(setup))
        .routes(routes!(confirm_setup))
        .routes(routes!(renew_recovery_codes))
        .routes(routes!(disable))
        .routes(routes!(reset_staff))
}

/// Where an account's two-factor sign-in stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct TwoFactorStatus {
    /// Sign-in asks for a code.
    pub enabled: bool,
    /// A set-up was started and waits for its confirming code.
    pub pending: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
    /// This account may not be without it (`auth.require_2fa_for_admins`).
    pub required: bool,
}

/// The password, asked again before a change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordCheck {
    pub password: String,
}

/// A code from the authenticator app.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeCheck {
    /// Six digits.
    pub code: String,
}

/// The password and a code (from the app, or a recovery code).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordAndCode {
    pub password: String,
    pub code: String,
}

/// A secret to put into an authenticator app, then confirm with one of its codes.
#[derive(Serialize, ToSchema)]
pub struct TwoFactorSetup {
    /// RFC 4648 base32, for typing in.
    pub secret: String,
    /// `otpauth://totp/…`, for a QR code.
    pub otpauth_uri: String,
}

/// Recovery codes: each signs in once instead of a code. Shown this once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// Only a person in a session changes how they sign in.
fn by_person(caller: &Principal) -> ApiResult<()> {
    caller.in_person("API keys cannot change how anyone signs in; use a signed-in session")
}

/// Writes `record` durably, audited as `action` by its own account.
async fn store_record(state: &AppState, record: &TwoFactorRecord, action: &str) -> ApiResult<()> {
    let stamp = Stamp::staff(record.staff, state.now());
    let written = state
        .store
        .put_two_factor(record, action, &stamp)
        .map_err(store_err)?;
    written.durable().await.map_err(store_err)
}

pub(crate) fn status_of(state: &AppState, staff: &StaffRecord) -> ApiResult<TwoFactorStatus> {
    let record = state.store.two_factor(staff.id).map_err(store_err)?;
    let enabled = record.as_ref().is_some_and(TwoFactorRecord::is_enabled);
    Ok(TwoFactorStatus {
        enabled,
        pending: record.as_ref().is_some_and(|r| !r.is_enabled()),
        recovery_codes_left: record
            .filter(TwoFactorRecord::is_enabled)
            .map_or(0, |r| u32::try_from(r.recovery.len()).unwrap_or(u32::MAX)),
        required: second_factor_required(state, staff),
    })
}

/// Starts (or restarts) a set-up: a new secret, kept inactive until confirmed.
pub(crate) async fn begin(
    state: &AppState,
    addr: IpAddr,
    staff: &StaffRecord,
    password: &str,
) -> ApiResult<(TotpSecret, String)> {
    check_password(state, addr, &staff.username, password).await?;
    if two_factor_of(state, staff)?.is_some() {
        return Err(ApiError::conflict(
            "two-factor sign-in is already on: turn it off first to move it to another app",
        ));
    }
    let secret = TotpSecret::generate(&mut rand::rng());
    let uri = secret
        .otpauth_uri(&staff.username)
        .map_err(ApiError::internal)?;
    let sealed = state
        .keyring
        .seal(
            &TwoFactorRecord::secret_place(staff.id),
            secret.expose(),
            &mut rand::rng(),
        )
        .map_err(ApiError::internal)?;
    let now = state.now();
    let record = TwoFactorRecord {
        staff: staff.id,
        secret: sealed,
        confirmed_at: None,
        recovery: Vec::new(),
        last_step: 0,
        created_at: now,
    };
    store_record(state, &record, "staff.two-factor.setup").await?;
    Ok((secret, uri))
}

/// Turns a started set-up on with a code from the app; returns the recovery codes.
pub(crate) async fn confirm(
    state: &AppState,
    staff: &StaffRecord,
    code: &str,
) -> ApiResult<Vec<String>> {
    let Some(mut record) = state.store.two_factor(staff.id).map_err(store_err)? else {
        return Err(ApiError::conflict(
            "no set-up was started: start one first (POST /api/auth/two-factor/setup)",
        ));
    };
    if record.is_enabled() {
        return Err(ApiError::conflict("two-factor sign-in is already on"));
    }
    let secret = two_factor_secret(state, &record)?;
    let now = state.now();
    let Some(step) = secret.check(code.trim(), now, 0) else {
        return Err(ApiError::invalid_field(
            "code",
            "that is not the app's current code: check that the phone's clock is right",
        ));
    };
    let codes = fresh_codes();
    record.confirmed_at = Some(now);
    record.last_step = step;
    record.recovery = recovery_hashes(staff.id.0, &codes);
    store_record(state, &record, "staff.two-factor.enable").await?;
    tracing::info!(staff = %staff.id, "two-factor sign-in turned on");
    Ok(codes)
}

fn fresh_codes() -> Vec<String> {
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| recovery_code(&mut rng))
        .collect()
}

/// New recovery codes (the old ones stop working).
pub(crate) async fn renew_codes(
    state: &AppState,
    addr: IpAddr,
    staff: &StaffRecord,
    password: &str,
) -> ApiResult<Vec<String>> {
    check_password(state, addr, &staff.username, password).await?;
    let Some(mut record) = two_factor_of(state, staff)? else {
        return Err(ApiError::conflict("two-factor sign-in is not on"));
    };
    let codes = fresh_codes();
    record.recovery = recovery_hashes(staff.id.0, &codes);
    store_record(state, &record, "staff.two-factor.recovery-codes").await?;
    Ok(codes)
}

/// Turns two-factor sign-in off (or drops a started set-up), with the password and a code.
pub(crate) async fn turn_off(
    state: &AppState,
    addr: IpAddr,
    staff: &StaffRecord,
    password: &str,
    code: &str,
) -> ApiResult<()> {
    if second_factor_required(state, staff) {
        return Err(ApiError::conflict(
            "super admins must keep two-factor sign-in here (auth.require_2fa_for_admins); \
             to move it to a new phone, have another super admin reset it",
        ));
    }
    check_password(state, addr, &staff.username, password).await?;
    if two_factor_of(state, staff)?.is_some() {
        check_code(state, addr, staff, code).await?;
    }
    let stamp = Stamp::staff(staff.id, state.now());
    let written = state
        .store
        .remove_two_factor(staff.id, &stamp)
        .map_err(store_err)?;
    written.durable().await.map_err(store_err)?;
    tracing::info!(staff = %staff.id, "two-factor sign-in turned off");
    Ok(())
}

/// A super admin removes `target`'s second factor (a lost phone and lost recovery codes).
pub(crate) async fn reset(state: &AppState, admin: &Principal, target: StaffId) -> ApiResult<()> {
    if target == admin.staff_id() {
        return Err(ApiError::forbidden(
            "turn your own two-factor sign-in off with your password and a code",
        ));
    }
    if state.store.staff(target).map_err(store_err)?.is_none() {
        return Err(ApiError::not_found(format!("staff {}", target.0)));
    }
    let written = state
        .store
        .remove_two_factor(target, &admin.stamp(state.now()))
        .map_err(store_err)?;
    if !written.durable().await.map_err(store_err)? {
        return Err(ApiError::not_found(format!(
            "two-factor sign-in of staff {}",
            target.0
        )));
    }
    tracing::warn!(staff = %target, by = %admin.staff_id(), "two-factor sign-in reset");
    Ok(())
}

/// The caller's two-factor sign-in.
#[utoipa::path(get, path = "/api/auth/two-factor", tag = "auth",
    responses(
        (status = 200, body = TwoFactorStatus),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
async fn get_status(state: State<AppState>, caller: Principal) -> ApiResult<Json<TwoFactorStatus>> {
    Ok(Json(status_of(&state, &caller.staff)?))
}

/// Start setting up two-factor sign-in: a new secret for an authenticator app (replaces a
/// set-up not yet confirmed). Nothing changes at sign-in until `/confirm`.
#[utoipa::path(post, path = "/api/auth/two-factor/setup", tag = "auth",
    request_body = PasswordCheck,
    responses(
        (status = 200, body = TwoFactorSetup),
        (status = 401, description = "Wrong password", body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "Already on", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
async fn setup(
    state: State<AppState>,
    ClientAddr(addr): ClientAddr,
    caller: Principal,
    JsonBody(req): JsonBody<PasswordCheck>,
) -> ApiResult<Json<TwoFactorSetup>> {
    by_person(&caller)?;
    let (secret, otpauth_uri) = begin(&state, addr, &caller.staff, &req.password).await?;
    Ok(Json(TwoFactorSetup {
        secret: secret.base32(),
        otpauth_uri,
    }))
}

/// Turn two-factor sign-in on with the app's current code; answers the recovery codes.
#[utoipa::path(post, path = "/api/auth/two-factor/confirm", tag = "auth",
    request_body = CodeCheck,
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "No set-up started, or already on", body = ErrorBody),
        (status = 422, description = "Not the app's current code", body = ErrorBody),
    ))]
async fn confirm_setup(
    state: State<AppState>,
    caller: Principal,
    JsonBody(req): JsonBody<CodeCheck>,
) -> ApiResult<Json<RecoveryCodes>> {
    by_person(&caller)?;
    let recovery_codes = confirm(&state, &caller.staff, &req.code).await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// New recovery codes; the old ones stop working.
#[utoipa::path(post, path = "/api/auth/two-factor/recovery-codes", tag = "auth",
    request_body = PasswordCheck,
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 401, description = "Wrong password", body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "Two-factor sign-in is not on", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
async fn renew_recovery_codes(
    state: State<AppState>,
    ClientAddr(addr): ClientAddr,
    caller: Principal,
    JsonBody(req): JsonBody<PasswordCheck>,
) -> ApiResult<Json<RecoveryCodes>> {
    by_person(&caller)?;
    let recovery_codes = renew_codes(&state, addr, &caller.staff, &req.password).await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Turn two-factor sign-in off (or drop a set-up not yet confirmed).
#[utoipa::path(post, path = "/api/auth/two-factor/disable", tag = "auth",
    request_body = PasswordAndCode,
    responses(
        (status = 204, description = "Off"),
        (status = 401, description = "Wrong password or code", body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "Required for this account", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
async fn disable(
    state: State<AppState>,
    ClientAddr(addr): ClientAddr,
    caller: Principal,
    JsonBody(req): JsonBody<PasswordAndCode>,
) -> ApiResult<StatusCode> {
    by_person(&caller)?;
    turn_off(&state, addr, &caller.staff, &req.password, &req.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reset a staff member's two-factor sign-in (lost phone and recovery codes); they sign in
/// with the password alone (super admins are then asked to set it up again).
#[utoipa::path(delete, path = "/api/staff/{id}/two-factor", tag = "staff",
    params(("id" = u64, Path, description = "Staff id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such staff member, or no second factor", body = ErrorBody),
    ))]
async fn reset_staff(
    state: State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParam(id): PathParam<u64>,
) -> ApiResult<StatusCode> {
    by_person(&admin)?;
    reset(&state, &admin, StaffId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
