//! Errors of the pages, answered as pages: a sign-in redirect, or an error page in the
//! dashboard's layout with words for people. Never JSON, never a stack: internal faults show
//! only the error id the API layer logged them under.

use askama::Template;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{Html, IntoResponse, Response};
use hotspot_ui::Layout;

use super::layout::layout_for;
use super::render::{render, urlencode};
use super::viewer::Viewer;
use crate::api::error::{ApiError, ErrorCode};
use crate::auth::csrf::CsrfError;

/// Why a page is not shown.
#[derive(Debug)]
pub enum WebError {
    /// No session: to the sign-in page, then back to `next`.
    SignIn { next: Option<String> },
    /// Somewhere the viewer must go first (a super admin without a required second factor).
    GoTo(&'static str),
    /// An error page.
    Page {
        status: StatusCode,
        title: &'static str,
        message: String,
        /// Signed-in viewer, for the navigation; `None` draws the public layout.
        viewer: Option<Box<Viewer>>,
    },
}

impl WebError {
    pub fn page(status: StatusCode, title: &'static str, message: impl Into<String>) -> WebError {
        WebError::Page {
            status,
            title,
            message: message.into(),
            viewer: None,
        }
    }

    pub fn forbidden(message: impl Into<String>) -> WebError {
        WebError::page(StatusCode::FORBIDDEN, "Not allowed", message)
    }

    pub fn forbidden_for(message: impl Into<String>, viewer: Viewer) -> WebError {
        WebError::forbidden(message).with_viewer(&viewer)
    }

    pub fn bad_request(message: impl Into<String>) -> WebError {
        WebError::page(StatusCode::BAD_REQUEST, "Bad request", message)
    }

    pub fn not_found(message: impl Into<String>) -> WebError {
        WebError::page(StatusCode::NOT_FOUND, "Not found", message)
    }

    /// Draws the error inside the viewer's navigation.
    pub fn with_viewer(self, v: &Viewer) -> WebError {
        match self {
            WebError::Page {
                status,
                title,
                message,
                ..
            } => WebError::Page {
                status,
                title,
                message,
                viewer: Some(Box::new(v.clone())),
            },
            other => other,
        }
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> WebError {
        let title = match e.code() {
            ErrorCode::Forbidden => "Not allowed",
            ErrorCode::CsrfFailed => "Form expired",
            ErrorCode::NotFound => "Not found",
            ErrorCode::Throttled => "Too many attempts",
            ErrorCode::SiteOffline => "Site offline",
            ErrorCode::Timeout => "No answer in time",
            ErrorCode::Internal => "Something went wrong",
            ErrorCode::RouterError => "The router refused",
            ErrorCode::Unauthorized | ErrorCode::InvalidCredentials => "Please sign in",
            _ => "Cannot do that",
        };
        let message = match e.code() {
            ErrorCode::CsrfFailed => format!(
                "{} The page was open too long or came from elsewhere: go back, reload it and \
                 try again.",
                e.message()
            ),
            _ => e.message().to_owned(),
        };
        WebError::page(e.status(), title, message)
    }
}

impl From<CsrfError> for WebError {
    fn from(e: CsrfError) -> WebError {
        WebError::from(ApiError::from(e))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    heading: &'static str,
    message: String,
    signed_in: bool,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::SignIn { next } => {
                let to = match next {
                    Some(n) => format!("/?next={}", urlencode(&n)),
                    None => "/".to_owned(),
                };
                redirect(&to)
            }
            WebError::GoTo(to) => redirect(to),
            WebError::Page {
                status,
                title,
                message,
                viewer,
            } => {
                let layout = match &viewer {
                    Some(v) => layout_for(v, title),
                    None => super::layout::public(title),
                };
                let page = ErrorPage {
                    layout,
                    status: status.as_u16(),
                    heading: title,
                    message,
                    signed_in: viewer.is_some(),
                };
                (status, render(&page)).into_response()
            }
        }
    }
}

/// 303 See Other to `to` (after a POST, the browser GETs the target).
pub fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

/// Shorthand for page handlers.
pub type PageResult<T = Response> = Result<T, WebError>;

/// Wraps a template's HTML.
pub fn html(body: String) -> Html<String> {
    Html(body)
}
