//! People and access: who is calling, and may they do this.
//!
//! Why it is shaped so:
//! - **No storage and no clock in here.** Staff records and sessions live in the ledger
//!   (`crate::store`); these modules hold the decisions only, and take the time as an argument,
//!   so expiry, lockouts and CSRF rules are tested without sleeping or a database.
//! - **One concern per module:** [`password`] (Argon2id and the policy for new passwords),
//!   [`token`] (session and CSRF secrets, their hashes and lifetimes), [`cookie`] (the dashboard's
//!   session cookie), [`csrf`] (the checks a cookie-authenticated write must pass), [`throttle`]
//!   (login attempts per account and per address), [`roles`] (what a principal may see and do),
//!   [`two_factor`] (TOTP and recovery codes, and the dashboard's code-step tickets).
//! - **Secrets never rest in plain text.** Passwords are stored as Argon2id PHC strings, session
//!   and CSRF tokens as SHA-256 hashes (enough for 256 random bits); comparisons that involve a
//!   secret are constant-time, and a login for an unknown username costs what a real one costs.

pub mod cookie;
pub mod csrf;
pub mod password;
pub mod roles;
pub mod throttle;
pub mod token;
pub mod two_factor;
