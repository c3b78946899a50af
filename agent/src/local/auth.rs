//! Staff at the site: passwords checked offline against the directory the controller
//! pushed, and the page's sessions.
//!
//! - The directory holds Argon2id PHC strings only. A stored hash asking for absurd cost
//!   parameters is refused (bounded work), an unknown username costs one dummy verification
//!   like a known one, so timing does not tell which usernames exist.
//! - Sessions live in memory: 256-bit random tokens in an `HttpOnly; SameSite=Strict` cookie,
//!   kept only as SHA-256 hashes; each carries a CSRF token the page and API send back in a
//!   header or form field. A restart logs everyone out, which at a site is harmless.
//! - Every request looks the staff member up in the *current* directory: a staff member
//!   disabled (or removed from the site's routers) centrally is refused from the moment that
//!   directory arrives, even with a session opened before.
//! - Failed logins are throttled per username (a few per minute).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use hotspot_shared::domain::StaffId;
use hotspot_shared::fleet::msg::StaffEntry;
use sha2::{Digest, Sha256};

/// Largest Argon2 memory cost accepted from a stored hash (KiB).
const MAX_MEMORY_KIB: u32 = 1 << 20;
/// Longest password looked at.
const MAX_PASSWORD_BYTES: usize = 1024;
/// Session lifetime without use.
pub const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);
/// Most sessions held (the oldest goes first).
const MAX_SESSIONS: usize = 1000;
/// Failed logins per username per window before refusing.
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// A valid Argon2id hash of a random password, verified for unknown usernames.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$0BnUEy7zdb2LrBYTIOFJs0uQ5dGhbpeV0qKHLmXL0nM";

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("wrong username or password, or the account is disabled")]
    BadCredentials,
    #[error("too many failed logins for this username; wait a minute")]
    Throttled,
}

/// Checks `password` against `entry`'s stored hash (or a dummy hash when `None`).
pub fn verify(entry: Option<&StaffEntry>, password: &str) -> bool {
    let stored = entry.map_or(DUMMY_HASH, |e| e.password_hash.as_str());
    let ok = check(stored, password);
    entry.is_some_and(|e| !e.disabled) && ok
}

fn check(stored: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        tracing::error!("a stored staff password hash is not a PHC string");
        return false;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return false;
    }
    let m = parsed.params.get_decimal("m").unwrap_or(u32::MAX);
    if m > MAX_MEMORY_KIB {
        tracing::error!("a stored staff password hash asks for {m} KiB; refused");
        return false;
    }
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A logged-in staff member.
#[derive(Debug, Clone)]
pub struct Session {
    pub staff: StaffId,
    pub username: String,
    pub csrf: String,
    last_used: Instant,
}

fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Equal in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The page's sessions and login throttle.
#[derive(Debug, Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Sessions {
    pub fn new() -> Self {
        Sessions::default()
    }

    /// Whether `username` may try now.
    pub fn may_try(&self, username: &str) -> Result<(), LoginError> {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        f.retain(|_, (_, at)| now.duration_since(*at) < FAILURE_WINDOW);
        match f.get(&username.to_lowercase()) {
            Some((n, _)) if *n >= MAX_FAILURES => Err(LoginError::Throttled),
            _ => Ok(()),
        }
    }

    pub fn failed(&self, username: &str) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if f.len() > 10_000 {
            f.clear();
        }
        let e = f
            .entry(username.to_lowercase())
            .or_insert((0, Instant::now()));
        e.0 += 1;
        e.1 = Instant::now();
    }

    /// Opens a session: `(cookie token, csrf token)`.
    pub fn open(&self, entry: &StaffEntry) -> (String, String) {
        let (token, csrf) = (random_token(), random_token());
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        s.retain(|_, v| now.duration_since(v.last_used) < SESSION_IDLE);
        if s.len() >= MAX_SESSIONS
            && let Some(oldest) = s.iter().min_by_key(|(_, v)| v.last_used).map(|(k, _)| *k)
        {
            s.remove(&oldest);
        }
        s.insert(
            hash_token(&token),
            Session {
                staff: entry.id,
                username: entry.username.clone(),
                csrf: csrf.clone(),
                last_used: now,
            },
        );
        (token, csrf)
    }

    /// The session of `token`, refreshed; `None` when unknown or idle too long.
    pub fn get(&self, token: &str) -> Option<Session> {
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let key = hash_token(token);
        let now = Instant::now();
        match s.get_mut(&key) {
            Some(v) if now.duration_since(v.last_used) < SESSION_IDLE => {
                v.last_used = now;
                Some(v.clone())
            }
            Some(_) => {
                s.remove(&key);
                None
            }
            None => None,
        }
    }

    pub fn close(&self, token: &str) {
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        s.remove(&hash_token(token));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher;

    fn entry(password: &str, disabled: bool) -> StaffEntry {
        let params = argon2::Params::new(64, 1, 1, None).expect("params");
        let hash = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(password.as_bytes())
            .expect("hash")
            .to_string();
        StaffEntry {
            id: StaffId(3),
            username: "ana".into(),
            password_hash: hash,
            routers: vec![],
            disabled,
        }
    }

    #[test]
    fn right_password_in_wrong_out_disabled_out() {
        let e = entry("correct horse", false);
        assert!(verify(Some(&e), "correct horse"));
        assert!(!verify(Some(&e), "wrong"));
        assert!(!verify(None, "correct horse"));
        let d = entry("correct horse", true);
        assert!(!verify(Some(&d), "correct horse"));
    }

    #[test]
    fn the_dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn sessions_open_and_close() {
        let s = Sessions::new();
        let (token, csrf) = s.open(&entry("x", false));
        let got = s.get(&token).expect("session");
        assert!(same(&got.csrf, &csrf));
        assert!(s.get("nope").is_none());
        s.close(&token);
        assert!(s.get(&token).is_none());
    }

    #[test]
    fn throttled_after_failures() {
        let s = Sessions::new();
        for _ in 0..MAX_FAILURES {
            assert!(s.may_try("Ana").is_ok());
            s.failed("ana");
        }
        assert_eq!(s.may_try("ANA"), Err(LoginError::Throttled));
    }
}
