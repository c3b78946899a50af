//! Session tokens (dashboard cookie and API bearer) and CSRF tokens: making them, hashing them,
//! and deciding when a session has expired.
//!
//! Why it is shaped so:
//! - **256 random bits** from the OS-seeded CSPRNG, written as 64 lowercase hex digits after a
//!   short prefix that names the kind: `hfc_` (cookie session), `hfb_` (bearer), `hfx_` (CSRF).
//!   The text is URL- and header-safe, and the prefix lets secret scanners and log filters spot
//!   a leaked token and lets us refuse a cookie token presented as a bearer token (and back).
//! - **Stored only as SHA-256.** A plain hash suffices for 256-bit random secrets (no dictionary
//!   to attack); the store looks sessions up by [`TokenHash`], and any comparison with a secret
//!   involved uses [`TokenHash::ct_eq`] (constant time).
//! - **Two clocks per session.** A cookie session ends after an idle period or an absolute
//!   lifetime, whichever comes first; a bearer token (scripts) has only an absolute lifetime.
//!   `now` is always passed in. [`SessionPolicy::should_touch`] limits "last seen" writes to
//!   one per minute per session.

use std::fmt;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

/// Random bytes in every token (256 bits).
pub const TOKEN_BYTES: usize = 32;
/// Length of a token's text: 4-character prefix and 64 hex digits.
pub const TOKEN_TEXT_LEN: usize = 4 + TOKEN_BYTES * 2;
/// "Last seen" is written back at most this often.
pub const TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// How a session's token travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// The dashboard: an HttpOnly cookie, sent by the browser on its own, hence CSRF checks.
    Cookie,
    /// The API: `Authorization: Bearer`, never sent by a browser on its own; CSRF-exempt.
    Bearer,
}

impl SessionKind {
    fn prefix(self) -> &'static str {
        match self {
            SessionKind::Cookie => "hfc_",
            SessionKind::Bearer => "hfb_",
        }
    }
}

const CSRF_PREFIX: &str = "hfx_";
/// Dashboard sign-in tickets' prefix (between the password and the code step).
const TICKET_PREFIX: &str = "hft_";
/// API keys' prefix (`Authorization: Bearer hfk_…`).
const API_KEY_PREFIX: &str = "hfk_";

/// Why a presented token or session is not accepted. All map to HTTP 401.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("not signed in")]
    Missing,
    #[error("the session token is malformed")]
    Malformed,
    #[error("the session token is not valid here")]
    WrongKind,
    #[error("the session is unknown or was signed out")]
    Unknown,
    #[error("the session expired after {idle_mins} minutes without activity")]
    IdleTimeout { idle_mins: i64 },
    #[error("the session expired at {expired_at}")]
    Expired { expired_at: OffsetDateTime },
}

/// SHA-256 of a token's full text: what the store keeps and looks up.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenHash(#[serde(with = "hex::serde")] pub [u8; 32]);

impl TokenHash {
    /// The hash of `text` (the whole token, prefix included).
    pub fn of(text: &str) -> TokenHash {
        TokenHash(Sha256::digest(text.as_bytes()).into())
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", hex::encode(&self.0[..4]))
    }
}

/// A session secret as the client holds it. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken {
    kind: SessionKind,
    text: String,
}

impl SessionToken {
    /// A fresh token of `kind`.
    pub fn generate(kind: SessionKind, rng: &mut impl CryptoRng) -> SessionToken {
        SessionToken {
            kind,
            text: random_text(kind.prefix(), rng),
        }
    }

    /// Reads a token presented by a client, expecting `kind` (a cookie token in an
    /// `Authorization` header is refused, and back).
    pub fn parse(text: &str, kind: SessionKind) -> Result<SessionToken, SessionError> {
        let other = match kind {
            SessionKind::Cookie => SessionKind::Bearer,
            SessionKind::Bearer => SessionKind::Cookie,
        };
        if well_formed(text, other.prefix()) || well_formed(text, CSRF_PREFIX) {
            return Err(SessionError::WrongKind);
        }
        if !well_formed(text, kind.prefix()) {
            return Err(SessionError::Malformed);
        }
        Ok(SessionToken {
            kind,
            text: text.to_owned(),
        })
    }

    pub fn kind(&self) -> SessionKind {
        self.kind
    }

    /// The secret text, to hand to the client once (response body or `Set-Cookie`).
    pub fn expose(&self) -> &str {
        &self.text
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.text)
    }

    /// The bearer token in an `Authorization: Bearer <token>` header: `Ok(None)` without the
    /// header, an error for another scheme or a malformed or non-bearer token.
    pub fn from_authorization(headers: &HeaderMap) -> Result<Option<SessionToken>, SessionError> {
        bearer_text(headers)?
            .map(|token| SessionToken::parse(token, SessionKind::Bearer))
            .transpose()
    }
}

/// The token of an `Authorization: Bearer <token>` header: `Ok(None)` without the header, an
/// error for another scheme or a header that is not text.
fn bearer_text(headers: &HeaderMap) -> Result<Option<&str>, SessionError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| SessionError::Malformed)?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(SessionError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(SessionError::Malformed);
    }
    Ok(Some(token.trim()))
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionToken({:?}, <redacted>)", self.kind)
    }
}

/// An API key as its script holds it: shown once when made, then only its hash is kept.
/// `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyToken(String);

impl ApiKeyToken {
    pub fn generate(rng: &mut impl CryptoRng) -> ApiKeyToken {
        ApiKeyToken(random_text(API_KEY_PREFIX, rng))
    }

    /// The API key in an `Authorization: Bearer hfk_…` header, if that is what it holds
    /// (`Ok(None)` for no header or another kind of token; a bad header is
    /// [`SessionToken::from_authorization`]'s to refuse).
    pub fn from_authorization(headers: &HeaderMap) -> Result<Option<ApiKeyToken>, SessionError> {
        match bearer_text(headers) {
            Ok(Some(token)) if token.starts_with(API_KEY_PREFIX) => {
                if !well_formed(token, API_KEY_PREFIX) {
                    return Err(SessionError::Malformed);
                }
                Ok(Some(ApiKeyToken(token.to_owned())))
            }
            _ => Ok(None),
        }
    }

    /// The secret text, to hand to its maker once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for ApiKeyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeyToken(<redacted>)")
    }
}

/// A synchronizer CSRF token: given to the dashboard page, echoed back in `X-CSRF-Token`.
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfToken(String);

impl CsrfToken {
    pub fn generate(rng: &mut impl CryptoRng) -> CsrfToken {
        CsrfToken(random_text(CSRF_PREFIX, rng))
    }

    /// The text to put in the page (a `<meta>` tag) or the login answer.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// Whether `presented` is the CSRF token whose hash is `stored` (constant time).
    pub fn matches(presented: &str, stored: &TokenHash) -> bool {
        well_formed(presented, CSRF_PREFIX) && TokenHash::of(presented).ct_eq(stored)
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken(<redacted>)")
    }
}

/// A new sign-in ticket (see `auth::two_factor::SignInTickets`): 256 random bits, kept
/// only as its [`TokenHash`].
pub fn sign_in_ticket(rng: &mut impl CryptoRng) -> String {
    random_text(TICKET_PREFIX, rng)
}

fn random_text(prefix: &str, rng: &mut impl CryptoRng) -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rng.fill_bytes(&mut bytes);
    let mut text = String::with_capacity(TOKEN_TEXT_LEN);
    text.push_str(prefix);
    text.push_str(&hex::encode(bytes));
    text
}

fn well_formed(text: &str, prefix: &str) -> bool {
    text.len() == TOKEN_TEXT_LEN
        && text.starts_with(prefix)
        && text[prefix.len()..]
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// How long sessions live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A cookie session ends after this long without a request.
    pub cookie_idle: Duration,
    /// A cookie session ends this long after sign-in, active or not.
    pub cookie_absolute: Duration,
    /// A bearer token ends this long after it was made.
    pub bearer_lifetime: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            cookie_idle: Duration::minutes(60),
            cookie_absolute: Duration::hours(12),
            bearer_lifetime: Duration::days(30),
        }
    }
}

impl SessionPolicy {
    /// When a session of `kind` made at `created_at` ends at the latest.
    pub fn expires_at(&self, kind: SessionKind, created_at: OffsetDateTime) -> OffsetDateTime {
        created_at
            + match kind {
                SessionKind::Cookie => self.cookie_absolute,
                SessionKind::Bearer => self.bearer_lifetime,
            }
    }

    /// Whether a session is still alive at `now`.
    pub fn check(
        &self,
        kind: SessionKind,
        created_at: OffsetDateTime,
        last_seen_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), SessionError> {
        let expired_at = self.expires_at(kind, created_at);
        if now >= expired_at {
            return Err(SessionError::Expired { expired_at });
        }
        if kind == SessionKind::Cookie && now - last_seen_at >= self.cookie_idle {
            return Err(SessionError::IdleTimeout {
                idle_mins: self.cookie_idle.whole_minutes(),
            });
        }
        Ok(())
    }

    /// Whether to write `now` back as the session's "last seen" (at most once a minute, and
    /// only for cookie sessions, the ones with an idle timeout).
    pub fn should_touch(
        &self,
        kind: SessionKind,
        last_seen_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> bool {
        kind == SessionKind::Cookie && now - last_seen_at >= TOUCH_INTERVAL
    }
}

/// Everything made at sign-in. Store the hashes and times; give the secrets to the client.
#[derive(Debug)]
pub struct NewSession {
    pub token: SessionToken,
    /// Present for cookie sessions only.
    pub csrf: Option<CsrfToken>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl NewSession {
    pub fn create(
        kind: SessionKind,
        policy: &SessionPolicy,
        now: OffsetDateTime,
        rng: &mut impl CryptoRng,
    ) -> NewSession {
        let token = SessionToken::generate(kind, rng);
        let csrf = (kind == SessionKind::Cookie).then(|| CsrfToken::generate(rng));
        NewSession {
            token,
            csrf,
            created_at: now,
            expires_at: policy.expires_at(kind, now),
        }
    }

    pub fn token_hash(&self) -> TokenHash {
        self.token.hash()
    }

    pub fn csrf_hash(&self) -> Option<TokenHash> {
        self.csrf.as_ref().map(CsrfToken::hash)
    }
}
