//! What the local server's handlers share ([`LocalState`]): the seller, the staff sessions, the
//! store, the link watch, and the session cookie they are read from.
//!
//! Why a module of its own: the JSON API ([`super::http`]) and the page ([`super::page`]) both
//! take this state, and the API's router also serves the page. With the state inside the API,
//! the page imported the module that mounts it; here it is below both.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use hotspot_shared::fleet::msg::StaffEntry;

use super::LinkWatch;
use super::auth::{LoginError, Session, Sessions, verify};
use super::sell::Seller;
use crate::store::Store;

/// Name of the session cookie.
pub const COOKIE: &str = "hs_local";
/// Most sales listed at once.
pub const MAX_LIST: usize = 500;

/// What the handlers share.
#[derive(Clone)]
pub struct LocalState {
    pub seller: Arc<Seller>,
    pub sessions: Arc<Sessions>,
    pub store: Store,
    pub link: Arc<LinkWatch>,
    /// Served over HTTPS: the cookie gets `Secure`.
    pub secure: bool,
    /// The site's name (from the agent's certificate), shown on the page and cards.
    pub site: String,
}

impl LocalState {
    /// The staff directory entry of `username` (exact match first, then ignoring case).
    pub fn staff_named(&self, username: &str) -> Option<StaffEntry> {
        let staff = self.store.staff().ok().flatten().unwrap_or_default();
        staff
            .iter()
            .find(|s| s.username == username)
            .or_else(|| {
                staff
                    .iter()
                    .find(|s| s.username.eq_ignore_ascii_case(username))
            })
            .cloned()
    }

    /// The current directory entry of a session's staff member, if still allowed in.
    pub fn staff_of(&self, session: &Session) -> Option<StaffEntry> {
        let staff = self.store.staff().ok().flatten().unwrap_or_default();
        staff
            .into_iter()
            .find(|s| s.id == session.staff && !s.disabled)
    }

    /// The session named by the request's cookie.
    pub fn session(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let token = cookie(headers, COOKIE)?;
        let session = self.sessions.get(&token)?;
        Some((token, session))
    }

    /// Checks a password and opens a session: `(cookie token, csrf)`.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(String, String, StaffEntry), LoginError> {
        self.sessions.may_try(username)?;
        let entry = self.staff_named(username);
        let (candidate, pw) = (entry.clone(), password.to_owned());
        let ok = tokio::task::spawn_blocking(move || verify(candidate.as_ref(), &pw))
            .await
            .unwrap_or(false);
        match entry {
            Some(entry) if ok => {
                let (token, csrf) = self.sessions.open(&entry);
                tracing::info!(staff = %entry.username, "staff logged in at the site");
                Ok((token, csrf, entry))
            }
            _ => {
                self.sessions.failed(username);
                Err(LoginError::BadCredentials)
            }
        }
    }

    /// The `Set-Cookie` value for `token`.
    pub fn set_cookie(&self, token: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}")
    }

    pub fn clear_cookie(&self) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
    }
}

/// The value of cookie `name` in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}
