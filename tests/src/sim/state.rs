//! The router's state: hotspot users, user profiles, active hotspot sessions, identity.
//!
//! One [`Router`] behind one mutex in [`super::Shared`]: every API command and every customer
//! tick takes the lock briefly and works on plain data, so the protocol code never sees a
//! half-applied change. Values are kept as bytes (`Vec<u8>`) exactly as clients sent them —
//! routers store their own code page, and a comment in Windows-1252 must come back unchanged.
//! Ids are numbers shown as `*1A`; each kind has its own counter that only grows within a run
//! (and across runs when a state file is used), so an id is never reused.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// A hotspot user (a voucher).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    #[serde(with = "text")]
    pub name: Vec<u8>,
    #[serde(with = "text")]
    pub password: Vec<u8>,
    #[serde(with = "text")]
    pub profile: Vec<u8>,
    #[serde(with = "text")]
    pub server: Vec<u8>,
    pub limit_uptime: Option<u64>,
    pub limit_bytes_total: Option<u64>,
    pub limit_bytes_in: Option<u64>,
    pub limit_bytes_out: Option<u64>,
    #[serde(with = "text")]
    pub mac_address: Vec<u8>,
    #[serde(with = "text")]
    pub comment: Vec<u8>,
    #[serde(with = "text")]
    pub email: Vec<u8>,
    pub disabled: bool,
    /// Used time in milliseconds (simulated customers add fractions of seconds).
    pub uptime_ms: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub packets_in: u64,
    pub packets_out: u64,
}

impl User {
    pub fn new(id: u64, name: Vec<u8>) -> Self {
        User {
            id,
            name,
            password: Vec::new(),
            profile: b"default".to_vec(),
            server: b"all".to_vec(),
            limit_uptime: None,
            limit_bytes_total: None,
            limit_bytes_in: None,
            limit_bytes_out: None,
            mac_address: Vec::new(),
            comment: Vec::new(),
            email: Vec::new(),
            disabled: false,
            uptime_ms: 0,
            bytes_in: 0,
            bytes_out: 0,
            packets_in: 0,
            packets_out: 0,
        }
    }

    /// True when a limit is used up: the router ends the session and refuses new logins.
    pub fn exhausted(&self) -> bool {
        let over = |limit: Option<u64>, used: u64| limit.is_some_and(|l| l > 0 && used >= l);
        over(
            self.limit_uptime.map(|s| s.saturating_mul(1000)),
            self.uptime_ms,
        ) || over(
            self.limit_bytes_total,
            self.bytes_in.saturating_add(self.bytes_out),
        ) || over(self.limit_bytes_in, self.bytes_in)
            || over(self.limit_bytes_out, self.bytes_out)
    }
}

/// A hotspot user profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub id: u64,
    #[serde(with = "text")]
    pub name: Vec<u8>,
    /// `None` is `unlimited`.
    pub shared_users: Option<u32>,
    #[serde(with = "text")]
    pub rate_limit: Vec<u8>,
    pub session_timeout: Option<u64>,
    pub idle_timeout: Option<u64>,
    pub keepalive_timeout: Option<u64>,
    pub status_autorefresh: u64,
    pub add_mac_cookie: bool,
    pub mac_cookie_timeout: u64,
    #[serde(with = "text")]
    pub address_pool: Vec<u8>,
    #[serde(with = "text")]
    pub on_login: Vec<u8>,
    #[serde(with = "text")]
    pub on_logout: Vec<u8>,
}

impl Profile {
    pub fn new(id: u64, name: Vec<u8>) -> Self {
        Profile {
            id,
            name,
            shared_users: Some(1),
            rate_limit: Vec::new(),
            session_timeout: None,
            idle_timeout: None,
            keepalive_timeout: Some(120),
            status_autorefresh: 60,
            add_mac_cookie: true,
            mac_cookie_timeout: 3 * 86_400,
            address_pool: b"none".to_vec(),
            on_login: Vec::new(),
            on_logout: Vec::new(),
        }
    }

    /// The built-in `default` profile (id `*0`), which always exists.
    pub fn default_profile() -> Self {
        Profile::new(0, b"default".to_vec())
    }

    pub fn is_default(&self) -> bool {
        self.name == b"default"
    }
}

/// A logged-in hotspot customer (`/ip/hotspot/active`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Active {
    pub id: u64,
    pub user_id: u64,
    pub user: Vec<u8>,
    pub address: Ipv4Addr,
    pub mac_address: String,
    pub login_by: &'static str,
    pub uptime_ms: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub packets_in: u64,
    pub packets_out: u64,
    /// Simulated milliseconds after which the customer leaves on their own.
    pub leave_after_ms: u64,
}

/// The whole router.
#[derive(Debug)]
pub struct Router {
    pub users: BTreeMap<u64, User>,
    pub profiles: BTreeMap<u64, Profile>,
    pub active: BTreeMap<u64, Active>,
    pub next_user_id: u64,
    pub next_profile_id: u64,
    pub next_active_id: u64,
    pub identity: Vec<u8>,
    pub booted: Instant,
}

/// What the state file holds (active sessions are not kept: a restart is a reboot).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Persisted {
    pub format: u32,
    #[serde(with = "text")]
    pub identity: Vec<u8>,
    pub next_user_id: u64,
    pub next_profile_id: u64,
    pub users: Vec<User>,
    pub profiles: Vec<Profile>,
    /// The API-SSL certificate and key (PEM), so a pinned fingerprint survives restarts.
    #[serde(default)]
    pub tls: Option<TlsPem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsPem {
    pub cert: String,
    pub key: String,
}

impl Router {
    pub fn new(identity: &str) -> Self {
        let mut profiles = BTreeMap::new();
        profiles.insert(0, Profile::default_profile());
        Router {
            users: BTreeMap::new(),
            profiles,
            active: BTreeMap::new(),
            next_user_id: 1,
            next_profile_id: 1,
            next_active_id: 1,
            identity: identity.as_bytes().to_vec(),
            booted: Instant::now(),
        }
    }

    pub fn from_persisted(p: Persisted) -> Self {
        let mut r = Router::new("");
        r.identity = p.identity;
        r.users = p.users.into_iter().map(|u| (u.id, u)).collect();
        r.profiles.extend(p.profiles.into_iter().map(|p| (p.id, p)));
        if !r.profiles.values().any(Profile::is_default) {
            r.profiles.insert(0, Profile::default_profile());
        }
        // Never hand out an id that is already taken, whatever the file said.
        let max_user = r.users.keys().next_back().copied().unwrap_or(0);
        let max_profile = r.profiles.keys().next_back().copied().unwrap_or(0);
        r.next_user_id = p.next_user_id.max(max_user + 1);
        r.next_profile_id = p.next_profile_id.max(max_profile + 1);
        r
    }

    pub fn to_persisted(&self, tls: Option<TlsPem>) -> Persisted {
        Persisted {
            format: 1,
            identity: self.identity.clone(),
            next_user_id: self.next_user_id,
            next_profile_id: self.next_profile_id,
            users: self.users.values().cloned().collect(),
            profiles: self.profiles.values().cloned().collect(),
            tls,
        }
    }

    pub fn alloc_user_id(&mut self) -> u64 {
        let id = self.next_user_id;
        self.next_user_id += 1;
        id
    }

    pub fn alloc_profile_id(&mut self) -> u64 {
        let id = self.next_profile_id;
        self.next_profile_id += 1;
        id
    }

    pub fn alloc_active_id(&mut self) -> u64 {
        let id = self.next_active_id;
        self.next_active_id += 1;
        id
    }

    pub fn user_by_name(&self, name: &[u8]) -> Option<u64> {
        self.users.values().find(|u| u.name == name).map(|u| u.id)
    }

    pub fn profile_by_name(&self, name: &[u8]) -> Option<&Profile> {
        self.profiles.values().find(|p| p.name == name)
    }

    /// Sessions currently open for a user.
    pub fn sessions_of(&self, user_id: u64) -> usize {
        self.active
            .values()
            .filter(|a| a.user_id == user_id)
            .count()
    }

    /// Ends every session of users whose limits are used up, or who were disabled or removed.
    pub fn end_finished_sessions(&mut self) -> usize {
        let before = self.active.len();
        let users = &self.users;
        self.active.retain(|_, a| {
            users
                .get(&a.user_id)
                .is_some_and(|u| !u.disabled && !u.exhausted())
                && a.uptime_ms < a.leave_after_ms
        });
        before - self.active.len()
    }

    /// A reboot: hotspot sessions end, uptime restarts, configuration stays.
    pub fn reboot(&mut self) {
        self.active.clear();
        self.booted = Instant::now();
    }

    /// A configuration reset: users, non-default profiles and sessions are gone. Id counters
    /// keep counting so an id is never reused within a run.
    pub fn reset(&mut self) {
        self.users.clear();
        self.profiles.retain(|_, p| p.is_default());
        self.active.clear();
    }
}

/// Formats an id the way RouterOS does: `*` and upper-case hex.
pub fn format_id(id: u64) -> String {
    format!("*{id:X}")
}

/// Reads `*1A`; `None` for anything else.
pub fn parse_id(s: &[u8]) -> Option<u64> {
    let hex = s.strip_prefix(b"*")?;
    if hex.is_empty() || hex.len() > 16 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

/// Serde for byte strings: a JSON string when the bytes are UTF-8 (readable files), an array
/// of numbers otherwise (a Windows-1252 comment survives a restart byte for byte).
pub mod text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Text {
        Utf8(String),
        Bytes(Vec<u8>),
    }

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(v) {
            Ok(t) => s.serialize_str(t),
            Err(_) => v.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(match Text::deserialize(d)? {
            Text::Utf8(s) => s.into_bytes(),
            Text::Bytes(b) => b,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_in_upper_hex() {
        assert_eq!(format_id(26), "*1A");
        assert_eq!(parse_id(b"*1A"), Some(26));
        assert_eq!(parse_id(b"*1a"), Some(26));
        for bad in [&b"1A"[..], b"*", b"*G", b"", b"*11111111111111111"] {
            assert_eq!(parse_id(bad), None);
        }
    }

    #[test]
    fn persisted_state_keeps_non_utf8_bytes_and_ids() {
        let mut r = Router::new("r1");
        let id = r.alloc_user_id();
        let mut u = User::new(id, b"V1".to_vec());
        u.comment = b"Caf\xe9".to_vec();
        r.users.insert(id, u.clone());
        let json = serde_json::to_string(&r.to_persisted(None)).expect("serialises");
        let back: Persisted = serde_json::from_str(&json).expect("parses");
        let r2 = Router::from_persisted(back);
        assert_eq!(r2.users.get(&id), Some(&u));
        assert_eq!(r2.next_user_id, 2);
        assert!(r2.profile_by_name(b"default").is_some());
    }

    #[test]
    fn limits_exhaust_a_user() {
        let mut u = User::new(1, b"x".to_vec());
        assert!(!u.exhausted());
        u.limit_uptime = Some(60);
        u.uptime_ms = 59_999;
        assert!(!u.exhausted());
        u.uptime_ms = 60_000;
        assert!(u.exhausted());
        let mut u = User::new(2, b"y".to_vec());
        u.limit_bytes_total = Some(1000);
        u.bytes_in = 400;
        u.bytes_out = 600;
        assert!(u.exhausted());
    }
}
