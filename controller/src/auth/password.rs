//! Staff passwords: Argon2id hashes as PHC strings, the policy for new passwords, and a login
//! check whose cost does not depend on whether the username exists.
//!
//! Why it is shaped so:
//! - **PHC strings** (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) carry their own parameters,
//!   so raising the cost later needs no migration: old hashes still verify with the parameters
//!   they were made with, and [`PasswordHasher::needs_rehash`] tells the login path to store a
//!   new hash while it holds the plain password.
//! - **Parameters** default to OWASP's Argon2id line (19 MiB, 2 passes, 1 lane); tests pass
//!   [`PasswordParams::FAST_INSECURE`] so a hash costs microseconds.
//! - **Constant time.** The hash comparison inside `argon2` is constant-time (`phc::Output`
//!   compares with `subtle`). For an unknown username [`PasswordHasher::verify_login`] verifies
//!   against a dummy hash made with the current parameters, so the answer takes as long as for a
//!   real account and timing does not reveal which usernames exist.
//! - **Bounded work.** A stored hash asking for more than [`MAX_MEMORY_KIB`] is refused rather
//!   than computed, and passwords longer than [`MAX_PASSWORD_BYTES`] are never hashed.

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, Version};
use rand::Rng;

/// Fewest characters a new password may have.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Most characters a new password may have.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Longest input ever hashed (256 characters of up to 4 UTF-8 bytes each).
pub const MAX_PASSWORD_BYTES: usize = MAX_PASSWORD_CHARS * 4;
/// Largest Argon2 memory cost accepted from a stored hash (1 GiB), so a corrupted or planted
/// record cannot make one login allocate without bound.
pub const MAX_MEMORY_KIB: u32 = 1 << 20;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory per hash in KiB.
    pub memory_kib: u32,
    /// Number of passes over the memory.
    pub iterations: u32,
    /// Lanes (degree of parallelism).
    pub parallelism: u32,
}

impl PasswordParams {
    /// OWASP's recommendation for Argon2id: m = 19 MiB, t = 2, p = 1.
    pub const OWASP: PasswordParams = PasswordParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
    /// The cheapest valid parameters. For tests only: never for real passwords.
    pub const FAST_INSECURE: PasswordParams = PasswordParams {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
}

impl Default for PasswordParams {
    fn default() -> Self {
        PasswordParams::OWASP
    }
}

/// Why hashing or checking a password could not be done (not "wrong password").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid Argon2 parameters: {0}")]
    InvalidParams(String),
    #[error("stored password hash is not a usable Argon2 PHC string: {0}")]
    MalformedHash(String),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// Why a new password is refused. The messages are shown to the person choosing it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    #[error(
        "password is too short: it has {found} characters, at least {MIN_PASSWORD_CHARS} are needed"
    )]
    TooShort { found: usize },
    #[error(
        "password is too long: it has {found} characters, at most {MAX_PASSWORD_CHARS} are allowed"
    )]
    TooLong { found: usize },
    #[error("password is one character repeated; choose a password with more than one character")]
    OneRepeatedCharacter,
    #[error("password must not be the same as the username")]
    SameAsUsername,
}

/// Checks a password someone is about to set for `username`.
pub fn check_new_password(password: &str, username: &str) -> Result<(), PasswordPolicyError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordPolicyError::TooShort { found: chars });
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PasswordPolicyError::TooLong { found: chars });
    }
    let mut it = password.chars();
    if let Some(first) = it.next()
        && it.all(|c| c == first)
    {
        return Err(PasswordPolicyError::OneRepeatedCharacter);
    }
    if password.to_lowercase() == username.to_lowercase() {
        return Err(PasswordPolicyError::SameAsUsername);
    }
    Ok(())
}

/// Hashes and verifies staff passwords with fixed Argon2id parameters.
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    params: PasswordParams,
    dummy_hash: String,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher for `params`; also makes the dummy hash used for unknown usernames (one hash).
    pub fn new(params: PasswordParams) -> Result<PasswordHasher, PasswordError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| PasswordError::InvalidParams(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        let mut hasher = PasswordHasher {
            argon2,
            params,
            dummy_hash: String::new(),
        };
        let mut random = [0u8; 16];
        rand::rng().fill_bytes(&mut random);
        hasher.dummy_hash = hasher.hash(&hex::encode(random))?;
        Ok(hasher)
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> PasswordParams {
        self.params
    }

    /// A PHC string for `password` with a fresh 128-bit salt. Does not apply the policy: call
    /// [`check_new_password`] first where a person chooses the password.
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::Hashing("password too long to hash".into()));
        }
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        self.argon2
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hashing(e.to_string()))
    }

    /// Whether `password` matches the PHC string `stored` (constant-time comparison).
    /// `Ok(false)` is a wrong password; `Err` means `stored` cannot be used.
    pub fn verify(&self, password: &str, stored: &str) -> Result<bool, PasswordError> {
        let parsed = parse_argon2(stored)?;
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        match argon2::PasswordVerifier::verify_password(&self.argon2, password.as_bytes(), &parsed)
        {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(e) => Err(PasswordError::MalformedHash(e.to_string())),
        }
    }

    /// Spends the time of one verification with the current parameters, and learns nothing.
    /// Call it where a username is unknown, so both answers take as long.
    pub fn dummy_verify(&self, password: &str) {
        let _ = self.verify(password, &self.dummy_hash);
    }

    /// The whole login check: `stored` is the account's hash, or `None` when no such account
    /// exists (then [`Self::dummy_verify`] runs). Only `true` lets the caller in. A malformed
    /// stored hash is logged and counts as a failure.
    pub fn verify_login(&self, password: &str, stored: Option<&str>) -> bool {
        match stored {
            None => {
                self.dummy_verify(password);
                false
            }
            Some(stored) => match self.verify(password, stored) {
                Ok(ok) => ok,
                Err(e) => {
                    tracing::error!(error = %e, "stored password hash cannot be verified");
                    self.dummy_verify(password);
                    false
                }
            },
        }
    }

    /// Whether `stored` was made with other parameters, algorithm or version than new hashes
    /// are; then store a new hash after a successful login. Unreadable hashes need one too.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = parse_argon2(stored) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        parsed.algorithm.as_str() != Algorithm::Argon2id.ident().as_str()
            || parsed.version != Some(Version::V0x13.into())
            || params.m_cost() != self.params.memory_kib
            || params.t_cost() != self.params.iterations
            || params.p_cost() != self.params.parallelism
    }
}

/// Parses a PHC string and refuses parameters too costly to compute.
fn parse_argon2(stored: &str) -> Result<PasswordHash, PasswordError> {
    let parsed =
        PasswordHash::new(stored).map_err(|e| PasswordError::MalformedHash(e.to_string()))?;
    let params =
        Params::try_from(&parsed).map_err(|e| PasswordError::MalformedHash(e.to_string()))?;
    if params.m_cost() > MAX_MEMORY_KIB {
        return Err(PasswordError::MalformedHash(format!(
            "memory cost {} KiB exceeds the {MAX_MEMORY_KIB} KiB limit",
            params.m_cost()
        )));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owasp_params_are_valid() {
        let h = PasswordHasher::new(PasswordParams::OWASP).unwrap();
        assert_eq!(h.params(), PasswordParams::default());
    }

    #[test]
    fn too_little_memory_is_refused() {
        let bad = PasswordParams {
            memory_kib: 4,
            ..PasswordParams::FAST_INSECURE
        };
        assert!(matches!(
            PasswordHasher::new(bad),
            Err(PasswordError::InvalidParams(_))
        ));
    }
}
