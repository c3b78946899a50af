//! `/ip/hotspot/user`: the vouchers as the router knows them.
//!
//! Adding is the hot path: a batch of vouchers becomes many `add` commands pipelined on one
//! session ([`Router::add_hotspot_users_pipelined`]), so a batch costs about one round trip per
//! window rather than one per user. A duplicate name comes back as
//! [`RouterError::AlreadyExists`] so that creation can be made idempotent by the caller (read the
//! user back and compare), never by overwriting.

use std::collections::HashMap;
use std::fmt;

use hotspot_shared::routeros::Request;
use hotspot_shared::units::RosDuration;
use tokio::task::JoinSet;

use super::{Fields, RouterId, ret_id, yes_no};
use crate::routeros::dispatch::Response;
use crate::routeros::error::RouterError;
use crate::routeros::pool::Router;

/// Rounds of resending adds that a dead session provably did not send.
const MAX_BATCH_ROUNDS: usize = 3;

/// The properties we read when the caller does not choose a proplist.
const DEFAULT_PROPLIST: &[&str] = &[
    ".id",
    "name",
    "password",
    "profile",
    "server",
    "uptime",
    "bytes-in",
    "bytes-out",
    "limit-uptime",
    "limit-bytes-total",
    "comment",
    "disabled",
];

/// A hotspot user to create. `Debug` hides the password (voucher passwords are sold secrets).
#[derive(Clone, PartialEq, Eq)]
pub struct HotspotUser {
    pub name: String,
    pub password: String,
    pub profile: String,
    pub limit_uptime: Option<RosDuration>,
    pub limit_bytes_total: Option<u64>,
    /// Bytes as the router stores them (its code page), not necessarily UTF-8.
    pub comment: Option<Vec<u8>>,
    /// `None`: all servers.
    pub server: Option<String>,
    pub disabled: bool,
}

impl HotspotUser {
    /// A user with the `default` profile and no limits.
    pub fn new(name: impl Into<String>, password: impl Into<String>) -> Self {
        HotspotUser {
            name: name.into(),
            password: password.into(),
            profile: "default".into(),
            limit_uptime: None,
            limit_bytes_total: None,
            comment: None,
            server: None,
            disabled: false,
        }
    }

    fn add_request(&self) -> Request {
        let mut r = Request::new("/ip/hotspot/user/add")
            .attr("name", self.name.as_str())
            .attr("password", self.password.as_str())
            .attr("profile", self.profile.as_str())
            .attr("disabled", yes_no(self.disabled));
        if let Some(d) = self.limit_uptime {
            r = r.attr("limit-uptime", d.to_string());
        }
        if let Some(b) = self.limit_bytes_total {
            r = r.attr("limit-bytes-total", b.to_string());
        }
        if let Some(c) = &self.comment {
            r = r.attr("comment", c.clone());
        }
        if let Some(s) = &self.server {
            r = r.attr("server", s.as_str());
        }
        r
    }
}

/// Changes to an existing user; `None` leaves a property as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub password: Option<String>,
    pub profile: Option<String>,
    pub limit_uptime: Option<RosDuration>,
    pub limit_bytes_total: Option<u64>,
    pub comment: Option<Vec<u8>>,
    pub disabled: Option<bool>,
}

/// Which users to print. RouterOS queries only test equality here (no prefix match), so
/// filtering beyond a name is the caller's job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// `?name=`: exactly this user.
    pub name: Option<String>,
    /// `.proplist`; `None` reads every field of [`HotspotUserEntry`].
    pub proplist: Option<Vec<String>>,
}

/// A hotspot user as printed by the router. Fields left out by the router or the proplist are
/// `None`, `0` or empty. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct HotspotUserEntry {
    pub id: RouterId,
    pub name: String,
    pub password: Option<String>,
    pub profile: Option<String>,
    pub server: Option<String>,
    pub uptime: RosDuration,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub limit_uptime: Option<RosDuration>,
    pub limit_bytes_total: Option<u64>,
    pub comment: Option<Vec<u8>>,
    pub disabled: bool,
}

impl fmt::Debug for HotspotUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HotspotUser")
            .field("name", &self.name)
            .field("password", &"***")
            .field("profile", &self.profile)
            .field("limit_uptime", &self.limit_uptime)
            .field("limit_bytes_total", &self.limit_bytes_total)
            .field(
                "comment",
                &self.comment.as_deref().map(String::from_utf8_lossy),
            )
            .field("server", &self.server)
            .field("disabled", &self.disabled)
            .finish()
    }
}

impl fmt::Debug for HotspotUserEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HotspotUserEntry")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("profile", &self.profile)
            .field("server", &self.server)
            .field("uptime", &self.uptime)
            .field("bytes_in", &self.bytes_in)
            .field("bytes_out", &self.bytes_out)
            .field("limit_uptime", &self.limit_uptime)
            .field("limit_bytes_total", &self.limit_bytes_total)
            .field(
                "comment",
                &self.comment.as_deref().map(String::from_utf8_lossy),
            )
            .field("disabled", &self.disabled)
            .finish()
    }
}

impl HotspotUserEntry {
    pub(crate) fn parse(attrs: &hotspot_shared::routeros::Attributes) -> Result<Self, RouterError> {
        let f = Fields::new(attrs, "hotspot user");
        Ok(HotspotUserEntry {
            id: f.id()?,
            name: f.text_or_empty("name"),
            password: f.text("password"),
            profile: f.text("profile"),
            server: f.text("server"),
            uptime: f.duration("uptime")?.unwrap_or_default(),
            bytes_in: f.byte_count("bytes-in")?.unwrap_or(0),
            bytes_out: f.byte_count("bytes-out")?.unwrap_or(0),
            limit_uptime: f.duration("limit-uptime")?,
            limit_bytes_total: f.byte_count("limit-bytes-total")?,
            comment: f.bytes("comment"),
            disabled: f.flag("disabled")?.unwrap_or(false),
        })
    }
}

impl Router {
    /// Creates one user and returns its id. A duplicate name is [`RouterError::AlreadyExists`].
    pub async fn add_hotspot_user(&self, user: &HotspotUser) -> Result<RouterId, RouterError> {
        let response = self.call(user.add_request()).await?;
        ret_id(&response.done)
    }

    /// Creates many users on one session, keeping up to the session's window of adds in flight.
    ///
    /// The adds go on the wire in input order; results are in input order. Adds that the session provably did not send (it had died:
    /// `Closed`) are sent again on a fresh session; adds in flight when it died come back as
    /// `ConnectionLost` (outcome unknown: the caller checks before re-adding).
    pub async fn add_hotspot_users_pipelined(
        &self,
        users: &[HotspotUser],
    ) -> Vec<Result<RouterId, RouterError>> {
        self.add_hotspot_users_reporting(users, |_, _| {}).await
    }

    /// [`Router::add_hotspot_users_pipelined`], telling `on_final` each add's final result
    /// (by input index) the moment it is known, while later adds are still in flight.
    pub async fn add_hotspot_users_reporting(
        &self,
        users: &[HotspotUser],
        mut on_final: impl FnMut(usize, &Result<RouterId, RouterError>),
    ) -> Vec<Result<RouterId, RouterError>> {
        let mut results: Vec<Option<Result<RouterId, RouterError>>> = vec![None; users.len()];
        let mut todo: Vec<usize> = (0..users.len()).collect();
        for round in 1..=MAX_BATCH_ROUNDS {
            if todo.is_empty() {
                break;
            }
            let conn = match self.connection().await {
                Ok(conn) => conn,
                Err(err) => {
                    for i in todo.drain(..) {
                        let result = Err(err.clone());
                        on_final(i, &result);
                        results[i] = Some(result);
                    }
                    break;
                }
            };
            // Sent one after another from this task, so the adds go out in input order; the
            // answers are awaited by tasks, the window bounding how many are in flight.
            let limit = conn.command_timeout();
            let mut tasks = JoinSet::new();
            let mut index_of = HashMap::new();
            let mut settle = |i: usize,
                              outcome: Result<Response, RouterError>,
                              todo: &mut Vec<usize>| match outcome {
                Err(RouterError::Closed(_)) if round < MAX_BATCH_ROUNDS => todo.push(i),
                outcome => {
                    let result = outcome.and_then(|r| ret_id(&r.done));
                    on_final(i, &result);
                    results[i] = Some(result);
                }
            };
            // A finished answer task's add, and how it went.
            let answer = |joined: Result<(tokio::task::Id, _), tokio::task::JoinError>,
                          index_of: &mut HashMap<tokio::task::Id, usize>| {
                let (id, outcome) = match joined {
                    Ok((id, outcome)) => (id, outcome),
                    Err(e) => (
                        e.id(),
                        Err(RouterError::Protocol(format!("add task failed: {e}"))),
                    ),
                };
                index_of.remove(&id).map(|i| (i, outcome))
            };
            for i in std::mem::take(&mut todo) {
                match conn.send(users[i].add_request(), limit).await {
                    Ok(in_flight) => {
                        let handle = tasks.spawn(in_flight.finish());
                        index_of.insert(handle.id(), i);
                    }
                    Err(e) => settle(i, Err(e), &mut todo),
                }
                // Answers that came meanwhile are final now, not after the last send.
                while let Some(joined) = tasks.try_join_next_with_id() {
                    if let Some((i, outcome)) = answer(joined, &mut index_of) {
                        settle(i, outcome, &mut todo);
                    }
                }
            }
            while let Some(joined) = tasks.join_next_with_id().await {
                if let Some((i, outcome)) = answer(joined, &mut index_of) {
                    settle(i, outcome, &mut todo);
                }
            }
            todo.sort_unstable();
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(RouterError::Closed("not attempted".into()))))
            .collect()
    }

    /// Changes properties of user `id`. Unknown id: [`RouterError::NoSuchItem`].
    pub async fn set_hotspot_user(
        &self,
        id: &RouterId,
        changes: &UserChanges,
    ) -> Result<(), RouterError> {
        let mut r = Request::new("/ip/hotspot/user/set").attr(".id", id.as_str());
        if let Some(p) = &changes.password {
            r = r.attr("password", p.as_str());
        }
        if let Some(p) = &changes.profile {
            r = r.attr("profile", p.as_str());
        }
        if let Some(d) = changes.limit_uptime {
            r = r.attr("limit-uptime", d.to_string());
        }
        if let Some(b) = changes.limit_bytes_total {
            r = r.attr("limit-bytes-total", b.to_string());
        }
        if let Some(c) = &changes.comment {
            r = r.attr("comment", c.clone());
        }
        if let Some(d) = changes.disabled {
            r = r.attr("disabled", yes_no(d));
        }
        if r.attrs.len() == 1 {
            return Ok(());
        }
        self.call(r).await.map(drop)
    }

    /// Removes user `id`. Unknown id: [`RouterError::NoSuchItem`].
    pub async fn remove_hotspot_user(&self, id: &RouterId) -> Result<(), RouterError> {
        self.call(Request::new("/ip/hotspot/user/remove").attr(".id", id.as_str()))
            .await
            .map(drop)
    }

    /// Prints users matching `query`.
    pub async fn print_hotspot_users(
        &self,
        query: &UserQuery,
    ) -> Result<Vec<HotspotUserEntry>, RouterError> {
        let mut r = Request::new("/ip/hotspot/user/print");
        r = match &query.proplist {
            Some(props) => {
                let mut props: Vec<&str> = props.iter().map(String::as_str).collect();
                if !props.contains(&".id") {
                    props.push(".id");
                }
                r.proplist(&props)
            }
            None => r.proplist(DEFAULT_PROPLIST),
        };
        if let Some(name) = &query.name {
            r = r.query(format!("name={name}"));
        }
        let response = self.call_read(r).await?;
        // Each raw item is dropped once parsed: a print of every user never holds both forms.
        response
            .items
            .into_iter()
            .map(|item| HotspotUserEntry::parse(&item))
            .collect()
    }

    /// The user called `name`, if any.
    pub async fn find_hotspot_user(
        &self,
        name: &str,
    ) -> Result<Option<HotspotUserEntry>, RouterError> {
        let query = UserQuery {
            name: Some(name.to_owned()),
            proplist: None,
        };
        Ok(self.print_hotspot_users(&query).await?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotspot_shared::routeros::Attributes;

    #[test]
    fn add_request_words() {
        let mut u = HotspotUser::new("V7K2", "V7K2");
        u.limit_uptime = Some(RosDuration::from_secs(3600));
        u.limit_bytes_total = Some(1 << 30);
        u.comment = Some(b"Caf\xe9".to_vec());
        let r = u.add_request();
        assert_eq!(r.command, b"/ip/hotspot/user/add");
        assert_eq!(r.attrs.get("limit-uptime"), Some(&b"1h"[..]));
        assert_eq!(r.attrs.get("limit-bytes-total"), Some(&b"1073741824"[..]));
        assert_eq!(r.attrs.get("comment"), Some(&b"Caf\xe9"[..]));
        assert_eq!(r.attrs.get("disabled"), Some(&b"no"[..]));
        assert_eq!(r.attrs.get("server"), None);
    }

    #[test]
    fn debug_hides_voucher_passwords() {
        let u = HotspotUser::new("V7K2", "secret-pw-93");
        let shown = format!("{u:?}");
        assert!(
            !shown.contains("secret-pw-93") && shown.contains("V7K2"),
            "{shown}"
        );
        let a: Attributes = [
            (".id", "*1"),
            ("name", "V7K2"),
            ("password", "secret-pw-93"),
        ]
        .into_iter()
        .collect();
        let shown = format!("{:?}", HotspotUserEntry::parse(&a).expect("valid"));
        assert!(
            !shown.contains("secret-pw-93") && shown.contains("***"),
            "{shown}"
        );
    }

    #[test]
    fn entry_parses_leniently() {
        let a: Attributes = [
            (".id", "*1A"),
            ("name", "V7K2"),
            ("uptime", "1d00:00:05"),
            ("disabled", "false"),
        ]
        .into_iter()
        .collect();
        let e = HotspotUserEntry::parse(&a).expect("valid");
        assert_eq!(e.id.as_str(), "*1A");
        assert_eq!(e.uptime.as_secs(), 86_405);
        assert_eq!(
            (e.bytes_in, e.limit_bytes_total, e.profile),
            (0, None, None)
        );
    }
}
