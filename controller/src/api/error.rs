//! Every HTTP error of the API, in one place: a stable machine code, a message for people,
//! optional details, and the status that goes with the code.
//!
//! The body is always `{"error":{"code":"…","message":"…","details":…}}` (`details` only when
//! present). Clients branch on `code`, a snake_case string from [`ErrorCode`] that never changes
//! meaning; `message` is for humans and may be reworded. Throttled answers carry
//! `Retry-After`, 401 answers `WWW-Authenticate`. A 500 never shows the internal error: it is
//! logged with a random error id, and the client gets only that id to quote.

use std::fmt::Display;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::csrf::CsrfError;
use crate::auth::password::{PasswordError, PasswordPolicyError};
use crate::auth::roles::Forbidden;
use crate::auth::token::SessionError;

/// The stable error codes. Adding one is fine; renaming one breaks clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request cannot be read (bad JSON, bad path or query parameter).
    BadRequest,
    /// 401: no valid session or bearer token.
    Unauthorized,
    /// 401: wrong username or password (which one is never said).
    InvalidCredentials,
    /// 401: the password was right; this account also needs its second factor (`code`).
    TwoFactorRequired,
    /// 403: signed in, but not allowed to do this.
    Forbidden,
    /// 403: this super admin must set up two-factor sign-in before anything else.
    TwoFactorSetupRequired,
    /// 403: a cookie session's write failed the CSRF checks; reload the page.
    CsrfFailed,
    /// 404: no such resource, or not one the caller may see.
    NotFound,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 409: conflicts with the current state (duplicate name, voucher code taken, …).
    Conflict,
    /// 413: the body exceeds the configured limit.
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 422: the request is well-formed but a value is not acceptable.
    ValidationFailed,
    /// 429: too many attempts; see `Retry-After`.
    Throttled,
    /// 500: a fault on our side; quote `details.error_id`.
    Internal,
    /// 502: the router refused or failed the operation (its message is included).
    RouterError,
    /// 503: the router's site is offline; writes are queued, reads answer from stale state.
    SiteOffline,
    /// 504: the agent or router did not answer in time.
    Timeout,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BadRequest => "bad_request",
            Unauthorized => "unauthorized",
            InvalidCredentials => "invalid_credentials",
            TwoFactorRequired => "two_factor_required",
            Forbidden => "forbidden",
            TwoFactorSetupRequired => "two_factor_setup_required",
            CsrfFailed => "csrf_failed",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            Conflict => "conflict",
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            ValidationFailed => "validation_failed",
            Throttled => "throttled",
            Internal => "internal",
            RouterError => "router_error",
            SiteOffline => "site_offline",
            Timeout => "timeout",
        }
    }

    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            BadRequest => StatusCode::BAD_REQUEST,
            Unauthorized | InvalidCredentials | TwoFactorRequired => StatusCode::UNAUTHORIZED,
            Forbidden | CsrfFailed | TwoFactorSetupRequired => StatusCode::FORBIDDEN,
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Conflict => StatusCode::CONFLICT,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            Throttled => StatusCode::TOO_MANY_REQUESTS,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
            RouterError => StatusCode::BAD_GATEWAY,
            SiteOffline => StatusCode::SERVICE_UNAVAILABLE,
            Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// The JSON body of every error response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// Machine-readable particulars (the field at fault, an error id, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// An error answer of the API.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    details: Option<Value>,
    retry_after: Option<Duration>,
}

/// The result type of API handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::BadRequest, message)
    }
    pub fn unauthorized() -> ApiError {
        ApiError::new(ErrorCode::Unauthorized, "sign in first")
    }
    pub fn invalid_credentials() -> ApiError {
        ApiError::new(ErrorCode::InvalidCredentials, "wrong username or password")
    }
    pub fn two_factor_required() -> ApiError {
        ApiError::new(
            ErrorCode::TwoFactorRequired,
            "this account signs in with a second factor: send `code` (six digits from the \
             authenticator app, or a recovery code)",
        )
    }
    pub fn wrong_code() -> ApiError {
        ApiError::new(ErrorCode::InvalidCredentials, "wrong or already used code")
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Forbidden, message)
    }
    /// `what` names the resource, e.g. `"router 7"`.
    pub fn not_found(what: impl Display) -> ApiError {
        ApiError::new(ErrorCode::NotFound, format!("{what} not found"))
    }
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::ValidationFailed, message)
    }
    /// A validation error about one request field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::validation(message).with_details(serde_json::json!({ "field": field }))
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Conflict, message)
    }
    pub fn throttled(retry_after: Duration) -> ApiError {
        let secs = retry_after_secs(retry_after);
        let mut e = ApiError::new(
            ErrorCode::Throttled,
            format!("too many attempts; try again in {secs} s"),
        )
        .with_details(serde_json::json!({ "retry_after_secs": secs }));
        e.retry_after = Some(retry_after);
        e
    }
    pub fn site_offline(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::SiteOffline, message)
    }
    pub fn router_error(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::RouterError, message)
    }
    pub fn payload_too_large(limit_bytes: usize) -> ApiError {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("request body is larger than the {limit_bytes}-byte limit"),
        )
        .with_details(serde_json::json!({ "limit_bytes": limit_bytes }))
    }

    /// A fault on our side. `error` is logged with a fresh error id and never sent; the client
    /// gets the id to quote.
    pub fn internal(error: impl Display) -> ApiError {
        let error_id = format!("{:016x}", rand::random::<u64>());
        tracing::error!(error_id = %error_id, error = %error, "internal error");
        ApiError::new(
            ErrorCode::Internal,
            format!("internal error; quote error id {error_id} when reporting it"),
        )
        .with_details(serde_json::json!({ "error_id": error_id }))
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }
    /// The same error under another code (and so status).
    pub fn recoded(self, code: ErrorCode) -> ApiError {
        ApiError { code, ..self }
    }
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn details(&self) -> Option<&Value> {
        self.details.as_ref()
    }

    /// The body this error is answered with.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
                details: self.details.clone(),
            },
        }
    }
}

/// Whole seconds, rounded up, at least 1 (`Retry-After: 0` invites a busy loop).
fn retry_after_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        if let Some(d) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs(d)));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hotspot-fleet\""),
            );
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> ApiError {
        match e {
            SessionError::Missing => ApiError::unauthorized(),
            other => ApiError::new(ErrorCode::Unauthorized, format!("{other}; sign in again")),
        }
    }
}

impl From<CsrfError> for ApiError {
    fn from(e: CsrfError) -> ApiError {
        ApiError::new(ErrorCode::CsrfFailed, e.to_string())
    }
}

impl From<Forbidden> for ApiError {
    fn from(e: Forbidden) -> ApiError {
        ApiError::forbidden(e.0)
    }
}

impl From<PasswordPolicyError> for ApiError {
    fn from(e: PasswordPolicyError) -> ApiError {
        ApiError::invalid_field("password", e.to_string())
    }
}

impl From<PasswordError> for ApiError {
    fn from(e: PasswordError) -> ApiError {
        ApiError::internal(e)
    }
}

/// axum's extractor rejections, by their status: the text describes the client's own input.
fn from_rejection(status: StatusCode, text: String) -> ApiError {
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::ValidationFailed,
        s if s.is_server_error() => return ApiError::internal(text),
        _ => ErrorCode::BadRequest,
    };
    ApiError::new(code, text)
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        from_rejection(r.status(), r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> ApiError {
        from_rejection(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        from_rejection(r.status(), r.body_text())
    }
}

/// Router fallback: unknown paths answer with the JSON error, not an empty 404.
pub async fn not_found_fallback() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such API endpoint")
}
