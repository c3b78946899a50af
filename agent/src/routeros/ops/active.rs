//! `/ip/hotspot/active`: who is logged in now, and ending a session.

use hotspot_shared::routeros::Request;
use hotspot_shared::units::RosDuration;

use super::{Fields, RouterId};
use crate::routeros::error::RouterError;
use crate::routeros::pool::Router;

/// One logged-in hotspot client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSession {
    pub id: RouterId,
    pub server: Option<String>,
    pub user: String,
    pub address: Option<String>,
    pub mac_address: Option<String>,
    pub login_by: Option<String>,
    pub uptime: RosDuration,
    pub session_time_left: Option<RosDuration>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl ActiveSession {
    fn parse(attrs: &hotspot_shared::routeros::Attributes) -> Result<Self, RouterError> {
        let f = Fields::new(attrs, "active hotspot session");
        Ok(ActiveSession {
            id: f.id()?,
            server: f.text("server"),
            user: f.text_or_empty("user"),
            address: f.text("address"),
            mac_address: f.text("mac-address"),
            login_by: f.text("login-by"),
            uptime: f.duration("uptime")?.unwrap_or_default(),
            session_time_left: f.duration("session-time-left")?,
            bytes_in: f.byte_count("bytes-in")?.unwrap_or(0),
            bytes_out: f.byte_count("bytes-out")?.unwrap_or(0),
        })
    }
}

impl Router {
    /// Every active hotspot session.
    pub async fn active_sessions(&self) -> Result<Vec<ActiveSession>, RouterError> {
        let print = Request::new("/ip/hotspot/active/print").proplist(&[
            ".id",
            "server",
            "user",
            "address",
            "mac-address",
            "login-by",
            "uptime",
            "session-time-left",
            "bytes-in",
            "bytes-out",
        ]);
        let response = self.call_read(print).await?;
        response.items.iter().map(ActiveSession::parse).collect()
    }

    /// Ends session `id` (the user may log in again unless disabled or used up).
    pub async fn kick_session(&self, id: &RouterId) -> Result<(), RouterError> {
        self.call(Request::new("/ip/hotspot/active/remove").attr(".id", id.as_str()))
            .await
            .map(drop)
    }
}
