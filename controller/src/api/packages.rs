//! Priced packages: `GET /api/packages` (anyone signed in: staff pick one to sell),
//! `POST /api/packages`, `GET/PUT/DELETE /api/packages/{id}` (super admins; `DELETE` archives:
//! sold vouchers and reports keep pointing at the package).
//!
//! The request takes human units, as SPEC section 5 shows: `"time_limit":"1h"`,
//! `"validity":"1d"`, `"data_limit_bytes": 1073741824` or `"1G"` (1024-based, like the RouterOS
//! console); durations may also be whole seconds. Each bad value is a 422 naming its field.
//! The router profile defaults to `hf-<slug of the name>`. Money is integer minor units plus
//! an ISO 4217 code, answered as `{"minor","currency","formatted"}`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hotspot_shared::domain::package::PackageError;
use hotspot_shared::domain::{Currency, Money, Package, PackageId};
use hotspot_shared::units::{ByteCount, RosDuration};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::bounds;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::extract::{
    AdminOnly, JsonBody, PathParam, Principal, QueryParams, fmt_time, store_err,
};
use crate::app::AppState;
use crate::store::PackageRecord;

// The schema's bound on `shared_users` (attributes take literals only).
const _: () = assert!(hotspot_shared::domain::package::MAX_SHARED_USERS == 1000);

/// Longest generated profile name.
const MAX_PROFILE: usize = hotspot_shared::domain::package::MAX_NAME;

/// This module's handlers.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_packages, create_package))
        .routes(routes!(get_package, update_package, archive_package))
}

/// An amount of money.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MoneyView {
    /// Integer minor units (cents).
    pub minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// For people, e.g. `12.50 USD`.
    pub formatted: String,
}

impl From<Money> for MoneyView {
    fn from(m: Money) -> MoneyView {
        MoneyView {
            minor: m.minor,
            currency: m.currency.as_str().to_owned(),
            formatted: m.to_string(),
        }
    }
}

/// A package as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PackageView {
    pub id: u64,
    pub name: String,
    pub price: MoneyView,
    pub price_minor: i64,
    pub currency: String,
    /// RouterOS form, e.g. `1h30m`.
    pub time_limit: Option<String>,
    pub time_limit_secs: Option<u64>,
    pub data_limit_bytes: Option<u64>,
    /// For people, e.g. `1 GiB`.
    pub data_limit: Option<String>,
    /// Wall-clock validity after the first login, RouterOS form.
    pub validity: Option<String>,
    pub validity_secs: Option<u64>,
    pub rate_limit: Option<String>,
    pub shared_users: u32,
    pub profile: String,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&PackageRecord> for PackageView {
    fn from(r: &PackageRecord) -> PackageView {
        let p = &r.package;
        PackageView {
            id: p.id.0,
            name: p.name.clone(),
            price: p.price.into(),
            price_minor: p.price.minor,
            currency: p.price.currency.as_str().to_owned(),
            time_limit: p.time_limit.map(|d| d.to_string()),
            time_limit_secs: p.time_limit.map(RosDuration::as_secs),
            data_limit_bytes: p.data_limit,
            data_limit: p.data_limit.map(|b| ByteCount::new(b).human()),
            validity: p.validity.map(|d| d.to_string()),
            validity_secs: p.validity.map(RosDuration::as_secs),
            rate_limit: p.rate_limit.clone(),
            shared_users: p.shared_users,
            profile: p.profile.clone(),
            archived: r.archived,
            created_at: fmt_time(r.created_at),
            updated_at: fmt_time(r.updated_at),
        }
    }
}

/// Packages (one page: `next` is always null).
#[derive(Debug, Serialize, ToSchema)]
pub struct PackageList {
    pub items: Vec<PackageView>,
    pub next: Option<String>,
}

/// A number, or text with a unit (`"1h"`, `"90 min"`, `"1G"`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum HumanValue {
    Number(u64),
    Text(String),
}

/// A package definition. On `PUT` it replaces the package; an absent `profile` keeps the
/// current one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageRequest {
    #[schema(schema_with = bounds::name)]
    pub name: String,
    /// Integer minor units (cents).
    #[schema(minimum = 0)]
    pub price_minor: i64,
    /// ISO 4217, e.g. `USD`.
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// RouterOS `limit-uptime`: `"1h"`, `"90 min"`, or seconds.
    pub time_limit: Option<HumanValue>,
    /// RouterOS `limit-bytes-total`: bytes, or `"500M"`, `"1G"` (1024-based).
    pub data_limit_bytes: Option<HumanValue>,
    /// Expiry after the first login: `"1d"`, or seconds.
    pub validity: Option<HumanValue>,
    /// `rx/tx`, e.g. `"2M/5M"`.
    pub rate_limit: Option<String>,
    /// Customers on one voucher at once; default 1.
    #[schema(minimum = 1, maximum = 1000)]
    pub shared_users: Option<u32>,
    /// Hotspot user profile on the router; default `hf-<slug of name>`.
    #[schema(schema_with = bounds::name_or_null)]
    pub profile: Option<String>,
    /// Only on `PUT`: archive or restore.
    pub archived: Option<bool>,
}

/// Listing options.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Include archived packages (default false).
    pub include_archived: Option<bool>,
}

/// List packages.
#[utoipa::path(get, path = "/api/packages", tag = "packages", params(ListQuery),
    responses(
        (status = 200, body = PackageList),
        (status = 401, body = ErrorBody),
    ))]
async fn list_packages(
    state: State<AppState>,
    _caller: Principal,
    QueryParams(q): QueryParams<ListQuery>,
) -> ApiResult<Json<PackageList>> {
    let all = q.include_archived.unwrap_or(false);
    let packages = state.store.packages(all).map_err(store_err)?;
    Ok(Json(PackageList {
        items: packages.iter().map(PackageView::from).collect(),
        next: None,
    }))
}

/// Create a package.
#[utoipa::path(post, path = "/api/packages", tag = "packages",
    request_body = PackageRequest,
    responses(
        (status = 201, description = "Created, with its id", body = PackageView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "A value is not acceptable; `details.field` names it",
            body = ErrorBody),
    ))]
pub(crate) async fn create_package(
    state: State<AppState>,
    admin: AdminOnly,
    JsonBody(req): JsonBody<PackageRequest>,
) -> ApiResult<(StatusCode, Json<PackageView>)> {
    if req.archived.is_some() {
        return Err(ApiError::invalid_field(
            "archived",
            "a new package is not archived",
        ));
    }
    let package = to_package(PackageId(0), req, None)?;
    let stamp = admin.stamp(state.now());
    let written = state
        .store
        .create_package(package, &stamp)
        .map_err(store_err)?;
    let record = written.durable().await.map_err(store_err)?;
    crate::fleet::presence::directory_changed();
    Ok((StatusCode::CREATED, Json(PackageView::from(&record))))
}

/// One package on sale. An archived one (`DELETE` archives) is 404 like a deleted one;
/// `GET /api/packages?include_archived=true` still lists it.
#[utoipa::path(get, path = "/api/packages/{id}", tag = "packages",
    params(("id" = u64, Path, description = "Package id")),
    responses(
        (status = 200, body = PackageView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such package, or archived", body = ErrorBody),
    ))]
async fn get_package(
    state: State<AppState>,
    _caller: Principal,
    PathParam(id): PathParam<u64>,
) -> ApiResult<Json<PackageView>> {
    let record = load(&state, id)?;
    if record.archived {
        return Err(ApiError::not_found(format!(
            "package {id} (archived; GET /api/packages?include_archived=true lists it)"
        )));
    }
    Ok(Json(PackageView::from(&record)))
}

/// Replace a package's definition (vouchers already sold keep their limits).
#[utoipa::path(put, path = "/api/packages/{id}", tag = "packages",
    params(("id" = u64, Path, description = "Package id")),
    request_body = PackageRequest,
    responses(
        (status = 200, body = PackageView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub(crate) async fn update_package(
    state: State<AppState>,
    admin: AdminOnly,
    PathParam(id): PathParam<u64>,
    JsonBody(req): JsonBody<PackageRequest>,
) -> ApiResult<Json<PackageView>> {
    let current = load(&state, id)?;
    let archived = req.archived;
    let package = to_package(current.package.id, req, Some(&current.package.profile))?;
    let stamp = admin.stamp(state.now());
    let mut written = state
        .store
        .update_package(package, &stamp)
        .map_err(store_err)?;
    if let Some(a) = archived.filter(|a| *a != written.peek().archived) {
        written.durable().await.map_err(store_err)?;
        written = state
            .store
            .set_package_archived(current.package.id, a, &stamp)
            .map_err(store_err)?;
    }
    let record = written.durable().await.map_err(store_err)?;
    crate::fleet::presence::directory_changed();
    Ok(Json(PackageView::from(&record)))
}

/// Archive a package: no longer sold, kept for old vouchers and reports.
#[utoipa::path(delete, path = "/api/packages/{id}", tag = "packages",
    params(("id" = u64, Path, description = "Package id")),
    responses(
        (status = 200, description = "Archived", body = PackageView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
async fn archive_package(
    state: State<AppState>,
    admin: AdminOnly,
    PathParam(id): PathParam<u64>,
) -> ApiResult<Json<PackageView>> {
    let stamp = admin.stamp(state.now());
    let written = state
        .store
        .set_package_archived(PackageId(id), true, &stamp)
        .map_err(store_err)?;
    let record = written.durable().await.map_err(store_err)?;
    crate::fleet::presence::directory_changed();
    Ok(Json(PackageView::from(&record)))
}

fn load(state: &AppState, id: u64) -> ApiResult<PackageRecord> {
    state
        .store
        .package(PackageId(id))
        .map_err(store_err)?
        .ok_or_else(|| ApiError::not_found(format!("package {id}")))
}

/// Checks every field of a request, naming the first bad one.
fn to_package(id: PackageId, req: PackageRequest, profile: Option<&str>) -> ApiResult<Package> {
    let currency = Currency::new(&req.currency)
        .map_err(|e| ApiError::invalid_field("currency", e.to_string()))?;
    let name = bounds::text("name", &req.name, bounds::MAX_NAME, false)?;
    let profile = match req.profile {
        Some(p) => bounds::text("profile", &p, MAX_PROFILE, false)?,
        None => profile.map_or_else(|| default_profile(&name), str::to_owned),
    };
    let package = Package {
        id,
        name,
        price: Money::new(req.price_minor, currency),
        time_limit: duration("time_limit", req.time_limit)?,
        data_limit: bytes("data_limit_bytes", req.data_limit_bytes)?,
        validity: duration("validity", req.validity)?,
        rate_limit: req.rate_limit.map(|r| r.trim().to_owned()),
        shared_users: req.shared_users.unwrap_or(1),
        profile,
    };
    // A zero limit would mean "unlimited" on RouterOS: refused.
    if package.time_limit.is_some_and(|d| d.as_secs() == 0) {
        return Err(ApiError::invalid_field(
            "time_limit",
            "time_limit must be more than 0",
        ));
    }
    if package.data_limit == Some(0) {
        return Err(ApiError::invalid_field(
            "data_limit_bytes",
            "data_limit_bytes must be more than 0",
        ));
    }
    if package.validity.is_some_and(|d| d.as_secs() == 0) {
        return Err(ApiError::invalid_field(
            "validity",
            "validity must be more than 0",
        ));
    }
    package.validate().map_err(|e| {
        let field = match &e {
            PackageError::Name { field } => field,
            PackageError::NegativePrice => "price_minor",
            PackageError::RateLimit(_) => "rate_limit",
            PackageError::SharedUsers => "shared_users",
            PackageError::Unlimited => "time_limit",
        };
        ApiError::invalid_field(field, e.to_string())
    })?;
    Ok(package)
}

/// A number of a [`HumanValue`]: a JSON Schema `int64`, so at most `i64::MAX`.
fn number(field: &str, n: u64) -> ApiResult<u64> {
    if n > bounds::MAX_ID {
        return Err(ApiError::invalid_field(
            field,
            format!("{field} must be at most {}", bounds::MAX_ID),
        ));
    }
    Ok(n)
}

fn duration(field: &str, v: Option<HumanValue>) -> ApiResult<Option<RosDuration>> {
    match v {
        None => Ok(None),
        Some(HumanValue::Number(secs)) => Ok(Some(RosDuration::from_secs(number(field, secs)?))),
        Some(HumanValue::Text(t)) => RosDuration::parse_human(&t)
            .map(Some)
            .map_err(|e| ApiError::invalid_field(field, format!("{field}: {e}"))),
    }
}

fn bytes(field: &str, v: Option<HumanValue>) -> ApiResult<Option<u64>> {
    match v {
        None => Ok(None),
        Some(HumanValue::Number(n)) => number(field, n).map(Some),
        Some(HumanValue::Text(t)) => ByteCount::parse_human(&t)
            .map(|b| Some(b.get()))
            .map_err(|e| ApiError::invalid_field(field, format!("{field}: {e}"))),
    }
}

/// `hf-` and the name in lower case, runs of other characters as one `-`.
pub fn default_profile(name: &str) -> String {
    let mut slug = String::from("hf-");
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let mut slug: String = slug
        .trim_end_matches('-')
        .chars()
        .take(MAX_PROFILE)
        .collect();
    if slug.len() <= 3 {
        slug = "hf-package".into();
    }
    slug.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_slugs_of_the_name() {
        assert_eq!(default_profile("1 Hour"), "hf-1-hour");
        assert_eq!(default_profile("  Day pass (5 GB)! "), "hf-day-pass-5-gb");
        assert_eq!(default_profile("Ünïcode"), "hf-n-code");
        assert_eq!(default_profile("!!!"), "hf-package");
        assert!(default_profile(&"x".repeat(200)).len() <= MAX_PROFILE);
    }
}
