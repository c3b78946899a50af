//! What the admin pages share: the viewer as the API's principal, an API error as words beside
//! a form ([`FormError`]), the `?done=` message after a redirect ([`Done`]), and ages and times
//! for people.
//!
//! Why a module of its own: every section uses these and [`super`] mounts every section; kept
//! here, below the sections, no section imports the module that mounts it.

use hotspot_ui::Flash;
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::api::extract::AdminOnly;
use crate::web::viewer::AdminViewer;

/// The viewer as the API's admin principal (for calling the API's handlers).
pub(crate) fn api_admin(admin: &AdminViewer) -> AdminOnly {
    AdminOnly(admin.principal.clone())
}

/// An API error shown beside a form: its words, and the field it names (if any).
#[derive(Debug, Clone, Default)]
pub struct FormError {
    pub message: String,
    pub field: String,
}

impl FormError {
    /// The page's status: 422 while it shows this error, else 200.
    pub fn status(&self) -> axum::http::StatusCode {
        if self.message.is_empty() {
            axum::http::StatusCode::OK
        } else {
            axum::http::StatusCode::UNPROCESSABLE_ENTITY
        }
    }

    pub fn of(e: &ApiError) -> FormError {
        let field = e
            .details()
            .and_then(|d| d.get("field"))
            .and_then(|f| f.as_str())
            .unwrap_or_default()
            .to_owned();
        FormError {
            message: sentence(e.message()),
            field,
        }
    }

    pub fn new(field: &str, message: impl Into<String>) -> FormError {
        FormError {
            message: sentence(&message.into()),
            field: field.to_owned(),
        }
    }

    /// The message when it is about `field` (for the field's error line), else "".
    pub fn at(&self, field: &str) -> &str {
        if self.field == field {
            &self.message
        } else {
            ""
        }
    }
}

/// Starts with a capital letter and ends with a full stop.
pub fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// `?done=…` after a redirect: a fixed message chosen by key (no text from the URL).
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    pub done: Option<String>,
}

impl Done {
    pub fn flash(&self, messages: &[(&str, &str)]) -> Option<Flash> {
        let key = self.done.as_deref()?;
        messages
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, m)| Flash::success(*m))
    }
}

/// How long ago `at` was, from `now` (Unix seconds): `just now`, `42 s ago`, `5 min ago`.
/// Past a minute the seconds are dropped: an age is read at a glance, and `10 min 1 s` only
/// says when the page happened to be drawn.
/// The last heal after lost link state of `site` in words (empty: none on record).
pub fn last_heal(
    state: &crate::app::AppState,
    site: &hotspot_pki::SiteId,
    now: i64,
) -> Result<String, crate::store::StoreError> {
    let entry = crate::fleet::heal::last_heal(state, site)?;
    Ok(entry.map_or_else(String::new, |e| {
        let what = match e.action.as_str() {
            "fleet.heal.done" => "healed after lost link state",
            _ => "lost link state found; healing",
        };
        format!("{what} {}: {}", ago(now, e.at), e.detail)
    }))
}

pub fn ago(now: i64, at: i64) -> String {
    let secs = now.saturating_sub(at);
    if secs < 5 {
        return "just now".to_owned();
    }
    let mut secs = u64::try_from(secs).unwrap_or(0);
    if secs >= 60 {
        secs -= secs % 60;
    }
    format!("{} ago", hotspot_ui::fmt::duration(secs))
}

/// Unix seconds of a system time.
pub fn unix(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `2026-05-01 14:03 UTC` for people.
pub fn when(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_capitalised_and_closed() {
        assert_eq!(sentence("no site s9"), "No site s9.");
        assert_eq!(sentence("Wrong password."), "Wrong password.");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn ages_read_like_words() {
        assert_eq!(ago(100, 99), "just now");
        assert_eq!(ago(1000, 700), "5 min ago");
        assert_eq!(
            ago(1000, 42),
            "15 min ago",
            "seconds are dropped past a minute"
        );
        assert_eq!(ago(100, 58), "42 s ago");
        assert_eq!(ago(10_000, 0), "2 h 46 min ago");
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
    }
}
