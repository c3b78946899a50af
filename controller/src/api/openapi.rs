//! The OpenAPI document served at `/api/openapi.json`, generated from the code with utoipa.
//!
//! This module holds the frame: title and version, the security schemes, the tags and the
//! shared error schema. Handlers add themselves: annotate a handler with `#[utoipa::path(...)]`
//! (paths in axum 0.8 form, `/api/routers/{id}`) and mount it with `utoipa_axum::routes!` on
//! the router from [`router`], so the served routes and the document cannot drift apart:
//!
//! ```ignore
//! let (api, doc) = openapi::router().routes(routes!(list_routers)).split_for_parts();
//! let app = api.merge(openapi::serve(&doc)?);
//! ```
//!
//! Every operation requires `bearer` or `cookie` unless it says `security(())` (login,
//! `/healthz`). Cookie sessions must also send `csrf` on unsafe methods.
//!
//! A handler lists the answers particular to it; [`complete`] adds those that follow from the
//! operation's shape, so none can be forgotten: 400 and 404 with path parameters, 400 and 422
//! with query parameters, 400, 413, 415 and 422 with a body, 401 and 403 when it needs a
//! session. All of them carry the one error body.

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::api::error::{ErrorBody, ErrorCode, ErrorDetail};
use crate::auth::cookie::SECURE_COOKIE_NAME;

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// The document's fixed part; paths come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "hotspot-fleet controller API",
        description = "Voucher ledger, routers, packages, staff and sites of a hotspot-fleet \
                       controller. Every error is `{\"error\":{\"code\",\"message\",\"details\"?}}` \
                       with a stable `code` (see `ErrorCode`). The `/api/tokens/*` paths keep \
                       the seed's name for what this system calls vouchers.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    components(schemas(ErrorBody, ErrorDetail, ErrorCode)),
    modifiers(&SecuritySchemes),
    security(("bearer" = []), ("cookie" = [])),
    tags(
        (name = "auth", description = "Sign in and out, sessions and API tokens"),
        (name = "routers", description = "MikroTik routers, reached through their site's agent"),
        (name = "tokens", description = "Vouchers (the seed's \"tokens\"): generate, list, revoke"),
        (name = "packages", description = "Priced voucher packages"),
        (name = "staff", description = "Staff accounts and router assignments"),
        (name = "sites", description = "Sites, their agents and enrollment"),
        (name = "reports", description = "Daily reconciliation reports"),
        (name = "system", description = "Health, metrics and this document")
    )
)]
pub struct ApiDoc;

/// Adds the `bearer`, `cookie` and `csrf` security schemes.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut OpenApiDoc) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("opaque")
                    .description(Some(
                        "`Authorization: Bearer <token>` with the token from \
                         `POST /api/auth/login`. Not subject to CSRF checks.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SECURE_COOKIE_NAME,
                "The dashboard's session cookie (`hf_session` when served over plain HTTP). \
                 Unsafe methods also need `X-CSRF-Token` and a same-origin `Origin`.",
            ))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The session's CSRF token, required with `cookie` on POST, PUT, PATCH and DELETE.",
            ))),
        );
    }
}

/// The fixed document alone.
pub fn document() -> OpenApiDoc {
    ApiDoc::openapi()
}

/// An `OpenApiRouter` seeded with the fixed document; mount handlers on it with `routes!`.
pub fn router<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    OpenApiRouter::with_openapi(document())
}

/// Adds to every operation of `doc` the error answers its shape implies (see the module
/// comment); answers a handler already lists are kept as it wrote them.
pub fn complete(doc: &mut OpenApiDoc) {
    let global_security = doc.security.as_ref().is_some_and(|s| !s.is_empty());
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            for code in implied_errors(op, global_security) {
                let response = ResponseBuilder::new()
                    .description(code_description(code))
                    .content_ref("application/json", Ref::from_schema_name("ErrorBody"))
                    .build();
                op.responses
                    .responses
                    .entry(code.status().as_str().to_owned())
                    .or_insert(RefOr::T(response));
            }
        }
    }
}

/// The error codes an operation can answer because of its parameters, body and security.
fn implied_errors(op: &Operation, global_security: bool) -> Vec<ErrorCode> {
    let params = op.parameters.iter().flatten().filter_map(|p| match p {
        RefOr::T(p) => Some(&p.parameter_in),
        RefOr::Ref(_) => None,
    });
    let (mut path, mut query) = (false, false);
    for place in params {
        path |= matches!(place, ParameterIn::Path);
        query |= matches!(place, ParameterIn::Query);
    }
    let body = op.request_body.is_some();
    // `security(())` is one empty requirement: open to anyone.
    let secured = match &op.security {
        None => global_security,
        Some(reqs) => !reqs.is_empty() && reqs.iter().any(|r| *r != Default::default()),
    };
    let mut codes = Vec::new();
    if path || query || body {
        codes.push(ErrorCode::BadRequest);
    }
    if path {
        codes.push(ErrorCode::NotFound);
    }
    if query || body {
        codes.push(ErrorCode::ValidationFailed);
    }
    if body {
        codes.extend([ErrorCode::PayloadTooLarge, ErrorCode::UnsupportedMediaType]);
    }
    if secured {
        codes.extend([ErrorCode::Unauthorized, ErrorCode::Forbidden]);
    }
    codes
}

/// What an implied error answer means, for the document.
fn code_description(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadRequest => "A path or query parameter, or the body, cannot be read",
        ErrorCode::NotFound => "No such resource, or not one the caller may see",
        ErrorCode::ValidationFailed => "A value is not acceptable (`details.field` names it)",
        ErrorCode::PayloadTooLarge => "The body exceeds the configured limit",
        ErrorCode::UnsupportedMediaType => "The body is not `application/json`",
        ErrorCode::Unauthorized => "No valid session or bearer token",
        ErrorCode::Forbidden => "Not allowed for this caller, or a cookie session failed CSRF",
        _ => "See the error code",
    }
}

/// A router answering `GET /api/openapi.json` with `doc`, serialized once.
pub fn serve<S>(doc: &OpenApiDoc) -> Result<Router<S>, serde_json::Error>
where
    S: Clone + Send + Sync + 'static,
{
    let body = axum::body::Bytes::from(serde_json::to_vec(doc)?);
    Ok(Router::new().route(
        OPENAPI_PATH,
        get(move || {
            let body = body.clone();
            async move { ([(CONTENT_TYPE, "application/json")], body) }
        }),
    ))
}
